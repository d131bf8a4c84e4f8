/**
 * A stateful emulator of the Mailchimp Marketing API v3 (the parts the tag → Hub sync reads) and of
 * Mailchimp's OAuth2 login server, on loopback. It behaves like the real service where it matters
 * to a client: `count` defaults to 10 and stops at 1000, unsubscribed/cleaned/transactional members
 * are hidden from tag listings unless asked for, `fields` needs the `members.` prefix,
 * `since_last_changed` is exclusive with second precision, errors are problem+json, an account gets
 * 429 beyond `maxConnections` simultaneous requests, and an invalid OAuth token gets HTTP 200
 * `{"error":"invalid_token"}` from the metadata endpoint.
 *
 * API:   `${url}/3.0/...` — auth: Basic `anystring:<key>`, `apikey <key>`, `Bearer <token>`, `OAuth <token>`.
 * OAuth: `${url}/oauth2/authorize`, `/oauth2/token`, `/oauth2/metadata`.
 * Faults (common.ts) include garbled 200s: an HTML page, `{}`, or the real answer malformed (its lists
 * objects, `total_items` a string; a single member without string `id` and `status`).
 * Control (no auth, no faults), besides common.ts's counters and faults:
 *   GET  /_control/state                         → the current state as a MailchimpDataset
 *   PUT  /_control/state                         ← a MailchimpDataset: replaces everything
 *   GET  /_control/requests                      → [{ method, path, route, accountId, scheme, outcome }]
 *   POST /_control/requests/reset
 *   GET|PUT /_control/settings                   { maxConnections, tagChangesUpdateLastChanged }
 *   PUT  /_control/clock                         ← { now: ISO string | null } (null = real time)
 *   POST /_control/oauth/codes                   ← { accountId?, redirectUri? } → { code }
 *   POST /_control/credentials/revoke            ← { credential } (an API key or token stops working)
 *   POST /_control/lists/{list_id}/tags          ← { name } → the tag (static segment)
 *   POST /_control/lists/{list_id}/members       ← { members: DatasetMember[] } (adds or updates)
 *   GET  /_control/lists/{list_id}/members/{member}
 *   PATCH /_control/lists/{list_id}/members/{member}       ← MemberPatch (name, phone, merge fields, SMS, status, email)
 *   POST /_control/lists/{list_id}/members/{member}/tags  ← { add?: string[], remove?: string[] }
 *   POST /_control/lists/{list_id}/members/{member}/actions/{action}
 *        action: unsubscribe | resubscribe | clean | archive | delete-permanent  ← { reason?, source? }
 *   GET  /_control/webhooks/deliveries            → every attempt to post a list webhook (mailchimp-webhooks.ts)
 *   PUT  /_control/webhooks/settings              ← { retryDelaysMs: number[] } (Mailchimp's own: over about 75 minutes)
 * Member changes through the control API fire the list's webhooks (source `admin`, or the body's `source`).
 * `{member}` is a subscriber hash, an email address or a contact id.
 *
 * `last_changed` moves on every profile, email, SMS or status change (not on a no-op). Whether a
 * tag change moves it is a setting (`tagChangesUpdateLastChanged`, default false), because Mailchimp
 * does not document it.
 *
 * Where Mailchimp's behaviour is unverified the emulator picks the stricter answer, so the client is
 * built for it: `count` above 1000 is a 400 (not silently capped); `/members` without `status`
 * leaves archived members out; tag listings return full member objects (SMS fields included);
 * `tag-search` returns every match unpaged; the metadata endpoint accepts `Bearer` as well as `OAuth`.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { Router, startEmulator, type EmulatorRequest, type EmulatorResponse, type RunningEmulator } from './common';
import { demoDataset } from './datasets';
import { parseFieldList, projectFields, subTree } from './mailchimp-fields';
import {
	MailchimpState,
	MEMBER_STATUSES,
	formatTime,
	parseTime,
	StateError,
	type Account,
	type Audience,
	type DatasetMember,
	type IncludeFlags,
	type MailchimpDataset,
	type Member,
	type MemberPatch,
	type MemberStatus,
} from './mailchimp-state';
import { ListWebhooks, WEBHOOK_EVENTS, WEBHOOK_SOURCES, snapshotOf, type ListWebhook, type WebhookSource } from './mailchimp-webhooks';
import { accountRootView, listView, memberView, mergeFieldView, segmentView, type MemberFieldSelection } from './mailchimp-views';

export * from './mailchimp-state';

export interface MailchimpEmulatorOptions {
	port?: number;
	host?: string;
	/** Defaults to the demo dataset (`demoDataset()`). */
	dataset?: MailchimpDataset;
	/** Simultaneous requests per account before 429; Mailchimp's limit is 10. */
	maxConnections?: number;
	tagChangesUpdateLastChanged?: boolean;
}

/** One API or OAuth request, with the account whose credential it carried (never the credential). */
export interface MailchimpRequestRecord {
	at: number;
	method: string;
	path: string;
	route: string;
	accountId: string | null;
	scheme: 'basic' | 'apikey' | 'bearer' | 'oauth' | null;
	outcome: 'ok' | 'unauthorized' | 'too-many-connections';
}

export interface MailchimpEmulatorSettings {
	maxConnections: number;
	tagChangesUpdateLastChanged: boolean;
}

export interface MailchimpEmulator extends RunningEmulator {
	/** `${url}/3.0`, what the official client's `basePath` should be. */
	apiUrl: string;
	state: MailchimpState;
	/** Newest last; capped so a long-running emulator does not grow without bound. */
	requests: MailchimpRequestRecord[];
	settings: MailchimpEmulatorSettings;
	/** The lists' webhooks and every delivery attempt. */
	webhooks: ListWebhooks;
	/** Issues an authorization code for the account (default: the first), as the authorize page would. */
	issueAuthorizationCode(accountId?: string, redirectUri?: string): string;
}

export const DEFAULT_MAX_CONNECTIONS = 10;
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 10;
const REQUEST_LOG_LIMIT = 50_000;
const ERROR_DOC = 'https://mailchimp.com/developer/marketing/docs/errors/';

// ---------------------------------------------------------------------------------------------
// problem+json
// ---------------------------------------------------------------------------------------------

function problem(status: number, title: string, detail: string, extra: Record<string, unknown> = {}): EmulatorResponse {
	const instance = randomUUID();
	return {
		status,
		body: { type: ERROR_DOC, title, status, detail, instance, ...extra },
		contentType: 'application/problem+json; charset=utf-8',
		headers: { 'x-request-id': instance },
	};
}

const notFound = () => problem(404, 'Resource Not Found', 'The requested resource could not be found.');

/** Thrown by handlers; becomes the answer. */
class Problem extends Error {
	constructor(readonly response: EmulatorResponse) {
		super(String((response.body as { title?: string }).title));
	}
}

interface FieldError {
	field: string;
	message: string;
}

function invalid(errors: FieldError[]): Problem {
	return new Problem(
		problem(400, 'Invalid Resource', "The resource submitted could not be validated. For field-specific details, see the 'errors' array.", {
			errors,
		}),
	);
}

// ---------------------------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------------------------

/** Collects validation errors so one 400 lists them all, like Mailchimp's `errors[]`. */
class Query {
	readonly errors: FieldError[] = [];
	constructor(private readonly req: EmulatorRequest) {}

	string(name: string): string | undefined {
		const value = this.req.query.get(name);
		return value === null || value === '' ? undefined : value;
	}

	bool(name: string): boolean {
		const value = this.string(name)?.toLowerCase();
		return value === 'true' || value === '1';
	}

	int(name: string, fallback: number, max?: number): number {
		const raw = this.string(name);
		if (raw === undefined) return fallback;
		if (!/^\d+$/.test(raw)) {
			this.errors.push({ field: name, message: `${name} must be a non-negative integer.` });
			return fallback;
		}
		const value = Number(raw);
		if (max !== undefined && value > max) {
			this.errors.push({ field: name, message: `${name} must be less than or equal to ${max}.` });
			return fallback;
		}
		return value;
	}

	oneOf<T extends string>(name: string, allowed: readonly T[], caseInsensitive = false): T | undefined {
		const raw = this.string(name);
		if (raw === undefined) return undefined;
		const match = allowed.find((a) => (caseInsensitive ? a.toLowerCase() === raw.toLowerCase() : a === raw));
		if (!match) this.errors.push({ field: name, message: `Value must be one of: ${allowed.join(', ')}.` });
		return match;
	}

	/** Epoch seconds, second precision. */
	time(name: string): number | undefined {
		const raw = this.string(name);
		if (raw === undefined) return undefined;
		const seconds = parseTime(raw);
		if (Number.isNaN(seconds)) {
			this.errors.push({ field: name, message: `${name} must be an ISO 8601 date, e.g. 2015-10-21T15:41:36+00:00.` });
			return undefined;
		}
		return seconds;
	}

	paging(): { count: number; offset: number } {
		return { count: this.int('count', DEFAULT_PAGE, MAX_PAGE), offset: this.int('offset', 0) };
	}

	includeFlags(): IncludeFlags {
		return {
			unsubscribed: this.bool('include_unsubscribed'),
			cleaned: this.bool('include_cleaned'),
			transactional: this.bool('include_transactional'),
		};
	}

	/** Throws the 400 when any parameter was invalid. */
	check(): void {
		if (this.errors.length > 0) throw invalid(this.errors);
	}
}

/** 200 with `fields` / `exclude_fields` applied. */
function ok(req: EmulatorRequest, body: Record<string, unknown>): EmulatorResponse {
	const fields = parseFieldList(req.query.get('fields'));
	const exclude = parseFieldList(req.query.get('exclude_fields'));
	return { status: 200, body: projectFields(body, fields, exclude) };
}

/**
 * The member fields a `fields` parameter can reach (under `key`, or at the root for a single
 * member), so a trimmed 1,000-member page does not build what it will throw away.
 */
function memberSelection(req: EmulatorRequest, key?: string): MemberFieldSelection {
	const fields = parseFieldList(req.query.get('fields'));
	const tree = key === undefined ? fields : subTree(fields, key);
	return tree === undefined || tree === true ? undefined : new Set(tree.keys());
}

const page = <T>(items: T[], paging: { count: number; offset: number }) => items.slice(paging.offset, paging.offset + paging.count);

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

type Scheme = MailchimpRequestRecord['scheme'];

function readCredential(header: string | undefined): { secret: string; scheme: Scheme } | undefined {
	if (!header) return undefined;
	const match = /^(\w+)\s+(.+)$/.exec(header.trim());
	if (!match) return undefined;
	const scheme = match[1].toLowerCase();
	const value = match[2].trim();
	if (scheme === 'basic') {
		const decoded = Buffer.from(value, 'base64').toString('utf8');
		const colon = decoded.indexOf(':');
		return { secret: colon === -1 ? decoded : decoded.slice(colon + 1), scheme: 'basic' };
	}
	if (scheme === 'apikey' || scheme === 'bearer' || scheme === 'oauth') return { secret: value, scheme };
	return undefined;
}

// ---------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------

export async function startMailchimpEmulator(opts: MailchimpEmulatorOptions = {}): Promise<MailchimpEmulator> {
	const state = new MailchimpState(opts.dataset ?? demoDataset());
	state.settings.tagChangesUpdateLastChanged = opts.tagChangesUpdateLastChanged ?? false;
	const settings: MailchimpEmulatorSettings = {
		maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
		get tagChangesUpdateLastChanged() {
			return state.settings.tagChangesUpdateLastChanged;
		},
		set tagChangesUpdateLastChanged(value: boolean) {
			state.settings.tagChangesUpdateLastChanged = value;
		},
	};
	const requests: MailchimpRequestRecord[] = [];
	/** The account of each admitted API request, for the handler and for releasing its connection. */
	const accountOf = new WeakMap<EmulatorRequest, Account>();
	const authorizationCodes = new Map<string, { accountId: string; redirectUri?: string }>();
	const webhooks = new ListWebhooks(() => state.now());
	let origin = '';

	const record = (req: EmulatorRequest, accountId: string | null, scheme: Scheme, outcome: MailchimpRequestRecord['outcome']) => {
		if (requests.length >= REQUEST_LOG_LIMIT) requests.splice(0, requests.length - REQUEST_LOG_LIMIT + 1);
		requests.push({ at: Date.now(), method: req.method, path: req.path, route: req.route ?? '', accountId, scheme, outcome });
	};

	/** Authenticates `/3.0` requests and enforces the per-account connection limit. */
	function before(req: EmulatorRequest): EmulatorResponse | undefined {
		const credential = readCredential(req.headers.authorization);
		if (!req.path.startsWith('/3.0')) {
			// The login server: no connection limit; note whose token the metadata call carried.
			const owner = credential ? state.accounts.find((a) => a.oauthTokens.has(credential.secret)) : undefined;
			record(req, owner?.id ?? null, credential?.scheme ?? null, 'ok');
			return undefined;
		}
		if (!credential) {
			record(req, null, null, 'unauthorized');
			return problem(401, 'API Key Missing', 'Your request did not include an API key.');
		}
		const account = state.accountForCredential(credential.secret);
		if (!account) {
			record(req, null, credential.scheme, 'unauthorized');
			return problem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter.");
		}
		if (account.inFlight >= settings.maxConnections) {
			record(req, account.id, credential.scheme, 'too-many-connections');
			return problem(429, 'Too Many Requests', `You have exceeded the limit of ${settings.maxConnections} simultaneous connections.`);
		}
		account.inFlight++;
		accountOf.set(req, account);
		record(req, account.id, credential.scheme, 'ok');
		return undefined;
	}

	function after(req: EmulatorRequest): void {
		const account = accountOf.get(req);
		if (account) account.inFlight--;
	}

	/** Wraps an API handler: gives it the caller's account and turns thrown problems into answers. */
	const answerFor = (error: unknown): EmulatorResponse => {
		if (error instanceof Problem) return error.response;
		if (error instanceof StateError) return problem(error.status, error.status === 404 ? 'Resource Not Found' : 'Invalid Resource', error.message);
		throw error;
	};
	const api =
		(handler: (req: EmulatorRequest, account: Account) => EmulatorResponse) =>
		(req: EmulatorRequest): EmulatorResponse => {
			const account = accountOf.get(req);
			if (!account) return problem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter.");
			try {
				return handler(req, account);
			} catch (error) {
				return answerFor(error);
			}
		};
	/** The same for a handler that waits (creating a webhook GETs its URL first). */
	const apiAsync =
		(handler: (req: EmulatorRequest, account: Account) => Promise<EmulatorResponse>) =>
		async (req: EmulatorRequest): Promise<EmulatorResponse> => {
			const account = accountOf.get(req);
			if (!account) return problem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter.");
			return handler(req, account).catch(answerFor);
		};

	/** Another account's list is as invisible as a list that does not exist. */
	function audienceOf(account: Account, req: EmulatorRequest): Audience {
		const audience = account.audiences.get(req.params.list_id);
		if (!audience) throw new Problem(notFound());
		return audience;
	}

	function memberOf(audience: Audience, req: EmulatorRequest): Member {
		const member = audience.findMember(req.params.subscriber_hash);
		if (!member) throw new Problem(notFound());
		return member;
	}

	function webhookOf(audience: Audience, req: EmulatorRequest): ListWebhook {
		const hook = webhooks.hooks.get(req.params.webhook_id);
		if (!hook || hook.listId !== audience.id) throw new Problem(notFound());
		return hook;
	}

	function segmentOf(audience: Audience, req: EmulatorRequest) {
		const id = Number(req.params.segment_id);
		const segment = Number.isInteger(id) ? audience.segments.get(id) : undefined;
		if (!segment) throw new Problem(notFound());
		return segment;
	}

	const router = new Router()
		.add(
			'GET',
			'/3.0',
			api((req, account) => ok(req, accountRootView(account))),
		)
		.add(
			'GET',
			'/3.0/ping',
			api((req) => ok(req, { health_status: "Everything's Chimpy!" })),
		)
		.add(
			'GET',
			'/3.0/lists',
			api((req, account) => {
				const q = new Query(req);
				const paging = q.paging();
				const email = q.string('email');
				const sortDir = q.oneOf('sort_dir', ['ASC', 'DESC'] as const);
				q.oneOf('sort_field', ['date_created'] as const);
				const since = q.time('since_date_created');
				const beforeCreated = q.time('before_date_created');
				q.check();
				let audiences = [...account.audiences.values()].filter(
					(a) =>
						(email === undefined || a.findMember(email) !== undefined) &&
						(since === undefined || a.dateCreated > since) &&
						(beforeCreated === undefined || a.dateCreated < beforeCreated),
				);
				audiences = audiences.sort((x, y) => x.dateCreated - y.dateCreated);
				if (sortDir === 'DESC') audiences.reverse();
				return ok(req, {
					lists: page(audiences, paging).map((a) => listView(a, origin)),
					total_items: audiences.length,
					constraints: { may_create: true, max_instances: 100, current_total_instances: account.audiences.size },
				});
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}',
			api((req, account) => ok(req, listView(audienceOf(account, req), origin))),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/segments',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const q = new Query(req);
				const paging = q.paging();
				const types = ['saved', 'static', 'fuzzy'] as const;
				const type = q.oneOf('type', types);
				const excludeType = q.oneOf('exclude_type', types);
				const sinceCreated = q.time('since_created_at');
				const beforeCreated = q.time('before_created_at');
				const sinceUpdated = q.time('since_updated_at');
				const beforeUpdated = q.time('before_updated_at');
				const flags = q.includeFlags();
				q.check();
				const segments = [...audience.segments.values()].filter(
					(s) =>
						(type === undefined || s.type === type) &&
						(excludeType === undefined || s.type !== excludeType) &&
						(sinceCreated === undefined || s.createdAt > sinceCreated) &&
						(beforeCreated === undefined || s.createdAt < beforeCreated) &&
						(sinceUpdated === undefined || s.updatedAt > sinceUpdated) &&
						(beforeUpdated === undefined || s.updatedAt < beforeUpdated),
				);
				return ok(req, {
					segments: page(segments, paging).map((s) => segmentView(s, flags)),
					list_id: audience.id,
					total_items: segments.length,
				});
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/segments/{segment_id}',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const q = new Query(req);
				const flags = q.includeFlags();
				q.check();
				return ok(req, segmentView(segmentOf(audience, req), flags));
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/segments/{segment_id}/members',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const segment = segmentOf(audience, req);
				const q = new Query(req);
				const paging = q.paging();
				const flags = q.includeFlags();
				q.check();
				const members = audience.visibleSegmentMembers(segment, flags);
				const only = memberSelection(req, 'members');
				return ok(req, { members: page(members, paging).map((m) => memberView(m, only)), total_items: members.length });
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/tag-search',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const prefix = (req.query.get('name') ?? '').toLowerCase();
				const tags = [...audience.segments.values()]
					.filter((s) => s.type === 'static' && s.name.toLowerCase().startsWith(prefix))
					.map((s) => ({ id: s.id, name: s.name }));
				return ok(req, { tags, total_items: tags.length });
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/members',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const q = new Query(req);
				const paging = q.paging();
				const status = q.oneOf('status', MEMBER_STATUSES);
				const sinceChanged = q.time('since_last_changed');
				const beforeChanged = q.time('before_last_changed');
				const sinceOpt = q.time('since_timestamp_opt');
				const beforeOpt = q.time('before_timestamp_opt');
				const sortField = q.oneOf('sort_field', ['timestamp_opt', 'timestamp_signup', 'last_changed'] as const);
				const sortDir = q.oneOf('sort_dir', ['ASC', 'DESC'] as const, true);
				const vipOnly = q.bool('vip_only');
				const uniqueEmailId = q.string('unique_email_id');
				q.check();
				const key = JSON.stringify([status, sinceChanged, beforeChanged, sinceOpt, beforeOpt, sortField, sortDir, vipOnly, uniqueEmailId]);
				const members = audience.cached(`members:${key}`, () =>
					listMembers(audience, { status, sinceChanged, beforeChanged, sinceOpt, beforeOpt, sortField, sortDir, vipOnly, uniqueEmailId }),
				);
				const only = memberSelection(req, 'members');
				return ok(req, { members: page(members, paging).map((m) => memberView(m, only)), list_id: audience.id, total_items: members.length });
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/members/{subscriber_hash}',
			api((req, account) => ok(req, memberView(memberOf(audienceOf(account, req), req), memberSelection(req)))),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/members/{subscriber_hash}/tags',
			api((req, account) => {
				const member = memberOf(audienceOf(account, req), req);
				const q = new Query(req);
				const paging = q.paging();
				q.check();
				const tags = member.tags.map((segment, i) => ({ id: segment.id, name: segment.name, date_added: formatTime(member.tagAddedAt[i]) }));
				return ok(req, { tags: page(tags, paging), total_items: tags.length });
			}),
		)
		.add(
			'POST',
			'/3.0/lists/{list_id}/webhooks',
			apiAsync(async (req, account) => {
				const audience = audienceOf(account, req);
				const body = (req.body ?? {}) as { url?: unknown; events?: unknown; sources?: unknown };
				const errors: FieldError[] = [];
				if (typeof body.url !== 'string' || !/^https?:\/\/\S+$/.test(body.url)) errors.push({ field: 'url', message: 'This value should be a valid URL.' });
				for (const [field, names] of [['events', WEBHOOK_EVENTS], ['sources', WEBHOOK_SOURCES]] as const) {
					const value = body[field];
					if (value === undefined) continue;
					if (!value || typeof value !== 'object' || Object.entries(value).some(([k, v]) => !(names as readonly string[]).includes(k) || typeof v !== 'boolean')) {
						errors.push({ field, message: `${field} must be an object of booleans: ${names.join(', ')}.` });
					}
				}
				if (errors.length > 0) throw invalid(errors);
				try {
					const hook = await webhooks.create(audience.id, body.url as string, (body.events ?? {}) as ListWebhook['events'], (body.sources ?? {}) as ListWebhook['sources']);
					return { status: 200, body: webhookView(hook) };
				} catch (error) {
					throw invalid([{ field: 'url', message: (error as Error).message }]);
				}
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/webhooks',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const hooks = webhooks.ofList(audience.id).map(webhookView);
				return ok(req, { webhooks: hooks, list_id: audience.id, total_items: hooks.length });
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/webhooks/{webhook_id}',
			api((req, account) => ok(req, webhookView(webhookOf(audienceOf(account, req), req)))),
		)
		.add(
			'DELETE',
			'/3.0/lists/{list_id}/webhooks/{webhook_id}',
			api((req, account) => {
				webhooks.hooks.delete(webhookOf(audienceOf(account, req), req).id);
				return { status: 204 };
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/merge-fields',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const q = new Query(req);
				const paging = q.paging();
				const type = q.string('type');
				const required = q.string('required');
				q.check();
				const fields = audience.mergeFields.filter(
					(f) => (type === undefined || f.type === type) && (required === undefined || String(f.required ?? false) === required),
				);
				return ok(req, {
					merge_fields: page(fields, paging).map((f) => mergeFieldView(audience, f)),
					list_id: audience.id,
					total_items: fields.length,
				});
			}),
		)
		.add(
			'GET',
			'/3.0/lists/{list_id}/merge-fields/{merge_id}',
			api((req, account) => {
				const audience = audienceOf(account, req);
				const field = audience.mergeFields.find((f) => String(f.merge_id) === req.params.merge_id);
				if (!field) throw new Problem(notFound());
				return ok(req, mergeFieldView(audience, field));
			}),
		)
		// Mailchimp's login server (login.mailchimp.com), served from the same origin.
		.add('GET', '/oauth2/authorize', (req) => authorize(req))
		.add('POST', '/oauth2/token', (req) => exchangeCode(req))
		.add('GET', '/oauth2/metadata', (req) => metadata(req));

	function issueAuthorizationCode(accountId?: string, redirectUri?: string): string {
		const account = accountId === undefined ? state.accounts[0] : state.account(accountId);
		if (!account) throw new StateError(404, `No account ${accountId}`);
		const code = randomBytes(16).toString('hex');
		authorizationCodes.set(code, { accountId: account.id, redirectUri });
		return code;
	}

	function knownClient(clientId: string | undefined, clientSecret?: string): boolean {
		if (state.oauthApps.length === 0) return true;
		return state.oauthApps.some((app) => app.clientId === clientId && (clientSecret === undefined || app.clientSecret === clientSecret));
	}

	/**
	 * Stands in for the login page: the user "approves" at once and is sent back with a code. The
	 * account is the first one unless the emulator-only `account_id` parameter names another.
	 */
	function authorize(req: EmulatorRequest): EmulatorResponse {
		const q = req.query;
		const redirectUri = q.get('redirect_uri');
		if (q.get('response_type') !== 'code' || !redirectUri || !knownClient(q.get('client_id') ?? undefined)) {
			return { status: 400, body: { error: 'invalid_request', error_description: 'Invalid client_id, redirect_uri or response_type' } };
		}
		let code: string;
		try {
			code = issueAuthorizationCode(q.get('account_id') ?? undefined, redirectUri);
		} catch {
			return { status: 400, body: { error: 'invalid_request', error_description: 'Unknown account' } };
		}
		const target = new URL(redirectUri);
		target.searchParams.set('code', code);
		const stateParam = q.get('state');
		if (stateParam !== null) target.searchParams.set('state', stateParam);
		return { status: 302, headers: { location: target.toString() } };
	}

	function exchangeCode(req: EmulatorRequest): EmulatorResponse {
		const body = (req.body ?? {}) as Record<string, string | undefined>;
		// Client credentials come in the form body or, URL-encoded, as HTTP Basic (n8n can do either).
		let clientId = body.client_id;
		let clientSecret = body.client_secret;
		const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization?.trim() ?? '');
		if (basic) {
			const [id, ...secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
			clientId = decodeURIComponent(id);
			clientSecret = decodeURIComponent(secret.join(':'));
		}
		if (body.grant_type !== 'authorization_code') {
			return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Only authorization_code is supported' } };
		}
		if (!knownClient(clientId, clientSecret ?? '')) {
			return { status: 401, body: { error: 'invalid_client', error_description: 'Invalid client credentials' } };
		}
		const grant = body.code ? authorizationCodes.get(body.code) : undefined;
		if (!grant || (grant.redirectUri !== undefined && body.redirect_uri !== undefined && grant.redirectUri !== body.redirect_uri)) {
			return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid authorization code' } };
		}
		authorizationCodes.delete(body.code as string);
		const account = state.account(grant.accountId);
		if (!account) return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid authorization code' } };
		const token = randomBytes(16).toString('hex');
		account.oauthTokens.add(token);
		// Mailchimp tokens never expire and carry no scope.
		return { status: 200, body: { access_token: token, expires_in: 0, scope: null } };
	}

	/** Answers 200 even for a bad token — the real endpoint does, and clients must read the body. */
	function metadata(req: EmulatorRequest): EmulatorResponse {
		const credential = readCredential(req.headers.authorization);
		const account =
			credential && (credential.scheme === 'oauth' || credential.scheme === 'bearer')
				? state.accounts.find((a) => a.oauthTokens.has(credential.secret))
				: undefined;
		if (!account) return { status: 200, body: { error: 'invalid_token' } };
		return {
			status: 200,
			body: {
				dc: account.dc,
				role: 'owner',
				accountname: account.name,
				user_id: account.userId,
				login: {
					email: account.loginEmail,
					avatar: null,
					login_id: account.userId,
					login_name: account.loginEmail,
					login_email: account.loginEmail,
				},
				login_url: origin,
				api_endpoint: origin,
			},
		};
	}

	// --- control ---------------------------------------------------------------------------------

	const control = (handler: (req: EmulatorRequest) => EmulatorResponse) => (req: EmulatorRequest): EmulatorResponse => {
		try {
			return handler(req);
		} catch (error) {
			if (error instanceof StateError) return { status: error.status, body: { message: error.message } };
			throw error;
		}
	};
	const bodyOf = <T>(req: EmulatorRequest) => (req.body ?? {}) as T;
	const memberAnswer = (member: Member) => ({ status: 200, body: memberView(member) });
	const actions: Record<string, MemberStatus> = {
		unsubscribe: 'unsubscribed',
		resubscribe: 'subscribed',
		clean: 'cleaned',
		archive: 'archived',
	};

	/**
	 * Applies a member change made through the control API and fires the list's webhooks for it, as
	 * Mailchimp does for a change in its UI (source `admin`) or by the member (`source: "user"`).
	 */
	function changing<T extends Member | void>(req: EmulatorRequest, change: (listId: string, key: string) => T): T {
		const { list_id: listId, member: key } = req.params;
		const before = state.member(listId, key);
		const audience = before.audience;
		const snapshot = snapshotOf(before);
		const result = change(listId, key);
		const body = bodyOf<{ source?: WebhookSource; reason?: string }>(req);
		webhooks.fireChange(audience, snapshot, result || undefined, body.source ?? 'admin', body.reason);
		return result;
	}

	const controlRouter = new Router()
		.add('GET', '/_control/webhooks/deliveries', () => ({ status: 200, body: webhooks.deliveries }))
		.add('PUT', '/_control/webhooks/settings', (req) => {
			const delays = bodyOf<{ retryDelaysMs?: unknown }>(req).retryDelaysMs;
			if (!Array.isArray(delays) || delays.some((d) => typeof d !== 'number' || d < 0)) {
				return { status: 400, body: { message: 'retryDelaysMs must be a list of milliseconds' } };
			}
			webhooks.retryDelaysMs = delays as number[];
			return { status: 200, body: { retryDelaysMs: webhooks.retryDelaysMs } };
		})
		.add('GET', '/_control/state', () => ({ status: 200, body: state.dump() }))
		.add(
			'PUT',
			'/_control/state',
			control((req) => {
				state.load(bodyOf<MailchimpDataset>(req));
				return { status: 204 };
			}),
		)
		.add('GET', '/_control/requests', () => ({ status: 200, body: requests }))
		.add('POST', '/_control/requests/reset', () => {
			requests.length = 0;
			return { status: 204 };
		})
		.add('GET', '/_control/settings', () => ({ status: 200, body: { ...settings } }))
		.add('PUT', '/_control/settings', (req) => {
			const patch = bodyOf<Partial<MailchimpEmulatorSettings>>(req);
			if (typeof patch.maxConnections === 'number') settings.maxConnections = patch.maxConnections;
			if (typeof patch.tagChangesUpdateLastChanged === 'boolean') settings.tagChangesUpdateLastChanged = patch.tagChangesUpdateLastChanged;
			return { status: 200, body: { ...settings } };
		})
		.add(
			'PUT',
			'/_control/clock',
			control((req) => {
				const now = bodyOf<{ now?: string | null }>(req).now;
				state.setNow(now ?? undefined);
				return { status: 200, body: { now: new Date(state.now() * 1000).toISOString() } };
			}),
		)
		.add(
			'POST',
			'/_control/oauth/codes',
			control((req) => {
				const body = bodyOf<{ accountId?: string; redirectUri?: string }>(req);
				return { status: 201, body: { code: issueAuthorizationCode(body.accountId, body.redirectUri) } };
			}),
		)
		.add('POST', '/_control/credentials/revoke', (req) => {
			const credential = bodyOf<{ credential?: string }>(req).credential ?? '';
			return state.revokeCredential(credential) ? { status: 204 } : { status: 404, body: { message: 'unknown credential' } };
		})
		.add(
			'POST',
			'/_control/lists/{list_id}/tags',
			control((req) => {
				const segment = state.createTag(req.params.list_id, bodyOf<{ name?: string }>(req).name ?? '');
				return { status: 201, body: segmentView(segment, { unsubscribed: false, cleaned: false, transactional: false }) };
			}),
		)
		.add(
			'POST',
			'/_control/lists/{list_id}/members',
			control((req) => {
				const body = bodyOf<{ members?: DatasetMember[] } & Partial<DatasetMember>>(req);
				const input = body.members ?? [body as DatasetMember];
				const members = state.addMembers(req.params.list_id, input);
				return { status: 201, body: { members: members.map((m) => memberView(m)) } };
			}),
		)
		.add(
			'GET',
			'/_control/lists/{list_id}/members/{member}',
			control((req) => memberAnswer(state.member(req.params.list_id, req.params.member))),
		)
		.add(
			'PATCH',
			'/_control/lists/{list_id}/members/{member}',
			control((req) =>
				memberAnswer(
					changing(req, (listId, key) => state.updateMember(listId, key, bodyOf<MemberPatch>(req))),
				),
			),
		)
		.add(
			'POST',
			'/_control/lists/{list_id}/members/{member}/tags',
			control((req) => memberAnswer(state.tagMember(req.params.list_id, req.params.member, bodyOf<{ add?: string[]; remove?: string[] }>(req)))),
		)
		.add(
			'POST',
			'/_control/lists/{list_id}/members/{member}/actions/{action}',
			control((req) => {
				const { action } = req.params;
				const { reason } = bodyOf<{ reason?: string }>(req);
				if (action === 'delete-permanent') {
					changing(req, (list, key) => state.deletePermanently(list, key));
					return { status: 204 };
				}
				const status = actions[action];
				if (!status) throw new StateError(404, `Unknown action "${action}"; use ${[...Object.keys(actions), 'delete-permanent'].join(', ')}`);
				return memberAnswer(changing(req, (list, key) => state.setStatus(list, key, status, reason)));
			}),
		);

	const running = await startEmulator(router, controlRouter, {
		host: opts.host,
		port: opts.port,
		notFound,
		methodNotAllowed: () =>
			problem(405, 'Method Not Allowed', "The requested method and resource are not compatible. See the Allow header for this resource's available methods."),
		faultBody: (status) =>
			status === 429
				? problem(429, 'Too Many Requests', `You have exceeded the limit of ${settings.maxConnections} simultaneous connections.`)
				: problem(status, 'Service Unavailable', 'The service is temporarily unavailable; try again later.'),
		malform: malformAnswer,
		before,
		after,
	});
	origin = running.url;
	const close = running.close.bind(running);
	return {
		...running,
		close: async () => {
			webhooks.close();
			await close();
		},
		apiUrl: `${running.url}/3.0`,
		state,
		requests,
		settings,
		webhooks,
		issueAuthorizationCode,
	};
}

function webhookView(hook: ListWebhook): Record<string, unknown> {
	return { id: hook.id, url: hook.url, events: { ...hook.events }, sources: { ...hook.sources }, list_id: hook.listId };
}

/**
 * The `rateMalformed200` fault: the real answer with the shape a client relies on broken. A page's
 * lists (`members`, `segments`, `lists`, `merge_fields`, `tags`) become objects keyed by position and
 * `total_items` a string; a single resource loses the string type of its `id` and `status`.
 */
function malformAnswer(body: unknown): unknown {
	if (!body || typeof body !== 'object' || Array.isArray(body)) return {};
	const broken: Record<string, unknown> = { ...(body as Record<string, unknown>) };
	if (!('total_items' in broken)) return { ...broken, id: 0, status: null };
	for (const [key, value] of Object.entries(broken)) {
		if (Array.isArray(value)) broken[key] = Object.fromEntries(value.map((item, i) => [String(i), item]));
	}
	broken.total_items = String(broken.total_items);
	return broken;
}

interface MemberFilter {
	status?: MemberStatus;
	sinceChanged?: number;
	beforeChanged?: number;
	sinceOpt?: number;
	beforeOpt?: number;
	sortField?: 'timestamp_opt' | 'timestamp_signup' | 'last_changed';
	sortDir?: 'ASC' | 'DESC';
	vipOnly: boolean;
	uniqueEmailId?: string;
}

/**
 * `/members` filtering: archived members only with `status=archived`; `since_*` / `before_*` are
 * exclusive at second precision; without `sort_field` the order is the order members joined.
 */
function listMembers(audience: Audience, f: MemberFilter): Member[] {
	const out: Member[] = [];
	for (const m of audience.members.values()) {
		if (f.status === undefined ? m.status === 'archived' : m.status !== f.status) continue;
		if (f.sinceChanged !== undefined && !(m.lastChanged > f.sinceChanged)) continue;
		if (f.beforeChanged !== undefined && !(m.lastChanged < f.beforeChanged)) continue;
		if (f.sinceOpt !== undefined && !(m.opt !== undefined && m.opt > f.sinceOpt)) continue;
		if (f.beforeOpt !== undefined && !(m.opt !== undefined && m.opt < f.beforeOpt)) continue;
		if (f.vipOnly && !m.vip) continue;
		if (f.uniqueEmailId !== undefined && m.uniqueEmailId !== f.uniqueEmailId) continue;
		out.push(m);
	}
	if (f.sortField) {
		const value = (m: Member) => (f.sortField === 'last_changed' ? m.lastChanged : f.sortField === 'timestamp_opt' ? (m.opt ?? 0) : (m.signup ?? 0));
		const dir = f.sortDir === 'DESC' ? -1 : 1;
		out.sort((a, b) => dir * (value(a) - value(b)) || a.seq - b.seq);
	}
	return out;
}
