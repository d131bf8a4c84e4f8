/**
 * The Sinch MessageMedia Hub (Sinch Engage) transport: every Hub call of every node goes through
 * `HubClient`.
 *
 * The `sinchHubApi` credential is read once per client and applied by its own credential type, on
 * connections kept open between requests, or through n8n's `httpRequestWithAuthentication` where a
 * proxy, n8n's SSRF protection or the operator asks for it (hub-wire.ts says why). Answers come back
 * in full, whatever their status, so the shared retry policy sees every status:
 * 429, 5xx, resets and timeouts are retried (Retry-After honoured); the rest become typed errors
 * callers can catch (HubConflictError, HubNotFoundError, HubInvalidInputError, HubAuthError) with
 * messages that say what to do. Errors carry the Hub's error body and never the request, whose
 * options hold the credential.
 *
 * The contract is the official spec (reference/sinch-engage/spec); test/contract checks every
 * request this client sends against it.
 */
import {
	NodeApiError,
	NodeOperationError,
	sleep,
	type ICredentialDataDecryptedObject,
	type ICredentialsDecrypted,
	type IExecuteFunctions,
	type IHookFunctions,
	type IHttpRequestMethods,
	type ILoadOptionsFunctions,
	type IN8nHttpFullResponse,
	type INode,
	type IPollFunctions,
	type IWebhookFunctions,
	type JsonObject,
} from 'n8n-workflow';

import { chunks } from '../chunks';
import { SinchHubApi } from '../../../credentials/SinchHubApi.credentials';
import { keepAliveAllowed, sendKeepAlive } from './hub-wire';
import { DEFAULT_RETRY_POLICY, RetriesExhaustedError, parseRetryAfter, withRetry, type RetryPolicy, type RetryVerdict } from '../retry';

export const HUB_CREDENTIAL_TYPE = 'sinchHubApi';
/** The largest page of the token-paged Contacts API. */
export const HUB_PAGE_SIZE = 1000;
/** Bulk list membership: at most this many ids on each side of one PATCH. */
export const HUB_MEMBERSHIP_BATCH = 1000;
export const HUB_MESSAGES_PER_REQUEST = 100;
export const HUB_REPLY_CONFIRM_BATCH = 100;
/** Numbers per is_authorised call; they travel in the URL path. */
export const HUB_AUTHORISATION_BATCH = 100;
export const HUB_BLACKLIST_ADD_BATCH = 10;
export const HUB_WEBHOOK_PAGE_SIZE = 100;
/** Numbers per contacts lookup by channelIds (they travel in the query string). */
const PHONE_LOOKUP_BATCH = 100;
const DEFAULT_TIMEOUT_MS = 60_000;

export type HubContext = IExecuteFunctions | ILoadOptionsFunctions | IHookFunctions | IWebhookFunctions | IPollFunctions;

// ---------------------------------------------------------------------------------------------
// Shapes (names as in the spec's components/schemas)

export type HubSubscriptionState = 'SUBSCRIBED' | 'UNSUBSCRIBED';
export type HubCustomFieldType = 'DATE' | 'NUMBER' | 'PHONE' | 'TEXT' | 'URL' | 'ZIP_CODE' | 'NAME' | 'EMAIL';

export interface HubContactChannel {
	channelId: string;
	type: 'SMS' | 'WHATSAPP' | 'GBM' | 'INSTAGRAM' | 'FACEBOOK' | 'EMAIL';
	subscriptionState?: HubSubscriptionState;
}

export interface HubContact {
	id: string;
	accountId: string;
	vendorId: string;
	firstName: string;
	lastName: string;
	fullName: string;
	alias: string;
	dateOfBirth?: string;
	country: string;
	state: string;
	location: string;
	note: string;
	createdDate: string;
	lastModifiedDate: string;
	customFields: Array<{ id: string; mergeTag: string; value: string; type: HubCustomFieldType }>;
	channels: HubContactChannel[];
	lists: Array<{ id: string; name: string }>;
}

/** Create (channels required) and update (everything optional) body. */
export interface HubContactInput {
	firstName?: string;
	lastName?: string;
	alias?: string;
	dateOfBirth?: string;
	country?: string;
	state?: string;
	location?: string;
	note?: string;
	channels?: Array<{ channelId: string; type: 'SMS' | 'WHATSAPP'; subscriptionState?: HubSubscriptionState }>;
	lists?: Array<{ id: string }>;
	customFields?: Array<{ id: string; value: string }>;
}

export interface HubContactFilter {
	listIds?: string[];
	contactIds?: string[];
	/** E.164 numbers (or other channel ids). */
	channelIds?: string[];
	channelTypes?: Array<HubContactChannel['type']>;
	channelSubscriptionState?: HubSubscriptionState;
}

export interface HubList {
	id: string;
	accountId: string;
	vendorId: string;
	name: string;
	alias: string;
	createdDate: string;
	lastModifiedDate: string;
}

export interface HubCustomField {
	id: string;
	accountId: string;
	vendorId: string;
	label: string;
	mergeTag: string;
	maxLength: number;
	type: HubCustomFieldType;
	createdDate: string;
	lastModifiedDate: string;
}

export interface HubCustomFieldInput {
	label: string;
	mergeTag: string;
	maxLength: number;
	type: HubCustomFieldType;
}

export interface HubOutboundMessage {
	content: string;
	destination_number: string;
	source_number?: string;
	source_number_type?: 'INTERNATIONAL' | 'ALPHANUMERIC' | 'SHORTCODE';
	callback_url?: string;
	delivery_report?: boolean;
	format?: 'SMS' | 'MMS' | 'TTS';
	scheduled?: string;
	message_expiry_timestamp?: string;
	/** At most 10 pairs; echoed on replies and delivery reports. */
	metadata?: Record<string, string>;
}

export interface HubSentMessage extends HubOutboundMessage {
	message_id: string;
	status: string;
}

export interface HubReply {
	reply_id: string;
	message_id?: string;
	content: string;
	date_received: string;
	source_number: string;
	destination_number?: string;
	callback_url?: string;
	metadata?: Record<string, string>;
	vendor_account_id?: { vendor_id?: string; account_id?: string };
}

export type HubWebhookEvent =
	| 'RECEIVED_SMS'
	| 'OPT_OUT_SMS'
	| 'RECEIVED_MMS'
	| 'ENROUTE_DR'
	| 'SUBMITTED_DR'
	| 'DELIVERED_DR'
	| 'EXPIRED_DR'
	| 'REJECTED_DR'
	| 'FAILED_DR';

export interface HubWebhookInput {
	url: string;
	method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
	encoding: 'JSON' | 'FORM_ENCODED' | 'XML';
	events: HubWebhookEvent[];
	headers?: Record<string, string>;
	template?: string;
	read_timeout?: number;
	retries?: number;
	retry_delay?: number;
}

export interface HubWebhook {
	id: string;
	url: string;
	method: string;
	encoding?: string;
	headers?: Record<string, string>;
	events?: string[];
	template?: string;
	read_timeout?: number;
	retries?: number;
	retry_delay?: number;
}

export interface HubInvalidField {
	name: string;
	code: string;
	reason: string;
	channelType?: string;
	invalidIds?: string[];
}

interface TokenPage<T> {
	content: T[];
	nextPageToken?: string;
	prevPageToken?: string;
	totalElements: number;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Any Hub answer or failure that ended an operation. Holds the Hub's error body, never the request. */
export class HubApiError extends NodeApiError {
	/** Messages accepted by earlier requests of the same `sendMessages` call, when a later one failed. */
	sentMessages?: HubSentMessage[];

	constructor(
		node: INode,
		readonly status: number | undefined,
		message: string,
		description: string,
		readonly hubBody?: unknown,
	) {
		super(node, { message, httpCode: status === undefined ? null : String(status) } as JsonObject, {
			message,
			description,
			httpCode: status === undefined ? undefined : String(status),
		});
	}
}

/** 401 / 403: the key, the secret or the sub-account is wrong. */
export class HubAuthError extends HubApiError {}

/** 400: the Hub's `invalidFields` (Contacts API) or `details` (messaging APIs). */
export class HubInvalidInputError extends HubApiError {
	constructor(
		node: INode,
		status: number,
		message: string,
		description: string,
		hubBody: unknown,
		readonly invalidFields: HubInvalidField[],
		readonly details: string[],
	) {
		super(node, status, message, description, hubBody);
	}
}

export class HubNotFoundError extends HubApiError {}

/** 409: e.g. a contact already holds this number, or a list / webhook of that name / url exists. */
export class HubConflictError extends HubApiError {}

/** The Hub kept failing (429, 5xx, resets, timeouts) until the retry policy gave up, or was unreachable. */
export class HubUnavailableError extends HubApiError {
	constructor(
		node: INode,
		status: number | undefined,
		message: string,
		description: string,
		readonly attempts: number,
		/** True when the Hub may have acted on a request whose answer was lost (so it was not resent). */
		readonly maybeProcessed: boolean,
	) {
		super(node, status, message, description);
	}
}

/**
 * A 2xx answer that is not shaped as the API documents (an HTML page from a proxy, `{}`, a contact
 * without channels). Nothing may be concluded from it, so nothing is written because of it.
 */
export class HubBadAnswerError extends HubApiError {}

/** Internal: a failure the retry policy may try again; never leaves this module. */
class RetryableFailure extends Error {
	constructor(
		readonly status: number | undefined,
		readonly code: string | undefined,
		readonly retryAfterMs: number | undefined,
		/** Whether the Hub certainly did not process the request (429, 503, refused connection). */
		readonly notProcessed: boolean,
	) {
		super(status !== undefined ? `HTTP ${status}` : `connection failed (${code ?? 'unknown'})`);
	}
}

const CONNECTION_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'ECONNREFUSED', 'EAI_AGAIN', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Finds a network error code on an error or its causes (n8n wraps the HTTP library's error). */
function connectionCode(error: unknown): string | undefined {
	let current: unknown = error;
	for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
		const { code, httpCode, message } = current as { code?: unknown; httpCode?: unknown; message?: unknown };
		for (const candidate of [code, httpCode]) if (typeof candidate === 'string' && CONNECTION_CODES.has(candidate)) return candidate;
		if (typeof message === 'string') {
			if (/timeout of \d+ms exceeded/i.test(message)) return 'ETIMEDOUT';
			if (/socket hang up/i.test(message)) return 'ECONNRESET';
		}
		current = (current as { cause?: unknown }).cause;
	}
	return undefined;
}

const credentialType = new SinchHubApi();

/** The headers the credential type puts on a request (HTTP Basic, the sub-account's Account header). */
async function authenticationHeaders(data: ICredentialDataDecryptedObject): Promise<Record<string, string>> {
	const applied = await credentialType.authenticate(data, { url: '', headers: {} });
	const headers: Record<string, string> = {};
	for (const [name, value] of Object.entries(applied.headers ?? {})) headers[name] = String(value);
	if (applied.auth) headers.Authorization = `Basic ${Buffer.from(`${applied.auth.username ?? ''}:${applied.auth.password ?? ''}`).toString('base64')}`;
	return headers;
}

// ---------------------------------------------------------------------------------------------
// Answers: the shapes the code relies on, checked before use. Each check names what was wrong.

type Check = (value: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `text (${JSON.stringify(v.slice(0, 40))})` : typeof v);

function needText(o: Record<string, unknown>, name: string, what: string, optional = false): string | undefined {
	const v = o[name];
	if (optional && (v === undefined || v === null)) return undefined;
	return typeof v === 'string' && (optional || v !== '') ? undefined : `${what} has no text "${name}" (got ${kindOf(v)})`;
}

function needArray(o: Record<string, unknown>, name: string, what: string, item: Check, optional = false): string | undefined {
	const v = o[name];
	if (optional && (v === undefined || v === null)) return undefined;
	if (!Array.isArray(v)) return `${what} has no array "${name}" (got ${kindOf(v)})`;
	for (let i = 0; i < v.length; i++) {
		const problem = item(v[i]);
		if (problem) return `${what}: ${name}[${i}] ${problem}`;
	}
	return undefined;
}

const first = (...problems: Array<string | undefined>) => problems.find((p) => p !== undefined);

/** An answer that must be an object holding the list `name`, each entry passing `item`. */
const answerWithList =
	(name: string, what: string, item: Check = () => undefined): Check =>
	(answer) =>
		isObject(answer) ? needArray(answer, name, what, item) : `the answer is ${kindOf(answer)}, not an object`;

const checkChannel: Check = (c) => {
	if (!isObject(c)) return `is ${kindOf(c)}, not a channel`;
	const state = c.subscriptionState;
	return first(
		needText(c, 'channelId', 'the channel'),
		needText(c, 'type', 'the channel'),
		state === undefined || state === null || state === 'SUBSCRIBED' || state === 'UNSUBSCRIBED' ? undefined : `has the subscription state ${kindOf(state)}`,
	);
};

const checkFieldValue: Check = (f) => (isObject(f) ? first(needText(f, 'id', 'the custom field value'), needText(f, 'value', 'the custom field value', true)) : `is ${kindOf(f)}`);
const checkListRef: Check = (l) => (isObject(l) ? needText(l, 'id', 'the list') : `is ${kindOf(l)}`);

export const checkContact: Check = (c) => {
	if (!isObject(c)) return `a contact is ${kindOf(c)}`;
	return first(
		needText(c, 'id', 'a contact'),
		needArray(c, 'channels', `contact ${String(c.id)}`, checkChannel),
		needArray(c, 'customFields', `contact ${String(c.id)}`, checkFieldValue, true),
		needArray(c, 'lists', `contact ${String(c.id)}`, checkListRef, true),
	);
};

export const checkList: Check = (l) => (isObject(l) ? first(needText(l, 'id', 'a list'), needText(l, 'name', 'a list')) : `a list is ${kindOf(l)}`);

export const checkCustomField: Check = (f) => {
	if (!isObject(f)) return `a custom field is ${kindOf(f)}`;
	return first(
		needText(f, 'id', 'a custom field'),
		needText(f, 'label', 'a custom field'),
		needText(f, 'mergeTag', 'a custom field'),
		needText(f, 'type', 'a custom field'),
		typeof f.maxLength === 'number' ? undefined : `custom field ${String(f.id)} has no number "maxLength" (got ${kindOf(f.maxLength)})`,
	);
};

/** A page of the token-paged Contacts API: `content` an array of checked items, tokens text or absent. */
function checkTokenPage(item: Check): Check {
	return (page) => {
		if (!isObject(page)) return `the page is ${kindOf(page)}, not an object`;
		return first(
			needArray(page, 'content', 'the page', item),
			needText(page, 'nextPageToken', 'the page', true),
		);
	};
}

// ---------------------------------------------------------------------------------------------
// Query strings: the contacts `request` object goes form-exploded (`pageSize=100&channelIds=%2B61…`)

export type HubQuery = Record<string, string | number | boolean | string[] | undefined>;

/** `+` must travel as %2B, or the server reads a space; URLSearchParams encodes it so. */
export function hubQueryString(query: HubQuery): string {
	const params = new URLSearchParams();
	for (const [key, value] of Object.entries(query)) {
		if (value === undefined) continue;
		if (Array.isArray(value)) for (const item of value) params.append(key, item);
		else params.append(key, String(value));
	}
	return params.toString();
}

// ---------------------------------------------------------------------------------------------
// Credential → base URL

export interface HubCredentialData {
	region?: string;
	baseUrl?: string;
	accountId?: string;
}

/** The credential's base URL, checked (it decides where the key and secret are sent). */
export function hubBaseUrl(credential: HubCredentialData, node: INode): string {
	const region = credential.region ?? 'https://au.app.api.sinch.com';
	const raw = (region === 'custom' ? (credential.baseUrl ?? '') : region).trim();
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		throw new NodeOperationError(node, 'The Sinch MessageMedia Hub credential has no valid base URL', {
			description: 'Pick a region in the credential, or with "Custom" enter a URL such as https://au.app.api.sinch.com',
		});
	}
	// The key and secret travel with every request: only https, except to this machine (a local
	// test server or emulator), where nothing crosses a network.
	const loopback = url.hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname === '[::1]';
	if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
		throw new NodeOperationError(node, 'The Hub base URL must start with https://', {
			description: `The credential's base URL is ${url.protocol}//${url.host}; enter an https:// address. Plain http:// is accepted only for a test server on this machine (localhost or 127.0.0.1).`,
		});
	}
	return raw.replace(/\/+$/, '');
}

export interface HubClientOptions {
	retryPolicy?: RetryPolicy;
	/** Injected by tests; defaults to n8n's sleep. */
	sleep?: (ms: number) => Promise<void>;
	random?: () => number;
	timeoutMs?: number;
	/** Kept-alive connections instead of n8n's helper; by default where hub-wire.ts allows them. */
	keepAlive?: boolean;
}

export interface CallOptions<T> {
	query?: HubQuery;
	body?: unknown;
	/**
	 * False for requests the Hub must not receive twice (creates, sends): one whose answer was lost
	 * (timeout, reset, 500/502/504) is resent only after `reconcile` found it was not carried out,
	 * and never resent without one.
	 */
	idempotent?: boolean;
	/** Looks for what a lost request would have made; its finding is the request's answer. */
	reconcile?: () => Promise<T | undefined>;
	/** The shape the caller relies on: a problem found makes the call fail with HubBadAnswerError. */
	check?: Check;
}

/**
 * Reads the credential once and returns a client for this execution that keeps it: n8n's request helper is
 * handed the decrypted credential with every request, instead of reading it from n8n's database and
 * decrypting it again each time (a quarter of n8n's CPU in a first sync of 100,000 members).
 */
export async function createHubClient<C extends HubClient = HubClient>(
	ctx: HubContext,
	options: HubClientOptions = {},
	/** Another kind of client, e.g. a preview's, which writes nothing. */
	Client: new (...args: ConstructorParameters<typeof HubClient>) => C = HubClient as never,
): Promise<C> {
	const node = ctx.getNode();
	const data = await ctx.getCredentials<HubCredentialData>(HUB_CREDENTIAL_TYPE);
	const stored = node.credentials?.[HUB_CREDENTIAL_TYPE];
	const credential: ICredentialsDecrypted = { id: stored?.id ?? '', name: stored?.name ?? '', type: HUB_CREDENTIAL_TYPE, data: data as ICredentialDataDecryptedObject };
	return new Client(ctx, hubBaseUrl(data, node), options, credential);
}

export class HubClient {
	private readonly node: INode;
	/** Over kept-alive connections (decided once per client: see `send`). */
	private readonly keepAlive: boolean;
	/** The credential's headers for those, made once per client. */
	private wireHeaders?: Promise<Record<string, string>>;

	constructor(
		private readonly ctx: HubContext,
		readonly baseUrl: string,
		private readonly options: HubClientOptions = {},
		/** The credential as read once; without it n8n reads it for every request. Never logged or put into items. */
		private readonly credential?: ICredentialsDecrypted,
	) {
		this.node = ctx.getNode();
		this.keepAlive = credential !== undefined && (options.keepAlive ?? keepAliveAllowed());
	}

	// --- the one request function ---------------------------------------------------------

	/** One Hub call with the retry policy; resolves with the 2xx answer, else throws a typed error. */
	async request<T>(method: IHttpRequestMethods, path: string, call: CallOptions<T> = {}): Promise<{ status: number; body: T }> {
		const qs = call.query ? hubQueryString(call.query) : '';
		const url = `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
		const idempotent = call.idempotent ?? true;
		const reconcile = call.reconcile;
		try {
			return await withRetry<{ status: number; body: T }>(
				async () => {
					let response: IN8nHttpFullResponse;
					try {
						response = await this.send(method, url, call.body);
					} catch (error) {
						// Never rethrow n8n's error as is: its cause holds the request options, credential included.
						const code = connectionCode(error);
						if (code) throw new RetryableFailure(undefined, code, undefined, code === 'ECONNREFUSED');
						throw new HubUnavailableError(
							this.node,
							undefined,
							'Could not reach the Sinch MessageMedia Hub; check the region or base URL in the credential',
							`${method} ${path} failed before the Hub answered: ${(error as Error).message ?? 'unknown error'}`.slice(0, 300),
							1,
							!idempotent,
						);
					}
					const status = response.statusCode;
					const body = parseBody(response.body);
					if (status >= 200 && status < 300) {
						const problem = call.check?.(body);
						if (problem) throw this.badAnswer(method, path, status, problem);
						return { status, body: body as T };
					}
					if (status === 429 || (status >= 500 && status !== 501)) {
						const retryAfter = parseRetryAfter(response.headers?.['retry-after'] as string | undefined);
						throw new RetryableFailure(status, undefined, retryAfter, status === 429 || status === 503);
					}
					throw this.errorFor(method, path, status, body);
				},
				(error): RetryVerdict => {
					if (!(error instanceof RetryableFailure)) return { retryable: false };
					// A lost answer to a create or a send may hide a success: look before resending.
					return { retryable: true, retryAfterMs: error.retryAfterMs, mayHaveApplied: !idempotent && !error.notProcessed };
				},
				{
					sleep: this.options.sleep ?? sleep,
					random: this.options.random,
					reconcile: reconcile
						? async () => {
								const found = await reconcile();
								if (found === undefined) return undefined;
								this.ctx.logger?.debug(`Sinch Hub ${method} ${path}: the answer was lost, but the Hub had carried it out`);
								return { result: { status: 200, body: found } };
							}
						: undefined,
					onRetry: ({ attempt, waitMs, error }) =>
						this.ctx.logger?.debug(`Sinch Hub ${method} ${path}: ${(error as Error).message}; retry ${attempt} in ${waitMs} ms`),
				},
				this.options.retryPolicy ?? DEFAULT_RETRY_POLICY,
			);
		} catch (error) {
			if (error instanceof RetriesExhaustedError) throw this.unavailable(method, path, error.lastError, error.attempts, idempotent, !!reconcile);
			if (error instanceof RetryableFailure) throw this.unavailable(method, path, error, 1, idempotent, !!reconcile);
			throw error;
		}
	}

	/**
	 * One attempt on the wire (hub-wire.ts): over a kept-alive connection with the credential applied
	 * here by the credential type itself, or, where n8n's helper has a say (proxy, SSRF protection, the
	 * operator's switch) or no credential was read, through `httpRequestWithAuthentication`.
	 */
	private async send(method: IHttpRequestMethods, url: string, body: unknown): Promise<IN8nHttpFullResponse> {
		const timeout = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		if (this.keepAlive) {
			this.wireHeaders ??= authenticationHeaders(this.credential?.data ?? {});
			const answer = await sendKeepAlive({ method, url, headers: await this.wireHeaders, body, timeoutMs: timeout });
			return { statusCode: answer.statusCode, headers: answer.headers, body: answer.body };
		}
		return (await this.ctx.helpers.httpRequestWithAuthentication.call(
			this.ctx,
			HUB_CREDENTIAL_TYPE,
			{ method, url, body: body as JsonObject | undefined, json: true, returnFullResponse: true, ignoreHttpStatusErrors: true, timeout },
			this.credential ? { credentialsDecrypted: this.credential } : undefined,
		)) as IN8nHttpFullResponse;
	}

	private unavailable(method: string, path: string, last: unknown, attempts: number, idempotent: boolean, reconciled: boolean): HubUnavailableError {
		const failure = last as RetryableFailure;
		const what = failure.status !== undefined ? `HTTP ${failure.status}` : `connection failure (${failure.code ?? 'unknown'})`;
		const lost = !idempotent && !failure.notProcessed;
		return new HubUnavailableError(
			this.node,
			failure.status,
			failure.status === 429
				? 'The Sinch MessageMedia Hub kept asking us to slow down; try again later'
				: 'The Sinch MessageMedia Hub is not answering; try again later',
			`${method} ${path} failed ${attempts} time(s); last: ${what}.` +
				(lost
					? reconciled
						? ' Each lost answer was looked up in the Hub before sending again, and nothing was found; the next run looks again.'
						: ' The Hub may have accepted it, so it was not sent again.'
					: ''),
			attempts,
			lost,
		);
	}

	private badAnswer(method: string, path: string, status: number, problem: string): HubBadAnswerError {
		return new HubBadAnswerError(
			this.node,
			status,
			`The Hub's answer to ${method} ${path.split('?')[0]} was not what the API documents: ${problem}`.slice(0, 400),
			'Nothing was written because of it. If it happens again, check the base URL in the credential (another server or a proxy may be answering) and the Hub status page.',
		);
	}

	private errorFor(method: string, path: string, status: number, body: unknown): HubApiError {
		const where = `${method} ${path} answered HTTP ${status}`;
		const b = (body && typeof body === 'object' ? body : {}) as {
			detail?: string;
			title?: string;
			message?: string;
			invalidFields?: HubInvalidField[];
			details?: string[];
		};
		const text = b.detail ?? b.message ?? b.title;
		if (status === 401 || status === 403) {
			return new HubAuthError(
				this.node,
				status,
				'The Hub rejected the API key and secret; check the credential',
				status === 403
					? `${where}: the key may not use this API, or the credential's sub-account ID is not one of this key's accounts.`
					: `${where}: check the API key and secret (Hub → Settings → API Settings → Basic Authentication) and the region.`,
				body,
			);
		}
		if (status === 400 || status === 422) {
			const fields = Array.isArray(b.invalidFields) ? b.invalidFields : [];
			const details = Array.isArray(b.details) ? b.details.map(String) : [];
			const reasons = fields.length
				? fields.map((f) => `${f.name}: ${f.reason}${f.invalidIds?.length ? ` (${f.invalidIds.join(', ')})` : ''}`)
				: details;
			const summary = reasons.length ? reasons.join('; ') : (text ?? 'the request was not valid');
			return new HubInvalidInputError(this.node, status, `The Hub rejected the request: ${summary}`.slice(0, 500), where, body, fields, details);
		}
		if (status === 404) {
			return new HubNotFoundError(this.node, status, `Not found in the Hub: ${text ?? path}`, where, body);
		}
		if (status === 409) {
			return new HubConflictError(this.node, status, `The Hub already has this: ${text ?? 'conflict'}`, where, body);
		}
		return new HubApiError(this.node, status, `The Hub answered HTTP ${status}${text ? `: ${text}` : ''}`, where, body);
	}

	/** Pages through a token-paged endpoint of the Contacts API until there is no next page. */
	async *tokenPages<T>(path: string, filter: HubQuery, item: Check, pageSize = HUB_PAGE_SIZE): AsyncGenerator<T[]> {
		let token: string | undefined;
		const seen = new Set<string>();
		do {
			const { body } = await this.request<TokenPage<T>>('GET', path, {
				query: { ...filter, pageSize, nextPageToken: token },
				check: checkTokenPage(item),
			});
			yield body.content;
			token = body.nextPageToken || undefined;
			if (token !== undefined) {
				// A token that comes back again would loop for ever.
				if (seen.has(token)) throw new HubApiError(this.node, 200, 'The Hub returned the same page token twice', `GET ${path}`);
				seen.add(token);
			}
		} while (token !== undefined);
	}

	// --- contacts -------------------------------------------------------------------------

	contactPages(filter: HubContactFilter = {}, pageSize = HUB_PAGE_SIZE): AsyncGenerator<HubContact[]> {
		return this.tokenPages<HubContact>('/api/v1/contacts/contacts', { ...filter }, checkContact, pageSize);
	}

	async *contacts(filter: HubContactFilter = {}): AsyncGenerator<HubContact> {
		for await (const page of this.contactPages(filter)) yield* page;
	}

	/** Contacts holding each number (E.164), looked up in batches; numbers without a contact are absent. */
	async findContactsByPhone(numbers: string[]): Promise<Map<string, HubContact[]>> {
		const found = new Map<string, HubContact[]>();
		const unique = [...new Set(numbers)];
		for (const batch of chunks(unique, PHONE_LOOKUP_BATCH)) {
			const wanted = new Set(batch);
			for await (const contact of this.contacts({ channelIds: batch })) {
				for (const channel of contact.channels) {
					if (!wanted.has(channel.channelId)) continue;
					const list = found.get(channel.channelId) ?? [];
					if (!list.some((c) => c.id === contact.id)) list.push(contact);
					found.set(channel.channelId, list);
				}
			}
		}
		return found;
	}

	async findContactByPhone(number: string): Promise<HubContact | undefined> {
		return (await this.findContactsByPhone([number])).get(number)?.[0];
	}

	async getContact(id: string): Promise<HubContact> {
		return (await this.request<HubContact>('GET', `/api/v1/contacts/contacts/${encodeURIComponent(id)}`, { check: checkContact })).body;
	}

	/**
	 * Throws HubConflictError when a contact already holds one of the channels. A create whose answer
	 * was lost is never resent blindly: the contact holding all its channels (and, with `isOurs`, the
	 * one `isOurs` accepts, e.g. by the Mailchimp ID it carries) is the one it made.
	 */
	async createContact(input: HubContactInput, isOurs: (contact: HubContact) => boolean = () => true): Promise<HubContact> {
		const channels = input.channels ?? [];
		return (
			await this.request<HubContact>('POST', '/api/v1/contacts/contacts', {
				body: input,
				check: checkContact,
				idempotent: false,
				reconcile: async () => {
					if (channels.length === 0) return undefined;
					const found = await this.findContactsByPhone(channels.map((c) => c.channelId));
					const holders = found.get(channels[0].channelId) ?? [];
					return holders.find(
						(contact) => channels.every((want) => contact.channels.some((c) => c.channelId === want.channelId && c.type === want.type)) && isOurs(contact),
					);
				},
			})
		).body;
	}

	/** Arrays given (channels, lists, customFields) may replace the contact's: send complete ones. */
	async updateContact(id: string, input: HubContactInput): Promise<HubContact> {
		return (await this.request<HubContact>('PATCH', `/api/v1/contacts/contacts/${encodeURIComponent(id)}`, { body: input, check: checkContact })).body;
	}

	async deleteContact(id: string): Promise<void> {
		await this.request('DELETE', `/api/v1/contacts/contacts/${encodeURIComponent(id)}`);
	}

	// --- lists ----------------------------------------------------------------------------

	async *lists(filter: { name?: string; alias?: string; listIds?: string[] } = {}): AsyncGenerator<HubList> {
		for await (const page of this.tokenPages<HubList>('/api/v1/contacts/lists', { ...filter }, checkList)) yield* page;
	}

	/** The list with exactly this name (case-insensitive; an exact-case match wins). */
	async findListByName(name: string): Promise<HubList | undefined> {
		let caseless: HubList | undefined;
		for await (const list of this.lists({ name })) {
			if (list.name === name) return list;
			if (!caseless && list.name.toLowerCase() === name.toLowerCase()) caseless = list;
		}
		return caseless;
	}

	async getList(id: string): Promise<HubList> {
		return (await this.request<HubList>('GET', `/api/v1/contacts/lists/${encodeURIComponent(id)}`, { check: checkList })).body;
	}

	/** A create whose answer was lost is looked up by its name before it is sent again. */
	async createList(input: { name: string; alias?: string }): Promise<HubList> {
		return (
			await this.request<HubList>('POST', '/api/v1/contacts/lists', {
				body: input,
				check: checkList,
				idempotent: false,
				reconcile: async () => {
					for await (const list of this.lists({ name: input.name })) if (list.name === input.name) return list;
					return undefined;
				},
			})
		).body;
	}

	async deleteList(id: string): Promise<void> {
		await this.request('DELETE', `/api/v1/contacts/lists/${encodeURIComponent(id)}`);
	}

	/** Finds the list by name or creates it (a concurrent creator's 409 is resolved by finding it again). */
	async ensureList(name: string): Promise<HubList> {
		const existing = await this.findListByName(name);
		if (existing) return existing;
		try {
			return await this.createList({ name });
		} catch (error) {
			if (!(error instanceof HubConflictError)) throw error;
			const created = await this.findListByName(name);
			if (created) return created;
			throw error;
		}
	}

	/** Adds and removes members in requests of at most 1000 ids per side. */
	async updateListMembers(listId: string, change: { add?: string[]; remove?: string[] }): Promise<void> {
		const add = chunks([...new Set(change.add ?? [])], HUB_MEMBERSHIP_BATCH);
		const remove = chunks([...new Set(change.remove ?? [])], HUB_MEMBERSHIP_BATCH);
		for (let i = 0; i < Math.max(add.length, remove.length); i++) {
			await this.request('PATCH', `/api/v1/contacts/lists/${encodeURIComponent(listId)}/contacts`, {
				body: { contactsToAddIds: add[i] ?? [], contactsToRemoveIds: remove[i] ?? [] },
			});
		}
	}

	async addContactToList(listId: string, contactId: string): Promise<void> {
		await this.request('POST', `/api/v1/contacts/lists/${encodeURIComponent(listId)}/contacts/${encodeURIComponent(contactId)}`);
	}

	async removeContactFromList(listId: string, contactId: string): Promise<void> {
		await this.request('DELETE', `/api/v1/contacts/lists/${encodeURIComponent(listId)}/contacts/${encodeURIComponent(contactId)}`);
	}

	// --- custom fields --------------------------------------------------------------------

	async *customFields(filter: { label?: string; mergeTag?: string; customFieldIds?: string[] } = {}): AsyncGenerator<HubCustomField> {
		for await (const page of this.tokenPages<HubCustomField>('/api/v1/contacts/custom-fields', { ...filter }, checkCustomField)) yield* page;
	}

	/** By merge tag if given, else by label; exact, case-insensitive. */
	async findCustomField(by: { mergeTag?: string; label?: string }): Promise<HubCustomField | undefined> {
		const key = by.mergeTag !== undefined ? 'mergeTag' : 'label';
		const wanted = (by.mergeTag ?? by.label ?? '').toLowerCase();
		for await (const field of this.customFields({ [key]: by[key] })) {
			if (field[key].toLowerCase() === wanted) return field;
		}
		return undefined;
	}

	/** A create whose answer was lost is looked up by its merge tag before it is sent again. */
	async createCustomField(input: HubCustomFieldInput): Promise<HubCustomField> {
		return (
			await this.request<HubCustomField>('POST', '/api/v1/contacts/custom-fields', {
				body: input,
				check: checkCustomField,
				idempotent: false,
				// Merge tags are unique, and the caller looked for this one before creating it.
				reconcile: async () => await this.findCustomField({ mergeTag: input.mergeTag }),
			})
		).body;
	}

	/** Finds the field by merge tag (then label) or creates it. */
	async ensureCustomField(input: HubCustomFieldInput): Promise<HubCustomField> {
		const find = async () =>
			(await this.findCustomField({ mergeTag: input.mergeTag })) ?? (await this.findCustomField({ label: input.label }));
		const existing = await find();
		if (existing) return existing;
		try {
			return await this.createCustomField(input);
		} catch (error) {
			if (!(error instanceof HubConflictError)) throw error;
			const created = await find();
			if (created) return created;
			throw error;
		}
	}

	// --- messages -------------------------------------------------------------------------

	/**
	 * Sends in requests of at most 100 (each all or nothing at the Hub). Resolves with the accepted
	 * messages in input order. On failure the error's `sentMessages` lists those accepted by earlier
	 * requests. A send whose answer was lost is not repeated (the error says `maybeProcessed`).
	 */
	async sendMessages(messages: HubOutboundMessage[]): Promise<HubSentMessage[]> {
		const sent: HubSentMessage[] = [];
		for (const batch of chunks(messages, HUB_MESSAGES_PER_REQUEST)) {
			try {
				const { body } = await this.request<{ messages: HubSentMessage[] }>('POST', '/v1/messages', {
					body: { messages: batch },
					idempotent: false,
					// Each entry is checked by the caller against what was sent (send.ts, checkSent).
					check: answerWithList('messages', 'the answer'),
				});
				sent.push(...body.messages);
			} catch (error) {
				if (error instanceof HubApiError) error.sentMessages = [...sent];
				throw error;
			}
		}
		return sent;
	}

	async getMessage(id: string): Promise<HubSentMessage> {
		return (await this.request<HubSentMessage>('GET', `/v1/messages/${encodeURIComponent(id)}`)).body;
	}

	// --- replies --------------------------------------------------------------------------

	/** The oldest (at most 100) replies not confirmed yet; the same ones come back until confirmed. */
	async checkReplies(): Promise<HubReply[]> {
		// An answer without its list is not "no replies": it is refused, and the replies come back at the next poll.
		return (await this.request<{ replies: HubReply[] }>('GET', '/v1/replies', { check: answerWithList('replies', 'the answer') })).body.replies;
	}

	async confirmReplies(replyIds: string[]): Promise<void> {
		for (const batch of chunks([...new Set(replyIds)], HUB_REPLY_CONFIRM_BATCH)) {
			await this.request('POST', '/v1/replies/confirmed', { body: { reply_ids: batch } });
		}
	}

	// --- webhooks -------------------------------------------------------------------------

	async *webhooks(): AsyncGenerator<HubWebhook> {
		for (let page = 0; ; page++) {
			const { body } = await this.request<{ pageData?: HubWebhook[] }>('GET', '/v1/webhooks/messages', {
				query: { page, page_size: HUB_WEBHOOK_PAGE_SIZE },
			});
			const data = body.pageData ?? [];
			yield* data;
			if (data.length < HUB_WEBHOOK_PAGE_SIZE) return;
		}
	}

	async findWebhook(url: string, method: HubWebhookInput['method'] = 'POST'): Promise<HubWebhook | undefined> {
		for await (const hook of this.webhooks()) if (hook.url === url && hook.method === method) return hook;
		return undefined;
	}

	/** Throws HubConflictError when a webhook with this url and method exists. */
	async createWebhook(input: HubWebhookInput): Promise<HubWebhook> {
		return (await this.request<HubWebhook>('POST', '/v1/webhooks/messages', { body: input })).body;
	}

	async updateWebhook(id: string, change: Partial<Omit<HubWebhookInput, 'read_timeout' | 'retries' | 'retry_delay'>>): Promise<HubWebhook> {
		return (await this.request<HubWebhook>('PATCH', `/v1/webhooks/messages/${encodeURIComponent(id)}`, { body: change })).body;
	}

	async deleteWebhook(id: string): Promise<void> {
		await this.request('DELETE', `/v1/webhooks/messages/${encodeURIComponent(id)}`);
	}

	/** The webhook for this url and method, created if missing, its events widened if some are missing. */
	async ensureWebhook(input: HubWebhookInput): Promise<HubWebhook> {
		let hook = await this.findWebhook(input.url, input.method);
		if (!hook) {
			try {
				return await this.createWebhook(input);
			} catch (error) {
				if (!(error instanceof HubConflictError)) throw error;
				hook = await this.findWebhook(input.url, input.method);
				if (!hook) throw error;
			}
		}
		const missing = input.events.filter((e) => !(hook!.events ?? []).includes(e));
		if (missing.length === 0) return hook;
		return await this.updateWebhook(hook.id, { events: [...(hook.events ?? []), ...missing] as HubWebhookEvent[] });
	}

	// --- number authorisation (blacklist) -------------------------------------------------

	/**
	 * number → may we send to it (false = on the blacklist). Every number asked about must be answered
	 * with a yes or no: a number the answer leaves out is never taken as allowed, the call fails.
	 */
	async checkAuthorised(numbers: string[]): Promise<Map<string, boolean>> {
		const result = new Map<string, boolean>();
		const checkEntry: Check = (e) =>
			isObject(e) ? first(needText(e, 'number', 'the entry'), typeof e.authorised === 'boolean' ? undefined : `for ${String(e.number)} has no true/false "authorised" (got ${kindOf(e.authorised)})`) : `is ${kindOf(e)}`;
		for (const batch of chunks([...new Set(numbers)], HUB_AUTHORISATION_BATCH)) {
			const path = `/v1/number_authorisation/is_authorised/${batch.map(encodeURIComponent).join(',')}`;
			const { body } = await this.request<{ numbers: Array<{ number: string; authorised: boolean }> }>('GET', path, {
				check: (answer) => {
					const problem = answerWithList('numbers', 'the answer', checkEntry)(answer);
					if (problem) return problem;
					const answered = new Set(((answer as Record<string, unknown>).numbers as Array<{ number: string }>).map((e) => e.number));
					const missing = batch.filter((n) => !answered.has(n));
					return missing.length > 0 ? `it says nothing about ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}` : undefined;
				},
			});
			for (const entry of body.numbers) if (batch.includes(entry.number)) result.set(entry.number, entry.authorised);
		}
		return result;
	}

	async *blacklist(): AsyncGenerator<string> {
		let token: string | undefined;
		const seen = new Set<string>();
		do {
			const { body } = await this.request<{ numbers: string[]; pagination?: { page?: string; next_uri?: string } }>(
				'GET',
				'/v1/number_authorisation/mt/blacklist',
				{
					query: { token },
					check: answerWithList('numbers', 'the blacklist page', (n) => (typeof n === 'string' ? undefined : `is ${kindOf(n)}, not a number`)),
				},
			);
			const numbers = body.numbers;
			yield* numbers;
			token = numbers.length > 0 ? body.pagination?.page || undefined : undefined;
			if (token !== undefined && seen.has(token)) return;
			if (token !== undefined) seen.add(token);
		} while (token !== undefined);
	}

	async addToBlacklist(numbers: string[]): Promise<void> {
		for (const batch of chunks([...new Set(numbers)], HUB_BLACKLIST_ADD_BATCH)) {
			await this.request('POST', '/v1/number_authorisation/mt/blacklist', { body: { numbers: batch } });
		}
	}

	/** Resolves false when the number was not on the blacklist. */
	async removeFromBlacklist(number: string): Promise<boolean> {
		try {
			await this.request('DELETE', `/v1/number_authorisation/mt/blacklist/${encodeURIComponent(number)}`);
			return true;
		} catch (error) {
			if (error instanceof HubNotFoundError) return false;
			throw error;
		}
	}
}

/** n8n's HTTP layer parses JSON already; a string body that is JSON (e.g. sent as text) is parsed here. */
function parseBody(body: unknown): unknown {
	if (typeof body !== 'string') return body;
	const trimmed = body.trim();
	if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
		try {
			return JSON.parse(trimmed);
		} catch {
			return body;
		}
	}
	return body;
}
