/**
 * Change detection against the ledger. The ledger holds, per member, the hash of what the sync last
 * wrote to the Hub, and only Upsert Hub Contact writes it, after the Hub accepted the write. So a
 * member whose write never completed (a failed or killed run) is still different here, and the next
 * run carries it again: nothing is lost, and nothing unchanged is sent twice.
 */
import type { LedgerEntry } from '../shared/store';
import type { MailchimpClient, MailchimpMember, MemberStatus } from '../shared/transport/mailchimp';
import { memberKeyOf, type TaggedMember } from '../shared/items';
import { contentHash, toTaggedMember } from '../shared/members';
import type { TagMatch } from './members';

export type ChangeKind = 'new' | 'changed';

export type RemovalReason =
	| 'left-tags'
	| 'unsubscribed'
	| 'cleaned'
	| 'transactional'
	| 'archived'
	| 'deleted'
	| 'status'
	| 'audience-changed';

export interface MemberChange {
	member: TaggedMember;
	change: ChangeKind;
	contentHash: string;
	/** From the ledger: the contact this member was written to last time. */
	previous?: LedgerEntry;
}

export interface MemberRemoval {
	entry: LedgerEntry;
	reason: RemovalReason;
	/** What Mailchimp still says about the member, when it still has one. */
	member?: TaggedMember;
}

export interface ChangeSet {
	changes: MemberChange[];
	removals: MemberRemoval[];
	unchanged: number;
}

export { contentHash };

/** One audience's ledger entries by member key (the key is unique within a sync's audience). */
export type AudienceLedger = ReadonlyMap<string, LedgerEntry>;

/**
 * A sync's ledger split in one pass: the audience's entries by member key, and the entries of other
 * audiences. A daily run reads every entry, so the map is built once and serves both the check as pages
 * arrive (`unchangedSince`) and the comparison after the last page (`diffAgainstLedger`).
 */
export function splitLedger(ledger: LedgerEntry[], audienceId: string): { audience: Map<string, LedgerEntry>; otherAudiences: LedgerEntry[] } {
	const audience = new Map<string, LedgerEntry>();
	const otherAudiences: LedgerEntry[] = [];
	for (const entry of ledger) {
		if (entry.audienceId === audienceId) audience.set(entry.memberKey, entry);
		else otherAudiences.push(entry);
	}
	return { audience, otherAudiences };
}

/**
 * Whether a member's content is what the ledger says the sync last wrote for it: such a member needs
 * nothing, and Fetch drops its content as soon as its page arrives.
 */
export function unchangedSince(ledger: AudienceLedger): (member: TaggedMember) => boolean {
	// A member the ledger does not hold is not hashed here: it is new, and its hash is taken once, later.
	return (member) => {
		const written = ledger.get(memberKeyOf(member))?.contentHash;
		return written !== undefined && written === contentHash(member);
	};
}

/**
 * Splits the current selection against the ledger. `selected` are the members the node would emit;
 * `seenElsewhere` are members the tag listings returned with a status the user did not select (so
 * they are known to have left by status, not by tag); `unchangedKeys` are selected members already
 * found unchanged (`unchangedSince`) while their pages arrived.
 */
export function diffAgainstLedger(
	selected: TaggedMember[],
	seenElsewhere: TaggedMember[],
	byKey: AudienceLedger,
	fullResync: boolean,
	unchangedKeys: string[] = [],
): { changes: MemberChange[]; unchanged: number; absent: LedgerEntry[]; leftByStatus: MemberRemoval[] } {
	const changes: MemberChange[] = [];
	let unchanged = unchangedKeys.length;
	const present = new Set<string>(unchangedKeys);
	for (const member of selected) {
		const key = memberKeyOf(member);
		present.add(key);
		const hash = contentHash(member);
		const previous = byKey.get(key);
		if (!previous) changes.push({ member, change: 'new', contentHash: hash });
		else if (fullResync || previous.contentHash !== hash) changes.push({ member, change: 'changed', contentHash: hash, previous });
		else unchanged++;
	}
	const leftByStatus: MemberRemoval[] = [];
	const elsewhere = new Map(seenElsewhere.map((m) => [memberKeyOf(m), m]));
	const absent: LedgerEntry[] = [];
	for (const entry of byKey.values()) {
		if (present.has(entry.memberKey)) continue;
		const member = elsewhere.get(entry.memberKey);
		if (member) leftByStatus.push({ entry, member, reason: statusReason(member.status) });
		else absent.push(entry);
	}
	return { changes, unchanged, absent, leftByStatus };
}

function statusReason(status: string): RemovalReason {
	return status === 'unsubscribed' || status === 'cleaned' || status === 'transactional' || status === 'archived'
		? status
		: 'status';
}

/**
 * A ledger member missing from every selected tag listing has left the tags, been archived, or been
 * deleted. Offset paging over an unsortable listing can also skip a member whose neighbours changed
 * mid-read, so each one is looked up before it is called removed: a member who is in fact still
 * selected is kept (and simply synced next run), never taken out of the Hub list by mistake.
 */
export async function confirmRemovals(
	client: MailchimpClient,
	audienceId: string,
	absent: LedgerEntry[],
	selectedTags: string[],
	match: TagMatch,
	statuses: ReadonlySet<MemberStatus>,
): Promise<{ removals: MemberRemoval[]; stillSelected: string[] }> {
	const removals: MemberRemoval[] = [];
	const stillSelected: string[] = [];
	// Many at once (a tag taken out of the selection, say): one paged read of the audience costs far
	// less than a lookup each. Archived and deleted members are not in it and are looked up alone.
	const listed =
		absent.length > BULK_CONFIRM_THRESHOLD
			? new Map((await client.getMembers(audienceId)).flatMap((m) => [[m.contact_id ?? m.id, m] as const, [m.id, m] as const]))
			: undefined;
	await Promise.all(
		absent.map(async (entry) => {
			const member = listed?.get(entry.memberKey) ?? (await client.findMember(audienceId, entry.memberKey));
			if (!member) removals.push({ entry, reason: 'deleted' });
			else if (!statuses.has(member.status as MemberStatus)) removals.push({ entry, reason: statusReason(member.status) });
			else if (await hasSelectedTags(client, audienceId, member, selectedTags, match)) stillSelected.push(entry.memberKey);
			else removals.push({ entry, reason: 'left-tags' });
		}),
	);
	// Lookups finish in any order; the output must not.
	removals.sort((a, b) => (a.entry.memberKey < b.entry.memberKey ? -1 : 1));
	return { removals, stillSelected };
}

async function hasSelectedTags(
	client: MailchimpClient,
	audienceId: string,
	member: MailchimpMember,
	selectedTags: string[],
	match: TagMatch,
): Promise<boolean> {
	return tagsSelect(await selectedTagsOf(client, audienceId, member, selectedTags), selectedTags, match);
}

/** Whether the member's selected tags (`hits`) select it: all of them, or any. */
function tagsSelect(hits: string[], selectedTags: string[], match: TagMatch): boolean {
	return match === 'all' ? hits.length === selectedTags.length : hits.length > 0;
}

/** Which of the selected tags (names, in the order selected) the member has, read from Mailchimp's member answer. */
async function selectedTagsOf(client: MailchimpClient, audienceId: string, member: MailchimpMember, selectedTags: string[]): Promise<string[]> {
	// The transport checked that `tags` and `tags_count` came with the member (they were asked for):
	// a member whose tags are unknown must never count as having left them.
	if (!Array.isArray(member.tags) || typeof member.tags_count !== 'number') {
		throw new Error(`Mailchimp's answer for member ${member.id} has no tag list, so it cannot be told whether it left the tags`);
	}
	// The member object embeds at most 50 tags; beyond that the full list has its own endpoint.
	const names =
		member.tags_count > member.tags.length
			? (await client.getMemberTags(audienceId, member.id)).map((t) => t.name)
			: member.tags.map((t) => t.name);
	const has = new Set(names.map((n) => n.toLowerCase()));
	return selectedTags.filter((t) => has.has(t.toLowerCase()));
}

/**
 * "Only these members" (a webhook's hint that they changed): each named member is read from Mailchimp
 * and compared with its own ledger entry exactly as a full run compares it, and nobody else is
 * touched. A removal follows only from an answer understood: the member read back with another
 * status or without the selected tags, or Mailchimp's own 404 for a key the ledger holds.
 */
export async function diffNamedMembers(
	client: MailchimpClient,
	audienceId: string,
	keys: string[],
	selectedTags: string[],
	match: TagMatch,
	statuses: ReadonlySet<MemberStatus>,
	ledger: LedgerEntry[],
	fullResync: boolean,
): Promise<{ changes: MemberChange[]; removals: MemberRemoval[]; unchanged: number }> {
	const byKey = new Map(ledger.map((e) => [e.memberKey, e]));
	const result = { changes: [] as MemberChange[], removals: [] as MemberRemoval[], unchanged: 0 };
	const done = new Set<string>();
	// One at a time: a webhook names one member, and two keys may name the same member.
	for (const key of keys) {
		const found = await client.findMember(audienceId, key);
		if (!found) {
			// Mailchimp's 404 (the transport checked it is Mailchimp's problem+json): deleted. Only a key
			// the ledger holds can be removed; an email of a deleted member is left to the daily run.
			const entry = byKey.get(key);
			if (entry && !done.has(key)) result.removals.push({ entry, reason: 'deleted' });
			done.add(key);
			continue;
		}
		const names = await selectedTagsOf(client, audienceId, found, selectedTags);
		const member = toTaggedMember(found, names, audienceId);
		const memberKey = memberKeyOf(member);
		if (done.has(memberKey)) continue;
		done.add(memberKey);
		const entry = byKey.get(memberKey);
		if (statuses.has(found.status as MemberStatus) && tagsSelect(names, selectedTags, match)) {
			const diff = diffAgainstLedger([member], [], new Map(entry ? [[memberKey, entry]] : []), fullResync);
			result.changes.push(...diff.changes);
			result.unchanged += diff.unchanged;
		} else if (entry) {
			const reason = statuses.has(found.status as MemberStatus) ? 'left-tags' : statusReason(found.status);
			result.removals.push({ entry, reason, member });
		}
	}
	return result;
}

/** Above this many members to confirm, the audience is read once instead of member by member. */
export const BULK_CONFIRM_THRESHOLD = 200;

export const REMOVAL_TEXT: Record<RemovalReason, string> = {
	'left-tags': 'No longer has the selected tags',
	unsubscribed: 'Unsubscribed in Mailchimp',
	cleaned: 'Cleaned in Mailchimp (the address bounced)',
	transactional: 'Now a transactional-only contact in Mailchimp',
	archived: 'Archived in Mailchimp',
	deleted: 'Permanently deleted in Mailchimp',
	status: 'Its Mailchimp status is no longer one of the selected statuses',
	'audience-changed': 'The sync now reads another audience',
};
