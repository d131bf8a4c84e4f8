import { fetchTaggedMembers, resolveTags, SelectionError } from '../../../nodes/FetchTaggedMembers/members';
import type { MailchimpClient, MailchimpMember, Tag } from '../../../nodes/shared/transport/mailchimp';

const tags: Tag[] = [
	{ id: '11', name: 'VIP' },
	{ id: '12', name: 'Newsletter' },
	{ id: '13', name: 'Store' },
];

const member = (email: string, status = 'subscribed'): MailchimpMember => ({
	id: `id-${email}`,
	contact_id: `c-${email}`,
	email_address: email,
	status,
	full_name: email.toUpperCase(),
	merge_fields: { FNAME: email },
	sms_phone_number: '',
	last_changed: '2026-01-01T00:00:00+00:00',
	list_id: 'aud1',
});

/** A client whose tag listings are given; records which include flags were asked for. */
function fakeClient(listing: Record<string, MailchimpMember[]>) {
	const asked: Array<{ tag: string; include: unknown }> = [];
	const client = {
		getTagMembers: async (_audience: string, tag: Tag, include: unknown, keep?: (m: MailchimpMember) => unknown) => {
			asked.push({ tag: tag.id, include });
			return (listing[tag.id] ?? []).map((m) => (keep ? keep(m) : m));
		},
	} as unknown as MailchimpClient;
	return { client, asked };
}

describe('resolveTags', () => {
	it('accepts ids and case-insensitive names, once each, in selection order', () => {
		expect(resolveTags(tags, ['13', 'vip', ' 11 ', 'Store']).map((t) => t.id)).toEqual(['13', '11']);
	});

	it('names every unknown tag and lists the real ones', () => {
		const error = (() => {
			try {
				resolveTags(tags, ['VIP', 'Gold', '99']);
			} catch (e) {
				return e as SelectionError;
			}
			return undefined;
		})();
		expect(error).toBeInstanceOf(SelectionError);
		expect(error?.message).toBe("The audience has no tag 'Gold', '99'");
		expect(error?.description).toContain("'Newsletter'");
	});

	it('refuses an empty selection', () => {
		expect(() => resolveTags(tags, [' ', ''])).toThrow('No tag selected');
	});
});

describe('fetchTaggedMembers', () => {
	const a = member('a@example.com');
	const b = member('b@example.com');
	const c = member('c@example.com', 'unsubscribed');

	it('keeps each member once, with the selected tags it has, sorted by email', async () => {
		const { client } = fakeClient({ '11': [b, a], '12': [a, c, a] });
		const { selected: result } = await fetchTaggedMembers(client, 'aud1', tags.slice(0, 2), 'any', new Set(['subscribed']));
		expect(result.map((m) => [m.email, m.tags])).toEqual([
			['a@example.com', ['VIP', 'Newsletter']],
			['b@example.com', ['VIP']],
		]);
		expect(result[0]).toMatchObject({ memberId: 'id-a@example.com', contactId: 'c-a@example.com', smsPhone: null, audienceId: 'aud1' });
	});

	it('"all" keeps only members listed under every selected tag', async () => {
		const { client } = fakeClient({ '11': [a, b], '12': [a], '13': [b, a] });
		const { selected: result } = await fetchTaggedMembers(client, 'aud1', tags, 'all', new Set(['subscribed']));
		expect(result.map((m) => m.email)).toEqual(['a@example.com']);
	});

	it('asks Mailchimp for hidden statuses only when they are selected, and filters by status', async () => {
		const { client, asked } = fakeClient({ '12': [a, c] });
		const { selected: onlySubscribed } = await fetchTaggedMembers(client, 'aud1', [tags[1]], 'any', new Set(['subscribed']));
		expect(onlySubscribed.map((m) => m.email)).toEqual(['a@example.com']);
		expect(asked[0].include).toEqual({ unsubscribed: false, cleaned: false, transactional: false });

		const { selected: withUnsubscribed } = await fetchTaggedMembers(client, 'aud1', [tags[1]], 'any', new Set(['subscribed', 'unsubscribed']));
		expect(withUnsubscribed.map((m) => m.status)).toEqual(['subscribed', 'unsubscribed']);
		expect(asked[1].include).toEqual({ unsubscribed: true, cleaned: false, transactional: false });
	});

	it('reads every status when asked, and keeps the unselected ones apart', async () => {
		const { client, asked } = fakeClient({ '12': [a, c] });
		const { selected, others } = await fetchTaggedMembers(client, 'aud1', [tags[1]], 'any', new Set(['subscribed']), {
			withOtherStatuses: true,
		});
		expect(asked[0].include).toEqual({ unsubscribed: true, cleaned: true, transactional: true });
		expect(selected.map((m) => m.email)).toEqual(['a@example.com']);
		expect(others.map((m) => m.email)).toEqual(['c@example.com']);
	});

	describe('with members recognised as unchanged', () => {
		const d = member('d@example.com');
		// Recognises a and c by key; c's status is not selected, so it must stay whole (it may be a removal).
		const unchanged = (m: { memberId: string }) => m.memberId === a.id || m.memberId === c.id;

		it('keeps only their keys, apart, and everyone else whole with their tags', async () => {
			const { client } = fakeClient({ '11': [d, a, b], '12': [a, c, b] });
			const result = await fetchTaggedMembers(client, 'aud1', tags.slice(0, 2), 'any', new Set(['subscribed']), {
				withOtherStatuses: true,
				unchanged,
			});
			expect(result.unchangedKeys).toEqual(['c-a@example.com']);
			expect(result.selected.map((m) => [m.email, m.tags])).toEqual([
				['b@example.com', ['VIP', 'Newsletter']],
				['d@example.com', ['VIP']],
			]);
			expect(result.others.map((m) => m.email)).toEqual(['c@example.com']);
		});

		it('does not count an unchanged member that "all" does not select', async () => {
			const { client } = fakeClient({ '11': [a, b], '12': [b] });
			const result = await fetchTaggedMembers(client, 'aud1', tags.slice(0, 2), 'all', new Set(['subscribed']), { unchanged });
			expect(result.unchangedKeys).toEqual([]);
			expect(result.selected.map((m) => m.email)).toEqual(['b@example.com']);
		});
	});
});
