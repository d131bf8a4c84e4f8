/** The Hub emulator behaves like the Sinch Engage API it stands in for. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { startHubEmulator, type HubEmulator, type HubExchange } from './hub';

const A = { apiKey: 'key-a', apiSecret: 'secret-a', accountId: 'AccountA' };
const B = { apiKey: 'key-b', apiSecret: 'secret-b', accountId: 'AccountB' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface CallOptions {
	as?: { apiKey: string; apiSecret: string };
	body?: unknown;
	query?: string;
	headers?: Record<string, string>;
}

async function call(emu: HubEmulator, method: string, path: string, opts: CallOptions = {}) {
	const as = opts.as ?? A;
	const headers: Record<string, string> = {
		authorization: `Basic ${Buffer.from(`${as.apiKey}:${as.apiSecret}`).toString('base64')}`,
		...opts.headers,
	};
	if (opts.body !== undefined) headers['content-type'] = 'application/json';
	const response = await fetch(`${emu.url}${path}${opts.query ? `?${opts.query}` : ''}`, {
		method,
		headers,
		body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
	});
	const text = await response.text();
	let body: any = text;
	try {
		body = text === '' ? undefined : JSON.parse(text);
	} catch {
		// text body
	}
	return { status: response.status, body, text, headers: response.headers };
}

const contactBody = (number: string, extra: Record<string, unknown> = {}) => ({
	firstName: 'Ada',
	lastName: 'Lovelace',
	channels: [{ channelId: number, type: 'SMS' }],
	...extra,
});

/** A loopback receiver for webhook deliveries; answers with the statuses queued in `answers`. */
async function startReceiver() {
	const received: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
	const answers: number[] = [];
	const server = http.createServer((req, res) => {
		let body = '';
		req.on('data', (c) => (body += c));
		req.on('end', () => {
			received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
			res.writeHead(answers.shift() ?? 200).end();
		});
	});
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
	const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	return { url, received, answers, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let emu: HubEmulator;
let exchanges: HubExchange[];

beforeEach(async () => {
	exchanges = [];
	emu = await startHubEmulator({
		accounts: [{ ...A, subAccounts: [{ accountId: 'AccountA-Sub' }] }, B],
		onExchange: (e) => exchanges.push(e),
	});
});
afterEach(async () => {
	await emu.close();
});

describe('authentication and accounts', () => {
	it('answers wrong credentials with 401: bare on the Contacts API, with a message on the messaging APIs', async () => {
		const contacts = await call(emu, 'GET', '/api/v1/contacts/contacts', { as: { apiKey: 'key-a', apiSecret: 'wrong' } });
		expect(contacts.status).toBe(401);
		expect(contacts.text).toBe('');
		const messages = await call(emu, 'GET', '/v1/replies', { as: { apiKey: 'nobody', apiSecret: 'x' } });
		expect(messages.status).toBe(401);
		expect(messages.body).toEqual({ message: 'Invalid authentication credentials' });
		const none = await fetch(`${emu.url}/api/v1/contacts/lists`);
		expect(none.status).toBe(401);
	});

	it('keeps accounts apart, and reaches a sub-account only through its own key', async () => {
		await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570156') });
		const inB = await call(emu, 'GET', '/api/v1/contacts/contacts', { as: B });
		expect(inB.body.totalElements).toBe(0);
		// The same number may exist in another account.
		expect((await call(emu, 'POST', '/api/v1/contacts/contacts', { as: B, body: contactBody('+61491570156') })).status).toBe(201);

		const sub = await call(emu, 'POST', '/api/v1/contacts/lists', { body: { name: 'Sub list' }, headers: { Account: 'AccountA-Sub' } });
		expect(sub.status).toBe(201);
		expect(sub.body.accountId).toBe('AccountA-Sub');
		expect(emu.account('AccountA').lists.size).toBe(0);
		const foreign = await call(emu, 'GET', '/api/v1/contacts/lists', { as: B, headers: { Account: 'AccountA-Sub' } });
		expect(foreign.status).toBe(403);
	});
});

describe('contacts', () => {
	it('creates a contact with the documented shape and defaults, and gets it back', async () => {
		const created = await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570156', { country: 'AU' }) });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({
			accountId: 'AccountA',
			firstName: 'Ada',
			lastName: 'Lovelace',
			fullName: 'Ada Lovelace',
			alias: '',
			country: 'AU',
			channels: [{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' }],
			lists: [],
			customFields: [],
		});
		expect(created.body.id).toMatch(UUID);
		const got = await call(emu, 'GET', `/api/v1/contacts/contacts/${created.body.id}`);
		expect(got.body).toEqual(created.body);
	});

	it('rejects a number that is not E.164 with InvalidInputApiError naming the field', async () => {
		const res = await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('0491 570 156') });
		expect(res.status).toBe(400);
		expect(res.body).toMatchObject({ type: 'validation', invalidFields: [{ name: 'channels[0].channelId', code: 'invalid_format', channelType: 'PHONE' }] });
		expect(res.body.uuid).toMatch(UUID);
		const noChannels = await call(emu, 'POST', '/api/v1/contacts/contacts', { body: { firstName: 'x' } });
		expect(noChannels.body.invalidFields).toEqual([expect.objectContaining({ name: 'channels', code: 'must_not_be_null' })]);
		expect(emu.account('AccountA').contacts.size).toBe(0);
	});

	it('answers 409 ApiError when the number already has a contact, 404 for an unknown id, 400 for a malformed one', async () => {
		await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570156') });
		const dup = await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570156') });
		expect(dup.status).toBe(409);
		expect(dup.body).toMatchObject({ type: 'conflict', title: 'Conflict' });
		expect(dup.body.detail).toContain('+61491570156');
		const missing = await call(emu, 'GET', '/api/v1/contacts/contacts/3fa85f64-5717-4562-b3fc-2c963f66afa6');
		expect(missing.status).toBe(404);
		expect(missing.body).toMatchObject({ type: 'not_found' });
		expect((await call(emu, 'DELETE', '/api/v1/contacts/contacts/not-a-uuid')).status).toBe(400);
	});

	it('pages with tokens both ways and reports the total', async () => {
		emu.seed('AccountA', {
			contacts: Array.from({ length: 25 }, (_, i) => ({ firstName: `C${i}`, channels: [{ channelId: `+614915701${String(i).padStart(2, '0')}` }] })),
		});
		const names: string[] = [];
		let token: string | undefined;
		let pages = 0;
		let last: any;
		do {
			const query = new URLSearchParams({ pageSize: '10', ...(token ? { nextPageToken: token } : {}) });
			last = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: query.toString() });
			expect(last.body.totalElements).toBe(25);
			names.push(...last.body.content.map((c: { firstName: string }) => c.firstName));
			token = last.body.nextPageToken;
			pages++;
		} while (token);
		expect(pages).toBe(3);
		expect(names).toEqual(Array.from({ length: 25 }, (_, i) => `C${i}`));
		const back = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: `pageSize=10&prevPageToken=${last.body.prevPageToken}` });
		expect(back.body.content.map((c: { firstName: string }) => c.firstName)).toEqual(names.slice(10, 20));
		const tooBig = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: 'pageSize=1001' });
		expect(tooBig.status).toBe(400);
		expect(tooBig.body.invalidFields[0]).toMatchObject({ name: 'pageSize', code: 'constraint_violation' });
	});

	it('filters by channelIds (an unencoded + reads as a space and finds nothing), lists and subscription state', async () => {
		emu.seed('AccountA', {
			lists: [{ name: 'MAILCHIMP' }],
			contacts: [
				{ firstName: 'In', channels: [{ channelId: '+61491570156' }], lists: ['MAILCHIMP'] },
				{ firstName: 'Out', channels: [{ channelId: '+61491570157', subscriptionState: 'UNSUBSCRIBED' }] },
			],
		});
		const byPhone = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: 'channelIds=%2B61491570156' });
		expect(byPhone.body.content.map((c: { firstName: string }) => c.firstName)).toEqual(['In']);
		const raw = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: 'channelIds=+61491570156' });
		expect(raw.body.totalElements).toBe(0);
		const both = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: 'channelIds=%2B61491570156&channelIds=%2B61491570157' });
		expect(both.body.totalElements).toBe(2);
		const listId = [...emu.account('AccountA').lists.values()][0].id;
		const inList = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: `listIds=${listId}` });
		expect(inList.body.content.map((c: { firstName: string }) => c.firstName)).toEqual(['In']);
		const unsubscribed = await call(emu, 'GET', '/api/v1/contacts/contacts', { query: 'channelSubscriptionState=UNSUBSCRIBED' });
		expect(unsubscribed.body.content.map((c: { firstName: string }) => c.firstName)).toEqual(['Out']);
		expect((await call(emu, 'GET', '/api/v1/contacts/contacts', { query: 'listIds=nope' })).status).toBe(400);
	});

	it('updates given fields; arrays given replace the current ones', async () => {
		emu.seed('AccountA', {
			lists: [{ name: 'One' }, { name: 'Two' }],
			customFields: [{ label: 'Source', mergeTag: 'source', type: 'TEXT', maxLength: 20 }],
		});
		const [one, two] = [...emu.account('AccountA').lists.values()];
		const field = [...emu.account('AccountA').customFields.values()][0];
		const created = await call(emu, 'POST', '/api/v1/contacts/contacts', {
			body: contactBody('+61491570156', { lists: [{ id: one.id }], customFields: [{ id: field.id, value: 'MAILCHIMP' }] }),
		});
		expect(created.body.customFields).toEqual([{ id: field.id, mergeTag: 'source', value: 'MAILCHIMP', type: 'TEXT' }]);
		const patched = await call(emu, 'PATCH', `/api/v1/contacts/contacts/${created.body.id}`, {
			body: { lastName: 'Byron', lists: [{ id: two.id }], channels: [{ channelId: '+61491570158', type: 'SMS' }] },
		});
		expect(patched.status).toBe(200);
		expect(patched.body).toMatchObject({ firstName: 'Ada', lastName: 'Byron', fullName: 'Ada Byron', lists: [{ id: two.id, name: 'Two' }] });
		expect(patched.body.channels).toEqual([{ channelId: '+61491570158', type: 'SMS', subscriptionState: 'SUBSCRIBED' }]);
		expect(patched.body.customFields).toHaveLength(1);
		const tooLong = await call(emu, 'PATCH', `/api/v1/contacts/contacts/${created.body.id}`, {
			body: { customFields: [{ id: field.id, value: 'x'.repeat(21) }] },
		});
		expect(tooLong.body.invalidFields[0]).toMatchObject({ name: 'customFields[0].value', code: 'invalid_length' });
		const unknownList = await call(emu, 'PATCH', `/api/v1/contacts/contacts/${created.body.id}`, {
			body: { lists: [{ id: '3fa85f64-5717-4562-b3fc-2c963f66afa6' }] },
		});
		expect(unknownList.body.invalidFields[0]).toMatchObject({ name: 'lists', code: 'invalid_reference', invalidIds: ['3fa85f64-5717-4562-b3fc-2c963f66afa6'] });
	});

	it('keeps a deleted contact’s opt-out: re-creating the number brings it back UNSUBSCRIBED', async () => {
		const created = await call(emu, 'POST', '/api/v1/contacts/contacts', {
			body: { channels: [{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }] },
		});
		expect((await call(emu, 'DELETE', `/api/v1/contacts/contacts/${created.body.id}`)).status).toBe(204);
		const again = await call(emu, 'POST', '/api/v1/contacts/contacts', {
			body: { channels: [{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' }] },
		});
		expect(again.body.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
		// A number never seen before starts subscribed.
		const fresh = await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570199') });
		expect(fresh.body.channels[0].subscriptionState).toBe('SUBSCRIBED');
	});
});

describe('lists and custom fields', () => {
	it('creates, finds, renames and deletes lists; a duplicate name is a 409', async () => {
		const created = await call(emu, 'POST', '/api/v1/contacts/lists', { body: { name: 'MAILCHIMP', alias: 'mc' } });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ name: 'MAILCHIMP', alias: 'mc', accountId: 'AccountA' });
		expect((await call(emu, 'POST', '/api/v1/contacts/lists', { body: { name: 'mailchimp' } })).status).toBe(409);
		await call(emu, 'POST', '/api/v1/contacts/lists', { body: { name: 'Other' } });
		const found = await call(emu, 'GET', '/api/v1/contacts/lists', { query: 'name=chimp&pageSize=5' });
		expect(found.body.content.map((l: { name: string }) => l.name)).toEqual(['MAILCHIMP']);
		const renamed = await call(emu, 'PATCH', `/api/v1/contacts/lists/${created.body.id}`, { body: { name: 'MC' } });
		expect(renamed.body.name).toBe('MC');
		expect((await call(emu, 'PATCH', `/api/v1/contacts/lists/${created.body.id}`, { body: {} })).status).toBe(400);
		expect((await call(emu, 'DELETE', `/api/v1/contacts/lists/${created.body.id}`)).status).toBe(204);
		expect((await call(emu, 'GET', `/api/v1/contacts/lists/${created.body.id}`)).status).toBe(404);
	});

	it('changes membership in bulk, all or nothing, at most 1000 ids a side', async () => {
		emu.seed('AccountA', { lists: [{ name: 'L' }], contacts: [{ channels: [{ channelId: '+61491570156' }] }, { channels: [{ channelId: '+61491570157' }] }] });
		const list = [...emu.account('AccountA').lists.values()][0];
		const [c1, c2] = [...emu.account('AccountA').contacts.keys()];
		const added = await call(emu, 'PATCH', `/api/v1/contacts/lists/${list.id}/contacts`, { body: { contactsToAddIds: [c1, c2] } });
		expect(added.status).toBe(200);
		expect(added.body.id).toBe(list.id);
		expect([...list.members]).toEqual([c1, c2]);
		const unknown = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
		const bad = await call(emu, 'PATCH', `/api/v1/contacts/lists/${list.id}/contacts`, { body: { contactsToRemoveIds: [c1, unknown] } });
		expect(bad.status).toBe(400);
		expect(bad.body.invalidFields[0]).toMatchObject({ code: 'invalid_reference', invalidIds: [unknown] });
		expect([...list.members]).toEqual([c1, c2]);
		const tooMany = Array.from({ length: 1001 }, () => c1);
		expect((await call(emu, 'PATCH', `/api/v1/contacts/lists/${list.id}/contacts`, { body: { contactsToAddIds: tooMany } })).status).toBe(400);
		await call(emu, 'PATCH', `/api/v1/contacts/lists/${list.id}/contacts`, { body: { contactsToRemoveIds: [c1] } });
		expect([...list.members]).toEqual([c2]);
		const contact = await call(emu, 'GET', `/api/v1/contacts/contacts/${c2}`);
		expect(contact.body.lists).toEqual([{ id: list.id, name: 'L' }]);
	});

	it('adds one member (201, then 200 when already in) and removes it (204)', async () => {
		emu.seed('AccountA', { lists: [{ name: 'L' }], contacts: [{ channels: [{ channelId: '+61491570156' }] }] });
		const list = [...emu.account('AccountA').lists.values()][0];
		const contactId = [...emu.account('AccountA').contacts.keys()][0];
		expect((await call(emu, 'POST', `/api/v1/contacts/lists/${list.id}/contacts/${contactId}`)).status).toBe(201);
		expect((await call(emu, 'POST', `/api/v1/contacts/lists/${list.id}/contacts/${contactId}`)).status).toBe(200);
		expect((await call(emu, 'DELETE', `/api/v1/contacts/lists/${list.id}/contacts/${contactId}`)).status).toBe(204);
		expect(list.members.size).toBe(0);
		const unknownList = await call(emu, 'POST', `/api/v1/contacts/lists/3fa85f64-5717-4562-b3fc-2c963f66afa6/contacts/${contactId}`);
		expect(unknownList.status).toBe(400);
	});

	it('manages custom fields; merge tags are unique', async () => {
		const body = { label: 'Mailchimp ID', mergeTag: 'mailchimp_id', maxLength: 64, type: 'TEXT' };
		const created = await call(emu, 'POST', '/api/v1/contacts/custom-fields', { body });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject(body);
		expect((await call(emu, 'POST', '/api/v1/contacts/custom-fields', { body: { ...body, label: 'Other' } })).status).toBe(409);
		const missing = await call(emu, 'POST', '/api/v1/contacts/custom-fields', { body: { label: 'x' } });
		expect(missing.body.invalidFields.map((f: { name: string }) => f.name).sort()).toEqual(['maxLength', 'mergeTag', 'type']);
		const byTag = await call(emu, 'GET', '/api/v1/contacts/custom-fields', { query: 'mergeTag=mailchimp_id' });
		expect(byTag.body.content).toHaveLength(1);
		const updated = await call(emu, 'PATCH', `/api/v1/contacts/custom-fields/${created.body.id}`, { body: { maxLength: 100 } });
		expect(updated.body.maxLength).toBe(100);
		expect((await call(emu, 'DELETE', `/api/v1/contacts/custom-fields/${created.body.id}`)).status).toBe(204);
		expect((await call(emu, 'GET', `/api/v1/contacts/custom-fields/${created.body.id}`)).status).toBe(404);
	});
});

describe('messages', () => {
	it('accepts up to 100 messages with 202, echoes metadata, queues them and counts credits', async () => {
		const res = await call(emu, 'POST', '/v1/messages', {
			body: {
				messages: [
					{ content: 'Reply Y to confirm', destination_number: '+61491570156', source_number: '+61400000000', metadata: { purpose: 'doi', member: 'abc' } },
					{ content: 'x'.repeat(161), destination_number: '+61491570157' },
				],
			},
		});
		expect(res.status).toBe(202);
		expect(res.body.messages).toHaveLength(2);
		expect(res.body.messages[0]).toMatchObject({ status: 'queued', metadata: { purpose: 'doi', member: 'abc' }, destination_number: '+61491570156' });
		expect(res.body.messages[0].message_id).toMatch(UUID);
		// 1 segment + 2 segments (161 GSM-7 characters).
		expect(emu.account('AccountA').creditsUsed).toBe(3);
		const status = await call(emu, 'GET', `/v1/messages/${res.body.messages[0].message_id}`);
		expect(status.body).toMatchObject({ status: 'delivered', content: 'Reply Y to confirm' });
		expect((await call(emu, 'GET', '/v1/messages/3fa85f64-5717-4562-b3fc-2c963f66afa6')).body).toEqual({ message: 'Resource not found.' });
	});

	it('sends nothing when one message is invalid, and says which one', async () => {
		const res = await call(emu, 'POST', '/v1/messages', {
			body: { messages: [{ content: 'ok', destination_number: '+61491570156' }, { content: 'bad', destination_number: '0491570156' }] },
		});
		expect(res.status).toBe(400);
		expect(res.body.message).toMatch(/Request failed to parse correctly/);
		expect(res.body.details).toEqual([expect.stringMatching(/^\/messages\/1\/destination_number: International address/)]);
		expect(emu.account('AccountA').messages.size).toBe(0);
		expect(emu.account('AccountA').creditsUsed).toBe(0);
		const tooMany = Array.from({ length: 101 }, () => ({ content: 'x', destination_number: '+61491570156' }));
		expect((await call(emu, 'POST', '/v1/messages', { body: { messages: tooMany } })).status).toBe(400);
		const badMeta = await call(emu, 'POST', '/v1/messages', {
			body: { messages: [{ content: 'x', destination_number: '+61491570156', metadata: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'])) }] },
		});
		expect(badMeta.body.details[0]).toMatch(/At most 10 metadata keys/);
	});

	it('accepts a send to a blacklisted number but rejects it without charging', async () => {
		emu.seed('AccountA', { blacklist: ['+61491570156'] });
		const res = await call(emu, 'POST', '/v1/messages', { body: { messages: [{ content: 'hi', destination_number: '+61491570156' }] } });
		expect(res.status).toBe(202);
		expect((await call(emu, 'GET', `/v1/messages/${res.body.messages[0].message_id}`)).body.status).toBe('rejected');
		expect(emu.account('AccountA').creditsUsed).toBe(0);
	});
});

describe('replies, webhooks and opt-outs', () => {
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	beforeEach(async () => {
		receiver = await startReceiver();
	});
	afterEach(async () => {
		await receiver.close();
	});

	it('queues a handset reply with the original metadata until it is confirmed', async () => {
		const sent = await call(emu, 'POST', '/v1/messages', {
			body: { messages: [{ content: 'Reply Y', destination_number: '+61491570156', source_number: '+61400000000', metadata: { member: 'm1' } }] },
		});
		const inbound = await fetch(`${emu.url}/_control/accounts/AccountA/inbound`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ from: '+61491570156', content: 'Yes' }),
		});
		expect(inbound.status).toBe(200);
		const replies = await call(emu, 'GET', '/v1/replies');
		expect(replies.body.replies).toEqual([
			expect.objectContaining({
				message_id: sent.body.messages[0].message_id,
				content: 'Yes',
				source_number: '+61491570156',
				destination_number: '+61400000000',
				metadata: { member: 'm1' },
				vendor_account_id: { vendor_id: 'SinchAU', account_id: 'AccountA' },
			}),
		]);
		const replyId = replies.body.replies[0].reply_id;
		expect((await call(emu, 'GET', '/v1/replies')).body.replies).toHaveLength(1); // repeats until confirmed
		expect((await call(emu, 'POST', '/v1/replies/confirmed', { body: { reply_ids: [replyId] } })).status).toBe(202);
		expect((await call(emu, 'GET', '/v1/replies')).body.replies).toEqual([]);
		expect((await call(emu, 'POST', '/v1/replies/confirmed', { body: { reply_ids: ['3fa85f64-5717-4562-b3fc-2c963f66afa6'] } })).status).toBe(404);
	});

	it('registers webhooks (201, 409 for the same url and method), lists, updates and deletes them', async () => {
		const body = { url: `${receiver.url}/hook`, method: 'POST', encoding: 'JSON', events: ['RECEIVED_SMS'] };
		const created = await call(emu, 'POST', '/v1/webhooks/messages', { body });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({ ...body, headers: {}, retries: 0 });
		expect((await call(emu, 'POST', '/v1/webhooks/messages', { body })).status).toBe(409);
		expect((await call(emu, 'POST', '/v1/webhooks/messages', { body: { ...body, events: [] } })).status).toBe(400);
		expect((await call(emu, 'POST', '/v1/webhooks/messages', { body: { ...body, headers: { 'Content-Type': 'x' } } })).status).toBe(400);
		await call(emu, 'POST', '/v1/webhooks/messages', { body: { ...body, method: 'PUT' } });
		const page0 = await call(emu, 'GET', '/v1/webhooks/messages', { query: 'page=0&page_size=1' });
		const page1 = await call(emu, 'GET', '/v1/webhooks/messages', { query: 'page=1&page_size=1' });
		expect([page0.body.pageData[0].method, page1.body.pageData[0].method]).toEqual(['POST', 'PUT']);
		expect(page0.body).toMatchObject({ page: 0, pageSize: 1 });
		const patched = await call(emu, 'PATCH', `/v1/webhooks/messages/${created.body.id}`, { body: { events: ['RECEIVED_SMS', 'OPT_OUT_SMS'] } });
		expect(patched.body.events).toEqual(['RECEIVED_SMS', 'OPT_OUT_SMS']);
		expect((await call(emu, 'PATCH', `/v1/webhooks/messages/${created.body.id}`, { body: { retries: 2 } })).status).toBe(400);
		expect((await call(emu, 'DELETE', `/v1/webhooks/messages/${created.body.id}`)).status).toBe(204);
		expect((await call(emu, 'DELETE', `/v1/webhooks/messages/${created.body.id}`)).status).toBe(404);
	});

	it('pushes RECEIVED_SMS to registered webhooks, rendering templates and retrying failures', async () => {
		await call(emu, 'POST', '/v1/webhooks/messages', {
			body: { url: `${receiver.url}/plain`, method: 'POST', encoding: 'JSON', events: ['RECEIVED_SMS'], headers: { 'X-Token': 't1' }, retries: 2, retry_delay: 5 },
		});
		await call(emu, 'POST', '/v1/webhooks/messages', {
			body: {
				url: `${receiver.url}/templated`,
				method: 'POST',
				encoding: 'JSON',
				events: ['RECEIVED_SMS'],
				template: '{"id":"$replyId","from":"$sourceAddress","text":"$esc.json($moContent)","member":"$metadata.get(\'member\')"}',
			},
		});
		await call(emu, 'POST', '/v1/messages', { body: { messages: [{ content: 'Reply Y', destination_number: '+61491570156', metadata: { member: 'm1' } }] } });
		receiver.answers.push(500); // the first delivery fails once
		const result = await emu.inbound('AccountA', { from: '+61491570156', content: 'Y "yes"' });
		expect(result.optedOut).toBe(false);
		const plain = receiver.received.filter((r) => r.url === '/plain');
		expect(plain).toHaveLength(2);
		expect(plain[1].headers['x-token']).toBe('t1');
		expect(JSON.parse(plain[1].body)).toMatchObject({
			account_id: 'AccountA',
			reply_id: result.reply.reply_id,
			source_number: '+61491570156',
			content: 'Y "yes"',
			metadata: { member: 'm1' },
		});
		const templated = receiver.received.find((r) => r.url === '/templated')!;
		expect(JSON.parse(templated.body)).toEqual({ id: result.reply.reply_id, from: '+61491570156', text: 'Y "yes"', member: 'm1' });
		expect(emu.account('AccountA').webhookDeliveries.map((d) => d.status)).toEqual(expect.arrayContaining([500, 200, 200]));
	});

	it('turns a STOP into a blacklist entry, an UNSUBSCRIBED channel and an OPT_OUT_SMS notification', async () => {
		emu.seed('AccountA', { contacts: [{ firstName: 'Ada', channels: [{ channelId: '+61491570156' }] }] });
		await call(emu, 'POST', '/v1/webhooks/messages', {
			body: { url: `${receiver.url}/hook`, method: 'POST', encoding: 'JSON', events: ['RECEIVED_SMS', 'OPT_OUT_SMS'] },
		});
		const result = await emu.inbound('AccountA', { from: '+61491570156', content: ' stop ', to: '+61400000000' });
		expect(result.optedOut).toBe(true);
		const bodies = receiver.received.map((r) => JSON.parse(r.body));
		const optOut = bodies.find((b) => b.notification_id);
		expect(optOut).toMatchObject({ source_number: '+61491570156', destination_number: '+61400000000', content: ' stop ' });
		expect(optOut.reply_id).toBeUndefined();
		expect(bodies.some((b) => b.reply_id === result.reply.reply_id)).toBe(true);
		const contact = (await call(emu, 'GET', '/api/v1/contacts/contacts', { query: 'channelIds=%2B61491570156' })).body.content[0];
		expect(contact.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
		const check = await call(emu, 'GET', '/v1/number_authorisation/is_authorised/%2B61491570156,%2B61491570157');
		expect(check.body.numbers).toEqual([
			{ number: '+61491570156', authorised: false },
			{ number: '+61491570157', authorised: true },
		]);
		expect(emu.account('AccountA').subscriptionEvents.at(-1)).toMatchObject({ channelId: '+61491570156', from: 'SUBSCRIBED', to: 'UNSUBSCRIBED', cause: 'opt-out reply' });
		// Deleted and re-created: the Hub keeps the opt-out.
		await call(emu, 'DELETE', `/api/v1/contacts/contacts/${contact.id}`);
		const again = await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570156') });
		expect(again.body.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
	});
});

describe('number blacklist', () => {
	it('adds (201, or 200 when all were there), pages 100 at a time, and removes numbers', async () => {
		const added = await call(emu, 'POST', '/v1/number_authorisation/mt/blacklist', { body: { numbers: ['+61491570156', '61491570157'] } });
		expect(added.status).toBe(201);
		expect(added.body.numbers).toEqual(['+61491570156', '+61491570157']);
		expect((await call(emu, 'POST', '/v1/number_authorisation/mt/blacklist', { body: { numbers: ['+61491570156'] } })).status).toBe(200);
		const eleven = Array.from({ length: 11 }, (_, i) => `+614915702${String(i).padStart(2, '0')}`);
		expect((await call(emu, 'POST', '/v1/number_authorisation/mt/blacklist', { body: { numbers: eleven } })).status).toBe(400);
		emu.seed('AccountA', { blacklist: Array.from({ length: 148 }, (_, i) => `+61491571${String(i).padStart(3, '0')}`) });
		const first = await call(emu, 'GET', '/v1/number_authorisation/mt/blacklist');
		expect(first.body.numbers).toHaveLength(100);
		const second = await call(emu, 'GET', '/v1/number_authorisation/mt/blacklist', { query: `token=${first.body.pagination.page}` });
		expect(second.body.numbers).toHaveLength(50);
		expect(second.body.pagination).toBeUndefined();
		const removed = await call(emu, 'DELETE', '/v1/number_authorisation/mt/blacklist/%2B61491570156');
		expect(removed.status).toBe(200);
		expect(removed.headers.get('content-type')).toMatch(/text\/plain/);
		expect((await call(emu, 'DELETE', '/v1/number_authorisation/mt/blacklist/%2B61491570156')).status).toBe(404);
		expect((await call(emu, 'GET', '/v1/number_authorisation/is_authorised/0491570156')).status).toBe(400);
	});
});

describe('faults, counters, control and exchanges', () => {
	it('injects 429 with the configured Retry-After and 503 without a body, and counts per route', async () => {
		await emu.close();
		emu = await startHubEmulator({ accounts: [A], retryAfterSeconds: 2 });
		Object.assign(emu.faults, { rate429: 1 });
		const limited = await call(emu, 'GET', '/api/v1/contacts/lists');
		expect(limited.status).toBe(429);
		expect(limited.headers.get('retry-after')).toBe('2');
		Object.assign(emu.faults, { rate429: 0, rate5xx: 1 });
		const down = await call(emu, 'GET', '/api/v1/contacts/lists');
		expect([down.status, down.text]).toEqual([503, '']);
		expect(emu.counters.get('GET /api/v1/contacts/lists')).toBe(2);
	});

	it('applies a write and then answers 500 with the ApiError body, only on the routes selected', async () => {
		const faults = await fetch(`${emu.url}/_control/faults`, {
			method: 'PUT',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ rateAppliedThen500: 1, routeFilter: '^POST /api/v1/contacts/contacts$', seed: 3 }),
		});
		expect(faults.status).toBe(200);
		const lost = await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570156') });
		expect(lost.status).toBe(500);
		expect(lost.body).toEqual({ uuid: expect.stringMatching(UUID), type: 'internal_server_error', title: 'Internal Server Error', detail: expect.any(String) });
		// The contact exists although the answer said otherwise; a resend meets it.
		expect([...emu.account('AccountA').contacts.values()].map((c) => c.channels[0].channelId)).toEqual(['+61491570156']);
		expect((await call(emu, 'POST', '/api/v1/contacts/contacts', { body: contactBody('+61491570156') })).status).toBe(409);
		// Reads and other routes are untouched; a refused write keeps its refusal.
		expect((await call(emu, 'GET', '/api/v1/contacts/contacts')).status).toBe(200);
		expect((await call(emu, 'POST', '/api/v1/contacts/contacts', { body: {} })).status).toBe(400);
		expect(emu.counters.get('fault applied 500')).toBe(1);
	});

	it('applies a write and then drops the connection before answering', async () => {
		Object.assign(emu.faults, { rateAppliedThenDrop: 1, routeFilter: '^POST /api/v1/contacts/lists$' });
		await expect(call(emu, 'POST', '/api/v1/contacts/lists', { body: { name: 'Dropped' } })).rejects.toThrow();
		expect([...emu.account('AccountA').lists.values()].map((l) => l.name)).toEqual(['Dropped']);
		expect(emu.counters.get('fault applied drop')).toBe(1);
		Object.assign(emu.faults, { rateAppliedThenDrop: 0 });
	});

	it('replays the same lost answers for the same seed', async () => {
		const pattern = async () => {
			await fetch(`${emu.url}/_control/faults`, {
				method: 'PUT',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ rateAppliedThen500: 0.5, routeFilter: '^POST /api/v1/contacts/lists$', seed: 21 }),
			});
			const statuses: number[] = [];
			for (let i = 0; i < 12; i++) statuses.push((await call(emu, 'POST', '/api/v1/contacts/lists', { body: { name: `L${statuses.length}-${Math.random()}` } })).status);
			return statuses;
		};
		const first = await pattern();
		expect(first).toContain(500);
		expect(first).toContain(201);
		expect(await pattern()).toEqual(first);
		await fetch(`${emu.url}/_control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
	});

	it('dumps, seeds and resets accounts through /_control', async () => {
		const seed = await fetch(`${emu.url}/_control/accounts/AccountB/seed`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ lists: [{ name: 'MAILCHIMP' }], contacts: [{ channels: [{ channelId: '+61491570156' }], lists: ['MAILCHIMP'] }] }),
		});
		expect(seed.status).toBe(204);
		const dump = (await (await fetch(`${emu.url}/_control/accounts/AccountB/state`)).json()) as any;
		expect(dump.contacts).toHaveLength(1);
		expect(dump.lists[0].contactIds).toEqual([dump.contacts[0].id]);
		expect(dump.subscriptionMemory).toEqual({ 'SMS:+61491570156': 'SUBSCRIBED' });
		await call(emu, 'POST', '/v1/messages', { as: B, body: { messages: [{ content: 'hi', destination_number: '+61491570156' }] } });
		expect(await (await fetch(`${emu.url}/_control/accounts/AccountB/credits`)).json()).toEqual({ used: 1, messages: 1 });
		expect((await fetch(`${emu.url}/_control/reset`, { method: 'POST' })).status).toBe(204);
		expect(emu.account('AccountB').contacts.size).toBe(0);
		expect((await fetch(`${emu.url}/_control/accounts/Nobody/state`)).status).toBe(404);
	});

	it('reports every API exchange, with the account it ran in', async () => {
		await call(emu, 'POST', '/api/v1/contacts/lists', { body: { name: 'L' } });
		await call(emu, 'GET', '/api/v1/contacts/lists', { query: 'pageSize=1', as: B });
		await call(emu, 'GET', '/nowhere');
		expect(exchanges.map((e) => [e.request.method, e.request.path, e.request.query, e.response.status, e.accountId])).toEqual([
			['POST', '/api/v1/contacts/lists', '', 201, 'AccountA'],
			['GET', '/api/v1/contacts/lists', 'pageSize=1', 200, 'AccountB'],
			['GET', '/nowhere', '', 404, undefined],
		]);
		expect(exchanges[0].request.body).toEqual({ name: 'L' });
		expect(exchanges[0].response.body).toMatchObject({ name: 'L' });
	});
});
