/**
 * The Mailchimp emulator, exercised through the official client `@mailchimp/mailchimp_marketing`
 * (one isolated ApiClient per credential, never the module singleton), plus plain HTTP where the
 * client has no say: other auth schemes, OAuth, the control API. Expected answers are computed from
 * the dataset, not written down.
 */
import { readFileSync } from 'node:fs';

import { credentialsOf, DEMO_DATASET_PATH, demoDataset, largeAudience, type DatasetCredentials } from './datasets';
import { startMailchimpEmulator, subscriberHash, type DatasetMember, type MailchimpDataset, type MailchimpEmulator, type MemberStatus } from './mailchimp';

// Required, not imported: the tests call methods the package's own declaration of the client leaves out.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const ApiClient = require('@mailchimp/mailchimp_marketing/src/ApiClient');

type Client = any;

function clientFor(em: MailchimpEmulator, auth: { apiKey?: string; accessToken?: string }, server = 'us6'): Client {
	const client = new ApiClient();
	client.setConfig({ ...auth, server });
	// The client builds `basePath + path`; pointing basePath at the emulator is all it takes.
	client.basePath = em.apiUrl;
	return client;
}

async function http(em: MailchimpEmulator, method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; form?: Record<string, string> } = {}) {
	const headers: Record<string, string> = { ...(options.headers ?? {}) };
	let body: string | undefined;
	if (options.form) {
		headers['content-type'] = 'application/x-www-form-urlencoded';
		body = new URLSearchParams(options.form).toString();
	} else if (options.body !== undefined) {
		headers['content-type'] = 'application/json';
		body = JSON.stringify(options.body);
	}
	const res = await fetch(em.url + path, { method, headers, body, redirect: 'manual' });
	const text = await res.text();
	return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
}

/** Rejection of a client call, as the superagent error the client rejects with. */
async function failure(promise: Promise<unknown>): Promise<any> {
	try {
		await promise;
	} catch (error) {
		return error;
	}
	throw new Error('expected the call to fail');
}

const VISIBLE_BY_DEFAULT: MemberStatus[] = ['subscribed', 'pending'];

/** Who a tag listing should show: expectations straight from the dataset. */
function expectedTagMembers(dataset: MailchimpDataset, listId: string, tag: string, extra: MemberStatus[] = []): string[] {
	const list = dataset.accounts.flatMap((a) => a.lists).find((l) => l.id === listId)!;
	const statuses = [...VISIBLE_BY_DEFAULT, ...extra];
	return list.members.filter((m) => m.tags?.includes(tag) && statuses.includes(m.status)).map((m) => m.email_address);
}

function listOf(dataset: MailchimpDataset, listId: string) {
	return dataset.accounts.flatMap((a) => a.lists).find((l) => l.id === listId)!;
}

async function readAll(fetchPage: (offset: number) => Promise<{ members: any[]; total_items: number }>): Promise<any[]> {
	const all: any[] = [];
	for (let offset = 0; ; ) {
		const page = await fetchPage(offset);
		all.push(...page.members);
		offset += page.members.length;
		if (page.members.length === 0 || offset >= page.total_items) return all;
	}
}

describe('Mailchimp emulator (read-only, demo dataset)', () => {
	const dataset = demoDataset();
	const [harbour, fern] = credentialsOf(dataset) as [DatasetCredentials, DatasetCredentials];
	const customers = harbour.lists[0].id;
	let em: MailchimpEmulator;
	let a: Client;
	let b: Client;
	let smsTagId: number;

	beforeAll(async () => {
		em = await startMailchimpEmulator({ dataset });
		a = clientFor(em, { apiKey: harbour.apiKey });
		b = clientFor(em, { apiKey: fern.apiKey }, fern.dc);
		const tags = await a.lists.tagSearch(customers, { name: 'SMS' });
		smsTagId = tags.tags.find((t: any) => t.name === 'SMS Opt-in').id;
	});
	afterAll(() => em.close());

	describe('health and authentication', () => {
		it('answers ping and the API root for a valid key', async () => {
			expect(await a.ping.get()).toEqual({ health_status: "Everything's Chimpy!" });
			const root = await a.root.getRoot();
			expect(root).toMatchObject({ account_id: harbour.accountId, account_name: harbour.accountName });
		});

		it('accepts the key as Basic, as "apikey", and an OAuth token as Bearer or OAuth', async () => {
			const basic = Buffer.from(`anystring:${harbour.apiKey}`).toString('base64');
			for (const authorization of [`Basic ${basic}`, `apikey ${harbour.apiKey}`, `Bearer ${harbour.oauthToken}`, `OAuth ${harbour.oauthToken}`]) {
				const res = await http(em, 'GET', '/3.0/', { headers: { authorization } });
				expect(res.status).toBe(200);
				expect(res.json.account_id).toBe(harbour.accountId);
			}
			const viaClient = clientFor(em, { accessToken: harbour.oauthToken });
			expect((await viaClient.root.getRoot()).account_id).toBe(harbour.accountId);
		});

		it('rejects a wrong key with 401 problem+json, and a missing one too', async () => {
			const wrong = clientFor(em, { apiKey: '0123456789abcdef0123456789abcdef-us6' });
			const error = await failure(wrong.lists.getAllLists());
			expect(error.status).toBe(401);
			expect(error.response.headers['content-type']).toMatch(/^application\/problem\+json/);
			expect(error.response.body).toMatchObject({ title: 'API Key Invalid', status: 401, type: expect.stringContaining('mailchimp.com') });
			expect(error.response.body.instance).toEqual(expect.any(String));

			const missing = await http(em, 'GET', '/3.0/lists');
			expect(missing.status).toBe(401);
			expect(missing.json.title).toBe('API Key Missing');
		});

		it("answers 404 for another account's audience, as if it did not exist", async () => {
			const error = await failure(b.lists.getList(customers));
			expect(error.status).toBe(404);
			expect(error.response.body).toMatchObject({ status: 404, detail: 'The requested resource could not be found.' });
			await expect(failure(b.lists.getSegmentMembersList(customers, smsTagId))).resolves.toMatchObject({ status: 404 });
			expect((await b.lists.getList(fern.lists[0].id)).name).toBe(fern.lists[0].name);
		});

		it('records which account each request came from, with interleaved concurrent clients', async () => {
			await http(em, 'POST', '/_control/requests/reset');
			const calls = [];
			for (let i = 0; i < 8; i++) {
				calls.push(a.lists.getSegmentMembersList(customers, smsTagId, { count: 1 }));
				calls.push(b.lists.getListMembersInfo(fern.lists[0].id, { count: 1 }));
			}
			await Promise.all(calls);
			const log = (await http(em, 'GET', '/_control/requests')).json as Array<{ path: string; accountId: string }>;
			expect(log).toHaveLength(16);
			for (const entry of log) {
				const owner = entry.path.includes(customers) ? harbour.accountId : fern.accountId;
				expect(entry.accountId).toBe(owner);
			}
			expect(JSON.stringify(log)).not.toContain(harbour.apiKey!.slice(0, 32));
		});
	});

	describe('audiences, tags and merge fields', () => {
		it('pages audiences with total_items', async () => {
			const all = await a.lists.getAllLists();
			expect(all.total_items).toBe(harbour.lists.length);
			expect(all.lists.map((l: any) => l.id)).toEqual(harbour.lists.map((l) => l.id));
			const second = await a.lists.getAllLists({ count: 1, offset: 1 });
			expect(second.lists.map((l: any) => l.id)).toEqual([harbour.lists[1].id]);
			expect(second.total_items).toBe(harbour.lists.length);
		});

		it('returns 10 segments by default, all tags with type=static and count=1000', async () => {
			const list = listOf(dataset, customers);
			const tagNames = new Set([
				...(list.segments ?? []).filter((s) => (s.type ?? 'static') === 'static').map((s) => s.name),
				...list.members.flatMap((m) => m.tags ?? []),
			]);
			const savedCount = (list.segments ?? []).filter((s) => s.type === 'saved').length;
			expect(tagNames.size).toBeGreaterThan(10);

			const first = await a.lists.listSegments(customers);
			expect(first.segments).toHaveLength(10);
			expect(first.total_items).toBe(tagNames.size + savedCount);

			const tags = await a.lists.listSegments(customers, { type: 'static', count: 1000 });
			expect(tags.total_items).toBe(tagNames.size);
			expect(new Set(tags.segments.map((s: any) => s.name))).toEqual(tagNames);
			expect(tags.segments.every((s: any) => s.type === 'static' && s.list_id === customers)).toBe(true);

			const saved = await a.lists.listSegments(customers, { type: 'saved' });
			expect(saved.segments.map((s: any) => s.type)).toEqual(Array(savedCount).fill('saved'));
		});

		it('counts members of a tag like its listing, include_* flags included', async () => {
			const plain = await a.lists.getSegment(customers, smsTagId);
			expect(plain.member_count).toBe(expectedTagMembers(dataset, customers, 'SMS Opt-in').length);
			const all = await a.lists.getSegment(customers, smsTagId, { include_unsubscribed: true, include_cleaned: true, include_transactional: true });
			expect(all.member_count).toBe(expectedTagMembers(dataset, customers, 'SMS Opt-in', ['unsubscribed', 'cleaned', 'transactional']).length);
			expect(all.member_count).toBeGreaterThan(plain.member_count);
		});

		it('finds tags by name prefix with tag-search', async () => {
			const list = listOf(dataset, customers);
			const names = [...new Set(list.members.flatMap((m) => m.tags ?? []))];
			const found = await a.lists.tagSearch(customers, { name: 'interest 0' });
			expect(found.tags.map((t: any) => t.name).sort()).toEqual(names.filter((n) => n.toLowerCase().startsWith('interest 0')).sort());
			expect(found.total_items).toBe(found.tags.length);
		});

		it('pages merge fields with the default of 10', async () => {
			const list = listOf(dataset, customers);
			const all = await a.lists.getListMergeFields(customers);
			expect(all.merge_fields.map((f: any) => f.tag)).toEqual(list.merge_fields!.map((f) => f.tag));
			const phone = all.merge_fields.find((f: any) => f.tag === 'PHONE');
			expect(phone).toMatchObject({ type: 'phone', options: { phone_format: 'International' } });
			const page = await a.lists.getListMergeFields(customers, { count: 2, offset: 2 });
			expect(page.merge_fields.map((f: any) => f.tag)).toEqual(list.merge_fields!.slice(2, 4).map((f) => f.tag));
			expect(page.total_items).toBe(list.merge_fields!.length);
		});
	});

	describe('tag members', () => {
		it('returns 10 members by default, with total_items', async () => {
			const expected = expectedTagMembers(dataset, customers, 'SMS Opt-in');
			expect(expected.length).toBeGreaterThan(10);
			const page = await a.lists.getSegmentMembersList(customers, smsTagId);
			expect(page.members).toHaveLength(10);
			expect(page.total_items).toBe(expected.length);
		});

		it('pages through exactly the tagged members; unsubscribed, cleaned and transactional only when asked; archived never', async () => {
			const read = (opts: Record<string, unknown>) =>
				readAll((offset) => a.lists.getSegmentMembersList(customers, smsTagId, { count: 7, offset, ...opts }));
			expect((await read({})).map((m) => m.email_address)).toEqual(expectedTagMembers(dataset, customers, 'SMS Opt-in'));
			for (const [flag, status] of [
				['include_unsubscribed', 'unsubscribed'],
				['include_cleaned', 'cleaned'],
				['include_transactional', 'transactional'],
			] as const) {
				const members = await read({ [flag]: true });
				expect(members.map((m) => m.email_address).sort()).toEqual(expectedTagMembers(dataset, customers, 'SMS Opt-in', [status]).sort());
				expect(members.some((m) => m.status === status)).toBe(true);
			}
			const everything = await read({ include_unsubscribed: true, include_cleaned: true, include_transactional: true });
			const archived = listOf(dataset, customers).members.filter((m) => m.status === 'archived' && m.tags?.includes('SMS Opt-in'));
			expect(archived.length).toBeGreaterThan(0);
			expect(everything.map((m) => m.email_address)).not.toEqual(expect.arrayContaining([archived[0].email_address]));
		});

		it('serves member objects like Mailchimp: MD5 id, merge fields, SMS fields, at most 50 embedded tags', async () => {
			const members = await readAll((offset) => a.lists.getSegmentMembersList(customers, smsTagId, { count: 1000, offset }));
			const olivia = members.find((m) => m.email_address === 'olivia.nguyen@example.com');
			expect(olivia).toMatchObject({
				id: subscriberHash('olivia.nguyen@example.com'),
				status: 'subscribed',
				full_name: 'Olivia Nguyen',
				sms_phone_number: '+61412345678',
				sms_subscription_status: 'subscribed',
				merge_fields: { FNAME: 'Olivia', LNAME: 'Nguyen', PHONE: '+61 412 345 678', ADDRESS: { city: 'Sydney', country: 'AU' } },
				list_id: customers,
			});
			expect(olivia.contact_id).toMatch(/^[0-9a-f]{32}$/);
			expect(olivia.last_changed).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
			const unset = members.find((m) => m.email_address === 'jack.wilson@example.com');
			expect(unset).toMatchObject({ sms_phone_number: '', sms_subscription_status: '', merge_fields: { ADDRESS: '' } });
			const mixedCase = members.find((m) => m.email_address === 'Marcus.Brown@Example.com');
			expect(mixedCase.id).toBe(subscriberHash('marcus.brown@example.com'));

			const power = listOf(dataset, customers).members.find((m) => (m.tags?.length ?? 0) > 50)!;
			const embedded = members.find((m) => m.email_address === power.email_address);
			expect(embedded.tags).toHaveLength(50);
			expect(embedded.tags_count).toBe(power.tags!.length);
			expect(embedded.tags.map((t: any) => t.name)).not.toContain('SMS Opt-in');
		});

		it('applies fields only with the members. prefix, and exclude_fields with dot notation', async () => {
			const trimmed = await a.lists.getSegmentMembersList(customers, smsTagId, {
				fields: ['members.id', 'members.email_address', 'members.merge_fields.PHONE', 'total_items'],
			});
			expect(Object.keys(trimmed).sort()).toEqual(['members', 'total_items']);
			for (const m of trimmed.members) {
				expect(Object.keys(m).sort()).toEqual(['email_address', 'id', 'merge_fields']);
				expect(Object.keys(m.merge_fields)).toEqual(['PHONE']);
			}
			// Without the prefix nothing matches: the answer is `{}` (which the client then hands back as the text "{}").
			const noPrefix = await a.lists.getSegmentMembersListWithHttpInfo(customers, smsTagId, { fields: ['id', 'email_address'] });
			expect(noPrefix.response.body).toEqual({});

			const excluded = await a.lists.getSegmentMembersList(customers, smsTagId, { exclude_fields: ['members.merge_fields.ADDRESS', 'members.tags', 'total_items'] });
			expect(excluded.total_items).toBeUndefined();
			expect(excluded.members[0].merge_fields.ADDRESS).toBeUndefined();
			expect(excluded.members[0].merge_fields.PHONE).toBeDefined();
			expect(excluded.members[0].tags).toBeUndefined();
			expect(excluded.members[0].tags_count).toBeDefined();
		});

		it('rejects count above 1000 with a 400 problem listing the field', async () => {
			const error = await failure(a.lists.getSegmentMembersList(customers, smsTagId, { count: 1001 }));
			expect(error.status).toBe(400);
			expect(error.response.body).toMatchObject({ title: 'Invalid Resource', status: 400, errors: [{ field: 'count' }] });
			const ok = await a.lists.getSegmentMembersList(customers, smsTagId, { count: 1000 });
			expect(ok.members.length).toBe(ok.total_items);
		});

		it('answers 404 for an unknown tag', async () => {
			const error = await failure(a.lists.getSegmentMembersList(customers, 999_999));
			expect(error.status).toBe(404);
			expect(error.response.body.title).toBe('Resource Not Found');
		});
	});

	describe('list members', () => {
		const list = () => listOf(dataset, customers);

		it('hides archived members unless status=archived, and filters by status', async () => {
			const all = await readAll((offset) => a.lists.getListMembersInfo(customers, { count: 1000, offset }));
			expect(all.map((m) => m.email_address)).toEqual(list().members.filter((m) => m.status !== 'archived').map((m) => m.email_address));
			const firstPage = await a.lists.getListMembersInfo(customers);
			expect(firstPage.members).toHaveLength(10);
			expect(firstPage.list_id).toBe(customers);
			for (const status of ['archived', 'pending', 'transactional'] as const) {
				const some = await a.lists.getListMembersInfo(customers, { status, count: 1000 });
				expect(some.members.map((m: any) => m.email_address)).toEqual(list().members.filter((m) => m.status === status).map((m) => m.email_address));
			}
			const error = await failure(a.lists.getListMembersInfo(customers, { status: 'gone' }));
			expect(error.response.body.errors[0].field).toBe('status');
		});

		it('sorts by last_changed in both directions and filters since/before exclusively', async () => {
			const visible = list().members.filter((m) => m.status !== 'archived');
			const byChange = [...visible].sort((x, y) => Date.parse(x.last_changed!) - Date.parse(y.last_changed!));
			const asc = await a.lists.getListMembersInfo(customers, { count: 1000, sort_field: 'last_changed', sort_dir: 'ASC', fields: ['members.email_address'] });
			expect(asc.members.map((m: any) => m.email_address)).toEqual(byChange.map((m) => m.email_address));
			const desc = await a.lists.getListMembersInfo(customers, { count: 1000, sort_field: 'last_changed', sort_dir: 'DESC', fields: ['members.email_address'] });
			expect(desc.members.map((m: any) => m.email_address)).toEqual([...byChange].reverse().map((m) => m.email_address));

			const pivot = byChange[5];
			const since = await a.lists.getListMembersInfo(customers, { count: 1000, since_last_changed: pivot.last_changed, fields: ['members.email_address', 'total_items'] });
			const later = visible.filter((m) => Date.parse(m.last_changed!) > Date.parse(pivot.last_changed!));
			expect(since.total_items).toBe(later.length);
			expect(since.members.map((m: any) => m.email_address)).not.toContain(pivot.email_address);
			const before = await a.lists.getListMembersInfo(customers, { count: 1000, before_last_changed: pivot.last_changed });
			expect(before.members.map((m: any) => m.email_address).sort()).toEqual(byChange.slice(0, 5).map((m) => m.email_address).sort());
		});

		it('finds a member by hash, email or contact id; lists its full tag list in pages', async () => {
			const power = list().members.find((m) => (m.tags?.length ?? 0) > 50)!;
			const byHash = await a.lists.getListMember(customers, subscriberHash(power.email_address));
			const byEmail = await a.lists.getListMember(customers, power.email_address.toUpperCase());
			const byContact = await a.lists.getListMember(customers, power.contact_id!);
			expect(byEmail.id).toBe(byHash.id);
			expect(byContact.id).toBe(byHash.id);

			const firstTags = await a.lists.getListMemberTags(customers, byHash.id);
			expect(firstTags.tags).toHaveLength(10);
			expect(firstTags.total_items).toBe(power.tags!.length);
			const allTags = await a.lists.getListMemberTags(customers, byHash.id, { count: 1000 });
			expect(allTags.tags.map((t: any) => t.name)).toEqual(power.tags);
			expect(allTags.tags[0]).toEqual({ id: expect.any(Number), name: power.tags![0], date_added: expect.any(String) });

			const missing = await failure(a.lists.getListMember(customers, subscriberHash('nobody@example.com')));
			expect(missing.status).toBe(404);
		});
	});
});

describe('Mailchimp emulator (changes through the control API)', () => {
	let dataset: MailchimpDataset;
	let harbour: DatasetCredentials;
	let customers: string;
	let em: MailchimpEmulator;
	let a: Client;

	beforeEach(async () => {
		dataset = demoDataset();
		[harbour] = credentialsOf(dataset);
		customers = harbour.lists[0].id;
		em = await startMailchimpEmulator({ dataset });
		a = clientFor(em, { apiKey: harbour.apiKey });
	});
	afterEach(() => em.close());

	const freeze = (now: string) => http(em, 'PUT', '/_control/clock', { body: { now } });
	const tagId = async (name: string) => (await a.lists.tagSearch(customers, { name })).tags.find((t: any) => t.name === name).id as number;
	const tagMembers = async (name: string, opts: Record<string, unknown> = {}) =>
		(await a.lists.getSegmentMembersList(customers, await tagId(name), { count: 1000, ...opts })).members.map((m: any) => m.email_address) as string[];

	it('a phone change moves last_changed to now and shows up in since_last_changed', async () => {
		await freeze('2030-01-02T03:04:05Z');
		const res = await http(em, 'PATCH', `/_control/lists/${customers}/members/jack.wilson@example.com`, { body: { merge_fields: { PHONE: '+61 400 000 001' } } });
		expect(res.status).toBe(200);
		const member = await a.lists.getListMember(customers, 'jack.wilson@example.com');
		expect(member.merge_fields.PHONE).toBe('+61 400 000 001');
		expect(member.last_changed).toBe('2030-01-02T03:04:05+00:00');

		const changed = (since: string) => a.lists.getListMembersInfo(customers, { since_last_changed: since, fields: ['members.email_address'] });
		expect((await changed('2030-01-02T03:04:04+00:00')).members.map((m: any) => m.email_address)).toEqual(['jack.wilson@example.com']);
		// Exclusive at second precision: the change's own second is not "since" it.
		expect((await changed('2030-01-02T03:04:05+00:00')).members).toEqual([]);
		expect((await changed('2030-01-02T03:04:05.900Z')).members).toEqual([]);
	});

	it('a name, SMS status or email change each move last_changed; a no-op does not', async () => {
		await freeze('2030-01-01T00:00:00Z');
		await http(em, 'PATCH', `/_control/lists/${customers}/members/liam.oconnor@example.com`, { body: { merge_fields: { FNAME: 'William' } } });
		const renamed = await a.lists.getListMember(customers, 'liam.oconnor@example.com');
		expect(renamed).toMatchObject({ full_name: "William O'Connor", last_changed: '2030-01-01T00:00:00+00:00' });

		await freeze('2030-01-01T00:00:10Z');
		await http(em, 'PATCH', `/_control/lists/${customers}/members/liam.oconnor@example.com`, { body: { merge_fields: { FNAME: 'William' } } });
		expect((await a.lists.getListMember(customers, 'liam.oconnor@example.com')).last_changed).toBe('2030-01-01T00:00:00+00:00');

		await http(em, 'PATCH', `/_control/lists/${customers}/members/liam.oconnor@example.com`, { body: { sms_phone_number: '+61400000002', sms_subscription_status: 'subscribed' } });
		const sms = await a.lists.getListMember(customers, 'liam.oconnor@example.com');
		expect(sms).toMatchObject({ sms_phone_number: '+61400000002', sms_subscription_status: 'subscribed', sms_subscription_last_updated: '2030-01-01T00:00:10+00:00', last_changed: '2030-01-01T00:00:10+00:00' });

		await freeze('2030-01-01T00:00:20Z');
		await http(em, 'PATCH', `/_control/lists/${customers}/members/liam.oconnor@example.com`, { body: { email_address: 'liam@example.org' } });
		const moved = await a.lists.getListMember(customers, 'liam@example.org');
		expect(moved).toMatchObject({ id: subscriberHash('liam@example.org'), contact_id: sms.contact_id, last_changed: '2030-01-01T00:00:20+00:00' });
		expect((await failure(a.lists.getListMember(customers, sms.id))).status).toBe(404);
	});

	it('adding and removing a tag changes the tag listing; last_changed only when the setting says so', async () => {
		await freeze('2030-02-01T00:00:00Z');
		const email = 'kai.tanaka@example.jp';
		const before = (await a.lists.getListMember(customers, email)).last_changed;
		expect(await tagMembers('SMS Opt-in')).not.toContain(email);

		await http(em, 'POST', `/_control/lists/${customers}/members/${email}/tags`, { body: { add: ['SMS Opt-in'] } });
		expect(await tagMembers('SMS Opt-in')).toContain(email);
		expect((await a.lists.getListMember(customers, email)).last_changed).toBe(before);

		await http(em, 'PUT', '/_control/settings', { body: { tagChangesUpdateLastChanged: true } });
		await http(em, 'POST', `/_control/lists/${customers}/members/${email}/tags`, { body: { remove: ['SMS Opt-in'] } });
		expect(await tagMembers('SMS Opt-in')).not.toContain(email);
		expect((await a.lists.getListMember(customers, email)).last_changed).toBe('2030-02-01T00:00:00+00:00');

		await http(em, 'POST', `/_control/lists/${customers}/members/${email}/tags`, { body: { add: ['Brand New Tag'] } });
		expect(await tagMembers('Brand New Tag')).toEqual([email]);
	});

	it('unsubscribe, clean and archive move a member out of the default listing; delete-permanent erases it', async () => {
		await freeze('2030-03-01T00:00:00Z');
		const [u, c, ar, d] = ['olivia.nguyen@example.com', 'jack.wilson@example.com', 'jose.alvarez@example.com', 'zoe.ng@example.com'];
		for (const [email, action] of [[u, 'unsubscribe'], [c, 'clean'], [ar, 'archive'], [d, 'delete-permanent']]) {
			const res = await http(em, 'POST', `/_control/lists/${customers}/members/${email}/actions/${action}`);
			expect(res.status).toBeLessThan(300);
		}
		const plain = await tagMembers('SMS Opt-in');
		for (const email of [u, c, ar, d]) expect(plain).not.toContain(email);
		const flagged = await tagMembers('SMS Opt-in', { include_unsubscribed: true, include_cleaned: true, include_transactional: true });
		expect(flagged).toEqual(expect.arrayContaining([u, c]));
		expect(flagged).not.toContain(ar);
		expect(flagged).not.toContain(d);

		expect(await a.lists.getListMember(customers, u)).toMatchObject({ status: 'unsubscribed', last_changed: '2030-03-01T00:00:00+00:00', unsubscribe_reason: expect.any(String) });
		expect((await a.lists.getListMember(customers, ar)).status).toBe('archived');
		expect((await failure(a.lists.getListMember(customers, d))).status).toBe(404);
		const everyone = (await a.lists.getListMembersInfo(customers, { count: 1000 })).members.map((m: any) => m.email_address);
		expect(everyone).not.toContain(ar);
		expect(everyone).not.toContain(d);

		const unknown = await http(em, 'POST', `/_control/lists/${customers}/members/${u}/actions/explode`);
		expect(unknown.status).toBe(404);
	});

	it('adds members (a new tag is created) and dumps a state that loads to the same answers', async () => {
		await freeze('2030-04-01T00:00:00Z');
		const newcomer: DatasetMember = {
			email_address: 'new.person@example.com',
			status: 'subscribed',
			merge_fields: { FNAME: 'New', LNAME: 'Person', PHONE: '0400 000 003' },
			tags: ['SMS Opt-in', 'Pop-up Store'],
		};
		const added = await http(em, 'POST', `/_control/lists/${customers}/members`, { body: { members: [newcomer] } });
		expect(added.status).toBe(201);
		expect(await tagMembers('Pop-up Store')).toEqual(['new.person@example.com']);
		expect((await a.lists.getListMember(customers, 'new.person@example.com')).last_changed).toBe('2030-04-01T00:00:00+00:00');

		const dump = (await http(em, 'GET', '/_control/state')).json as MailchimpDataset;
		const again = await startMailchimpEmulator({ dataset: dump });
		try {
			const c = clientFor(again, { apiKey: harbour.apiKey });
			const opts = { count: 1000, include_unsubscribed: true, include_cleaned: true, include_transactional: true };
			const smsTag = await tagId('SMS Opt-in');
			expect(await c.lists.getSegmentMembersList(customers, smsTag, opts)).toEqual(await a.lists.getSegmentMembersList(customers, smsTag, opts));
			expect(await c.lists.getListMembersInfo(customers, { count: 1000 })).toEqual(await a.lists.getListMembersInfo(customers, { count: 1000 }));
		} finally {
			await again.close();
		}
	});

	it('a revoked key gets 401 from then on', async () => {
		expect((await a.ping.get()).health_status).toBeDefined();
		expect((await http(em, 'POST', '/_control/credentials/revoke', { body: { credential: harbour.apiKey } })).status).toBe(204);
		expect((await failure(a.ping.get())).status).toBe(401);
	});
});

describe('Mailchimp emulator: connection limit and faults', () => {
	const dataset = demoDataset();
	const [harbour, fern] = credentialsOf(dataset) as [DatasetCredentials, DatasetCredentials];
	let em: MailchimpEmulator;

	beforeEach(async () => {
		em = await startMailchimpEmulator({ dataset, maxConnections: 3 });
	});
	afterEach(() => em.close());

	it('answers 429 problem+json beyond the simultaneous connections of one account, not of another', async () => {
		em.faults.latencyMs = 300;
		const a = clientFor(em, { apiKey: harbour.apiKey });
		const b = clientFor(em, { apiKey: fern.apiKey }, fern.dc);
		const results = await Promise.allSettled([...Array.from({ length: 6 }, () => a.ping.get()), b.ping.get(), b.ping.get()]);
		const ofA = results.slice(0, 6);
		expect(ofA.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
		const rejected = ofA.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
		expect(rejected).toHaveLength(3);
		for (const r of rejected) {
			expect(r.reason.status).toBe(429);
			expect(r.reason.response.body).toMatchObject({ title: 'Too Many Requests', status: 429 });
			expect(r.reason.response.body.detail).toContain('simultaneous connections');
		}
		expect(results.slice(6).every((r) => r.status === 'fulfilled')).toBe(true);
		// Connections are released: the account can go on afterwards.
		em.faults.latencyMs = 0;
		await expect(a.ping.get()).resolves.toBeDefined();
		expect(em.state.account(harbour.accountId)!.inFlight).toBe(0);
	});

	it('with latencyCoversWork, answers and faults still come at the latency, the work done within it', async () => {
		const a = clientFor(em, { apiKey: harbour.apiKey });
		em.faults.latencyMs = 200;
		em.faults.latencyCoversWork = true;
		const timed = async (call: () => Promise<unknown>) => {
			const started = Date.now();
			const outcome = await call().then(
				() => 'answered',
				(error: { status?: number }) => error.status,
			);
			return { outcome, ms: Date.now() - started };
		};
		const answered = await timed(() => a.ping.get());
		expect(answered.outcome).toBe('answered');
		expect(answered.ms).toBeGreaterThanOrEqual(190);
		em.faults.rate429 = 1;
		const refused = await timed(() => a.ping.get());
		expect(refused.outcome).toBe(429);
		expect(refused.ms).toBeGreaterThanOrEqual(190);
		expect(em.counters.get('fault 429')).toBe(1);
		expect(em.state.account(harbour.accountId)!.inFlight).toBe(0);
	});

	it('injects 429, 5xx, body-less 403 and dropped connections, only on the routes asked for, and counts them', async () => {
		const a = clientFor(em, { apiKey: harbour.apiKey });
		const setFaults = (faults: Record<string, unknown>) => http(em, 'PUT', '/_control/faults', { body: faults });

		await setFaults({ rate429: 1 });
		const tooMany = await failure(a.ping.get());
		expect(tooMany.status).toBe(429);
		expect(tooMany.response.body.title).toBe('Too Many Requests');

		await setFaults({ rate5xx: 1 });
		expect((await failure(a.ping.get())).status).toBeGreaterThanOrEqual(500);

		await setFaults({ rate403NoBody: 1 });
		const forbidden = await failure(a.ping.get());
		expect(forbidden.status).toBe(403);
		expect(forbidden.response.text).toBe('');

		await setFaults({ dropRate: 1 });
		const dropped = await failure(a.ping.get());
		expect(dropped.status).toBeUndefined();
		expect(dropped.code).toMatch(/ECONNRESET|socket hang up/i);

		await setFaults({ rate429: 1, routeFilter: 'segments' });
		await expect(a.ping.get()).resolves.toBeDefined();

		await setFaults({});
		const counters = (await http(em, 'GET', '/_control/counters')).json;
		expect(counters['GET /3.0/ping']).toBe(5);
		expect(counters['fault 429']).toBe(1);
		expect(counters['fault 403']).toBe(1);
		expect(counters['fault drop']).toBe(1);
		expect(em.state.account(harbour.accountId)!.inFlight).toBe(0);
	});

	it('answers garbled 200s (an HTML page, {}, a malformed page or member) only on the routes asked for', async () => {
		const listId = harbour.lists[0].id;
		const auth = { authorization: `apikey ${harbour.apiKey}` };
		const get = (path: string) => http(em, 'GET', path, { headers: auth });
		const rawGet = async (path: string) => {
			const res = await fetch(em.url + path, { headers: auth });
			return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
		};
		const setFaults = (faults: Record<string, unknown>) => http(em, 'PUT', '/_control/faults', { body: faults });
		const membersPath = `/3.0/lists/${listId}/members?count=5`;

		await setFaults({ rateHtml200: 1, routeFilter: '/members$' });
		const html = await rawGet(membersPath);
		expect(html).toMatchObject({ status: 200, type: expect.stringContaining('text/html') });
		expect(html.text).toMatch(/^<!DOCTYPE html>/);
		// Only the routes asked for: the audience itself answers normally.
		expect((await get(`/3.0/lists/${listId}`)).json.id).toBe(listId);

		await setFaults({ rateEmpty200: 1 });
		expect(await get(membersPath)).toMatchObject({ status: 200, json: {} });

		await setFaults({ rateMalformed200: 1 });
		const page = (await get(membersPath)).json;
		expect(Array.isArray(page.members)).toBe(false);
		expect(Object.keys(page.members)).toHaveLength(5);
		expect(typeof page.total_items).toBe('string');
		const hash = subscriberHash(listOf(dataset, listId).members[0].email_address);
		const member = (await get(`/3.0/lists/${listId}/members/${hash}`)).json;
		expect(member).toMatchObject({ id: 0, status: null, email_address: listOf(dataset, listId).members[0].email_address });

		await setFaults({});
		expect(Array.isArray((await get(membersPath)).json.members)).toBe(true);
		const counters = (await http(em, 'GET', '/_control/counters')).json;
		expect(counters).toMatchObject({ 'fault 200 html': 1, 'fault 200 empty': 1, 'fault 200 malformed': 2 });
	});

	it('gives the same fault pattern for the same seed, so a test cannot pass by luck', async () => {
		const a = clientFor(em, { apiKey: harbour.apiKey });
		const pattern = async () => {
			await http(em, 'PUT', '/_control/faults', { body: { rate429: 0.5, seed: 11 } });
			const outcomes: string[] = [];
			for (let i = 0; i < 12; i++) outcomes.push(await a.ping.get().then(() => 'ok', (e: { status?: number }) => String(e.status)));
			return outcomes;
		};
		const first = await pattern();
		expect(await pattern()).toEqual(first);
		expect(first).toContain('429');
		expect(first).toContain('ok');
		await http(em, 'PUT', '/_control/faults', { body: {} });
	});
});

describe('Mailchimp emulator: OAuth', () => {
	const dataset = demoDataset();
	const [harbour, fern] = credentialsOf(dataset) as [DatasetCredentials, DatasetCredentials];
	const app = dataset.oauthApps![0];
	let em: MailchimpEmulator;

	beforeAll(async () => {
		em = await startMailchimpEmulator({ dataset });
	});
	afterAll(() => em.close());

	it('runs the authorization-code flow: code, token that never expires, metadata, then API calls', async () => {
		const redirectUri = 'http://localhost:5678/rest/oauth2-credential/callback';
		const authorize = await http(
			em,
			'GET',
			`/oauth2/authorize?response_type=code&client_id=${app.clientId}&redirect_uri=${encodeURIComponent(redirectUri)}&state=xyz&account_id=${fern.accountId}`,
		);
		expect(authorize.status).toBe(302);
		const back = new URL(authorize.headers.get('location')!);
		expect(back.origin + back.pathname).toBe(redirectUri);
		expect(back.searchParams.get('state')).toBe('xyz');
		const code = back.searchParams.get('code')!;

		const token = await http(em, 'POST', '/oauth2/token', {
			form: { grant_type: 'authorization_code', client_id: app.clientId, client_secret: app.clientSecret, redirect_uri: redirectUri, code },
		});
		expect(token.status).toBe(200);
		expect(token.json).toEqual({ access_token: expect.stringMatching(/^[0-9a-f]{32}$/), expires_in: 0, scope: null });

		const reuse = await http(em, 'POST', '/oauth2/token', {
			form: { grant_type: 'authorization_code', client_id: app.clientId, client_secret: app.clientSecret, redirect_uri: redirectUri, code },
		});
		expect(reuse.status).toBe(400);
		expect(reuse.json.error).toBe('invalid_grant');

		const meta = await http(em, 'GET', '/oauth2/metadata', { headers: { authorization: `OAuth ${token.json.access_token}` } });
		expect(meta.status).toBe(200);
		expect(meta.json).toMatchObject({ dc: fern.dc, accountname: fern.accountName, api_endpoint: em.url, login_url: em.url });

		const client = clientFor(em, { accessToken: token.json.access_token }, meta.json.dc);
		const lists = await client.lists.getAllLists();
		expect(lists.lists.map((l: any) => l.id)).toEqual(fern.lists.map((l) => l.id));
	});

	it('answers HTTP 200 {"error":"invalid_token"} for a bad or missing token, like the real endpoint', async () => {
		for (const headers of [{ authorization: 'OAuth not-a-token' }, { authorization: `OAuth ${harbour.apiKey}` }, {}] as Array<Record<string, string>>) {
			const res = await http(em, 'GET', '/oauth2/metadata', { headers });
			expect(res.status).toBe(200);
			expect(res.json).toEqual({ error: 'invalid_token' });
		}
		const good = await http(em, 'GET', '/oauth2/metadata', { headers: { authorization: `OAuth ${harbour.oauthToken}` } });
		expect(good.json).toMatchObject({ dc: harbour.dc, accountname: harbour.accountName, api_endpoint: em.url });
	});

	it('rejects a wrong client secret and an unknown code', async () => {
		const code = em.issueAuthorizationCode(harbour.accountId);
		const badClient = await http(em, 'POST', '/oauth2/token', { form: { grant_type: 'authorization_code', client_id: app.clientId, client_secret: 'nope', code } });
		expect(badClient.status).toBe(401);
		expect(badClient.json.error).toBe('invalid_client');
		const basic = Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64');
		const badCode = await http(em, 'POST', '/oauth2/token', { form: { grant_type: 'authorization_code', code: 'unknown' }, headers: { authorization: `Basic ${basic}` } });
		expect(badCode.status).toBe(400);
		expect(badCode.json.error).toBe('invalid_grant');
		const viaBasic = await http(em, 'POST', '/oauth2/token', { form: { grant_type: 'authorization_code', code }, headers: { authorization: `Basic ${basic}` } });
		expect(viaBasic.status).toBe(200);
	});
});

describe('datasets', () => {
	it('the committed demo.json is what the generator makes', () => {
		expect(JSON.parse(readFileSync(DEMO_DATASET_PATH, 'utf8'))).toEqual(demoDataset());
	});

	it('the demo has two accounts, every member status, messy phones and a member with more than 50 tags', () => {
		const dataset = demoDataset();
		expect(dataset.accounts).toHaveLength(2);
		const members = dataset.accounts.flatMap((a) => a.lists.flatMap((l) => l.members));
		expect(new Set(members.map((m) => m.status))).toEqual(new Set(['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional', 'archived']));
		expect(members.some((m) => (m.tags?.length ?? 0) > 50)).toBe(true);
		expect(members.some((m) => [...String(m.merge_fields?.FNAME)].some((c) => c.codePointAt(0)! > 0x7f))).toBe(true);
		for (const a of dataset.accounts) for (const key of a.apiKeys!) expect(key).toMatch(new RegExp(`^[0-9a-f]{32}-${a.dc}$`));
	});

	it('largeAudience is deterministic and its tag listing reads back exactly through the client', async () => {
		const options = { members: 3000, tags: [{ name: 'SMS', share: 0.6 }, 'Other'], seed: 7 };
		const dataset = largeAudience(options);
		expect(largeAudience(options)).toEqual(dataset);
		expect(largeAudience({ ...options, seed: 8 })).not.toEqual(dataset);
		const [creds] = credentialsOf(dataset);
		const listId = creds.lists[0].id;
		const em = await startMailchimpEmulator({ dataset });
		try {
			const client = clientFor(em, { apiKey: creds.apiKey }, creds.dc);
			const sms = (await client.lists.tagSearch(listId, { name: 'SMS' })).tags[0];
			const read = await readAll((offset) =>
				client.lists.getSegmentMembersList(listId, sms.id, { count: 1000, offset, fields: ['members.email_address', 'total_items'] }),
			);
			expect(read.map((m) => m.email_address)).toEqual(expectedTagMembers(dataset, listId, 'SMS'));
			expect(read.length).toBeGreaterThan(1000);
		} finally {
			await em.close();
		}
	});
});
