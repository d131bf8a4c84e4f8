/**
 * Running Upsert Hub Contact as n8n runs it: a fake execution context whose Hub credential points at
 * the Hub emulator and whose store is a temp SQLite file; items shaped like Map Fields' Valid output
 * and Fetch Tagged Members' Removed output; counts of the Hub's write requests.
 */
import type { IDataObject, IExecuteFunctions, IHttpRequestOptions, IN8nHttpFullResponse, INodeExecutionData } from 'n8n-workflow';

import { UpsertHubContact } from '../../../nodes/UpsertHubContact/UpsertHubContact.node';
import { openSyncStore, type LedgerEntry } from '../../../nodes/shared/store';
import type { HubEmulator } from '../../emulators/hub';
import { tempStore as sharedTempStore, type StoreDir } from '../helpers/hubAndStore';
import { hubCredentials } from '../helpers/hubContext';
import { fakeExecuteContext, type FakeExecuteContext } from '../helpers/fakeExecuteContext';

export const AUDIENCE = 'aud0upsert';
/** The ledger the items belong to, as Fetch Tagged Members names it (by default the workflow's id). */
export const SYNC = 'sync0upsert';
export const HUB_KEY = { apiKey: 'upsert-key', apiSecret: 'upsert-secret', accountId: 'UpsertAccount' };

export interface MemberSpec {
	key: string;
	phone: string;
	firstName?: string | null;
	lastName?: string | null;
	country?: string | null;
	dateOfBirth?: string | null;
	email?: string | null;
	customFields?: Array<{ id: string; value: string | null }>;
	sms?: 'subscribed' | 'unsubscribed' | 'nonsubscribed' | 'pending' | null;
	change?: 'new' | 'changed';
	hubContactId?: string | null;
	previousPhone?: string | null;
	contentHash?: string;
}

/** One item as Map Fields puts it on Valid. */
export function memberItem(spec: MemberSpec): INodeExecutionData {
	const contact: IDataObject = { phone: spec.phone, customFields: spec.customFields ?? [] };
	for (const name of ['firstName', 'lastName', 'country', 'dateOfBirth', 'email'] as const) {
		if (spec[name] !== undefined) contact[name] = spec[name];
	}
	if (!('firstName' in contact)) contact.firstName = spec.key.toUpperCase();
	return {
		json: {
			contact,
			member: {
				memberKey: spec.key,
				memberId: `id-${spec.key}`,
				contactId: spec.key,
				email: `${spec.key}@example.com`,
				status: 'subscribed',
				smsSubscriptionStatus: spec.sms ?? null,
				audienceId: AUDIENCE,
				tags: ['VIP'],
			},
			sync: {
				syncName: SYNC,
				audienceId: AUDIENCE,
				memberKey: spec.key,
				change: spec.change ?? (spec.hubContactId ? 'changed' : 'new'),
				contentHash: spec.contentHash ?? `hash-${spec.key}`,
				hubContactId: spec.hubContactId ?? null,
				previousPhone: spec.previousPhone ?? null,
				phone: spec.phone,
			},
			warnings: [],
		},
	};
}

/** One item as Fetch Tagged Members puts it on Removed. */
export function removedItem(key: string, hubContactId: string | null, phone: string | null): INodeExecutionData {
	return {
		json: {
			memberKey: key,
			email: `${key}@example.com`,
			reason: 'No longer has the selected tags',
			sync: { syncName: SYNC, audienceId: AUDIENCE, memberKey: key, change: 'removed', reason: 'left-tags', hubContactId, phone },
		},
	};
}

/** One item as Map Fields puts it on Invalid (CONTRACT §3): the phone is missing or not a mobile. */
export function invalidItem(
	key: string,
	hubContactId: string | null,
	previousPhone: string | null,
	extra: { invalidReason?: string; smsUnsubscribed?: boolean } = {},
): INodeExecutionData {
	return {
		json: {
			reason: 'The phone number is not a valid mobile',
			member: { memberKey: key, email: `${key}@example.com`, audienceId: AUDIENCE },
			sync: {
				syncName: SYNC,
				audienceId: AUDIENCE,
				memberKey: key,
				change: 'invalid',
				invalidReason: extra.invalidReason ?? 'phone-invalid',
				...(extra.smsUnsubscribed ? { smsUnsubscribed: true } : {}),
				hubContactId,
				previousPhone,
				result: 'invalid',
			},
		},
	};
}

export type { StoreDir } from '../helpers/hubAndStore';
export const tempStore = (): StoreDir => sharedTempStore('hub-sync-upsert-');

export async function ledgerOf(storePath: string, audienceId = AUDIENCE): Promise<Map<string, LedgerEntry>> {
	const store = await openSyncStore({ kind: 'sqlite', path: storePath });
	return new Map((await store.readLedger(SYNC)).filter((e) => e.audienceId === audienceId).map((e) => [e.memberKey, e]));
}

export interface RunOptions {
	operation?: 'upsert' | 'remove';
	removeAction?: string;
	listName?: string;
	concurrency?: number;
	/** Remove's removal guard (percent; 0 = off); the node's default when absent. */
	maxRemovalShare?: number;
	continueOnFail?: boolean;
	/** Called before each Hub request is sent (e.g. to simulate another writer). */
	beforeRequest?: (request: IHttpRequestOptions) => void | Promise<void>;
	/** May replace the Hub's answer before the node sees it (e.g. a garbled 200 from a proxy). */
	afterResponse?: (request: IHttpRequestOptions, response: IN8nHttpFullResponse) => IN8nHttpFullResponse;
}

export interface RunResult {
	done: INodeExecutionData[];
	errors: INodeExecutionData[];
	ctx: FakeExecuteContext;
}

export async function runNode(hub: HubEmulator, storePath: string, items: INodeExecutionData[], options: RunOptions = {}): Promise<RunResult> {
	const ctx = fakeExecuteContext({
		credentials: hubCredentials(hub, HUB_KEY),
		parameters: {
			operation: options.operation ?? 'upsert',
			listName: options.listName ?? 'MAILCHIMP',
			removeAction: options.removeAction ?? 'removeFromList',
			store: 'sqlite',
			storePath,
			options: {
				...(options.concurrency ? { concurrency: options.concurrency } : {}),
				...(options.maxRemovalShare !== undefined ? { maxRemovalShare: options.maxRemovalShare } : {}),
			},
		},
		items,
		continueOnFail: options.continueOnFail,
		node: { name: 'Upsert Hub Contact', type: 'n8n-nodes-mailchimp-hub-sync.upsertHubContact' },
	});
	if (options.beforeRequest || options.afterResponse) {
		const send = ctx.helpers.httpRequestWithAuthentication;
		ctx.helpers.httpRequestWithAuthentication = async function (this: unknown, name: string, request: IHttpRequestOptions) {
			await options.beforeRequest?.(request);
			const response = (await send.call(this as IExecuteFunctions, name, request)) as IN8nHttpFullResponse;
			return options.afterResponse ? options.afterResponse(request, response) : response;
		} as typeof send;
	}
	const [done, errors] = await new UpsertHubContact().execute.call(ctx);
	return { done, errors, ctx };
}

/** Requests per route since the counters were cleared; faults are counted apart by the emulator. */
export function requestCounts(hub: HubEmulator): Record<string, number> {
	return Object.fromEntries([...hub.counters.entries()].filter(([key]) => !key.startsWith('fault')));
}

export function writeCounts(hub: HubEmulator): Record<string, number> {
	return Object.fromEntries(Object.entries(requestCounts(hub)).filter(([key]) => /^(POST|PATCH|PUT|DELETE) /.test(key)));
}

export const totalWrites = (hub: HubEmulator) => Object.values(writeCounts(hub)).reduce((a, b) => a + b, 0);

export const hubOf = (item: INodeExecutionData) => item.json.hub as IDataObject & { contactId: string; action: string; subscription: string | null; changedFields: string[] };
export const keyOf = (item: INodeExecutionData) => String((item.json.sync as IDataObject).memberKey);
