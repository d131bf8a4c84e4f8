/**
 * The Hub emulator's signature keys (account feature API_SECURE_CALLBACKS) against the official spec:
 * every request and answer of a short tour validated, the feature-off account answered 403.
 */
import { startHubEmulator, type HubEmulator, type HubExchange } from '../emulators/hub';
import { OpenApiValidator } from './openapi';

const ON = { apiKey: 'signing-key', apiSecret: 'signing-secret', accountId: 'SigningAccount', secureCallbacks: true };
const OFF = { apiKey: 'plain-key', apiSecret: 'plain-secret', accountId: 'PlainAccount' };

let validator: OpenApiValidator;
let emu: HubEmulator;
const exchanges: HubExchange[] = [];

beforeAll(async () => {
	validator = await OpenApiValidator.load();
	emu = await startHubEmulator({ accounts: [ON, OFF], onExchange: (e) => exchanges.push(e) });
});
afterAll(async () => {
	await emu?.close();
});

async function call(who: { apiKey: string; apiSecret: string }, method: string, path: string, body?: unknown) {
	const answer = await fetch(`${emu.url}${path}`, {
		method,
		headers: { authorization: `Basic ${Buffer.from(`${who.apiKey}:${who.apiSecret}`).toString('base64')}`, 'content-type': 'application/json', accept: 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await answer.text();
	return { status: answer.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

it('creates, enables, reads and disables signature keys as the spec answers, and refuses them without the feature', async () => {
	expect((await call(OFF, 'POST', '/v1/iam/signature_keys', { digest: 'SHA256', cipher: 'RSA' })).status).toBe(403);
	expect((await call(ON, 'POST', '/v1/iam/signature_keys', { digest: 'MD5', cipher: 'RSA' })).status).toBe(400);
	expect((await call(ON, 'GET', '/v1/iam/signature_keys/enabled')).status).toBe(404);
	const created = await call(ON, 'POST', '/v1/iam/signature_keys', { digest: 'SHA512', cipher: 'RSA' });
	expect(created).toMatchObject({ status: 201, body: { cipher: 'RSA', digest: 'SHA512', enabled: false } });
	expect(String(created.body!.public_key)).toMatch(/^[A-Za-z0-9+/]+=*$/);
	expect((await call(ON, 'PATCH', '/v1/iam/signature_keys/enabled', { key_id: created.body!.key_id })).status).toBe(200);
	const enabled = await call(ON, 'GET', '/v1/iam/signature_keys/enabled');
	expect(enabled).toMatchObject({ status: 200, body: { key_id: created.body!.key_id, enabled: true } });
	expect(enabled.body!.public_key).toBeUndefined();
	expect((await call(ON, 'DELETE', '/v1/iam/signature_keys/enabled')).status).toBe(204);
	expect((await call(ON, 'GET', '/v1/iam/signature_keys/enabled')).status).toBe(404);

	// Every call is one the spec declares (an unmatched path would validate as nothing).
	expect(exchanges.filter((e) => !validator.match(e.request.method, e.request.path)).map((e) => e.request.path)).toEqual([]);
	const problems = exchanges.flatMap((e) => [
		...(e.response.status < 400
			? validator.validateRequest({ method: e.request.method, path: e.request.path, query: e.request.query, headers: e.request.headers, body: e.request.body })
			: []),
		...validator.validateResponse({ method: e.request.method, path: e.request.path, status: e.response.status, contentType: e.response.contentType, body: e.response.body }),
	]);
	expect(problems).toEqual([]);
});
