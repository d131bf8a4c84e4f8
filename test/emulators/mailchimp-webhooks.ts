/**
 * Mailchimp's list webhooks, as the emulator keeps and fires them.
 *
 * API (as Mailchimp's): `POST /3.0/lists/{list_id}/webhooks` `{ url, events, sources }` (the URL is
 * validated with a GET, which must answer 200), `GET /3.0/lists/{list_id}/webhooks[/{webhook_id}]`,
 * `DELETE /3.0/lists/{list_id}/webhooks/{webhook_id}`.
 *
 * Firing: a member changed through the control API (what an admin or the member does in Mailchimp)
 * is posted to every webhook of the list whose event and source are on, form-encoded with bracket
 * keys exactly as Mailchimp posts it (`type=unsubscribe&fired_at=2026-01-24 15:30:00&data[id]=…&data[merges][FNAME]=…`),
 * with no signature and a 10 s timeout. A delivery answered with anything but 2xx (or not answered)
 * is tried again after each of `retryDelaysMs` (Mailchimp retries over about 75 minutes; a test shortens the delays).
 * There are no tag and no SMS events, as in Mailchimp.
 */
import { randomBytes } from 'node:crypto';

import { formatTime, type Audience, type Member } from './mailchimp-state';

export const WEBHOOK_EVENTS = ['subscribe', 'unsubscribe', 'profile', 'cleaned', 'upemail', 'campaign'] as const;
export const WEBHOOK_SOURCES = ['user', 'admin', 'api'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

export interface ListWebhook {
	id: string;
	listId: string;
	url: string;
	events: Record<WebhookEvent, boolean>;
	sources: Record<WebhookSource, boolean>;
}

/** One attempt to deliver an event, for tests to read (`GET /_control/webhooks/deliveries`). */
export interface WebhookDelivery {
	webhookId: string;
	type: WebhookEvent;
	/** The form body as sent. */
	body: string;
	attempt: number;
	at: number;
	/** The HTTP status, or the network error. */
	status: number | string;
}

/** Mailchimp retries failed deliveries over about 75 minutes. */
export const MAILCHIMP_RETRY_DELAYS_MS = [60_000, 300_000, 600_000, 1_200_000, 2_400_000];
const DELIVERY_TIMEOUT_MS = 10_000;

/** A member as it was before a change, to tell which events the change makes. */
export interface MemberSnapshot {
	email: string;
	hash: string;
	status: string;
	profile: string;
}

export const snapshotOf = (m: Member): MemberSnapshot => ({
	email: m.email,
	hash: m.hash,
	status: m.status,
	profile: JSON.stringify([m.mergeFields, m.fullName, m.language, m.vip]),
});

export class ListWebhooks {
	readonly hooks = new Map<string, ListWebhook>();
	readonly deliveries: WebhookDelivery[] = [];
	retryDelaysMs = MAILCHIMP_RETRY_DELAYS_MS;
	private readonly timers = new Set<NodeJS.Timeout>();
	private closed = false;

	/** `now`: the emulator's clock, in epoch seconds. */
	constructor(private readonly now: () => number) {}

	/** Mailchimp saves a webhook only after its URL answered a GET with 200. */
	async create(listId: string, url: string, events: Partial<Record<WebhookEvent, boolean>>, sources: Partial<Record<WebhookSource, boolean>>): Promise<ListWebhook> {
		const answer = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) }).catch(() => undefined);
		if (answer?.status !== 200) {
			throw new Error(`The URL '${url}' did not return a 200 response to a GET request${answer ? ` (it answered ${answer.status})` : ''}`);
		}
		const hook: ListWebhook = {
			id: randomBytes(5).toString('hex'),
			listId,
			url,
			events: Object.fromEntries(WEBHOOK_EVENTS.map((e) => [e, events[e] === true])) as ListWebhook['events'],
			sources: Object.fromEntries(WEBHOOK_SOURCES.map((s) => [s, sources[s] === true])) as ListWebhook['sources'],
		};
		this.hooks.set(hook.id, hook);
		return hook;
	}

	ofList(listId: string): ListWebhook[] {
		return [...this.hooks.values()].filter((h) => h.listId === listId);
	}

	/** The events a change makes, posted to the list's webhooks that want them. */
	fireChange(audience: Audience, before: MemberSnapshot | undefined, after: Member | undefined, source: WebhookSource, reason?: string): void {
		if (!after) {
			// Permanently deleted: Mailchimp says unsubscribe with action "delete".
			if (before) this.fire(audience, 'unsubscribe', source, { ...this.identity(audience, before), action: 'delete', reason: reason ?? 'manual' });
			return;
		}
		if (before && before.email !== after.email) {
			this.fire(audience, 'upemail', source, { list_id: audience.id, new_id: after.hash, new_email: after.email, old_email: before.email });
		}
		if (!before || before.status !== after.status) {
			if (after.status === 'unsubscribed') this.fire(audience, 'unsubscribe', source, { ...this.profile(audience, after), action: 'unsub', reason: reason ?? 'manual' });
			else if (after.status === 'cleaned') {
				this.fire(audience, 'cleaned', source, { list_id: audience.id, campaign_id: '', reason: reason === 'abuse' ? 'abuse' : 'hard', email: after.email });
			} else if (after.status === 'subscribed') this.fire(audience, 'subscribe', source, this.profile(audience, after));
			return;
		}
		if (before.profile !== snapshotOf(after).profile) this.fire(audience, 'profile', source, this.profile(audience, after));
	}

	close(): void {
		this.closed = true;
		for (const timer of this.timers) clearTimeout(timer);
		this.timers.clear();
	}

	private identity(audience: Audience, m: MemberSnapshot): Record<string, unknown> {
		return { id: m.hash, email: m.email, list_id: audience.id };
	}

	private profile(audience: Audience, m: Member): Record<string, unknown> {
		return {
			id: m.hash,
			email: m.email,
			email_type: 'html',
			ip_opt: '',
			web_id: String(m.webId),
			merges: { EMAIL: m.email, ...m.mergeFields },
			list_id: audience.id,
		};
	}

	private fire(audience: Audience, type: WebhookEvent, source: WebhookSource, data: Record<string, unknown>): void {
		const form = new URLSearchParams();
		form.append('type', type);
		form.append('fired_at', formatTime(this.now()).replace('T', ' ').replace(/\+00:00$/, ''));
		appendBracketed(form, 'data', data);
		const body = form.toString();
		for (const hook of this.ofList(audience.id)) {
			if (hook.events[type] && hook.sources[source]) this.deliver(hook, type, body, 1);
		}
	}

	private deliver(hook: ListWebhook, type: WebhookEvent, body: string, attempt: number): void {
		if (this.closed) return;
		void fetch(hook.url, {
			method: 'POST',
			headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'MailChimp' },
			body,
			signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
		})
			.then(
				async (answer) => {
					await answer.arrayBuffer().catch(() => undefined);
					return answer.status;
				},
				(error: Error) => error.name || 'network error',
			)
			.then((status) => {
				this.deliveries.push({ webhookId: hook.id, type, body, attempt, at: Date.now(), status });
				const delivered = typeof status === 'number' && status >= 200 && status < 300;
				const delay = this.retryDelaysMs[attempt - 1];
				if (delivered || delay === undefined || this.closed || !this.hooks.has(hook.id)) return;
				const timer = setTimeout(() => {
					this.timers.delete(timer);
					this.deliver(hook, type, body, attempt + 1);
				}, delay);
				this.timers.add(timer);
			});
	}
}

/** `data[merges][FNAME]=…`: nested objects become bracketed keys, as Mailchimp (PHP) encodes them. */
function appendBracketed(form: URLSearchParams, prefix: string, value: unknown): void {
	if (value && typeof value === 'object' && !Array.isArray(value)) {
		for (const [key, inner] of Object.entries(value as Record<string, unknown>)) appendBracketed(form, `${prefix}[${key}]`, inner);
		return;
	}
	form.append(prefix, value === null || value === undefined ? '' : String(value));
}
