/** The Hub client, run through a faithful fake n8n context against the Hub emulator. */
import * as net from 'node:net';
import { inspect } from 'node:util';

import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { HUB_REGIONS, SinchHubApi } from '../../../../credentials/SinchHubApi.credentials';
import {
	HubAuthError,
	HubBadAnswerError,
	HubConflictError,
	HubInvalidInputError,
	HubNotFoundError,
	HubUnavailableError,
	createHubClient,
	hubBaseUrl,
	hubQueryString,
	type HubContact,
	type HubOutboundMessage,
} from '../../../../nodes/shared/transport/hub';
import { startHubEmulator, type HubEmulator, type HubExchange } from '../../../emulators/hub';
import { runCredentialTest } from '../../helpers/fakeExecuteContext';
import { hubContext, retryEachFaultOnce, testHubClient } from '../../helpers/hubContext';

const A = { apiKey: 'transport-key-a', apiSecret: 'transport-secret-a-3f9c', accountId: 'AccountA' };
const B = { apiKey: 'transport-key-b', apiSecret: 'transport-secret-b-77e1', accountId: 'AccountB' };
const FAST = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 10, maxTotalWaitMs: 10_000 };
const node = { id: 'n', name: 'N', type: 't', typeVersion: 1, position: [0, 0] as [number, number], parameters: {} };

let emu: HubEmulator;
let exchanges: HubExchange[];

beforeEach(async () => {
	exchanges = [];
	emu = await startHubEmulator({ accounts: [{ ...A, subAccounts: [{ accountId: 'AccountA-Sub' }] }, B], onExchange: (e) => exchanges.push(e) });
});
afterEach(async () => {
	await emu.close();
});

const requestsTo = (route: string) => exchanges.filter((e) => e.request.route === route);
const phone = (i: number) => `+6149${String(1_000_000 + i).padStart(7, '0')}`;

describe('credential', () => {
	it('authenticates with Basic auth, and sends the Account header only when a sub-account is set', async () => {
		const main = await testHubClient(emu, A);
		await main.client.createList({ name: 'Main' });
		expect(main.ctx.requests[0].options.auth).toEqual({ username: A.apiKey, password: A.apiSecret });
		expect(exchanges[0].request.headers.account).toBeUndefined();

		const sub = await testHubClient(emu, { ...A, subAccount: 'AccountA-Sub' });
		await sub.client.createList({ name: 'Sub' });
		expect(exchanges[1].request.headers.account).toBe('AccountA-Sub');
		expect([...emu.account('AccountA-Sub').lists.values()].map((l) => l.name)).toEqual(['Sub']);
		expect([...emu.account('AccountA').lists.values()].map((l) => l.name)).toEqual(['Main']);
	});

	it('reads the credential once and hands it to n8n with every request, instead of n8n reading it again each time', async () => {
		const { ctx, client } = await testHubClient(emu, A);
		for (let i = 0; i < 5; i++) await client.createList({ name: `List ${i}` });
		expect(ctx.requests).toHaveLength(5);
		expect(ctx.requests.every((r) => r.options.auth?.username === A.apiKey && r.options.auth?.password === A.apiSecret)).toBe(true);
		expect(ctx.credentialReads).toEqual({ sinchHubApi: 1 });
		expect(emu.account('AccountA').lists.size).toBe(5);
	});

	it('passes its test request against the chosen base URL, and explains a rejected key', async () => {
		const type = new SinchHubApi();
		const data = { region: 'custom', baseUrl: emu.url, apiKey: A.apiKey, apiSecret: A.apiSecret, accountId: '' };
		expect(await runCredentialTest(type, data)).toEqual({ status: 'OK', message: 'Connection tested successfully' });
		expect(exchanges.at(-1)?.request).toMatchObject({ method: 'GET', path: '/api/v1/contacts/lists', query: 'pageSize=1' });
		const rejected = await runCredentialTest(type, { ...data, apiSecret: 'wrong' });
		expect(rejected.status).toBe('Error');
		expect(rejected.message).toMatch(/rejected the API key and secret/);
		expect((await runCredentialTest(type, { ...data, accountId: 'NotMine' })).message).toMatch(/sub-account/);
	});

	it('turns the region into a base URL, and refuses a custom one that is not https (http only on this machine)', () => {
		expect(hubBaseUrl({ region: HUB_REGIONS.eu }, node)).toBe('https://eu.app.api.sinch.com');
		expect(hubBaseUrl({ region: HUB_REGIONS.legacyAu }, node)).toBe('https://api.messagemedia.com');
		expect(hubBaseUrl({}, node)).toBe('https://au.app.api.sinch.com');
		expect(hubBaseUrl({ region: 'custom', baseUrl: 'http://127.0.0.1:4010/' }, node)).toBe('http://127.0.0.1:4010');
		expect(() => hubBaseUrl({ region: 'custom', baseUrl: '' }, node)).toThrow(NodeOperationError);
		expect(() => hubBaseUrl({ region: 'custom', baseUrl: 'ftp://hub.example' }, node)).toThrow(/https/);
		// The key and secret never travel in plain http beyond this machine.
		expect(() => hubBaseUrl({ region: 'custom', baseUrl: 'http://hub.example.com' }, node)).toThrow(/must start with https/);
		let refused: NodeOperationError | undefined;
		try {
			hubBaseUrl({ region: 'custom', baseUrl: 'http://10.0.0.5:8080' }, node);
		} catch (error) {
			refused = error as NodeOperationError;
		}
		expect(refused?.description).toMatch(/http:\/\/10\.0\.0\.5:8080; enter an https:\/\/ address\. Plain http:\/\/ is accepted only for a test server on this machine/);
		expect(hubBaseUrl({ region: 'custom', baseUrl: 'http://localhost:4010' }, node)).toBe('http://localhost:4010');
		expect(hubBaseUrl({ region: 'custom', baseUrl: 'http://[::1]:4010' }, node)).toBe('http://[::1]:4010');
	});
});

describe('contacts', () => {
	it('encodes + in the channelIds lookup (form-exploded, one parameter per number)', () => {
		expect(hubQueryString({ pageSize: 1000, channelIds: ['+61491570156', '+61491570157'], nextPageToken: undefined })).toBe(
			'pageSize=1000&channelIds=%2B61491570156&channelIds=%2B61491570157',
		);
	});

	it('creates, finds by phone, gets, updates and deletes a contact', async () => {
		const { client } = await testHubClient(emu, A);
		const created = await client.createContact({ firstName: 'Ada', channels: [{ channelId: '+61491570156', type: 'SMS' }] });
		expect(created.channels[0]).toEqual({ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' });
		expect((await client.findContactByPhone('+61491570156'))?.id).toBe(created.id);
		expect(await client.findContactByPhone('+61491570199')).toBeUndefined();
		expect(exchanges.find((e) => e.request.route === 'GET /api/v1/contacts/contacts')?.request.query).toBe('channelIds=%2B61491570156&pageSize=1000');
		const updated = await client.updateContact(created.id, { lastName: 'Lovelace' });
		expect(updated.fullName).toBe('Ada Lovelace');
		expect((await client.getContact(created.id)).lastName).toBe('Lovelace');
		await client.deleteContact(created.id);
		await expect(client.getContact(created.id)).rejects.toThrow(HubNotFoundError);
	});

	it('reads every page, 1000 at a time, and looks numbers up in batches', async () => {
		emu.seed('AccountA', { contacts: Array.from({ length: 2100 }, (_, i) => ({ firstName: `C${i}`, channels: [{ channelId: phone(i) }] })) });
		const { client } = await testHubClient(emu, A);
		const all: HubContact[] = [];
		for await (const contact of client.contacts()) all.push(contact);
		expect(all).toHaveLength(2100);
		expect(new Set(all.map((c) => c.id)).size).toBe(2100);
		expect(requestsTo('GET /api/v1/contacts/contacts')).toHaveLength(3);

		exchanges.length = 0;
		const wanted = [...Array.from({ length: 150 }, (_, i) => phone(i * 10)), '+61491570001'];
		const found = await client.findContactsByPhone(wanted);
		expect(found.size).toBe(150);
		expect(found.get(phone(100))?.[0].firstName).toBe('C100');
		expect(found.has('+61491570001')).toBe(false);
		expect(requestsTo('GET /api/v1/contacts/contacts')).toHaveLength(2);
	});

	it('throws HubConflictError for a number that already has a contact', async () => {
		const { client } = await testHubClient(emu, A);
		await client.createContact({ channels: [{ channelId: '+61491570156', type: 'SMS' }] });
		const error = await client.createContact({ channels: [{ channelId: '+61491570156', type: 'SMS' }] }).catch((e) => e);
		expect(error).toBeInstanceOf(HubConflictError);
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.status).toBe(409);
		expect(error.message).toMatch(/already.*\+61491570156/);
	});

	it('turns InvalidInputApiError into a readable message with the invalid fields', async () => {
		const { client } = await testHubClient(emu, A);
		const error = await client.createContact({ channels: [{ channelId: '0491 570 156', type: 'SMS' }] }).catch((e) => e);
		expect(error).toBeInstanceOf(HubInvalidInputError);
		expect(error.invalidFields).toEqual([expect.objectContaining({ name: 'channels[0].channelId', code: 'invalid_format' })]);
		expect(error.message).toMatch(/^The Hub rejected the request: channels\[0\]\.channelId: Phone number must be in E\.164/);
		expect(error.description).toBe('POST /api/v1/contacts/contacts answered HTTP 400');
	});
});

describe('lists and custom fields', () => {
	it('finds a list by its exact name among substring matches, and creates it only once', async () => {
		emu.seed('AccountA', { lists: [{ name: 'MAILCHIMP old' }] });
		const { client } = await testHubClient(emu, A);
		expect(await client.findListByName('MAILCHIMP')).toBeUndefined();
		const created = await client.ensureList('MAILCHIMP');
		const again = await client.ensureList('mailchimp');
		expect(again.id).toBe(created.id);
		expect(requestsTo('POST /api/v1/contacts/lists')).toHaveLength(1);
		expect((await client.getList(created.id)).name).toBe('MAILCHIMP');
	});

	it('changes membership in requests of at most 1000 ids a side', async () => {
		emu.seed('AccountA', { lists: [{ name: 'L' }], contacts: Array.from({ length: 2500 }, (_, i) => ({ channels: [{ channelId: phone(i) }] })) });
		const { client } = await testHubClient(emu, A);
		const list = (await client.findListByName('L'))!;
		const ids = [...emu.account('AccountA').contacts.keys()];
		await client.updateListMembers(list.id, { add: ids });
		const patches = requestsTo('PATCH /api/v1/contacts/lists/{listId}/contacts');
		expect(patches.map((p) => (p.request.body as { contactsToAddIds: string[] }).contactsToAddIds.length)).toEqual([1000, 1000, 500]);
		expect(emu.account('AccountA').lists.get(list.id)!.members.size).toBe(2500);
		await client.updateListMembers(list.id, { remove: ids.slice(0, 1200), add: [] });
		expect(emu.account('AccountA').lists.get(list.id)!.members.size).toBe(1300);
		await client.removeContactFromList(list.id, ids[2000]);
		await client.addContactToList(list.id, ids[0]);
		expect(emu.account('AccountA').lists.get(list.id)!.members.has(ids[2000])).toBe(false);
		expect(emu.account('AccountA').lists.get(list.id)!.members.has(ids[0])).toBe(true);
	});

	it('finds custom fields by merge tag or label and creates missing ones once', async () => {
		const { client } = await testHubClient(emu, A);
		const input = { label: 'Mailchimp ID', mergeTag: 'mailchimp_id', maxLength: 64, type: 'TEXT' as const };
		const created = await client.ensureCustomField(input);
		expect((await client.ensureCustomField(input)).id).toBe(created.id);
		expect((await client.findCustomField({ label: 'mailchimp id' }))?.id).toBe(created.id);
		expect(requestsTo('POST /api/v1/contacts/custom-fields')).toHaveLength(1);
	});
});

describe('messages, replies, webhooks and the blacklist', () => {
	const message = (i: number): HubOutboundMessage => ({ content: `Hi ${i}`, destination_number: phone(i), metadata: { member: `m${i}` } });

	it('sends in requests of at most 100 and returns the accepted messages in order', async () => {
		const { client } = await testHubClient(emu, A);
		const sent = await client.sendMessages(Array.from({ length: 250 }, (_, i) => message(i)));
		expect(sent).toHaveLength(250);
		expect(sent.map((m) => m.metadata?.member)).toEqual(Array.from({ length: 250 }, (_, i) => `m${i}`));
		expect(sent.every((m) => m.status === 'queued' && /^[0-9a-f-]{36}$/.test(m.message_id))).toBe(true);
		expect(requestsTo('POST /v1/messages').map((e) => (e.request.body as { messages: unknown[] }).messages.length)).toEqual([100, 100, 50]);
		expect(emu.account('AccountA').creditsUsed).toBe(250);
		expect((await client.getMessage(sent[0].message_id)).status).toBe('delivered');
	});

	it('reports what was sent before a batch the Hub refused', async () => {
		const { client } = await testHubClient(emu, A);
		const batch = Array.from({ length: 150 }, (_, i) => message(i));
		batch[120] = { ...batch[120], destination_number: '12345' };
		const error = await client.sendMessages(batch).catch((e) => e);
		expect(error).toBeInstanceOf(HubInvalidInputError);
		expect(error.details).toEqual([expect.stringMatching(/^\/messages\/20\/destination_number/)]);
		expect(error.sentMessages).toHaveLength(100);
		expect(emu.account('AccountA').messages.size).toBe(100);
	});

	it('polls replies and confirms them in batches of 100 until none are left', async () => {
		const { client } = await testHubClient(emu, A);
		await client.sendMessages(Array.from({ length: 150 }, (_, i) => message(i)));
		for (let i = 0; i < 150; i++) await emu.inbound('AccountA', { from: phone(i), content: 'YES' });
		const seen: string[] = [];
		for (let replies = await client.checkReplies(); replies.length > 0; replies = await client.checkReplies()) {
			expect(replies.length).toBeLessThanOrEqual(100);
			seen.push(...replies.map((r) => r.metadata?.member ?? ''));
			await client.confirmReplies(replies.map((r) => r.reply_id));
		}
		expect(seen).toEqual(Array.from({ length: 150 }, (_, i) => `m${i}`));
		expect(requestsTo('POST /v1/replies/confirmed')).toHaveLength(2);
	});

	it('registers a webhook once, widens its events, pages and deletes webhooks', async () => {
		const { client } = await testHubClient(emu, A);
		const input = { url: 'http://127.0.0.1:9/hub', method: 'POST' as const, encoding: 'JSON' as const, events: ['RECEIVED_SMS' as const] };
		const created = await client.ensureWebhook(input);
		expect((await client.ensureWebhook(input)).id).toBe(created.id);
		const widened = await client.ensureWebhook({ ...input, events: ['OPT_OUT_SMS'] });
		expect(widened.events).toEqual(['RECEIVED_SMS', 'OPT_OUT_SMS']);
		await expect(client.createWebhook(input)).rejects.toThrow(HubConflictError);
		for (let i = 0; i < 120; i++) await client.createWebhook({ ...input, url: `http://127.0.0.1:9/h${i}` });
		const all = [];
		for await (const hook of client.webhooks()) all.push(hook);
		expect(all).toHaveLength(121);
		expect(requestsTo('GET /v1/webhooks/messages').at(-1)?.request.query).toBe('page=1&page_size=100');
		await client.deleteWebhook(created.id);
		await expect(client.deleteWebhook(created.id)).rejects.toThrow(HubNotFoundError);
	});

	it('checks, lists, adds and removes blacklisted numbers in the documented batch sizes', async () => {
		const { client } = await testHubClient(emu, A);
		const numbers = Array.from({ length: 230 }, (_, i) => phone(i));
		await client.addToBlacklist(numbers.slice(0, 25));
		expect(requestsTo('POST /v1/number_authorisation/mt/blacklist')).toHaveLength(3);
		emu.seed('AccountA', { blacklist: numbers.slice(25) });
		const listed: string[] = [];
		for await (const n of client.blacklist()) listed.push(n);
		expect(listed).toEqual(numbers);
		expect(await client.removeFromBlacklist(numbers[0])).toBe(true);
		expect(await client.removeFromBlacklist(numbers[0])).toBe(false);
		const authorised = await client.checkAuthorised([...numbers.slice(0, 150), '+61491570001']);
		expect(requestsTo('GET /v1/number_authorisation/is_authorised/{numbers}')).toHaveLength(2);
		expect(authorised.get(numbers[0])).toBe(true);
		expect(authorised.get(numbers[1])).toBe(false);
		expect(authorised.get('+61491570001')).toBe(true);
	});
});

describe('retries and failures', () => {
	it('retries a 429, honouring Retry-After', async () => {
		await emu.close();
		emu = await startHubEmulator({ accounts: [A], retryAfterSeconds: 3, onExchange: (e) => exchanges.push(e) });
		Object.assign(emu.faults, { rate429: 1 });
		const { client, waits } = await testHubClient(emu, A, { onWait: () => void Object.assign(emu.faults, { rate429: 0 }) });
		expect((await client.createList({ name: 'After 429' })).name).toBe('After 429');
		expect(waits).toEqual([3000]);
		expect(emu.counters.get('fault 429')).toBe(1);
	});

	it('retries 5xx, dropped connections and timeouts with backoff', async () => {
		expect(await retryEachFaultOnce(emu, A)).toHaveLength(3);
		expect(emu.counters.get('fault 5xx')).toBe(1);
		expect(emu.counters.get('fault drop')).toBe(1);
	});

	it('gives up after the policy’s attempts with HubUnavailableError', async () => {
		Object.assign(emu.faults, { rate5xx: 1 });
		const { client } = await testHubClient(emu, A, { retryPolicy: FAST });
		const error = await client.getContact('3fa85f64-5717-4562-b3fc-2c963f66afa6').catch((e) => e);
		expect(error).toBeInstanceOf(HubUnavailableError);
		expect(error.attempts).toBe(3);
		expect(error.message).toBe('The Sinch MessageMedia Hub is not answering; try again later');
		expect(error.description).toMatch(/failed 3 time\(s\); last: HTTP 503/);
	});

	it('never resends messages whose answer was lost, but does after a 429', async () => {
		const { client } = await testHubClient(emu, A, { retryPolicy: FAST });
		Object.assign(emu.faults, { dropRate: 1 });
		const error = await client.sendMessages([message(1)]).catch((e) => e);
		expect(error).toBeInstanceOf(HubUnavailableError);
		expect(error.maybeProcessed).toBe(true);
		expect(emu.counters.get('POST /v1/messages')).toBe(1);
		Object.assign(emu.faults, { dropRate: 0, rate429: 1 });
		await expect(client.sendMessages([message(1)])).rejects.toThrow(HubUnavailableError);
		expect(emu.counters.get('POST /v1/messages')).toBe(4);
	});

	it('answers a wrong key at once with a clear HubAuthError', async () => {
		const { client, waits } = await testHubClient(emu, { ...A, apiSecret: 'wrong' });
		const error = await client.contacts().next().catch((e) => e);
		expect(error).toBeInstanceOf(HubAuthError);
		expect(error.message).toBe('The Hub rejected the API key and secret; check the credential');
		expect(waits).toEqual([]);
	});

	it('reports an unreachable host clearly after retrying', async () => {
		const port = await new Promise<number>((resolve) => {
			const server = net.createServer().listen(0, '127.0.0.1', () => {
				const { port: p } = server.address() as net.AddressInfo;
				server.close(() => resolve(p));
			});
		});
		const { client, waits } = await testHubClient(emu, { ...A, baseUrl: `http://127.0.0.1:${port}` }, { retryPolicy: FAST });
		const error = await client.checkReplies().catch((e) => e);
		expect(error).toBeInstanceOf(HubUnavailableError);
		expect(error.description).toMatch(/connection failure \(ECONNREFUSED\)/);
		expect(waits).toHaveLength(2);
	});

	const message = (i: number): HubOutboundMessage => ({ content: `Hi ${i}`, destination_number: phone(i) });
});

describe('secrets', () => {
	it('never puts the key or the secret into an error or a log line', async () => {
		const secrets = [A.apiKey, A.apiSecret, Buffer.from(`${A.apiKey}:${A.apiSecret}`).toString('base64'), Buffer.from(`${A.apiKey}:${A.apiSecret.slice(0, -1)}`).toString('base64')];
		const ctx = hubContext(emu, A);
		const client = await createHubClient(ctx, { sleep: async () => {}, retryPolicy: FAST });
		const failures: unknown[] = [];
		const capture = (p: Promise<unknown>) => p.then(() => failures.push(new Error('expected a failure')), (e) => failures.push(e));
		await capture(client.createContact({ channels: [{ channelId: 'nope', type: 'SMS' }] }));
		await capture(client.getContact('3fa85f64-5717-4562-b3fc-2c963f66afa6'));
		await client.createContact({ channels: [{ channelId: '+61491570156', type: 'SMS' }] });
		await capture(client.createContact({ channels: [{ channelId: '+61491570156', type: 'SMS' }] }));
		Object.assign(emu.faults, { dropRate: 1 });
		await capture(client.checkReplies());
		Object.assign(emu.faults, { dropRate: 0 });
		const wrong = await createHubClient(hubContext(emu, { ...A, apiSecret: A.apiSecret.slice(0, -1) }), { sleep: async () => {} });
		await capture(wrong.checkReplies());

		expect(failures).toHaveLength(5);
		for (const failure of failures) {
			const rendered = [inspect(failure, { depth: 8, showHidden: true }), JSON.stringify(failure), (failure as Error).message, (failure as { description?: string }).description ?? ''].join('\n');
			for (const secret of secrets) expect(rendered).not.toContain(secret);
		}
		expect(ctx.logLines.length).toBeGreaterThan(0); // the retries were logged
		const logged = JSON.stringify(ctx.logLines);
		for (const secret of secrets) expect(logged).not.toContain(secret);
	});
});

describe('answers that are not shaped as the API documents', () => {
	/** A server that answers 200 with the given body (a proxy page, `{}`, a half contact) for one path. */
	async function garbled(body: string, contentType = 'application/json') {
		const http = await import('node:http');
		const web = http.createServer((_req, res) => {
			res.writeHead(200, { 'content-type': contentType }).end(body);
		});
		await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
		const url = `http://127.0.0.1:${(web.address() as net.AddressInfo).port}`;
		const { client } = await testHubClient(emu, { ...A, baseUrl: url }, { retryPolicy: FAST });
		return { client, close: () => new Promise<void>((r) => web.close(() => r())) };
	}

	it.each([
		['an HTML page for a contacts page', '<html><body>Gateway</body></html>', 'text/html', /GET \/api\/v1\/contacts\/contacts was not what the API documents: the page is text/],
		['{} for a contacts page', '{}', 'application/json', /the page has no array "content"/],
		['a contact without channels', JSON.stringify({ content: [{ id: 'c1', customFields: [] }] }), 'application/json', /contact c1 has no array "channels"/],
		['a contact without an id', JSON.stringify({ content: [{ channels: [] }] }), 'application/json', /a contact has no text "id"/],
		['an unknown subscription state', JSON.stringify({ content: [{ id: 'c1', channels: [{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'MAYBE' }] }] }), 'application/json', /channels\[0\] has the subscription state/],
		['a page token that is a number', JSON.stringify({ content: [], nextPageToken: 7 }), 'application/json', /no text "nextPageToken"/],
	])('refuses %s, naming the endpoint and what was wrong', async (_what, body, type, message) => {
		const hub = await garbled(body, type);
		try {
			const error = await hub.client.findContactsByPhone(['+61491570156']).catch((e: unknown) => e);
			expect(error).toBeInstanceOf(HubBadAnswerError);
			expect((error as Error).message).toMatch(message);
		} finally {
			await hub.close();
		}
	});

	it.each([
		['an HTML page', '<html><body>Gateway</body></html>', 'text/html'],
		['{}', '{}', 'application/json'],
		['messages that are not a list', JSON.stringify({ messages: {} }), 'application/json'],
	])('refuses %s as the answer to a send or a replies poll (never "no replies")', async (_what, body, type) => {
		const hub = await garbled(body, type);
		try {
			const sent = await hub.client.sendMessages([{ content: 'Hi', destination_number: '+61491570156' }]).catch((e: unknown) => e);
			expect(sent).toBeInstanceOf(HubBadAnswerError);
			expect((sent as Error).message).toMatch(/POST \/v1\/messages was not what the API documents/);
			const replies = await hub.client.checkReplies().catch((e: unknown) => e);
			expect(replies).toBeInstanceOf(HubBadAnswerError);
			expect((replies as Error).message).toMatch(/GET \/v1\/replies was not what the API documents/);
		} finally {
			await hub.close();
		}
	});

	it('refuses a list or custom field page that lacks what the sync reads', async () => {
		const lists = await garbled(JSON.stringify({ content: [{ id: 'l1' }] }));
		try {
			await expect(lists.client.findListByName('MAILCHIMP')).rejects.toThrow(/GET \/api\/v1\/contacts\/lists was not what the API documents: the page: content\[0\] a list has no text "name"/);
			await expect(lists.client.findCustomField({ mergeTag: 'source' })).rejects.toThrow(/custom-fields was not .* a custom field has no text "label"/);
		} finally {
			await lists.close();
		}
	});

	it('refuses a created contact that comes back without channels', async () => {
		const hub = await garbled(JSON.stringify({ id: 'c1' }));
		try {
			await expect(hub.client.createContact({ channels: [{ channelId: '+61491570156', type: 'SMS' }] })).rejects.toThrow(/POST \/api\/v1\/contacts\/contacts .*no array "channels"/);
		} finally {
			await hub.close();
		}
	});

	it('never takes a number the is_authorised answer leaves out as allowed', async () => {
		const partial = await garbled(JSON.stringify({ uri: '/x', numbers: [{ number: '+61491570156', authorised: true }] }));
		try {
			await expect(partial.client.checkAuthorised(['+61491570156', '+61491570157'])).rejects.toThrow(/is_authorised.*says nothing about \+61491570157/);
		} finally {
			await partial.close();
		}
		const vague = await garbled(JSON.stringify({ numbers: [{ number: '+61491570156', authorised: 'yes' }] }));
		try {
			await expect(vague.client.checkAuthorised(['+61491570156'])).rejects.toThrow(/no true\/false "authorised"/);
		} finally {
			await vague.close();
		}
		const empty = await garbled('{}');
		try {
			await expect(empty.client.checkAuthorised(['+61491570156'])).rejects.toBeInstanceOf(HubBadAnswerError);
		} finally {
			await empty.close();
		}
	});

	it('still reads the emulator’s real answers', async () => {
		const { client } = await testHubClient(emu, A);
		await client.createContact({ channels: [{ channelId: phone(1), type: 'SMS' }] });
		expect((await client.findContactsByPhone([phone(1)])).get(phone(1))).toHaveLength(1);
		expect(await client.checkAuthorised([phone(1), phone(2)])).toEqual(new Map([[phone(1), true], [phone(2), true]]));
	});
});
