/**
 * The reply trigger against the Hub emulator: its webhook lifecycle (register with a fresh secret,
 * take over an existing registration, remove), and the calls it accepts, delivered by the emulator
 * to a loopback server that hands each request to the trigger as n8n does. The signing is the
 * emulator's, modelled on the spec, not the trigger's.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { IDataObject, IHookFunctions, IWebhookFunctions } from 'n8n-workflow';

import { HubReplyTrigger, REPLY_SECRET_HEADER } from '../../../nodes/HubReplyTrigger/HubReplyTrigger.node';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../../emulators/hub';
import { hubContext } from '../helpers/hubContext';

const ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const PHONE = '+61491570156';

describe('Hub Reply Trigger', () => {
	let hub: HubEmulator;
	let server: Server;
	let url: string;
	let staticData: IDataObject;
	let parameters: Record<string, unknown>;
	let received: Array<{ status: number; started: boolean }>;
	let lastHeaders: Record<string, string> = {};
	const trigger = new HubReplyTrigger();

	function hookContext(webhookUrl = url): IHookFunctions {
		const ctx = hubContext(hub, { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret });
		return Object.assign(ctx, {
			getNodeWebhookUrl: () => webhookUrl,
			getWorkflowStaticData: () => staticData,
		}) as unknown as IHookFunctions;
	}

	/** What n8n hands the trigger for one HTTP request. */
	function webhookContext(req: IncomingMessage & { rawBody: Buffer; originalUrl: string }, answer: { status: number }): IWebhookFunctions {
		const res = {
			status(code: number) {
				answer.status = code;
				return res;
			},
			json() {
				return res;
			},
		};
		return {
			getWorkflowStaticData: () => staticData,
			getHeaderData: () => req.headers,
			getRequestObject: () => req,
			getResponseObject: () => res,
			getBodyData: () => JSON.parse(req.rawBody.toString('utf8')),
			getNodeParameter: (name: string, fallback?: unknown) => parameters[name] ?? fallback,
			getNode: () => ({ name: 'Hub Reply', type: 'hubReplyTrigger', typeVersion: 1, position: [0, 0], parameters: {}, id: 'n' }),
		} as unknown as IWebhookFunctions;
	}

	beforeAll(async () => {
		server = createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on('data', (c: Buffer) => chunks.push(c));
			req.on('end', () => {
				const request = Object.assign(req, { rawBody: Buffer.concat(chunks), originalUrl: req.url! });
				lastHeaders = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-') || k === 'date' || k === 'content-type')) as Record<string, string>;
				const answer = { status: 200 };
				trigger.webhook.call(webhookContext(request, answer)).then(
					(result) => {
						received.push({ status: answer.status, started: Boolean(result.workflowData) });
						res.writeHead(answer.status).end();
					},
					() => res.writeHead(500).end(),
				);
			});
		});
		await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
		url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook/wf1/hub%20reply/hub-replies`;
	});
	afterAll(async () => {
		await new Promise((r) => server.close(r));
	});
	beforeEach(async () => {
		hub = await startHubEmulator({ accounts: [{ ...DEFAULT_HUB_ACCOUNT, secureCallbacks: true }] });
		staticData = {};
		parameters = { signature: 'off' };
		received = [];
	});
	afterEach(async () => {
		await hub.close();
	});

	const hooks = () => [...hub.account(ACCOUNT).webhooks.values()];

	it('registers RECEIVED_SMS and OPT_OUT_SMS with a fresh secret header, finds it again, and removes it', async () => {
		const ctx = hookContext();
		expect(await trigger.webhookMethods.default.checkExists.call(ctx)).toBe(false);
		expect(await trigger.webhookMethods.default.create.call(ctx)).toBe(true);
		expect(hooks()).toHaveLength(1);
		expect(hooks()[0]).toMatchObject({ url, method: 'POST', encoding: 'JSON', events: ['RECEIVED_SMS', 'OPT_OUT_SMS'] });
		const secret = hooks()[0].headers[REPLY_SECRET_HEADER];
		expect(secret).toBe(staticData.secret);
		expect(secret.length).toBeGreaterThanOrEqual(40);
		expect(await trigger.webhookMethods.default.checkExists.call(ctx)).toBe(true);

		// Static data lost (or a registration left behind): the next activation takes it over with a new secret.
		staticData = {};
		expect(await trigger.webhookMethods.default.create.call(hookContext())).toBe(true);
		expect(hooks()).toHaveLength(1);
		expect(hooks()[0].headers[REPLY_SECRET_HEADER]).not.toBe(secret);
		expect(hooks()[0].headers[REPLY_SECRET_HEADER]).toBe(staticData.secret);

		expect(await trigger.webhookMethods.default.delete.call(hookContext())).toBe(true);
		expect(hooks()).toEqual([]);
		expect(staticData).toEqual({});
		// Already gone from the Hub: still deregistered.
		staticData = { webhookId: '6f1c1f52-9d0e-4a55-8d4b-4b8a3c1d2e3f' };
		expect(await trigger.webhookMethods.default.delete.call(hookContext())).toBe(true);
	});

	it('a webhook at another URL (the instance moved) is not taken for ours', async () => {
		await trigger.webhookMethods.default.create.call(hookContext());
		expect(await trigger.webhookMethods.default.checkExists.call(hookContext(url.replace('hub-replies', 'elsewhere')))).toBe(false);
	});

	it('starts the workflow for a call carrying the secret, and refuses one without it or with another (401)', async () => {
		await trigger.webhookMethods.default.create.call(hookContext());
		hub.account(ACCOUNT).sendMessages({ messages: [{ content: 'Reply Y', destination_number: PHONE, metadata: { purpose: 'x' } }] });
		await hub.inbound(ACCOUNT, { from: PHONE, content: 'YES' });
		expect(received).toEqual([{ status: 200, started: true }]);

		received = [];
		const secret = staticData.secret as string;
		for (const forged of [{}, { [REPLY_SECRET_HEADER]: 'guess' }, { [REPLY_SECRET_HEADER]: secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A') }]) {
			await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...forged }, body: JSON.stringify({ reply_id: 'r', source_number: PHONE, content: 'YES' }) });
		}
		expect(received).toEqual([
			{ status: 401, started: false },
			{ status: 401, started: false },
			{ status: 401, started: false },
		]);
	});

	it('with Hub Signature required: a call signed with the enabled key passes; unsigned, signed by another key or altered is refused (403)', async () => {
		const auth = `Basic ${Buffer.from(`${DEFAULT_HUB_ACCOUNT.apiKey}:${DEFAULT_HUB_ACCOUNT.apiSecret}`).toString('base64')}`;
		const call = async (method: string, path: string, body?: unknown) => {
			const answer = await fetch(`${hub.url}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
			return { status: answer.status, body: answer.status === 204 ? undefined : ((await answer.json()) as { key_id: string; public_key: string }) };
		};
		const first = await call('POST', '/v1/iam/signature_keys', { digest: 'SHA512', cipher: 'RSA' });
		const second = await call('POST', '/v1/iam/signature_keys', { digest: 'SHA256', cipher: 'RSA' });
		expect([first.status, second.status]).toEqual([201, 201]);
		await trigger.webhookMethods.default.create.call(hookContext());
		parameters = { signature: 'required', publicKey: first.body!.public_key };

		// No key enabled yet: the Hub does not sign, and the call is refused (the Hub retries, 3 times here).
		const statuses = async () => (await hub.inbound(ACCOUNT, { from: PHONE, content: 'YES' })).deliveries.map((d) => d.status);
		expect(await statuses()).toEqual([403, 403, 403, 403]);
		expect((await call('PATCH', '/v1/iam/signature_keys/enabled', { key_id: first.body!.key_id })).status).toBe(200);
		expect(await statuses()).toEqual([200]);
		// Signed by the other key.
		await call('PATCH', '/v1/iam/signature_keys/enabled', { key_id: second.body!.key_id });
		expect(await statuses()).toEqual([403, 403, 403, 403]);
		expect(received.filter((r) => r.started)).toHaveLength(1);

		// A signed call replayed with another body.
		received = [];
		await call('PATCH', '/v1/iam/signature_keys/enabled', { key_id: first.body!.key_id });
		const deliveries = (await hub.inbound(ACCOUNT, { from: PHONE, content: 'no' })).deliveries;
		expect(received).toEqual([{ status: 200, started: true }]);
		expect(lastHeaders['x-messagemedia-signature']).toBeDefined();
		const replayed = await fetch(url, { method: 'POST', headers: lastHeaders, body: deliveries[0].body.replace('"no"', '"YES"') });
		expect(replayed.status).toBe(403);
		const same = await fetch(url, { method: 'POST', headers: lastHeaders, body: deliveries[0].body });
		expect(same.status).toBe(200);
	});
});
