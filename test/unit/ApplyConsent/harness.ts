/**
 * Running Apply Consent as n8n runs it: a fake execution context whose Hub credential points at the
 * Hub emulator and whose store is a temp SQLite file; items as Map Fields' Valid output (before
 * Upsert) or Upsert Hub Contact's Done output (after it) carry them.
 */
import type { IDataObject, INodeExecutionData, NodeExecutionHint } from 'n8n-workflow';

import { ApplyConsent } from '../../../nodes/ApplyConsent/ApplyConsent.node';
import type { HubEmulator } from '../../emulators/hub';
import { tempStore as sharedTempStore, type StoreDir } from '../helpers/hubAndStore';
import { hubCredentials } from '../helpers/hubContext';
import { fakeExecuteContext } from '../helpers/fakeExecuteContext';

export const AUDIENCE = 'aud0consent';
export const SYNC = 'sync0consent';
export const HUB_KEY = { apiKey: 'consent-key', apiSecret: 'consent-secret', accountId: 'ConsentAccount' };

export interface MemberSpec {
	key: string;
	phone: string;
	firstName?: string;
	sms?: 'subscribed' | 'unsubscribed' | null;
	change?: 'new' | 'changed';
	lease?: string;
}

/** A member as Map Fields puts it on Valid. */
export function memberItem(spec: MemberSpec): INodeExecutionData {
	return {
		json: {
			contact: { phone: spec.phone, firstName: spec.firstName ?? spec.key.toUpperCase(), customFields: [] },
			member: { memberKey: spec.key, memberId: `id-${spec.key}`, contactId: spec.key, audienceId: AUDIENCE, smsSubscriptionStatus: spec.sms ?? null },
			sync: {
				syncName: SYNC,
				audienceId: AUDIENCE,
				memberKey: spec.key,
				change: spec.change ?? 'new',
				contentHash: `hash-${spec.key}`,
				...(spec.lease ? { lease: spec.lease } : {}),
			},
		},
	};
}

/** The same member after Upsert Hub Contact's Done output, with what the node before Upsert carried. */
export function upsertedItem(
	before: INodeExecutionData,
	hub: { action: string; subscription?: 'SUBSCRIBED' | 'UNSUBSCRIBED' | null; contactId?: string },
): INodeExecutionData {
	const sync = before.json.sync as IDataObject;
	return {
		json: {
			...before.json,
			sync: { ...sync, hubContactId: hub.contactId ?? `contact-${String(sync.memberKey)}`, result: hub.action },
			hub: { contactId: hub.contactId ?? `contact-${String(sync.memberKey)}`, action: hub.action, subscription: hub.subscription === undefined ? 'SUBSCRIBED' : hub.subscription, changedFields: [] },
		},
	};
}

export type { StoreDir } from '../helpers/hubAndStore';
export const tempStore = (): StoreDir => sharedTempStore('hub-sync-consent-');

export interface RunOptions {
	position?: 'before' | 'after';
	mode?: 'confirmation' | 'doubleOptIn' | 'none';
	companyName?: string;
	textPreset?: 'hub' | 'ctia' | 'custom';
	confirmationText?: string;
	requestText?: string;
	sender?: string;
	creditBudget?: number;
	reaskAfterDays?: number;
}

export interface RunResult {
	continued: INodeExecutionData[];
	awaiting: INodeExecutionData[];
	skipped: INodeExecutionData[];
	errors: INodeExecutionData[];
	hints: NodeExecutionHint[];
}

export async function runNode(hub: HubEmulator, storePath: string, items: INodeExecutionData[], options: RunOptions = {}): Promise<RunResult> {
	const hints: NodeExecutionHint[] = [];
	const ctx = fakeExecuteContext({
		credentials: hubCredentials(hub, HUB_KEY),
		parameters: {
			operation: 'apply',
			position: options.position ?? 'before',
			mode: options.mode ?? 'confirmation',
			companyName: options.companyName ?? 'Acme Coffee',
			textPreset: options.textPreset ?? 'hub',
			...(options.confirmationText !== undefined ? { confirmationText: options.confirmationText } : {}),
			...(options.requestText !== undefined ? { requestText: options.requestText } : {}),
			sender: options.sender ?? '',
			creditBudget: options.creditBudget ?? 0,
			reaskAfterDays: options.reaskAfterDays ?? 0,
			store: 'sqlite',
			storePath,
		},
		items,
		node: { name: 'Apply Consent', type: 'n8n-nodes-mailchimp-hub-sync.applyConsent' },
		overrides: { addExecutionHints: (...given: NodeExecutionHint[]) => hints.push(...given) },
	});
	const [continued, awaiting, skipped, errors] = await new ApplyConsent().execute.call(ctx);
	return { continued, awaiting, skipped, errors, hints };
}

/** A whole confirmation-mode pass: the node before Upsert, then (with Upsert's outcome) the node after it. */
export async function confirmAfterUpsert(
	hub: HubEmulator,
	storePath: string,
	members: MemberSpec[],
	hubOutcome: (spec: MemberSpec) => { action: string; subscription?: 'SUBSCRIBED' | 'UNSUBSCRIBED' | null },
	options: RunOptions = {},
): Promise<RunResult> {
	const before = await runNode(hub, storePath, members.map(memberItem), { ...options, mode: 'confirmation', position: 'before' });
	const upserted = before.continued.map((item, i) => upsertedItem(item, hubOutcome(members[i])));
	return await runNode(hub, storePath, upserted, { position: 'after' });
}

export const consentOf = (item: INodeExecutionData) => item.json.consent as IDataObject;
export const keyOf = (item: INodeExecutionData) => String((item.json.sync as IDataObject).memberKey);
