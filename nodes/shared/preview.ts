/**
 * Preview (dry run): a run that decides exactly as a real one and writes nothing.
 *
 * Acquire Sync Lock with *Preview* on puts `preview: true` on its item; Fetch stamps it into every
 * item's `sync`. The writing nodes (Upsert, Remove, Apply Consent) then run their usual code with the
 * two things that write swapped for these stand-ins:
 * - `PreviewHubClient`: every read goes to the Hub as usual; every write the sync makes answers as the
 *   Hub would have (a created contact, an updated one, a sent message) without a request, and any
 *   other write is refused, so nothing can slip through.
 * - `previewStore`: reads and the lock go to the store; ledger, consent claims and opt-out records are
 *   kept in memory for this node run only (so a claim still counts once), never written.
 * What the items then say is renamed to what would happen (`sync.result` `would-create`, …;
 * `consent.status` `would-send`), and Release records the run as a preview, not as the last sync.
 */
import { randomUUID } from 'node:crypto';
import type { IDataObject, IExecuteFunctions, IHttpRequestMethods, INodeExecutionData } from 'n8n-workflow';

import type { ConsentRecord, LeaseFence, LedgerEntry, OptOutRecord, RunRecord, StoredOptOut, SyncStore } from './store';
import {
	HubClient,
	createHubClient,
	type CallOptions,
	type HubContact,
	type HubContactInput,
	type HubCustomField,
	type HubCustomFieldInput,
	type HubList,
	type HubOutboundMessage,
	type HubSentMessage,
} from './transport/hub';

/** How Acquire records a preview's trigger: `preview (manual)`, `preview (editor step)`, … */
export const PREVIEW_TRIGGER = 'preview';

export function previewTrigger(kind: string): string {
	return `${PREVIEW_TRIGGER} (${kind})`;
}

/** A run Acquire recorded as a preview: never shown as the last sync. */
export function isPreviewRun(run: Pick<RunRecord, 'triggerKind'>): boolean {
	return run.triggerKind === PREVIEW_TRIGGER || run.triggerKind.startsWith(`${PREVIEW_TRIGGER} (`);
}

/**
 * Whether these items belong to a preview: one item that says so is enough (the safe side: a node
 * given a mix writes nothing). The lease item says it on `json.preview`, members on `json.sync.preview`.
 */
export function isPreview(items: INodeExecutionData[]): boolean {
	return items.some((item) => {
		const sync = item.json?.sync as IDataObject | undefined;
		return item.json?.preview === true || (sync !== null && typeof sync === 'object' && sync.preview === true);
	});
}

/** `sync.result` in a preview: what the run would do. Results that change nothing keep their name. */
export const PREVIEW_RESULTS: Readonly<Record<string, string>> = {
	created: 'would-create',
	updated: 'would-update',
	'removed-from-list': 'would-remove-from-list',
	unsubscribed: 'would-unsubscribe',
	deleted: 'would-delete',
};

/** Renames, in place, what the items of a preview say happened to what would happen. */
export function markPreview(outputs: INodeExecutionData[][]): INodeExecutionData[][] {
	for (const output of outputs) {
		for (const item of output) {
			const json = item.json;
			const sync = json.sync as IDataObject | undefined;
			if (sync && typeof sync === 'object') {
				const renamed = typeof sync.result === 'string' ? PREVIEW_RESULTS[sync.result] : undefined;
				json.sync = { ...sync, preview: true, ...(renamed ? { result: renamed } : {}) };
			}
			const consent = json.consent as IDataObject | undefined;
			if (consent && typeof consent === 'object' && consent.status === 'sent') {
				json.consent = { ...consent, status: 'would-send', messageId: null };
			}
		}
	}
	return outputs;
}

/** Ids of what a preview pretends to create: readable as such in the items. */
const previewId = (what: string) => `preview-${what}-${randomUUID().slice(0, 8)}`;

/** The Hub client of a preview: reads as usual, the sync's writes answered without a request. */
export class PreviewHubClient extends HubClient {
	/** The safety net: a write no stand-in below answers is refused, never sent. */
	override async request<T>(method: IHttpRequestMethods, path: string, call?: CallOptions<T>): Promise<{ status: number; body: T }> {
		if (method !== 'GET') throw new Error(`Preview: ${method} ${path.split('?')[0]} would write to the Hub, and a preview writes nothing`);
		return await super.request<T>(method, path, call);
	}

	override async createContact(input: HubContactInput): Promise<HubContact> {
		const now = new Date().toISOString();
		return {
			id: previewId('contact'),
			accountId: '',
			vendorId: '',
			firstName: input.firstName ?? '',
			lastName: input.lastName ?? '',
			fullName: [input.firstName, input.lastName].filter(Boolean).join(' '),
			alias: input.alias ?? '',
			...(input.dateOfBirth ? { dateOfBirth: input.dateOfBirth } : {}),
			country: input.country ?? '',
			state: input.state ?? '',
			location: input.location ?? '',
			note: input.note ?? '',
			createdDate: now,
			lastModifiedDate: now,
			customFields: (input.customFields ?? []).map((f) => ({ id: f.id, mergeTag: f.id, value: f.value, type: 'TEXT' as const })),
			// A channel created without a state gets the Hub's default, subscribed.
			channels: (input.channels ?? []).map((c) => ({ ...c, subscriptionState: c.subscriptionState ?? 'SUBSCRIBED' })),
			lists: (input.lists ?? []).map((l) => ({ id: l.id, name: '' })),
		};
	}

	/** The contact as the Hub has it now (a read), with the patch applied. */
	override async updateContact(id: string, input: HubContactInput): Promise<HubContact> {
		const current = await this.getContact(id);
		const { channels, lists, customFields, ...fields } = input;
		const tags = new Map(current.customFields.map((f) => [f.id, f]));
		return {
			...current,
			...fields,
			...(channels ? { channels: channels.map((c) => ({ ...c, subscriptionState: c.subscriptionState ?? current.channels.find((h) => h.channelId === c.channelId)?.subscriptionState ?? 'SUBSCRIBED' })) } : {}),
			...(lists ? { lists: lists.map((l) => ({ id: l.id, name: current.lists.find((h) => h.id === l.id)?.name ?? '' })) } : {}),
			...(customFields
				? { customFields: customFields.map((f) => ({ id: f.id, mergeTag: tags.get(f.id)?.mergeTag ?? f.id, value: f.value, type: tags.get(f.id)?.type ?? 'TEXT' })) }
				: {}),
		};
	}

	override async deleteContact(): Promise<void> {}

	override async createList(input: { name: string; alias?: string }): Promise<HubList> {
		const now = new Date().toISOString();
		return { id: previewId('list'), accountId: '', vendorId: '', name: input.name, alias: input.alias ?? '', createdDate: now, lastModifiedDate: now };
	}

	override async createCustomField(input: HubCustomFieldInput): Promise<HubCustomField> {
		const now = new Date().toISOString();
		return { id: previewId('field'), accountId: '', vendorId: '', ...input, createdDate: now, lastModifiedDate: now };
	}

	override async updateListMembers(): Promise<void> {}

	override async addContactToList(): Promise<void> {}

	override async removeContactFromList(): Promise<void> {}

	/** Accepted as the Hub accepts them, without sending: the count and the credits are the run's. */
	override async sendMessages(messages: HubOutboundMessage[]): Promise<HubSentMessage[]> {
		return messages.map((m) => ({ ...m, message_id: previewId('message'), status: 'preview' }));
	}
}

/**
 * The store of a preview: reads and the lock go to the store; what the run would record is kept in
 * memory for this node run, so the run's own logic sees it (a number claimed once is not claimed again).
 */
export function previewStore(store: SyncStore): SyncStore {
	/** Opt-outs the run would record: the first one per number, as the store keeps it. */
	const optOuts = new Map<string, StoredOptOut>();
	const claimed = new Set<string>();
	const key = (audienceId: string, phone: string) => `${audienceId}\n${phone}`;
	const recordsOf = async (audienceId: string) => new Map((await store.readConsent(audienceId)).map((r): [string, ConsentRecord] => [r.phone, r]));
	const claim = (audienceId: string, phones: string[], free: (phone: string) => boolean): string[] => {
		const taken: string[] = [];
		for (const phone of new Set(phones)) {
			if (claimed.has(key(audienceId, phone)) || !free(phone)) continue;
			claimed.add(key(audienceId, phone));
			taken.push(phone);
		}
		return taken;
	};
	/** A first claim: the numbers never claimed, asked or answered for the audience. */
	const firstClaim = async (audienceId: string, phones: string[]) => {
		const records = await recordsOf(audienceId);
		return claim(audienceId, phones, (phone) => !records.has(phone));
	};
	const refused = (what: string) => async (): Promise<never> => {
		throw new Error(`Preview: ${what} would write to the sync store, and a preview writes nothing`);
	};
	return {
		kind: store.kind,
		location: store.location,
		acquire: (request) => store.acquire(request),
		renew: (token, ttlMs) => store.renew(token, ttlMs),
		release: (token, summary) => store.release(token, summary),
		forceRelease: (lockName, reason) => store.forceRelease(lockName, reason),
		status: (lockName, limit, options) => store.status(lockName, limit, options),
		getRun: (runId) => store.getRun(runId),
		readLedger: (syncName) => store.readLedger(syncName),
		getLedgerEntry: (syncName, audienceId, memberKey) => store.getLedgerEntry(syncName, audienceId, memberKey),
		countLedger: (syncName) => store.countLedger(syncName),
		upsertLedger: async (_entries: LedgerEntry[], _fence?: LeaseFence) => undefined,
		deleteLedger: async (_syncName: string, _audienceId: string, memberKeys: string[]) => memberKeys.length,
		getConsent: (audienceId, phone) => store.getConsent(audienceId, phone),
		readConsent: (audienceId) => store.readConsent(audienceId),
		findConsentByMessageId: (messageId) => store.findConsentByMessageId(messageId),
		claimConsentAsk: async (audienceId, phone) => (await firstClaim(audienceId, [phone])).length === 1,
		claimConsentAsks: (audienceId, phones) => firstClaim(audienceId, phones),
		markConsentAsked: async () => undefined,
		reclaimConsentAsks: async (audienceId, phones, askedBefore) => {
			const records = await recordsOf(audienceId);
			return claim(audienceId, phones, (phone) => {
				const record = records.get(phone);
				return record?.state === 'asked' && record.askedAt !== null && record.askedAt < askedBefore;
			});
		},
		releaseConsentClaim: async (audienceId, phone) => claimed.delete(key(audienceId, phone)),
		recordConsentAnswer: refused('recording a consent answer'),
		recordOptOuts: async (records: OptOutRecord[]) => {
			for (const r of records) {
				if (!optOuts.has(r.phone)) optOuts.set(r.phone, { phone: r.phone, source: r.source, audienceId: r.audienceId ?? null, recordedAt: new Date() });
			}
		},
		readOptOuts: async (phones) => {
			const found = await store.readOptOuts(phones);
			for (const phone of phones) if (optOuts.has(phone)) found.add(phone);
			return found;
		},
		getOptOut: async (phone) => (await store.getOptOut(phone)) ?? optOuts.get(phone) ?? null,
		close: () => store.close(),
	};
}

/** The run's store: a preview's stand-in when the items are a preview's. */
export function storeFor(items: INodeExecutionData[], store: SyncStore): SyncStore {
	return isPreview(items) ? previewStore(store) : store;
}

/** The run's Hub client: a preview's, which writes nothing, when the items are a preview's. */
export async function hubClientFor(ctx: IExecuteFunctions, items: INodeExecutionData[]): Promise<HubClient> {
	return isPreview(items) ? await createHubClient(ctx, {}, PreviewHubClient) : await createHubClient(ctx);
}
