/**
 * The one place Mailchimp answers are checked: each way an answer can be wrong is named, and a
 * correct answer passes through unchanged.
 */
import { UnexpectedAnswer, bodyOf, memberAt, namedAt, pageOf } from '../../../../nodes/shared/transport/mailchimp-answers';

const member = { id: 'a1', email_address: 'a@example.com', status: 'subscribed', merge_fields: { PHONE: '' }, tags: [{ id: 1, name: 'VIP' }], tags_count: 1 };
const members = memberAt(['id', 'email_address', 'status', 'merge_fields', 'tags', 'tags_count']);
const problemOf = (check: () => unknown): string => {
	try {
		check();
	} catch (error) {
		expect(error).toBeInstanceOf(UnexpectedAnswer);
		return (error as Error).message;
	}
	throw new Error('expected the answer to be refused');
};

describe('Mailchimp answer shapes', () => {
	it('passes a correct page through', () => {
		expect(pageOf({ members: [member], total_items: 1 }, 'members', members)).toEqual({ items: [member], total: 1 });
		// The client hands over `{}` and non-JSON bodies as text; JSON text is read as JSON.
		expect(pageOf(JSON.stringify({ members: [], total_items: 0 }), 'members', members)).toEqual({ items: [], total: 0 });
	});

	it('names what is wrong with a page', () => {
		expect(problemOf(() => pageOf('<html><body>Bad gateway</body></html>', 'members', members))).toBe('an HTML page instead of JSON');
		expect(problemOf(() => pageOf('{}', 'members', members))).toBe('members is missing, not a list');
		expect(problemOf(() => pageOf('', 'members', members))).toBe('an empty body instead of JSON');
		expect(problemOf(() => pageOf('Service Unavailable', 'members', members))).toBe('text that is not JSON');
		expect(problemOf(() => pageOf([member], 'members', members))).toBe('a list instead of a JSON object');
		expect(problemOf(() => pageOf({ members: null, total_items: 1 }, 'members', members))).toBe('members is null, not a list');
		expect(problemOf(() => pageOf({ members: [member], total_items: '1' }, 'members', members))).toBe('total_items is string "1", not a count');
		expect(problemOf(() => pageOf({ members: [member] }, 'members', members))).toBe('total_items is missing, not a count');
	});

	it('names what is wrong with a member, with its place on the page', () => {
		const at = (patch: Record<string, unknown>) => problemOf(() => pageOf({ members: [member, { ...member, ...patch }], total_items: 2 }, 'members', members));
		expect(at({ id: 7 })).toBe('members[1].id is number 7, not a text');
		expect(at({ id: '' })).toBe('members[1].id is empty, not a text');
		expect(at({ status: undefined })).toBe('members[1].status is missing, not a text');
		expect(at({ status: 'gone' })).toBe('members[1].status is "gone", not one of Mailchimp\'s member statuses');
		expect(at({ contact_id: 12 })).toBe('members[1].contact_id is number 12, not a text');
		expect(at({ merge_fields: undefined })).toBe('members[1].merge_fields is missing');
		expect(at({ merge_fields: 'x' })).toBe('members[1].merge_fields is string "x", not an object');
		expect(at({ tags: undefined })).toBe('members[1].tags is missing, not a list');
		expect(at({ tags: [{ id: 1 }] })).toBe('members[1].tags[0].name is missing, not a text');
		expect(at({ tags_count: '1' })).toBe('members[1].tags_count is string "1", not a number');
		// The SMS status is where an SMS opt-out is read: an unknown value is refused, not taken as "not unsubscribed".
		expect(at({ sms_subscription_status: 'opted_out' })).toBe('members[1].sms_subscription_status is "opted_out", not one of Mailchimp\'s SMS statuses');
		expect(at({ sms_subscription_status: 3 })).toBe('members[1].sms_subscription_status is number 3, not a text');
		for (const known of ['', 'subscribed', 'unsubscribed', 'nonsubscribed', 'pending', undefined]) {
			expect(() => pageOf({ members: [{ ...member, sms_subscription_status: known }], total_items: 1 }, 'members', members)).not.toThrow();
		}
		// Tags are required only when they were asked for.
		expect(memberAt(['id', 'status'])({ ...member, tags: undefined, tags_count: undefined, merge_fields: undefined })).toBeDefined();
		expect(problemOf(() => members(bodyOf({ ...member, id: 0, status: null })))).toBe('id is number 0, not a text');
	});

	it('names what is wrong with a tag or merge field', () => {
		const tags = namedAt('id', { numericId: true });
		expect(pageOf({ segments: [{ id: 12, name: 'VIP' }], total_items: 1 }, 'segments', tags).items).toHaveLength(1);
		expect(problemOf(() => pageOf({ segments: [{ id: 'x', name: 'VIP' }], total_items: 1 }, 'segments', tags))).toBe('segments[0].id is string "x", not a number');
		expect(problemOf(() => pageOf({ segments: [{ id: 1, name: null }], total_items: 1 }, 'segments', tags))).toBe('segments[0].name is null, not a text');
		expect(problemOf(() => pageOf({ merge_fields: [{ tag: 'PHONE', name: 'Phone' }], total_items: 1 }, 'merge_fields', namedAt('tag', { more: ['type'] })))).toBe(
			'merge_fields[0].type is missing, not a text',
		);
	});
});
