/**
 * Sinch MessageMedia Hub (Sinch Engage) emulator: a stateful loopback server that answers like the
 * official spec in ../shared/reference/sinch-engage/spec (paths, field names, status codes, error
 * bodies), for several accounts at once. The rules of the API live in hub-state.ts; this file maps
 * HTTP to them, authenticates, pushes webhooks and serves the control API.
 *
 * Served API (Basic auth = apiKey:apiSecret of a seeded account; optional `Account: <id>` header
 * selects one of that key's sub-accounts):
 *   /api/v1/contacts/contacts[/{contactId}]                     GET (token paged) POST / GET PATCH DELETE
 *   /api/v1/contacts/lists[/{listId}]                           GET (token paged) POST / GET PATCH DELETE
 *   /api/v1/contacts/lists/{listId}/contacts                    PATCH (bulk membership, ≤1000 ids each side)
 *   /api/v1/contacts/lists/{listId}/contacts/{contactId}        POST DELETE
 *   /api/v1/contacts/custom-fields[/{customFieldId}]            GET (token paged) POST / GET PATCH DELETE
 *   /v1/messages  POST (≤100, all or nothing)    /v1/messages/{messageId}  GET PUT (cancel)
 *   /v1/replies   GET (oldest ≤100 unconfirmed)  /v1/replies/confirmed     POST
 *   /v1/webhooks/messages  GET POST              /v1/webhooks/messages/{webhookId}  PATCH DELETE
 *   /v1/number_authorisation/mt/blacklist  GET POST   …/mt/blacklist/{number}  DELETE
 *   /v1/number_authorisation/is_authorised/{numbers}  GET
 *
 * Control API (besides common.ts's counters and faults):
 *   GET  /_control/accounts                          → [{accountId, vendorId}]
 *   POST /_control/accounts                          ← HubAccountSeed (adds a key and its accounts)
 *   POST /_control/reset                             back to the seeds given at start
 *   GET  /_control/accounts/{accountId}/state        → the whole account (see HubAccount.dump)
 *   POST /_control/accounts/{accountId}/seed         ← HubAccountData
 *   POST /_control/accounts/{accountId}/inbound      ← {from, content, to?, messageId?}: a handset
 *        replies; stores the reply, pushes RECEIVED_SMS (and OPT_OUT_SMS for STOP-like words) to the
 *        registered webhooks and answers {reply, optedOut, deliveries} once they are delivered
 *   GET  /_control/accounts/{accountId}/credits      → {used, messages}
 *   POST /_control/accounts/{accountId}/credits/reset
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';

import {
	HttpError,
	Router,
	startEmulator,
	type EmulatorRequest,
	type EmulatorResponse,
	type RunningEmulator,
} from './common';
import {
	CHANNEL_TYPES,
	DEFAULT_PAGE_SIZE,
	E164,
	HubAccount,
	MAX_PAGE_SIZE,
	WEBHOOK_EVENTS,
	apiError,
	invalidInput,
	isUuid,
	messagingBadRequest,
	tokenPage,
	type HubAccountData,
	type InvalidField,
	type StoredReply,
	type StoredWebhook,
	type TokenPageRequest,
	type WebhookDelivery,
} from './hub-state';

export { HubAccount } from './hub-state';
export type { HubAccountData, HubContactSeed, HubCustomFieldSeed, HubListSeed } from './hub-state';

export interface HubAccountSeed extends HubAccountData {
	apiKey: string;
	apiSecret: string;
	/** Default: derived from the key. */
	accountId?: string;
	vendorId?: string;
	/** Accounts reachable with the same key through the `Account` header. */
	subAccounts?: Array<{ accountId: string } & HubAccountData>;
}

/** One request and its answer, as they crossed the wire (for the contract test). */
export interface HubExchange {
	accountId?: string;
	request: {
		method: string;
		path: string;
		/** Raw query string, without '?'. */
		query: string;
		headers: Record<string, string | string[] | undefined>;
		body: unknown;
		route?: string;
	};
	response: { status: number; body?: unknown; contentType?: string };
}

export interface HubEmulatorOptions {
	port?: number;
	host?: string;
	accounts?: HubAccountSeed[];
	/** Told about every API exchange (not /_control, not injected faults). */
	onExchange?: (exchange: HubExchange) => void;
	/** Webhook `retry_delay` (5–60 s) is multiplied by this, so tests need not wait a minute. */
	webhookRetryDelayScale?: number;
	/** When set, injected 429s carry this Retry-After (seconds); the Hub documents none. */
	retryAfterSeconds?: number;
}

export interface HubPrincipal {
	apiKey: string;
	apiSecret: string;
	/** The first one is used when no `Account` header is sent. */
	accountIds: string[];
}

export interface HubEmulatorState {
	accounts: Map<string, HubAccount>;
	principals: Map<string, HubPrincipal>;
}

export interface InboundReply {
	from: string;
	content: string;
	/** Our number the handset wrote to, for a reply that matches no sent message. */
	to?: string;
	/** Match the reply to this message instead of the last one sent to `from`. */
	messageId?: string;
}

export interface HubEmulator extends RunningEmulator {
	state: HubEmulatorState;
	/** Throws when there is no such account. */
	account(accountId: string): HubAccount;
	addAccount(seed: HubAccountSeed): HubAccount;
	seed(accountId: string, data: HubAccountData): void;
	/** A handset replies; resolves once the webhooks have been delivered (retries included). */
	inbound(accountId: string, reply: InboundReply): Promise<{ reply: Omit<StoredReply, 'confirmed'>; optedOut: boolean; deliveries: WebhookDelivery[] }>;
	/** Waits for webhook deliveries still under way. */
	flushWebhooks(): Promise<void>;
	reset(): void;
}

/** A ready-made account for demos and quick tests. */
export const DEFAULT_HUB_ACCOUNT: HubAccountSeed = {
	apiKey: 'hub-demo-key',
	apiSecret: 'hub-demo-secret',
	accountId: 'DemoAccount',
	vendorId: 'SinchAU',
};

type AuthStyle = 'bare' | 'body';
interface RouteContext {
	req: EmulatorRequest;
	account: HubAccount;
}

const json = (status: number, body?: unknown): EmulatorResponse => ({ status, body });
const RESOURCE_NOT_FOUND = { message: 'Resource not found.' };

// ---------------------------------------------------------------------------------------------
// Query parameters of the token-paged endpoints (the `request` object, form-exploded)

/** Array query parameter: repeated (`a=1&a=2`) or comma separated, as Spring binds both. */
function arrayParam(q: URLSearchParams, name: string): string[] | undefined {
	const values = q.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
	return values.length > 0 ? values : undefined;
}

function uuidArrayParam(q: URLSearchParams, name: string, problems: InvalidField[]): string[] | undefined {
	const values = arrayParam(q, name);
	const bad = values?.filter((v) => !isUuid(v)) ?? [];
	if (bad.length > 0) problems.push({ name, code: 'type_mismatch', reason: `${name} must be UUIDs`, invalidIds: bad });
	return values;
}

function enumParam<T extends string>(q: URLSearchParams, name: string, allowed: readonly T[], problems: InvalidField[]): T | undefined {
	const value = q.get(name);
	if (value === null || value === '') return undefined;
	if (!allowed.includes(value as T)) {
		problems.push({ name, code: 'invalid_format', reason: `${name} must be one of ${allowed.join(', ')}` });
		return undefined;
	}
	return value as T;
}

function pageRequest(q: URLSearchParams, problems: InvalidField[]): TokenPageRequest {
	const raw = q.get('pageSize');
	let pageSize = DEFAULT_PAGE_SIZE;
	if (raw !== null && raw !== '') {
		const parsed = Number(raw);
		if (!/^-?\d+$/.test(raw)) problems.push({ name: 'pageSize', code: 'type_mismatch', reason: 'pageSize must be an integer' });
		else if (parsed < 1 || parsed > MAX_PAGE_SIZE) {
			problems.push({ name: 'pageSize', code: 'constraint_violation', reason: `pageSize must be between 1 and ${MAX_PAGE_SIZE}` });
		} else pageSize = parsed;
	}
	return {
		pageSize,
		nextPageToken: q.get('nextPageToken') || undefined,
		prevPageToken: q.get('prevPageToken') || undefined,
	};
}

const contains = (haystack: string, needle: string | null) =>
	needle === null || needle === '' || haystack.toLowerCase().includes(needle.toLowerCase());

// ---------------------------------------------------------------------------------------------
// Webhook payloads

type TemplateVars = Record<string, string | undefined>;

/**
 * Renders the variable references of a webhook's Velocity template (`$name`, `$!name`, `${name}`,
 * `$esc.json($name)`, `$metadata.get('key')`). Directives (#if, #foreach) are not rendered.
 * Unknown references stay literal, as in Velocity (which is why `$replyId` in an OPT_OUT_SMS
 * template renders as the text "$replyId").
 */
export function renderTemplate(template: string, vars: TemplateVars, metadata: Record<string, string>): string {
	const value = (name: string, quiet: boolean, literal: string) =>
		vars[name] !== undefined ? vars[name]! : quiet ? '' : literal;
	return template
		.replace(/\$esc\.json\(\$(!?)\{?([A-Za-z]\w*)\}?\)/g, (literal, quiet: string, name: string) =>
			JSON.stringify(value(name, quiet === '!', literal)).slice(1, -1),
		)
		.replace(/\$metadata\.get\((['"])(.*?)\1\)/g, (_m, _q, key: string) => metadata[key] ?? '')
		.replace(/\$(!?)\{?([A-Za-z]\w*)\}?/g, (literal, quiet: string, name: string) => value(name, quiet === '!', literal));
}

function encodePayload(encoding: string, payload: Record<string, unknown>): { text: string; contentType: string } {
	if (encoding === 'FORM_ENCODED') {
		const form = new URLSearchParams();
		for (const [key, v] of Object.entries(payload)) {
			if (v && typeof v === 'object') for (const [k, inner] of Object.entries(v)) form.append(`${key}[${k}]`, String(inner));
			else if (v !== undefined) form.append(key, String(v));
		}
		return { text: form.toString(), contentType: 'application/x-www-form-urlencoded' };
	}
	if (encoding === 'XML') {
		const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
		const element = (key: string, v: unknown): string =>
			v && typeof v === 'object'
				? `<${key}>${Object.entries(v).map(([k, inner]) => element(k, inner)).join('')}</${key}>`
				: `<${key}>${esc(String(v))}</${key}>`;
		return { text: element('payload', payload), contentType: 'application/xml' };
	}
	return { text: JSON.stringify(payload), contentType: 'application/json' };
}

const CONTENT_TYPES: Record<string, string> = {
	JSON: 'application/json',
	FORM_ENCODED: 'application/x-www-form-urlencoded',
	XML: 'application/xml',
};

// ---------------------------------------------------------------------------------------------
// Webhook registry checks (answers `{message}` as UpdateWebhook400response)

function webhookProblem(body: Record<string, unknown>, creating: boolean): string | undefined {
	const { url, method, encoding, events, headers, template } = body;
	if (creating) {
		for (const name of ['url', 'method', 'encoding', 'events']) {
			if (body[name] === undefined || body[name] === null) return `${name} must not be null`;
		}
	} else if (['url', 'method', 'encoding', 'events', 'headers', 'template'].every((k) => body[k] === undefined || body[k] === null)) {
		return 'At least one field must be provided';
	}
	if (!creating && ['read_timeout', 'retries', 'retry_delay'].some((k) => body[k] !== undefined)) {
		return 'read_timeout, retries and retry_delay cannot be updated';
	}
	if (url !== undefined) {
		if (typeof url !== 'string' || url.length > 1000 || !/^https?:\/\/[^\s]+$/.test(url)) return 'url must be a valid HTTP(S) URL';
	}
	if (method !== undefined && !['GET', 'POST', 'PATCH', 'PUT', 'DELETE'].includes(method as string)) return 'method is not valid';
	if (encoding !== undefined && !['JSON', 'FORM_ENCODED', 'XML'].includes(encoding as string)) return 'encoding is not valid';
	if (events !== undefined) {
		if (!Array.isArray(events) || events.length === 0) return 'events must not be empty';
		const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e as string));
		if (unknown.length > 0) return `Unknown events: ${unknown.join(', ')}`;
	}
	if (headers !== undefined && headers !== null) {
		if (typeof headers !== 'object' || Array.isArray(headers)) return 'headers must be an object';
		for (const [key, value] of Object.entries(headers)) {
			if (key.toLowerCase() === 'content-type') return 'headers must not contain Content-Type';
			if (key.length > 200 || typeof value !== 'string' || value.length > 1000) return `header ${key} is not valid`;
		}
	}
	if (template !== undefined && template !== null && typeof template !== 'string') return 'template must be a string';
	const ranges: Array<[string, number, number]> = [
		['read_timeout', 1, 60000],
		['retries', 0, 5],
		['retry_delay', 5, 60],
	];
	for (const [name, min, max] of ranges) {
		const v = body[name];
		if (v !== undefined && (!Number.isInteger(v) || (v as number) < min || (v as number) > max)) {
			return `${name} must be an integer between ${min} and ${max}`;
		}
	}
	return undefined;
}

function webhookView(hook: StoredWebhook) {
	return {
		id: hook.id,
		url: hook.url,
		method: hook.method,
		encoding: hook.encoding,
		headers: hook.headers,
		events: hook.events,
		...(hook.template !== undefined ? { template: hook.template } : {}),
		...(hook.read_timeout !== undefined ? { read_timeout: hook.read_timeout } : {}),
		retries: hook.retries,
		...(hook.retries > 0 && hook.retry_delay !== undefined ? { retry_delay: hook.retry_delay } : {}),
	};
}

// ---------------------------------------------------------------------------------------------

const NUMBER = /^\+?[1-9]\d{7,14}$/;
const withPlus = (n: string) => (n.startsWith('+') ? n : `+${n}`);
const BLACKLIST_PAGE = 100;

export async function startHubEmulator(options: HubEmulatorOptions = {}): Promise<HubEmulator> {
	const seeds = options.accounts ?? [DEFAULT_HUB_ACCOUNT];
	const state: HubEmulatorState = { accounts: new Map(), principals: new Map() };
	const pending = new Set<Promise<unknown>>();
	const retryScale = options.webhookRetryDelayScale ?? 0.001;

	function addAccount(seed: HubAccountSeed): HubAccount {
		if (state.principals.has(seed.apiKey)) throw new HttpError(409, { message: `API key ${seed.apiKey} already exists` });
		const accountId = seed.accountId ?? `Account_${seed.apiKey}`;
		const vendorId = seed.vendorId ?? 'SinchAU';
		const ids = [accountId, ...(seed.subAccounts ?? []).map((s) => s.accountId)];
		for (const id of ids) if (state.accounts.has(id)) throw new HttpError(409, { message: `Account ${id} already exists` });
		const main = new HubAccount(accountId, vendorId);
		state.accounts.set(accountId, main);
		main.seed(seed);
		for (const sub of seed.subAccounts ?? []) {
			const account = new HubAccount(sub.accountId, vendorId);
			state.accounts.set(sub.accountId, account);
			account.seed(sub);
		}
		state.principals.set(seed.apiKey, { apiKey: seed.apiKey, apiSecret: seed.apiSecret, accountIds: ids });
		return main;
	}

	function reset() {
		state.accounts.clear();
		state.principals.clear();
		for (const seed of seeds) addAccount(seed);
	}
	reset();

	function account(accountId: string): HubAccount {
		const found = state.accounts.get(accountId);
		if (!found) throw new HttpError(404, { message: `No account ${accountId}` });
		return found;
	}

	/** Basic auth; 401 (bare or with the messaging body, per route as in the spec), 403 for a foreign sub-account. */
	function authenticate(req: EmulatorRequest, style: AuthStyle): HubAccount | EmulatorResponse {
		const unauthorized: EmulatorResponse =
			style === 'body'
				? json(401, { message: 'Invalid authentication credentials' })
				: { status: 401, headers: { 'www-authenticate': 'Basic realm="Sinch Engage"' } };
		const header = req.headers.authorization ?? '';
		if (!header.startsWith('Basic ')) return unauthorized;
		const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
		const colon = decoded.indexOf(':');
		const principal = colon > 0 ? state.principals.get(decoded.slice(0, colon)) : undefined;
		if (!principal || principal.apiSecret !== decoded.slice(colon + 1)) return unauthorized;
		const requested = req.headers.account;
		const accountId = typeof requested === 'string' && requested !== '' ? requested : principal.accountIds[0];
		if (!principal.accountIds.includes(accountId)) return { status: 403 };
		return account(accountId);
	}

	function report(req: EmulatorRequest, response: EmulatorResponse, accountId?: string) {
		options.onExchange?.({
			accountId,
			request: {
				method: req.method,
				path: req.path,
				query: req.query.toString(),
				headers: { ...req.headers },
				body: req.body,
				route: req.route,
			},
			response: { status: response.status, body: response.body, contentType: response.body === undefined ? undefined : (response.contentType ?? 'application/json') },
		});
	}

	const api = new Router();
	function route(method: string, template: string, style: AuthStyle, handler: (ctx: RouteContext) => EmulatorResponse | Promise<EmulatorResponse>) {
		api.add(method, template, async (req) => {
			let response: EmulatorResponse;
			let accountId: string | undefined;
			const auth = authenticate(req, style);
			if (auth instanceof HubAccount) {
				accountId = auth.accountId;
				try {
					response = await handler({ req, account: auth });
				} catch (error) {
					if (!(error instanceof HttpError)) throw error;
					response = { status: error.status, body: error.body, headers: error.headers };
				}
			} else response = auth;
			report(req, response, accountId);
			return response;
		});
	}

	// --- webhooks out ---------------------------------------------------------------------

	/**
	 * With API_SECURE_CALLBACKS and an enabled key, a call is signed (spec, webhook payloads): the signed
	 * value is the request line, then the Date header sent, then the body, concatenated without
	 * separators (as the official verifiers do; unverified against a live account).
	 */
	function signatureHeaders(acct: HubAccount, method: string, url: string, body: string): Record<string, string> {
		const key = acct.secureCallbacks ? [...acct.signatureKeys.values()].find((k) => k.enabled) : undefined;
		if (!key) return {};
		const target = new URL(url);
		const date = new Date().toUTCString();
		const digest = key.digest.replace('SHA', 'SHA-');
		const value = `${method} ${target.pathname}${target.search} HTTP/1.1${date}${body}`;
		return {
			date,
			'x-messagemedia-signature': sign(digest.replace('-', '').toLowerCase(), Buffer.from(value), key.privateKey).toString('base64'),
			'x-messagemedia-digest-type': digest,
			'x-messagemedia-cipher-type': key.cipher,
			'x-messagemedia-key-id': key.key_id,
		};
	}

	async function deliver(acct: HubAccount, hook: StoredWebhook, event: string, payload: Record<string, unknown>, vars: TemplateVars) {
		const metadata = (payload.metadata as Record<string, string> | undefined) ?? {};
		const deliveries: WebhookDelivery[] = [];
		for (let attempt = 1; attempt <= hook.retries + 1; attempt++) {
			const rendered =
				hook.template !== undefined
					? { text: renderTemplate(hook.template, { ...vars, retryCount: String(attempt - 1) }, metadata), contentType: CONTENT_TYPES[hook.encoding] }
					: encodePayload(hook.encoding, payload);
			const delivery: WebhookDelivery = { webhookId: hook.id, event, url: hook.url, method: hook.method, attempt, body: rendered.text, at: new Date().toISOString() };
			try {
				const sendsBody = hook.method !== 'GET';
				const signed = signatureHeaders(acct, hook.method, hook.url, sendsBody ? rendered.text : '');
				const answer = await fetch(hook.url, {
					method: hook.method,
					headers: { ...hook.headers, ...signed, ...(sendsBody ? { 'content-type': rendered.contentType } : {}) },
					body: sendsBody ? rendered.text : undefined,
					signal: AbortSignal.timeout(hook.read_timeout ?? 20_000),
				});
				delivery.status = answer.status;
				await answer.arrayBuffer();
			} catch (error) {
				delivery.error = (error as Error).message;
			}
			acct.webhookDeliveries.push(delivery);
			deliveries.push(delivery);
			if (delivery.status !== undefined && delivery.status >= 200 && delivery.status < 300) break;
			if (attempt <= hook.retries) await new Promise((r) => setTimeout(r, (hook.retry_delay ?? 5) * 1000 * retryScale));
		}
		return deliveries;
	}

	/** Replies to a message sent with a callback_url are pushed there too (body shape unverified: the Reply). */
	async function pushToCallback(acct: HubAccount, reply: StoredReply): Promise<WebhookDelivery[]> {
		if (!reply.callback_url) return [];
		const body = JSON.stringify(acct.replyData(reply));
		const delivery: WebhookDelivery = { webhookId: 'callback_url', event: 'RECEIVED_SMS', url: reply.callback_url, method: 'POST', attempt: 1, body, at: new Date().toISOString() };
		try {
			const answer = await fetch(reply.callback_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(20_000) });
			delivery.status = answer.status;
			await answer.arrayBuffer();
		} catch (error) {
			delivery.error = (error as Error).message;
		}
		acct.webhookDeliveries.push(delivery);
		return [delivery];
	}

	async function inbound(accountId: string, input: InboundReply) {
		const acct = account(accountId);
		const { reply, optedOut, original } = acct.receiveReply(input);
		const common = {
			account_id: acct.accountId,
			...(reply.destination_number ? { destination_number: reply.destination_number } : {}),
			source_number: reply.source_number,
			date_received: reply.date_received,
			...(reply.message_id ? { message_id: reply.message_id } : {}),
			content: reply.content,
			metadata: reply.metadata ?? {},
		};
		const vars: TemplateVars = {
			accountId: acct.accountId,
			vendorId: acct.vendorId,
			messageId: reply.message_id,
			mtId: reply.message_id,
			sourceAddress: reply.source_number,
			destinationAddress: reply.destination_number,
			receivedTimestamp: reply.date_received,
			submittedTimestamp: original?.submittedAt,
			moContent: reply.content,
			replyContent: reply.content,
			mtContent: original?.content,
			messageContent: original?.content,
			format: 'SMS',
			type: 'SMS',
		};
		const jobs: Array<Promise<WebhookDelivery[]>> = [pushToCallback(acct, reply)];
		for (const hook of acct.webhooks.values()) {
			if (hook.events.includes('RECEIVED_SMS')) {
				jobs.push(deliver(acct, hook, 'RECEIVED_SMS', { reply_id: reply.reply_id, ...common }, { ...vars, replyId: reply.reply_id, moId: reply.reply_id }));
			}
			if (optedOut && hook.events.includes('OPT_OUT_SMS')) {
				const notificationId = randomUUID();
				// An opt-out is a notification: $replyId / $moId are not available to its template.
				jobs.push(deliver(acct, hook, 'OPT_OUT_SMS', { notification_id: notificationId, ...common }, { ...vars, notificationId }));
			}
		}
		const all = Promise.all(jobs);
		pending.add(all);
		try {
			const deliveries = (await all).flat();
			return { reply: acct.replyData(reply), optedOut, deliveries };
		} finally {
			pending.delete(all);
		}
	}

	// --- contacts -------------------------------------------------------------------------

	const pathId = (req: EmulatorRequest, name: string) => {
		const id = req.params[name];
		if (!isUuid(id)) throw invalidInput([{ name, code: 'type_mismatch', reason: `${name} must be a UUID` }]);
		return id;
	};

	route('GET', '/api/v1/contacts/contacts', 'bare', ({ req, account: acct }) => {
		const q = req.query;
		const problems: InvalidField[] = [];
		const page = pageRequest(q, problems);
		const listIds = uuidArrayParam(q, 'listIds', problems);
		const contactIds = uuidArrayParam(q, 'contactIds', problems);
		const channelIds = arrayParam(q, 'channelIds');
		const channelTypes = arrayParam(q, 'channelTypes');
		const badTypes = channelTypes?.filter((t) => !CHANNEL_TYPES.includes(t as never)) ?? [];
		if (badTypes.length > 0) problems.push({ name: 'channelTypes', code: 'invalid_format', reason: `Unknown channel types ${badTypes.join(', ')}` });
		const subscription = enumParam(q, 'channelSubscriptionState', ['SUBSCRIBED', 'UNSUBSCRIBED'] as const, problems);
		if (problems.length > 0) throw invalidInput(problems);
		const channelFilter = channelIds || channelTypes || subscription;
		// Number and id lookups go through an index (a scan of a large account per request would make
		// the emulator, not the client, the slow side); other filters look at every contact. Either way
		// the answer is in creation order.
		const candidates = channelIds
			? [...new Set(channelIds.flatMap((id) => acct.contactsWithChannel(id)))].sort((a, b) => a.seq - b.seq)
			: contactIds
				? [...new Set(contactIds)].flatMap((id) => acct.contacts.get(id) ?? []).sort((a, b) => a.seq - b.seq)
				: [...acct.contacts.values()];
		const matches = candidates.filter((c) => {
			if (contactIds && !contactIds.includes(c.id)) return false;
			if (listIds && !listIds.some((id) => acct.lists.get(id)?.members.has(c.id))) return false;
			if (!channelFilter) return true;
			return c.channels.some(
				(ch) =>
					(!channelIds || channelIds.includes(ch.channelId)) &&
					(!channelTypes || channelTypes.includes(ch.type)) &&
					(!subscription || ch.subscriptionState === subscription),
			);
		});
		const result = tokenPage(matches, page);
		return json(200, { ...result, content: result.content.map((c) => acct.contactData(c)) });
	});
	route('POST', '/api/v1/contacts/contacts', 'bare', ({ req, account: acct }) => json(201, acct.contactData(acct.createContact(req.body))));
	route('GET', '/api/v1/contacts/contacts/{contactId}', 'bare', ({ req, account: acct }) =>
		json(200, acct.contactData(acct.getContact(pathId(req, 'contactId')))),
	);
	route('PATCH', '/api/v1/contacts/contacts/{contactId}', 'bare', ({ req, account: acct }) =>
		json(200, acct.contactData(acct.updateContact(pathId(req, 'contactId'), req.body))),
	);
	route('DELETE', '/api/v1/contacts/contacts/{contactId}', 'bare', ({ req, account: acct }) => {
		acct.deleteContact(pathId(req, 'contactId'));
		return { status: 204 };
	});

	// --- lists ----------------------------------------------------------------------------

	route('GET', '/api/v1/contacts/lists', 'bare', ({ req, account: acct }) => {
		const q = req.query;
		const problems: InvalidField[] = [];
		const page = pageRequest(q, problems);
		const listIds = uuidArrayParam(q, 'listIds', problems);
		if (problems.length > 0) throw invalidInput(problems);
		// name / alias filters match by substring, case-insensitively (unverified), so clients compare exactly themselves.
		const matches = [...acct.lists.values()].filter(
			(l) => (!listIds || listIds.includes(l.id)) && contains(l.name, q.get('name')) && contains(l.alias, q.get('alias')),
		);
		const result = tokenPage(matches, page);
		return json(200, { ...result, content: result.content.map((l) => acct.listData(l)) });
	});
	route('POST', '/api/v1/contacts/lists', 'bare', ({ req, account: acct }) => json(201, acct.listData(acct.createList(req.body))));
	route('GET', '/api/v1/contacts/lists/{listId}', 'bare', ({ req, account: acct }) => json(200, acct.listData(acct.getList(pathId(req, 'listId')))));
	route('PATCH', '/api/v1/contacts/lists/{listId}', 'bare', ({ req, account: acct }) =>
		json(200, acct.listData(acct.updateList(pathId(req, 'listId'), req.body))),
	);
	route('DELETE', '/api/v1/contacts/lists/{listId}', 'bare', ({ req, account: acct }) => {
		acct.deleteList(pathId(req, 'listId'));
		return { status: 204 };
	});
	route('PATCH', '/api/v1/contacts/lists/{listId}/contacts', 'bare', ({ req, account: acct }) =>
		json(200, acct.listData(acct.modifyListMembers(req.params.listId, req.body))),
	);
	route('POST', '/api/v1/contacts/lists/{listId}/contacts/{contactId}', 'bare', ({ req, account: acct }) => {
		const { list, added } = acct.addListMember(req.params.listId, req.params.contactId);
		return json(added ? 201 : 200, acct.listData(list));
	});
	route('DELETE', '/api/v1/contacts/lists/{listId}/contacts/{contactId}', 'bare', ({ req, account: acct }) => {
		acct.removeListMember(req.params.listId, req.params.contactId);
		return { status: 204 };
	});

	// --- custom fields --------------------------------------------------------------------

	route('GET', '/api/v1/contacts/custom-fields', 'bare', ({ req, account: acct }) => {
		const q = req.query;
		const problems: InvalidField[] = [];
		const page = pageRequest(q, problems);
		const ids = uuidArrayParam(q, 'customFieldIds', problems);
		if (problems.length > 0) throw invalidInput(problems);
		const matches = [...acct.customFields.values()].filter(
			(f) => (!ids || ids.includes(f.id)) && contains(f.label, q.get('label')) && contains(f.mergeTag, q.get('mergeTag')),
		);
		const result = tokenPage(matches, page);
		return json(200, { ...result, content: result.content.map((f) => acct.customFieldData(f)) });
	});
	route('POST', '/api/v1/contacts/custom-fields', 'bare', ({ req, account: acct }) =>
		json(201, acct.customFieldData(acct.createCustomField(req.body))),
	);
	route('GET', '/api/v1/contacts/custom-fields/{customFieldId}', 'bare', ({ req, account: acct }) =>
		json(200, acct.customFieldData(acct.getCustomField(pathId(req, 'customFieldId')))),
	);
	route('PATCH', '/api/v1/contacts/custom-fields/{customFieldId}', 'bare', ({ req, account: acct }) =>
		json(200, acct.customFieldData(acct.updateCustomField(pathId(req, 'customFieldId'), req.body))),
	);
	route('DELETE', '/api/v1/contacts/custom-fields/{customFieldId}', 'bare', ({ req, account: acct }) => {
		acct.deleteCustomField(pathId(req, 'customFieldId'));
		return { status: 204 };
	});

	// --- messages -------------------------------------------------------------------------

	route('POST', '/v1/messages', 'body', ({ req, account: acct }) => {
		const sent = acct.sendMessages(req.body);
		return json(202, { messages: sent.map((m) => acct.messageData(m, 'queued')) });
	});
	route('GET', '/v1/messages/{messageId}', 'body', ({ req, account: acct }) => {
		const message = acct.messages.get(req.params.messageId);
		return message ? json(200, acct.messageData(message)) : json(404, RESOURCE_NOT_FOUND);
	});
	route('PUT', '/v1/messages/{messageId}', 'body', ({ req, account: acct }) => {
		const message = acct.messages.get(req.params.messageId);
		if (!message) return json(404, RESOURCE_NOT_FOUND);
		const body = req.body as { status?: unknown } | undefined;
		if (body?.status !== 'cancelled') throw messagingBadRequest(['/status: Must be set to cancelled.']);
		if (message.status !== 'scheduled') throw messagingBadRequest(['/status: Only scheduled messages can be cancelled.']);
		message.status = 'cancelled';
		return { status: 200 };
	});

	// --- replies --------------------------------------------------------------------------

	route('GET', '/v1/replies', 'body', ({ account: acct }) =>
		json(200, { replies: acct.replies.filter((r) => !r.confirmed).slice(0, 100).map((r) => acct.replyData(r)) }),
	);
	route('POST', '/v1/replies/confirmed', 'body', ({ req, account: acct }) => {
		const ids = (req.body as { reply_ids?: unknown } | undefined)?.reply_ids;
		if (!Array.isArray(ids) || ids.length === 0) throw messagingBadRequest(['/reply_ids: A list of reply ids is required.']);
		if (ids.length > 100) throw messagingBadRequest(['/reply_ids: At most 100 replies can be confirmed in one request.']);
		const bad = ids.filter((id) => !isUuid(id));
		if (bad.length > 0) throw messagingBadRequest(bad.map((id) => `/reply_ids: ${String(id)} is not a UUID.`));
		const found = ids.map((id) => acct.replies.find((r) => r.reply_id === id));
		if (found.some((r) => r === undefined)) return json(404, RESOURCE_NOT_FOUND);
		for (const r of found) r!.confirmed = true;
		return { status: 202 };
	});

	// --- webhooks -------------------------------------------------------------------------

	route('GET', '/v1/webhooks/messages', 'bare', ({ req, account: acct }) => {
		const page = req.query.get('page') ?? '0';
		const size = req.query.get('page_size') ?? '100';
		if (!/^\d+$/.test(page) || !/^\d+$/.test(size) || Number(size) < 1 || Number(size) > 100) {
			return json(400, { message: 'Something went wrong. Please try again later.' });
		}
		const all = [...acct.webhooks.values()];
		const start = Number(page) * Number(size);
		return json(200, { page: Number(page), pageSize: Number(size), pageData: all.slice(start, start + Number(size)).map(webhookView) });
	});
	route('POST', '/v1/webhooks/messages', 'bare', ({ req, account: acct }) => {
		const body = (req.body ?? {}) as Record<string, unknown>;
		const problem = webhookProblem(body, true);
		if (problem) return json(400, { message: problem });
		for (const hook of acct.webhooks.values()) {
			if (hook.url === body.url && hook.method === body.method) {
				return json(409, { message: 'A webhook with the given url and method already exists.' });
			}
		}
		const hook: StoredWebhook = {
			id: randomUUID(),
			url: body.url as string,
			method: body.method as string,
			encoding: body.encoding as string,
			headers: (body.headers as Record<string, string> | undefined) ?? {},
			events: body.events as string[],
			template: body.template as string | undefined,
			read_timeout: body.read_timeout as number | undefined,
			retries: (body.retries as number | undefined) ?? 0,
			retry_delay: body.retry_delay as number | undefined,
		};
		acct.webhooks.set(hook.id, hook);
		return json(201, webhookView(hook));
	});
	route('PATCH', '/v1/webhooks/messages/{webhookId}', 'bare', ({ req, account: acct }) => {
		const hook = acct.webhooks.get(req.params.webhookId);
		if (!hook) return { status: 404 };
		const body = (req.body ?? {}) as Record<string, unknown>;
		const problem = webhookProblem(body, false);
		if (problem) return json(400, { message: problem });
		const url = (body.url as string | undefined) ?? hook.url;
		const method = (body.method as string | undefined) ?? hook.method;
		for (const other of acct.webhooks.values()) {
			if (other.id !== hook.id && other.url === url && other.method === method) {
				return json(400, { message: 'A webhook with the given url and method already exists.' });
			}
		}
		Object.assign(hook, {
			url,
			method,
			encoding: body.encoding ?? hook.encoding,
			headers: body.headers ?? hook.headers,
			events: body.events ?? hook.events,
			template: body.template ?? hook.template,
		});
		return json(200, webhookView(hook));
	});
	route('DELETE', '/v1/webhooks/messages/{webhookId}', 'bare', ({ req, account: acct }) => {
		return acct.webhooks.delete(req.params.webhookId) ? { status: 204 } : { status: 404 };
	});

	// --- signature keys (account feature API_SECURE_CALLBACKS) -----------------------------

	const FEATURE_OFF = { message: 'This feature has not been enabled in your account.' };
	const keyView = (k: { key_id: string; cipher: string; digest: string; created: string; enabled: boolean }) => ({
		key_id: k.key_id,
		cipher: k.cipher,
		digest: k.digest,
		created: k.created,
		enabled: k.enabled,
	});
	route('POST', '/v1/iam/signature_keys', 'body', ({ req, account: acct }) => {
		if (!acct.secureCallbacks) return json(403, FEATURE_OFF);
		const body = (req.body ?? {}) as { digest?: unknown; cipher?: unknown };
		const details: string[] = [];
		if (!['SHA224', 'SHA256', 'SHA512'].includes(body.digest as string)) details.push('digest property value is invalid');
		if (body.cipher !== 'RSA') details.push('cipher property value is invalid');
		if (details.length > 0) return json(400, { message: 'Bad Request', details });
		const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
		const key = {
			key_id: randomUUID(),
			cipher: 'RSA' as const,
			digest: body.digest as 'SHA224' | 'SHA256' | 'SHA512',
			created: new Date().toISOString(),
			enabled: false,
			privateKey,
			publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
		};
		acct.signatureKeys.set(key.key_id, key);
		return json(201, { ...keyView(key), public_key: key.publicKey });
	});
	route('PATCH', '/v1/iam/signature_keys/enabled', 'body', ({ req, account: acct }) => {
		if (!acct.secureCallbacks) return json(403, FEATURE_OFF);
		const key = acct.signatureKeys.get(String((req.body as { key_id?: unknown } | undefined)?.key_id));
		if (!key) return json(400, { message: 'Bad Request', details: ['key_id property value is invalid'] });
		// Only one key is enabled at a time: enabling one disables the others.
		for (const other of acct.signatureKeys.values()) other.enabled = other === key;
		return json(200, keyView(key));
	});
	route('GET', '/v1/iam/signature_keys/enabled', 'body', ({ account: acct }) => {
		if (!acct.secureCallbacks) return json(403, FEATURE_OFF);
		const key = [...acct.signatureKeys.values()].find((k) => k.enabled);
		return key ? json(200, keyView(key)) : json(404, { message: 'Currently no key is enabled' });
	});
	route('DELETE', '/v1/iam/signature_keys/enabled', 'body', ({ account: acct }) => {
		if (!acct.secureCallbacks) return json(403, FEATURE_OFF);
		const key = [...acct.signatureKeys.values()].find((k) => k.enabled);
		if (!key) return json(404, { message: 'Currently no key is enabled' });
		key.enabled = false;
		return { status: 204 };
	});

	// --- number authorisation -------------------------------------------------------------

	route('GET', '/v1/number_authorisation/mt/blacklist', 'body', ({ req, account: acct }) => {
		const token = req.query.get('token');
		const offset = token ? Number(Buffer.from(token, 'base64url').toString('utf8').replace(/^o:/, '')) : 0;
		const all = [...acct.blacklist];
		const start = Number.isInteger(offset) && offset >= 0 ? offset : all.length;
		const numbers = all.slice(start, start + BLACKLIST_PAGE);
		const base = '/v1/number_authorisation/mt/blacklist';
		const body: Record<string, unknown> = { uri: token ? `${base}?token=${token}` : base, numbers };
		if (start + BLACKLIST_PAGE < all.length) {
			const next = Buffer.from(`o:${start + BLACKLIST_PAGE}`).toString('base64url');
			body.pagination = { page: next, next_uri: `${base}?token=${next}` };
		}
		return json(200, body);
	});
	route('POST', '/v1/number_authorisation/mt/blacklist', 'body', ({ req, account: acct }) => {
		const numbers = (req.body as { numbers?: unknown } | undefined)?.numbers;
		if (!Array.isArray(numbers) || numbers.length === 0) throw messagingBadRequest(['/numbers: A list of numbers is required.']);
		if (numbers.length > 10) throw messagingBadRequest(['/numbers: At most 10 numbers can be added in one request.']);
		const bad = numbers.filter((n) => typeof n !== 'string' || !NUMBER.test(n));
		if (bad.length > 0) throw messagingBadRequest(bad.map((n) => `/numbers: ${String(n)} is not an international number.`));
		const normalised = (numbers as string[]).map(withPlus);
		const added = normalised.filter((n) => !acct.blacklist.has(n));
		for (const n of added) acct.blacklist.add(n);
		// "If all the numbers are already on the blacklist, then a 200 is returned."
		return json(added.length > 0 ? 201 : 200, { uri: '/v1/number_authorisation/mt/blacklist', numbers: normalised });
	});
	route('DELETE', '/v1/number_authorisation/mt/blacklist/{number}', 'bare', ({ req, account: acct }) => {
		const number = withPlus(req.params.number.trim());
		if (!acct.blacklist.delete(number)) return { status: 404 };
		return { status: 200, body: 'The number has been successfully deleted.', contentType: 'text/plain' };
	});
	route('GET', '/v1/number_authorisation/is_authorised/{numbers}', 'body', ({ req, account: acct }) => {
		const numbers = req.params.numbers.split(',').map((n) => n.trim()).filter((n) => n !== '');
		if (numbers.length === 0) throw messagingBadRequest(['numbers: At least one number is required.']);
		if (numbers.length > 100) throw messagingBadRequest(['numbers: At most 100 numbers can be checked in one request.']);
		const bad = numbers.filter((n) => !E164.test(n));
		if (bad.length > 0) throw messagingBadRequest(bad.map((n) => `numbers: ${n} is not in international format.`));
		return json(200, {
			uri: `/v1/number_authorisation/is_authorised/${numbers.join(',')}`,
			numbers: numbers.map((number) => ({ number, authorised: !acct.blacklist.has(number) })),
		});
	});

	// --- control --------------------------------------------------------------------------

	const body = <T>(req: EmulatorRequest) => (req.body ?? {}) as T;
	const control = new Router()
		.add('GET', '/_control/accounts', () => json(200, [...state.accounts.values()].map((a) => ({ accountId: a.accountId, vendorId: a.vendorId }))))
		.add('POST', '/_control/accounts', (req) => json(201, { accountId: addAccount(body<HubAccountSeed>(req)).accountId }))
		.add('POST', '/_control/reset', () => {
			reset();
			return { status: 204 };
		})
		.add('GET', '/_control/accounts/{accountId}/state', (req) => json(200, account(req.params.accountId).dump()))
		.add('POST', '/_control/accounts/{accountId}/seed', (req) => {
			account(req.params.accountId).seed(body<HubAccountData>(req));
			return { status: 204 };
		})
		.add('POST', '/_control/accounts/{accountId}/inbound', async (req) => json(200, await inbound(req.params.accountId, body<InboundReply>(req))))
		.add('GET', '/_control/accounts/{accountId}/credits', (req) => {
			const acct = account(req.params.accountId);
			return json(200, { used: acct.creditsUsed, messages: acct.messages.size });
		})
		.add('POST', '/_control/accounts/{accountId}/credits/reset', (req) => {
			account(req.params.accountId).creditsUsed = 0;
			return { status: 204 };
		});

	const running = await startEmulator(api, control, {
		host: options.host,
		port: options.port,
		notFound: (req) => {
			const response = json(404, RESOURCE_NOT_FOUND);
			report(req, response);
			return response;
		},
		methodNotAllowed: (req) => {
			const response = json(405, { message: 'Method not allowed.' });
			report(req, response);
			return response;
		},
		faultBody: (status): EmulatorResponse => {
			// 5xx of this API carry no body (ServerUnavailable).
			if (status !== 429) return { status };
			const headers: Record<string, string> = {};
			if (options.retryAfterSeconds !== undefined) headers['retry-after'] = String(options.retryAfterSeconds);
			return { status, body: { message: 'Too many requests' }, headers };
		},
		// A write carried out whose answer is lost: the Contacts API's InternalServerError (an ApiError body).
		appliedFaultBody: () => {
			const error = apiError(500, 'internal_server_error', 'Internal Server Error', 'An unexpected error occurred.');
			return { status: error.status, body: error.body };
		},
	});

	return {
		...running,
		state,
		account,
		addAccount,
		seed: (accountId, data) => account(accountId).seed(data),
		inbound,
		flushWebhooks: async () => {
			await Promise.allSettled([...pending]);
		},
		reset,
		close: async () => {
			await Promise.allSettled([...pending]);
			await running.close();
		},
	};
}
