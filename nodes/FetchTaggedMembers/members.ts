/**
 * What Fetch Tagged Members does, apart from n8n: resolve the chosen tags, read every selected tag
 * (pages concurrently, within the credential's cap), keep each member once, and say which of the
 * selected tags the member has.
 */
import { memberKeyOf, type TaggedMember } from '../shared/items';
import { toTaggedMember } from '../shared/members';
import type { MailchimpClient, MailchimpMember, MemberStatus, Tag } from '../shared/transport/mailchimp';

export type TagMatch = 'any' | 'all';

/** Raised for a selection the user has to correct (unknown tag, no tag); the node words it. */
export class SelectionError extends Error {
	constructor(
		message: string,
		readonly description: string,
	) {
		super(message);
	}
}

/**
 * Turns what the user selected (tag ids from the dropdown, or names/ids given by expression) into
 * the audience's tags. Unknown entries are an error, not silently skipped: a typo must not sync nobody.
 */
export function resolveTags(available: Tag[], wanted: string[]): Tag[] {
	const requested = [...new Set(wanted.map((w) => w.trim()).filter(Boolean))];
	if (requested.length === 0) {
		throw new SelectionError('No tag selected', 'Select at least one tag whose members should be synced.');
	}
	const byId = new Map(available.map((t) => [t.id, t]));
	const byName = new Map(available.map((t) => [t.name.toLowerCase(), t]));
	const tags: Tag[] = [];
	const unknown: string[] = [];
	for (const entry of requested) {
		const tag = byId.get(entry) ?? byName.get(entry.toLowerCase());
		if (tag) {
			if (!tags.includes(tag)) tags.push(tag);
		} else unknown.push(entry);
	}
	if (unknown.length > 0) {
		const known = available.map((t) => `'${t.name}'`).slice(0, 20).join(', ');
		throw new SelectionError(
			`The audience has no tag ${unknown.map((u) => `'${u}'`).join(', ')}`,
			available.length === 0
				? 'This audience has no tags at all. Create the tag in Mailchimp, or pick another audience.'
				: `Pick tags from the list. The audience's tags are: ${known}${available.length > 20 ? ', …' : ''}.`,
		);
	}
	return tags;
}

/** The tag-member endpoint hides these statuses unless asked; archived members it never lists. */
function includeFlags(statuses: ReadonlySet<MemberStatus>, everything: boolean) {
	return {
		unsubscribed: everything || statuses.has('unsubscribed'),
		cleaned: everything || statuses.has('cleaned'),
		transactional: everything || statuses.has('transactional'),
	};
}

export interface TagSelection {
	/** Members with a selected status, as the node emits them (without those `unchanged` recognised). */
	selected: TaggedMember[];
	/** Members of the tags with another status; read only when asked, to tell a removal's reason. */
	others: TaggedMember[];
	/** Keys of the selected members `unchanged` recognised: their content was dropped as their page arrived. */
	unchangedKeys: string[];
}

/** What is kept of a listed member: all of it, or (recognised as unchanged) its key and status only. */
interface Listed {
	key: string;
	status: string;
	member?: TaggedMember;
	/** Indexes (in `tags`) of the selected tags whose listings hold the member. */
	tagIndexes: number[];
}

export async function fetchTaggedMembers(
	client: MailchimpClient,
	audienceId: string,
	tags: Tag[],
	match: TagMatch,
	statuses: ReadonlySet<MemberStatus>,
	{
		withOtherStatuses = false,
		unchanged,
	}: {
		withOtherStatuses?: boolean;
		/**
		 * Recognises a member whose content the sync already carried (the ledger's hash): such a member is
		 * kept as its key alone, decided page by page while the other pages are on their way, so a daily run
		 * neither holds every member nor waits for this work after the last page.
		 */
		unchanged?: (member: TaggedMember) => boolean;
	} = {},
): Promise<TagSelection> {
	// Membership comes from the tag listings themselves, not from the member's embedded tags
	// (which stop at 50), so "all" is right for members with any number of tags. Each member is taken
	// in as its first listing arrives; a later listing (another tag, or the same one again when offset
	// paging meets a change mid-read) only adds its tag.
	const seen = new Map<string, Listed>();
	const takeIn = (tagIndex: number) => (raw: MailchimpMember): void => {
		const known = seen.get(raw.id);
		if (known) {
			if (!known.tagIndexes.includes(tagIndex)) known.tagIndexes.push(tagIndex);
			return;
		}
		// The selected tags are known only once every listing is in; content and key do not depend on them.
		const member = toTaggedMember(raw, [], audienceId);
		const slim = unchanged !== undefined && statuses.has(raw.status as MemberStatus) && unchanged(member);
		seen.set(raw.id, { key: memberKeyOf(member), status: raw.status, tagIndexes: [tagIndex], ...(slim ? {} : { member }) });
	};
	await Promise.all(tags.map((tag, i) => client.getTagMembers(audienceId, tag, includeFlags(statuses, withOtherStatuses), takeIn(i))));

	const selection: TagSelection = { selected: [], others: [], unchangedKeys: [] };
	for (const { key, status, member, tagIndexes } of seen.values()) {
		if (match === 'all' && tagIndexes.length < tags.length) continue;
		if (!member) {
			selection.unchangedKeys.push(key);
			continue;
		}
		// In the order the tags were selected, whichever listing came first.
		member.tags = tagIndexes.sort((a, b) => a - b).map((i) => tags[i].name);
		(statuses.has(status as MemberStatus) ? selection.selected : selection.others).push(member);
	}
	// Pages arrive in any order; the output must not.
	selection.selected.sort(byEmail);
	selection.others.sort(byEmail);
	return selection;
}

/** Case-insensitive, as people read addresses; ties broken by member id so the order is total. */
const byEmail = (a: TaggedMember, b: TaggedMember) => {
	const x = a.email.toLowerCase();
	const y = b.email.toLowerCase();
	return x < y ? -1 : x > y ? 1 : a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
};
