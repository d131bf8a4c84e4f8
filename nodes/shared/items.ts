/**
 * The item contract between the nodes, defined once: what travels in `json` from Fetch Tagged
 * Members through Map Fields to Upsert Hub Contact (and its Remove), and what Sync Lock Release
 * counts. Each node adds its part and passes the rest on unchanged.
 *
 * - `json.member` (Fetch's member fields, on Map Fields' outputs): the Mailchimp member.
 * - `json.contact` (Map Fields' Valid output): the Hub contact the member should become.
 * - `json.sync` (every node): which sync, audience and member the item is, what changed, and the
 *   ledger's knowledge (the Hub contact id, the number written last) plus the run's lease.
 * - `json.hub` (Upsert's Done output): what happened in the Hub.
 * - `json.error` / `json.fatal` (any Error output): why, and whether the run must be recorded failed.
 */

/** A member of the selected tags as Fetch Tagged Members emits it (the item's `json`, and Map Fields' input). */
export interface TaggedMember {
	memberId: string;
	contactId: string | null;
	email: string;
	status: string;
	fullName: string;
	mergeFields: Record<string, unknown>;
	smsPhone: string | null;
	smsSubscriptionStatus: string | null;
	/** The selected tags this member has, in the order they were selected. */
	tags: string[];
	lastChanged: string | null;
	audienceId: string;
}

/** The contact a member should become (`json.contact`). A mapped field without a value is `null`; an unmapped one is absent. */
export interface HubContactFields {
	/** E.164. */
	phone: string;
	firstName?: string | null;
	lastName?: string | null;
	/** ISO 3166-1 alpha-2. */
	country?: string | null;
	/** YYYY-MM-DD. */
	dateOfBirth?: string | null;
	/** The Hub has no email property; Upsert Hub Contact puts it into its email custom field. */
	email?: string | null;
	customFields: Array<{ id: string; value: string | null }>;
}

/** What the sync saw happen to a member since the last run. */
export type SyncChange = 'new' | 'changed' | 'removed' | 'invalid';

/** Why Map Fields could not make a contact of the member (CONTRACT §3). */
export type InvalidReason = 'phone-missing' | 'phone-invalid' | 'other';

/** `json.sync`. */
export interface SyncInfo {
	/** The ledger's name (the workflow's id, or the Sync Name option). */
	syncName: string;
	audienceId: string;
	memberKey: string;
	change: SyncChange;
	/** Of the member's synced content; absent on removals. */
	contentHash?: string;
	/** The Hub contact the ledger knows for this member, if any. */
	hubContactId?: string | null;
	/** The number written to the Hub last time (to replace when it changed). */
	previousPhone?: string | null;
	/** On removals: the number the ledger holds. */
	phone?: string | null;
	/** On removals: why the member left. */
	reason?: string;
	/** On invalid rows. */
	invalidReason?: InvalidReason;
	/** Mailchimp's sms_subscription_status is unsubscribed (set by Map Fields on invalid rows). */
	smsUnsubscribed?: boolean;
	/** The Sync Lock lease token (CONTRACT §1); absent when the sync runs without a lock. */
	lease?: string;
	/** A preview (dry run): the nodes decide as in a real run and write nothing (see shared/preview.ts). */
	preview?: boolean;
	/** What was done (in a preview: would be done, e.g. `would-create`), as Sync Lock Release counts it (Count Items By: sync.result). */
	result?: string;
}

export type HubAction = 'created' | 'updated' | 'unchanged' | 'removed-from-list' | 'unsubscribed' | 'deleted' | 'kept';

/** `json.hub` on Upsert Hub Contact's Done output. */
export interface HubOutcome {
	contactId: string | null;
	action: HubAction;
	subscription: 'SUBSCRIBED' | 'UNSUBSCRIBED' | null;
	/** What this run wrote: field names, custom field merge tags, `phone`, `subscription`, `list`, `contact` (deleted), `duplicates` (merged). */
	changedFields: string[];
	/** Why nothing (or less than asked) was done, or what else was found, in words. */
	note?: string;
}

/**
 * The member key every node uses: Mailchimp's contact id (it survives an email change), else the
 * member id. Reads a member (Fetch's `TaggedMember`, `json.member`) or an item's `json`, where
 * `json.sync.memberKey` wins.
 */
export function memberKeyOf(member: { contactId: string | null; memberId: string }): string;
export function memberKeyOf(source: { contactId?: unknown; memberId?: unknown; sync?: unknown }): string | undefined;
export function memberKeyOf(source: { contactId?: unknown; memberId?: unknown; sync?: unknown }): string | undefined {
	const sync = source.sync && typeof source.sync === 'object' ? (source.sync as { memberKey?: unknown }) : undefined;
	for (const key of [sync?.memberKey, source.contactId, source.memberId]) {
		if (typeof key === 'string' && key !== '') return key;
	}
	return undefined;
}
