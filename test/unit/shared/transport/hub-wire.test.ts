/**
 * The Hub client over kept-alive connections (hub-wire.ts), as it runs inside n8n by default, against the
 * Hub emulator: the credential applied by the credential type, one connection for many requests, and the
 * same answers, retries, reconciliation and errors as through n8n's helper.
 */
import { inspect } from 'node:util';

import { HUB_TRANSPORT_ENV, keepAliveAllowed } from '../../../../nodes/shared/transport/hub-wire';
import { HubAuthError, HubBadAnswerError, HubConflictError, HubUnavailableError } from '../../../../nodes/shared/transport/hub';
import { startHubEmulator, type HubEmulator, type HubExchange } from '../../../emulators/hub';
import { retryEachFaultOnce, testHubClient } from '../../helpers/hubContext';

const A = { apiKey: 'wire-key-a', apiSecret: 'wire-secret-a-5b21', accountId: 'WireA' };
const B = { apiKey: 'wire-key-b', apiSecret: 'wire-secret-b-90c4', accountId: 'WireB' };
const FAST = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 10, maxTotalWaitMs: 10_000 };
const phone = (i: number) => `+6149${String(1_000_000 + i).padStart(7, '0')}`;

let emu: HubEmulator;
let exchanges: HubExchange[];
let connections: number;

beforeEach(async () => {
	exchanges = [];
	emu = await startHubEmulator({ accounts: [{ ...A, subAccounts: [{ accountId: 'WireA-Sub' }] }, B], onExchange: (e) => exchanges.push(e) });
	connections = 0;
	emu.server.on('connection', () => connections++);
});
afterEach(async () => {
	await emu.close();
});

const wireClient = (credential: Parameters<typeof testHubClient>[1] = A, options: Parameters<typeof testHubClient>[2] = {}) =>
	testHubClient(emu, credential, { ...options, keepAlive: true });

describe('when n8n’s helper must carry Hub requests', () => {
	it('is kept-alive by default, and not under a proxy, n8n’s SSRF protection or the operator’s switch', () => {
		expect(keepAliveAllowed({})).toBe(true);
		expect(keepAliveAllowed({ N8N_SSRF_PROTECTION_ENABLED: 'false', HTTP_PROXY: '' })).toBe(true);
		expect(keepAliveAllowed({ [HUB_TRANSPORT_ENV]: 'keep-alive' })).toBe(true);
		expect(keepAliveAllowed({ HTTPS_PROXY: 'http://proxy.internal:3128' })).toBe(false);
		expect(keepAliveAllowed({ all_proxy: 'socks5://proxy.internal:1080' })).toBe(false);
		expect(keepAliveAllowed({ N8N_SSRF_PROTECTION_ENABLED: 'TRUE' })).toBe(false);
		expect(keepAliveAllowed({ N8N_SSRF_PROTECTION_ENABLED: '1' })).toBe(false);
		expect(keepAliveAllowed({ [HUB_TRANSPORT_ENV]: 'n8n' })).toBe(false);
	});
});

describe('over kept-alive connections', () => {
	it('applies the credential (Basic auth, the Account header only for a sub-account) and never asks n8n’s helper', async () => {
		const main = await wireClient();
		await main.client.createList({ name: 'Main' });
		const sub = await wireClient({ ...A, subAccount: 'WireA-Sub' });
		await sub.client.createList({ name: 'Sub' });

		expect(exchanges.map((e) => e.request.headers.authorization)).toEqual([
			`Basic ${Buffer.from(`${A.apiKey}:${A.apiSecret}`).toString('base64')}`,
			`Basic ${Buffer.from(`${A.apiKey}:${A.apiSecret}`).toString('base64')}`,
		]);
		expect(exchanges.map((e) => e.request.headers.account)).toEqual([undefined, 'WireA-Sub']);
		expect([...emu.account('WireA').lists.values()].map((l) => l.name)).toEqual(['Main']);
		expect([...emu.account('WireA-Sub').lists.values()].map((l) => l.name)).toEqual(['Sub']);
		expect(main.ctx.requests).toEqual([]);
		expect(sub.ctx.requests).toEqual([]);
	});

	it('sends many requests, 8 at a time, over a few connections instead of one each, with the same answers', async () => {
		const { client } = await wireClient();
		const created = [];
		for (let round = 0; round < 5; round++) {
			created.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => client.createContact({ firstName: `M${round * 8 + i}`, channels: [{ channelId: phone(round * 8 + i), type: 'SMS' }] })))));
		}
		expect(new Set(created.map((c) => c.id)).size).toBe(40);
		const found = await client.findContactsByPhone(created.map((_, i) => phone(i)));
		expect(created.map((c, i) => found.get(phone(i))?.[0]?.id === c.id).every(Boolean)).toBe(true);
		expect(exchanges).toHaveLength(41);
		// n8n's helper opens one connection per request (41 here).
		expect(connections).toBeLessThanOrEqual(8);
	});

	it("never sends one account's credential with another's requests on the shared connections", async () => {
		const [a, b] = [await wireClient(A), await wireClient(B)];
		await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? b : a).client.createList({ name: `${i % 2 ? 'B' : 'A'} ${i}` })));
		const basic = (c: typeof A) => `Basic ${Buffer.from(`${c.apiKey}:${c.apiSecret}`).toString('base64')}`;
		for (const { request } of exchanges) expect(request.headers.authorization).toBe(basic((request.body as { name: string }).name.startsWith('A') ? A : B));
		expect([...emu.account('WireA').lists.values()].every((l) => l.name.startsWith('A'))).toBe(true);
		expect([...emu.account('WireB').lists.values()].every((l) => l.name.startsWith('B'))).toBe(true);
		expect(emu.account('WireA').lists.size + emu.account('WireB').lists.size).toBe(24);
	});

	it('takes refusals as through n8n: a wrong key is a HubAuthError at once, a duplicate a HubConflictError', async () => {
		const wrong = await wireClient({ ...A, apiSecret: 'wrong' });
		const refused = await wrong.client.checkReplies().catch((e) => e);
		expect(refused).toBeInstanceOf(HubAuthError);
		expect(wrong.waits).toEqual([]);

		const { client } = await wireClient();
		await client.createContact({ channels: [{ channelId: phone(1), type: 'SMS' }] });
		expect(await client.createContact({ channels: [{ channelId: phone(1), type: 'SMS' }] }).catch((e) => e)).toBeInstanceOf(HubConflictError);
	});

	it('retries 5xx, dropped connections and timeouts, and gives up with HubUnavailableError', async () => {
		expect(await retryEachFaultOnce(emu, A, { keepAlive: true })).toHaveLength(3);
		expect(emu.counters.get('fault drop')).toBe(1);

		Object.assign(emu.faults, { dropRate: 1 });
		const failing = await wireClient(A, { retryPolicy: FAST });
		const error = await failing.client.checkReplies().catch((e) => e);
		expect(error).toBeInstanceOf(HubUnavailableError);
		expect(error.description).toMatch(/failed 3 time\(s\); last: connection failure \(ECONNRESET\)/);
	});

	it('looks before resending a create whose answer was lost, so the contact is made once', async () => {
		const { client } = await wireClient(A, { retryPolicy: FAST });
		Object.assign(emu.faults, { rateAppliedThenDrop: 1, routeFilter: '^POST /api/v1/contacts/contacts$' });
		const contact = await client.createContact({ firstName: 'Once', channels: [{ channelId: phone(7), type: 'SMS' }] });
		Object.assign(emu.faults, { rateAppliedThenDrop: 0, rateAppliedThen500: 1 });
		const second = await client.createContact({ firstName: 'Twice', channels: [{ channelId: phone(8), type: 'SMS' }] });
		expect(contact.firstName).toBe('Once');
		expect(second.firstName).toBe('Twice');
		expect(emu.counters.get('POST /api/v1/contacts/contacts')).toBe(2);
		expect([...emu.account('WireA').contacts.values()].map((c) => c.firstName).sort()).toEqual(['Once', 'Twice']);
	});

	it('does not trust a 200 with an HTML page', async () => {
		const { client } = await wireClient(A, { retryPolicy: FAST });
		Object.assign(emu.faults, { rateHtml200: 1 });
		const error = await client.contacts().next().catch((e) => e);
		expect(error).toBeInstanceOf(HubBadAnswerError);
		expect(error.message).toMatch(/was not what the API documents/);
	});

	it('never puts the key or the secret into an error or a log line', async () => {
		const secrets = [A.apiKey, A.apiSecret, Buffer.from(`${A.apiKey}:${A.apiSecret}`).toString('base64')];
		const { client, ctx } = await wireClient(A, { retryPolicy: FAST });
		const failures: unknown[] = [];
		const capture = (p: Promise<unknown>) => p.then(() => failures.push(new Error('expected a failure')), (e) => failures.push(e));
		await capture(client.createContact({ channels: [{ channelId: 'nope', type: 'SMS' }] }));
		await capture(client.getContact('3fa85f64-5717-4562-b3fc-2c963f66afa6'));
		Object.assign(emu.faults, { dropRate: 1 });
		await capture(client.checkReplies());
		Object.assign(emu.faults, { dropRate: 0, latencyMs: 500 });
		const slow = await wireClient(A, { retryPolicy: FAST, timeoutMs: 50 });
		await capture(slow.client.checkReplies());

		expect(failures).toHaveLength(4);
		for (const failure of failures) {
			const rendered = [inspect(failure, { depth: 8, showHidden: true }), JSON.stringify(failure), (failure as Error).message, (failure as { description?: string }).description ?? ''].join('\n');
			for (const secret of secrets) expect(rendered).not.toContain(secret);
		}
		const logged = JSON.stringify([...ctx.logLines, ...slow.ctx.logLines]);
		for (const secret of secrets) expect(logged).not.toContain(secret);
	});
});
