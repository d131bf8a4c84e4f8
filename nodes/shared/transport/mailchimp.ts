/**
 * The Mailchimp transport: the official client, made safe and patient.
 *
 * The official client's module export is a process-wide singleton whose `setConfig` would leak one
 * account's token into another execution's requests, so every client here owns a fresh `ApiClient`.
 * What the official client lacks is added here, once: a concurrency cap per account (Mailchimp
 * allows 10 simultaneous connections per account), the shared retry policy, one paging helper, and
 * problem+json answers turned into errors that tell the user what to do.
 */
import ApiClient = require('@mailchimp/mailchimp_marketing/src/ApiClient');
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { NodeApiError, sleep, type INode, type JsonObject } from 'n8n-workflow';

import {
	DEFAULT_RETRY_POLICY,
	RetriesExhaustedError,
	parseRetryAfter,
	withRetry,
	type RetryPolicy,
	type RetryVerdict,
} from '../retry';
import { UnexpectedAnswer, bodyOf, memberAt, namedAt, pageOf } from './mailchimp-answers';

/** Of Mailchimp's 10 connections per account, leaves 2 to the account's other integrations. */
export const DEFAULT_CONCURRENCY = 8;
/** Mailchimp answers 429 beyond 10 simultaneous connections per account. */
export const MAX_CONCURRENCY = 10;
/** The largest page Mailchimp serves; its default of 10 silently truncates careless readers. */
export const PAGE_SIZE = 1000;
const REQUEST_TIMEOUT_MS = 120_000;
const DEFAULT_METADATA_URL = 'https://login.mailchimp.com/oauth2/metadata';
const DATA_CENTER = /^[a-z]{2}\d+$/;

export type MailchimpAuthKind = 'apiKey' | 'oAuth2';

/** What a client needs to talk to one Mailchimp account. */
export interface MailchimpAuth {
	kind: MailchimpAuthKind;
	/** The API key or the OAuth access token. Never logged, never put into an item or an error. */
	secret: string;
	/** Ends with `/3.0`. */
	baseUrl: string;
}

export interface MailchimpApiKeyCredential {
	apiKey?: string;
	apiBaseUrl?: string;
}

export interface MailchimpOAuth2Credential {
	oauthTokenData?: { access_token?: string };
	metadataUrl?: string;
	apiBaseUrl?: string;
}

/** A node-level failure that is not an API answer (bad credential data, unreachable metadata). */
function credentialError(node: INode, message: string, description?: string): NodeApiError {
	return new NodeApiError(node, { message } as JsonObject, { message, description });
}

const apiBase = (override: string) => `${override.replace(/\/+$/, '').replace(/\/3\.0$/, '')}/3.0`;

/** `<key>-<dc>`: the data center goes into a host name, so it is checked first. */
export function dataCenterOfApiKey(apiKey: string, node: INode): string {
	const dash = apiKey.lastIndexOf('-');
	const dc = dash === -1 ? '' : apiKey.slice(dash + 1);
	if (!DATA_CENTER.test(dc)) {
		throw credentialError(
			node,
			'The Mailchimp API key has no valid data center suffix',
			'A Mailchimp API key ends with "-" and its data center, such as "-us6". Copy the whole key from Mailchimp (Profile → Extras → API keys).',
		);
	}
	return dc;
}

interface AccountMetadata {
	dc: string;
	apiEndpoint: string;
}

/** Per token (by hash, never by value): OAuth tokens never expire, so neither does the answer. */
const metadataCache = new Map<string, Promise<AccountMetadata>>();

const fingerprint = (secret: string) => createHash('sha256').update(secret).digest('hex').slice(0, 24);

async function fetchMetadata(node: INode, token: string, url: string): Promise<AccountMetadata> {
	const body = await withRetry(
		async () => {
			const response = await fetch(url, {
				headers: { Authorization: `OAuth ${token}`, Accept: 'application/json' },
				signal: AbortSignal.timeout(30_000),
			});
			if (!response.ok) throw new HttpStatusError(response.status, response.headers.get('retry-after'));
			return (await response.json()) as Record<string, unknown>;
		},
		(error) =>
			error instanceof HttpStatusError
				? { retryable: error.status === 429 || error.status >= 500, retryAfterMs: parseRetryAfter(error.retryAfter ?? undefined) }
				: { retryable: !(error instanceof SyntaxError) },
		{ sleep },
	).catch((error) => {
		const reason = error instanceof RetriesExhaustedError ? error.message : (error as Error).message;
		throw credentialError(
			node,
			'Could not look up the Mailchimp account of this OAuth credential',
			`The OAuth metadata endpoint did not answer usefully (${reason}). Try again later; if it persists, reconnect the credential.`,
		);
	});
	// Mailchimp answers an invalid or revoked token with HTTP 200 and {"error": "invalid_token"}.
	if (typeof body.error === 'string' || typeof body.api_endpoint !== 'string' || typeof body.dc !== 'string') {
		throw credentialError(
			node,
			'Mailchimp rejected the OAuth access token; reconnect the credential',
			`Mailchimp's account lookup answered "${String(body.error ?? 'no api_endpoint')}". The app may have been revoked or its client secret rotated.`,
		);
	}
	if (!DATA_CENTER.test(body.dc)) {
		throw credentialError(node, `Mailchimp returned an unexpected data center "${body.dc}"`);
	}
	return { dc: body.dc, apiEndpoint: body.api_endpoint };
}

class HttpStatusError extends Error {
	constructor(
		readonly status: number,
		readonly retryAfter: string | null,
	) {
		super(`HTTP ${status}`);
	}
}

/** Turns either Mailchimp credential into an account address; the OAuth data center is looked up once per token. */
export async function resolveMailchimpAuth(
	kind: MailchimpAuthKind,
	credentials: MailchimpApiKeyCredential | MailchimpOAuth2Credential,
	node: INode,
): Promise<MailchimpAuth> {
	if (kind === 'apiKey') {
		const { apiKey = '', apiBaseUrl } = credentials as MailchimpApiKeyCredential;
		const secret = apiKey.trim();
		if (!secret) throw credentialError(node, 'The Mailchimp API key is empty; add it to the credential');
		const dc = dataCenterOfApiKey(secret, node);
		return { kind, secret, baseUrl: apiBaseUrl ? apiBase(apiBaseUrl) : `https://${dc}.api.mailchimp.com/3.0` };
	}
	const { oauthTokenData, metadataUrl, apiBaseUrl } = credentials as MailchimpOAuth2Credential;
	const secret = oauthTokenData?.access_token;
	if (!secret) {
		throw credentialError(node, 'The Mailchimp OAuth2 credential is not connected; open it and click "Connect my account"');
	}
	const key = `${fingerprint(secret)} ${metadataUrl ?? ''}`;
	let metadata = metadataCache.get(key);
	if (!metadata) {
		metadata = fetchMetadata(node, secret, metadataUrl || DEFAULT_METADATA_URL);
		metadataCache.set(key, metadata);
		// A failed lookup is not cached: the next execution asks again.
		metadata.catch(() => metadataCache.delete(key));
	}
	const { apiEndpoint } = await metadata;
	return { kind, secret, baseUrl: apiBase(apiBaseUrl || apiEndpoint) };
}

/**
 * Mailchimp's 10 simultaneous connections are per account, whatever each node's Concurrency says:
 * one set of slots per account, shared by every node and execution in this process. The account is
 * known by its API address (data center) and a hash of the key or token, never the secret itself.
 * (Two different keys of one account cannot be told apart without asking Mailchimp; each gets its own.)
 */
const accountSlots = new Map<string, pLimit.Limit>();

/** Merge fields read in a run, by account, run and audience (see `getMergeFields`); kept a minute at most. */
const mergeFieldsOfRun = new Map<string, Promise<MergeField[]>>();
const MERGE_FIELDS_KEPT_MS = 60_000;

export function accountKeyOf(auth: MailchimpAuth): string {
	return `${auth.baseUrl} ${fingerprint(auth.secret)}`;
}

function accountLimiter(auth: MailchimpAuth): pLimit.Limit {
	const key = accountKeyOf(auth);
	let limit = accountSlots.get(key);
	if (!limit) {
		limit = pLimit(MAX_CONCURRENCY);
		accountSlots.set(key, limit);
	}
	return limit;
}

/** The official client's error: superagent's, with the problem+json answer on `response.body`. */
interface ClientError {
	status?: number;
	code?: string;
	timeout?: number;
	message?: string;
	response?: { body?: unknown; headers?: Record<string, string>; text?: string };
}

interface Problem {
	type?: string;
	title?: string;
	status?: number;
	detail?: string;
	instance?: string;
	errors?: Array<{ field?: string; message?: string }>;
}

const NETWORK_FAULTS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'EAI_AGAIN', 'ESOCKETTIMEDOUT', 'ENOTFOUND']);

function problemOf(error: ClientError): Problem | undefined {
	const body = error.response?.body;
	return body && typeof body === 'object' && Object.keys(body).length > 0 ? (body as Problem) : undefined;
}

/** The retry half of the policy: throttling, server faults, resets and timeouts are worth another try. */
export function classifyMailchimpError(error: unknown): RetryVerdict {
	const e = error as ClientError;
	const retryAfterMs = parseRetryAfter(e.response?.headers?.['retry-after']);
	if (e.status === undefined) return { retryable: e.timeout !== undefined || NETWORK_FAULTS.has(e.code ?? '') };
	if (e.status === 429 || e.status >= 500) return { retryable: true, retryAfterMs };
	// "At exceptionally high volumes" Mailchimp throttles with a 403 that has no JSON body.
	if (e.status === 403 && !problemOf(e)) return { retryable: true, retryAfterMs };
	return { retryable: false };
}

/** Says what a call was for, so an error can name the audience or tag the user picked. */
export interface CallPurpose {
	/** e.g. "read the members of tag 'VIP'" */
	action: string;
	/** The endpoint, for an unexpected answer, e.g. "GET /lists/abc/segments/12/members". */
	endpoint: string;
	/** The message for a 404, e.g. "Mailchimp has no audience with ID 'abc'". */
	notFound?: string;
	/** What to do after a 404. */
	notFoundHint?: string;
	/** A 404 in Mailchimp's own problem+json shape means the member was deleted: `MemberNotFound`. */
	deletedOn404?: boolean;
}

/**
 * Mailchimp's own answer that a member does not exist. Only a problem+json 404 counts: a bare 404
 * (a proxy's page, a wrong base URL) proves nothing about the member and stays an error.
 */
class MemberNotFound extends Error {}

export interface MailchimpClientOptions {
	concurrency?: number;
	retryPolicy?: RetryPolicy;
	/** Replaced in tests. */
	sleep?: (ms: number) => Promise<void>;
	timeoutMs?: number;
	/** Called before each retry wait; for counters and logs (never given the secret). */
	onRetry?: (info: { attempt: number; waitMs: number; status?: number }) => void;
	/** The n8n execution: reads shared between the run's nodes (see `getMergeFields`) are kept per run. */
	runId?: string;
}

export interface Audience {
	id: string;
	name: string;
	memberCount?: number;
}

export interface Tag {
	id: string;
	name: string;
	memberCount?: number;
}

export interface MergeField {
	tag: string;
	name: string;
	type: string;
	options?: Record<string, unknown>;
}

/** A member as this package reads it (only the fields it asks for). */
export interface MailchimpMember {
	id: string;
	contact_id?: string;
	email_address: string;
	full_name?: string;
	status: string;
	merge_fields?: Record<string, unknown>;
	sms_phone_number?: string;
	sms_subscription_status?: string;
	last_changed?: string;
	list_id?: string;
	tags?: Array<{ id: number | string; name: string }>;
	tags_count?: number;
}

export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived';

/** The member fields a sync needs; everything else stays on Mailchimp's side of the wire. */
export const MEMBER_FIELDS = [
	'id',
	'contact_id',
	'email_address',
	'full_name',
	'status',
	'merge_fields',
	'sms_phone_number',
	'sms_subscription_status',
	'last_changed',
	'list_id',
];

interface Page<T> {
	items: T[];
	total: number;
}

/**
 * The official client's superagent 3 sends every request with `agent: false`: a new connection, and a
 * TLS handshake, for each page, past the HTTP agent n8n sets up for a proxy. The client has no option
 * for an agent; its one hook on each request is its cookie jar, so the jar here attaches Node's global
 * agent (kept-alive connections, or n8n's proxy agent when n8n has one) and keeps no cookies.
 */
function keepConnections(api: ApiClient): void {
	api.enableCookies = true;
	api.agent = {
		attachCookies: (request) => void request.agent(undefined),
		saveCookies: () => undefined,
	};
}

export class MailchimpClient {
	private readonly api: ApiClient;
	/** This node's own share (its Concurrency option), within the account's slots. */
	private readonly limit: pLimit.Limit;
	private readonly accountLimit: pLimit.Limit;
	private readonly policy: RetryPolicy;
	private readonly wait: (ms: number) => Promise<void>;

	constructor(
		private readonly auth: MailchimpAuth,
		private readonly node: INode,
		private readonly options: MailchimpClientOptions = {},
	) {
		const concurrency = Math.trunc(options.concurrency ?? DEFAULT_CONCURRENCY);
		if (!(concurrency >= 1 && concurrency <= MAX_CONCURRENCY)) {
			throw new NodeApiError(node, {} as JsonObject, {
				message: `Concurrency must be between 1 and ${MAX_CONCURRENCY}`,
				description: 'Mailchimp allows at most 10 simultaneous connections per account, shared with your other integrations.',
			});
		}
		this.api = new ApiClient();
		this.api.setConfig(auth.kind === 'apiKey' ? { apiKey: auth.secret } : { accessToken: auth.secret });
		this.api.basePath = auth.baseUrl;
		this.api.timeout = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
		keepConnections(this.api);
		this.limit = pLimit(concurrency);
		this.accountLimit = accountLimiter(auth);
		this.policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
		this.wait = options.sleep ?? sleep;
	}

	/**
	 * Every request goes through here: one slot per attempt (not held while backing off), the retry
	 * policy, clear errors, and `check`, which turns the answer into what the caller relies on or
	 * throws `UnexpectedAnswer` (mailchimp-answers.ts: the one place answers are checked).
	 */
	private async request<T>(
		purpose: CallPurpose,
		call: (api: ApiClient) => Promise<{ data: unknown }>,
		check: (data: unknown) => T,
	): Promise<T> {
		let data: unknown;
		try {
			const result = await withRetry(
				() => this.limit(() => this.accountLimit(() => call(this.api))),
				classifyMailchimpError,
				{
					sleep: this.wait,
					onRetry: ({ attempt, waitMs, error }) =>
						this.options.onRetry?.({ attempt, waitMs, status: (error as ClientError).status }),
				},
				this.policy,
			);
			data = result.data;
		} catch (error) {
			const cause = error as ClientError;
			if (purpose.deletedOn404 && cause.status === 404 && problemOf(cause)?.status === 404) throw new MemberNotFound();
			throw this.toNodeError(error, purpose);
		}
		try {
			return check(data);
		} catch (error) {
			if (!(error instanceof UnexpectedAnswer)) throw error;
			throw new NodeApiError(this.node, { endpoint: purpose.endpoint, problem: error.message } as JsonObject, {
				message: `Mailchimp gave an unexpected answer to ${purpose.endpoint}: ${error.message}`,
				description: `This happened while trying to ${purpose.action}; the run stopped there, so nothing was synced or removed on the strength of it. Such answers usually come from a proxy, a firewall or an outage page between n8n and Mailchimp. Try again later; if it persists, check the credential's API base URL and the network.`,
			});
		}
	}

	private toNodeError(error: unknown, purpose: CallPurpose): NodeApiError {
		const exhausted = error instanceof RetriesExhaustedError;
		const cause = (exhausted ? error.lastError : error) as ClientError;
		const problem = problemOf(cause);
		const status = cause.status;
		// Only these fields leave the transport: the client's own error object carries the request headers.
		const response: JsonObject = {
			status: status ?? null,
			title: problem?.title ?? null,
			detail: problem?.detail ?? null,
			instance: problem?.instance ?? null,
			type: problem?.type ?? null,
			errors: (problem?.errors ?? []) as unknown as JsonObject[],
		};
		const httpCode = status ? String(status) : undefined;
		const detail = [problem?.detail, ...(problem?.errors ?? []).map((e) => `${e.field ?? 'field'}: ${e.message ?? ''}`)]
			.filter(Boolean)
			.join(' ');
		const reference = problem?.instance ? ` (Mailchimp reference ${problem.instance})` : '';
		const fail = (message: string, description?: string) =>
			new NodeApiError(this.node, response, { message, description, httpCode });

		if (exhausted) {
			const what = status ? `answered ${status}${problem?.title ? ` ${problem.title}` : ''}` : `could not be reached (${cause.code ?? cause.message ?? 'no answer'})`;
			return fail(
				`Mailchimp kept failing while trying to ${purpose.action}`,
				`Mailchimp ${what} on ${error.attempts} attempts over ${Math.round(error.waitedMs / 1000)} s. It may be throttling this account (10 connections at most, shared with other integrations) or be unavailable. Try again later, or lower the concurrency.`,
			);
		}
		if (status === undefined) {
			return fail(
				`Could not reach Mailchimp to ${purpose.action}`,
				`${cause.code ?? cause.message ?? 'The connection failed'}. Check the network and the credential's API base URL.`,
			);
		}
		if (status === 401) {
			return this.auth.kind === 'apiKey'
				? fail('Mailchimp rejected the API key; check it in the credential', `${detail}${reference}`)
				: fail('Mailchimp rejected the access token; reconnect the credential', `${detail}${reference}`);
		}
		if (status === 404) {
			return fail(
				purpose.notFound ?? `Mailchimp could not find what was needed to ${purpose.action}`,
				`${purpose.notFoundHint ?? 'Check the IDs, and that the credential belongs to the Mailchimp account that owns them.'}${reference}`,
			);
		}
		if (status === 403) {
			return fail(`Mailchimp refused to ${purpose.action}: ${problem?.title ?? 'forbidden'}`, `${detail}${reference}`);
		}
		return fail(
			`Mailchimp could not ${purpose.action}: ${problem?.title ?? `HTTP ${status}`}`,
			`${detail || 'No details were given.'}${reference}`,
		);
	}

	/**
	 * The one paging helper. Always sends `count`, since Mailchimp's default of 10 would silently truncate.
	 * With `expectedTotal` (a count Mailchimp already gave, such as a tag's member_count) every page it
	 * implies is requested at once, within the concurrency caps, instead of the first page alone: the
	 * first page's `total_items` then decides, and pages it adds are read after. Without it: the first page
	 * to learn `total_items`, then the remaining pages at once or one after the other.
	 */
	async readAll<T>(
		readPage: (offset: number, count: number) => Promise<Page<T>>,
		{ concurrent = true, pageSize = PAGE_SIZE, expectedTotal }: { concurrent?: boolean; pageSize?: number; expectedTotal?: number } = {},
	): Promise<T[]> {
		const offsetsUpTo = (from: number, total: number) => {
			const offsets: number[] = [];
			for (let offset = from; offset < total; offset += pageSize) offsets.push(offset);
			return offsets;
		};
		const readPages = (offsets: number[]) => Promise.all(offsets.map((offset) => readPage(offset, pageSize).then((p) => p.items)));
		if (concurrent && expectedTotal !== undefined && expectedTotal > pageSize) {
			const guessed = offsetsUpTo(0, expectedTotal);
			const [first, ...rest] = await Promise.all(guessed.map((offset) => readPage(offset, pageSize)));
			// Members joined while this ran, or the count left some statuses out: read what it did not cover.
			const more = await readPages(offsetsUpTo(guessed.length * pageSize, first.total));
			return first.items.concat(...rest.map((p) => p.items), ...more);
		}
		const first = await readPage(0, pageSize);
		if (first.items.length < pageSize) return first.items;
		const offsets = offsetsUpTo(pageSize, first.total);
		const rest: T[][] = [];
		if (concurrent) {
			rest.push(...(await readPages(offsets)));
		} else {
			for (const offset of offsets) {
				const page = await readPage(offset, pageSize);
				rest.push(page.items);
				if (page.items.length < pageSize) break;
			}
		}
		return first.items.concat(...rest);
	}

	async ping(): Promise<void> {
		await this.request({ action: 'check the credential', endpoint: 'GET /ping' }, (api) => api.ping.getWithHttpInfo(), bodyOf);
	}

	async getAudiences(): Promise<Audience[]> {
		type List = { id: string; name: string; stats?: { member_count?: number } };
		const lists = await this.readAll((offset, count) =>
			this.request(
				{ action: 'list the audiences', endpoint: 'GET /lists' },
				(api) =>
					api.lists.getAllListsWithHttpInfo({
						count,
						offset,
						fields: ['lists.id', 'lists.name', 'lists.stats.member_count', 'total_items'],
					}),
				(data) => pageOf(data, 'lists', namedAt('id')<List>),
			),
		);
		return lists.map((l) => ({ id: l.id, name: l.name, memberCount: l.stats?.member_count }));
	}

	async getAudience(audienceId: string): Promise<Audience> {
		const list = await this.request(
			this.audiencePurpose(audienceId, 'read the audience', ''),
			(api) => api.lists.getListWithHttpInfo(audienceId, { fields: ['id', 'name', 'stats.member_count'] }),
			(data) => namedAt('id')<{ id: string; name: string; stats?: { member_count?: number } }>(bodyOf(data)),
		);
		return { id: list.id, name: list.name, memberCount: list.stats?.member_count };
	}

	/** Tags are static segments. All of them: not the default first 10. */
	async getTags(audienceId: string): Promise<Tag[]> {
		type Segment = { id: number; name: string; member_count?: number };
		const segments = await this.readAll((offset, count) =>
			this.request(
				this.audiencePurpose(audienceId, 'list the tags of the audience', '/segments'),
				(api) =>
					api.lists.listSegmentsWithHttpInfo(audienceId, {
						type: 'static',
						count,
						offset,
						fields: ['segments.id', 'segments.name', 'segments.member_count', 'total_items'],
					}),
				(data) => pageOf(data, 'segments', namedAt('id', { numericId: true })<Segment>),
			),
		);
		return segments.map((s) => ({ id: String(s.id), name: s.name, memberCount: s.member_count }));
	}

	/**
	 * All members of one tag. Unsubscribed, cleaned and transactional members are only listed when
	 * asked for; archived members never are. `keep` turns each member into what the caller keeps of it as
	 * its page arrives (while other pages are still on their way), so a large tag is never held whole.
	 */
	async getTagMembers<M = MailchimpMember>(
		audienceId: string,
		tag: Tag,
		include: { unsubscribed?: boolean; cleaned?: boolean; transactional?: boolean } = {},
		keep?: (member: MailchimpMember) => M,
	): Promise<M[]> {
		const purpose: CallPurpose = {
			action: `read the members of tag '${tag.name}'`,
			endpoint: `GET /lists/${audienceId}/segments/${tag.id}/members`,
			notFound: `Mailchimp has no tag '${tag.name}' (ID ${tag.id}) in audience '${audienceId}'`,
			notFoundHint: 'The tag may have been deleted or renamed; pick the tags again.',
		};
		const member = memberAt(MEMBER_FIELDS)<MailchimpMember>;
		return this.readAll((offset, count) =>
			this.request(
				purpose,
				(api) =>
					api.lists.getSegmentMembersListWithHttpInfo(audienceId, tag.id, {
						count,
						offset,
						fields: [...MEMBER_FIELDS.map((f) => `members.${f}`), 'total_items'],
						include_unsubscribed: include.unsubscribed || undefined,
						include_cleaned: include.cleaned || undefined,
						include_transactional: include.transactional || undefined,
					}),
				(data) => {
					const page = pageOf(data, 'members', member);
					return keep ? { items: page.items.map(keep), total: page.total } : (page as Page<M>);
				},
			),
			// The tag's member count comes with the tag: all its pages are asked for at once.
			{ expectedTotal: tag.memberCount },
		);
	}

	/** Members changed inside a window, oldest first: the only change cursor Mailchimp has. */
	async getMembers(
		audienceId: string,
		query: {
			sinceLastChanged?: string;
			beforeLastChanged?: string;
			status?: MemberStatus;
			sortField?: 'last_changed' | 'timestamp_opt' | 'timestamp_signup';
			sortDir?: 'ASC' | 'DESC';
		} = {},
		fields: string[] = [...MEMBER_FIELDS, 'tags', 'tags_count'],
	): Promise<MailchimpMember[]> {
		const member = memberAt(fields)<MailchimpMember>;
		return this.readAll(
			(offset, count) =>
				this.request(
					this.audiencePurpose(audienceId, 'read the members of the audience', '/members'),
					(api) =>
						api.lists.getListMembersInfoWithHttpInfo(audienceId, {
							count,
							offset,
							fields: [...fields.map((f) => `members.${f}`), 'total_items'],
							status: query.status,
							since_last_changed: query.sinceLastChanged,
							before_last_changed: query.beforeLastChanged,
							sort_field: query.sortField,
							sort_dir: query.sortDir,
						}),
					(data) => pageOf(data, 'members', member),
				),
			// A sorted window is read in order so a failure never leaves a gap behind a later page.
			{ concurrent: query.sortField === undefined },
		);
	}

	/**
	 * The audience's merge fields, read once per run and account: Fetch asks for them while its member
	 * pages are on their way, and Map Fields, later in the same run (n8n runs an execution in one process,
	 * in queue mode on one worker), takes that answer instead of waiting for a request of its own. A failed
	 * read is not kept, so the next node asks again.
	 */
	getMergeFields(audienceId: string): Promise<MergeField[]> {
		const key = this.options.runId ? `${accountKeyOf(this.auth)}\n${this.options.runId}\n${audienceId}` : undefined;
		const shared = key ? mergeFieldsOfRun.get(key) : undefined;
		if (shared) return shared;
		const read = this.readMergeFields(audienceId);
		if (key) {
			mergeFieldsOfRun.set(key, read);
			const forget = () => {
				if (mergeFieldsOfRun.get(key) === read) mergeFieldsOfRun.delete(key);
			};
			read.catch(forget);
			setTimeout(forget, MERGE_FIELDS_KEPT_MS).unref();
		}
		return read;
	}

	private readMergeFields(audienceId: string): Promise<MergeField[]> {
		return this.readAll((offset, count) =>
			this.request(
				this.audiencePurpose(audienceId, 'read the fields of the audience', '/merge-fields'),
				(api) =>
					api.lists.getListMergeFieldsWithHttpInfo(audienceId, {
						count,
						offset,
						fields: ['merge_fields.tag', 'merge_fields.name', 'merge_fields.type', 'merge_fields.options', 'total_items'],
					}),
				(data) => pageOf(data, 'merge_fields', namedAt('tag', { more: ['type'] })<MergeField>),
			),
		);
	}

	/**
	 * One member by subscriber hash, email address or contact id; null when Mailchimp has no such
	 * member (permanently deleted). Archived members are returned with status "archived".
	 */
	async findMember(
		audienceId: string,
		key: string,
		fields: string[] = [...MEMBER_FIELDS, 'tags', 'tags_count'],
	): Promise<MailchimpMember | null> {
		try {
			return await this.request(
				{ action: `read member ${key}`, endpoint: `GET /lists/${audienceId}/members/${key}`, deletedOn404: true },
				(api) => api.lists.getListMemberWithHttpInfo(audienceId, key, { fields }),
				(data) => memberAt(fields)<MailchimpMember>(bodyOf(data)),
			);
		} catch (error) {
			if (error instanceof MemberNotFound) return null;
			throw error;
		}
	}

	/** A member's complete tag list; the member object embeds at most 50. */
	async getMemberTags(audienceId: string, subscriberHash: string): Promise<Tag[]> {
		const tags = await this.readAll((offset, count) =>
			this.request(
				{
					action: `read the tags of member ${subscriberHash}`,
					endpoint: `GET /lists/${audienceId}/members/${subscriberHash}/tags`,
					notFound: `Mailchimp has no member ${subscriberHash} in audience '${audienceId}'`,
				},
				(api) => api.lists.getListMemberTagsWithHttpInfo(audienceId, subscriberHash, { count, offset }),
				(data) => pageOf(data, 'tags', namedAt('id', { numericId: true })<{ id: number; name: string }>),
			),
		);
		return tags.map((t) => ({ id: String(t.id), name: t.name }));
	}

	private audiencePurpose(audienceId: string, action: string, below: string): CallPurpose {
		return {
			action,
			endpoint: `GET /lists/${audienceId}${below}`,
			notFound: `Mailchimp has no audience with ID '${audienceId}'`,
			notFoundHint: 'Pick the audience from the list, or check that the credential belongs to the Mailchimp account that owns it.',
		};
	}
}
