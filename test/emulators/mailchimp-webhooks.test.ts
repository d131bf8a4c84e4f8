/**
 * The Mailchimp emulator's list webhooks: created, listed and deleted as the real API does (the URL
 * validated with a GET), fired form-encoded for member changes made through the control API, and
 * delivered again after a failed answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { credentialsOf, demoDataset } from './datasets';
import { startMailchimpEmulator, type MailchimpEmulator } from './mailchimp';

interface Received {
	method: string;
	contentType: string | undefined;
	body: string;
}

/** A receiver that answers GETs 200 and POSTs with the next status of `answers` (then 200). */
async function receiver(answers: number[] = []) {
	const received: Received[] = [];
	const server = http.createServer((req, res) => {
		let body = '';
		req.on('data', (c) => (body += c));
		req.on('end', () => {
			received.push({ method: req.method!, contentType: req.headers['content-type'], body });
			res.statusCode = req.method === 'POST' ? (answers.shift() ?? 200) : 200;
			res.end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret`;
	return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function until<T>(what: () => T | undefined, ms = 5000): Promise<T> {
	const deadline = Date.now() + ms;
	for (;;) {
		const value = what();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error('timed out');
		await new Promise((r) => setTimeout(r, 20));
	}
}

describe('the Mailchimp emulator: list webhooks', () => {
	let em: MailchimpEmulator;
	let auth: string;
	let listId: string;
	const dataset = demoDataset();

	beforeEach(async () => {
		em = await startMailchimpEmulator({ dataset });
		const [account] = credentialsOf(dataset);
		auth = `apikey ${account.apiKey}`;
		listId = account.lists[0].id;
	});
	afterEach(async () => em.close());

	const api = async (method: string, path: string, body?: unknown) => {
		const res = await fetch(`${em.apiUrl}${path}`, {
			method,
			headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
			body: body ? JSON.stringify(body) : undefined,
		});
		const text = await res.text();
		return { status: res.status, json: text ? JSON.parse(text) : undefined };
	};
	const control = (method: string, path: string, body?: unknown) =>
		fetch(`${em.url}/_control${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
	const ALL_EVENTS = { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: false };

	it('creates a webhook only after a GET to its URL answered 200; lists, reads and deletes it', async () => {
		const hook = await receiver();
		try {
			const created = await api('POST', `/lists/${listId}/webhooks`, { url: hook.url, events: ALL_EVENTS, sources: { user: true, admin: true, api: false } });
			expect(created.status).toBe(200);
			expect(hook.received.map((r) => r.method)).toEqual(['GET']);
			expect(created.json).toEqual({ id: expect.any(String), url: hook.url, events: ALL_EVENTS, sources: { user: true, admin: true, api: false }, list_id: listId });
			expect((await api('GET', `/lists/${listId}/webhooks`)).json).toEqual({ webhooks: [created.json], list_id: listId, total_items: 1 });
			expect((await api('GET', `/lists/${listId}/webhooks/${created.json.id}`)).json).toEqual(created.json);
			expect((await api('DELETE', `/lists/${listId}/webhooks/${created.json.id}`)).status).toBe(204);
			expect((await api('GET', `/lists/${listId}/webhooks/${created.json.id}`)).status).toBe(404);
		} finally {
			await hook.close();
		}
		// A URL that does not answer 200 is refused, as are fields of the wrong kind.
		const refused = await api('POST', `/lists/${listId}/webhooks`, { url: hook.url, events: ALL_EVENTS });
		expect(refused.status).toBe(400);
		expect(refused.json.errors[0].field).toBe('url');
		expect((await api('POST', `/lists/${listId}/webhooks`, { url: 'not a url' })).status).toBe(400);
		expect((await api('POST', `/lists/${listId}/webhooks`, { url: hook.url, events: { unsubscribe: 'yes' } })).status).toBe(400);
	});

	it('posts unsubscribe, profile, upemail, cleaned and subscribe form-encoded, for the sources asked', async () => {
		const hook = await receiver();
		try {
			await api('POST', `/lists/${listId}/webhooks`, { url: hook.url, events: ALL_EVENTS, sources: { user: true, admin: true, api: false } });
			const [a, b] = dataset.accounts[0].lists[0].members.filter((m) => m.status === 'subscribed');
			const posts = () => hook.received.filter((r) => r.method === 'POST');
			const next = async (n: number) => {
				await until(() => (posts().length >= n ? true : undefined));
				const last = posts()[n - 1];
				expect(last.contentType).toBe('application/x-www-form-urlencoded');
				return { raw: last.body, form: Object.fromEntries(new URLSearchParams(last.body)) };
			};

			await control('POST', `/lists/${listId}/members/${a.email_address}/actions/unsubscribe`, { source: 'user' });
			const unsub = await next(1);
			expect(unsub.raw).toMatch(/^type=unsubscribe&fired_at=\d{4}-\d\d-\d\d\+\d\d%3A\d\d%3A\d\d&data%5Bid%5D=/);
			expect(unsub.form).toMatchObject({ type: 'unsubscribe', 'data[email]': a.email_address, 'data[list_id]': listId, 'data[action]': 'unsub', 'data[merges][EMAIL]': a.email_address });

			await control('PATCH', `/lists/${listId}/members/${b.email_address}`, { merge_fields: { FNAME: 'Renamed' } });
			expect((await next(2)).form).toMatchObject({ type: 'profile', 'data[email]': b.email_address, 'data[merges][FNAME]': 'Renamed' });

			await control('PATCH', `/lists/${listId}/members/${b.email_address}`, { email_address: 'moved@example.com' });
			expect((await next(3)).form).toMatchObject({ type: 'upemail', 'data[old_email]': b.email_address, 'data[new_email]': 'moved@example.com' });

			await control('POST', `/lists/${listId}/members/moved@example.com/actions/clean`);
			expect((await next(4)).form).toMatchObject({ type: 'cleaned', 'data[email]': 'moved@example.com', 'data[reason]': 'hard' });

			await control('POST', `/lists/${listId}/members/${a.email_address}/actions/resubscribe`);
			expect((await next(5)).form).toMatchObject({ type: 'subscribe', 'data[email]': a.email_address });

			// No SMS and no tag events, as in Mailchimp; an API-source change is not sent when `api` is off.
			await control('PATCH', `/lists/${listId}/members/${a.email_address}`, { sms_subscription_status: 'unsubscribed' });
			await control('POST', `/lists/${listId}/members/${a.email_address}/tags`, { add: ['New'] });
			await control('PATCH', `/lists/${listId}/members/${a.email_address}`, { merge_fields: { FNAME: 'Api' }, source: 'api' });
			await new Promise((r) => setTimeout(r, 300));
			expect(posts()).toHaveLength(5);
		} finally {
			await hook.close();
		}
	});

	it('delivers again after a failed answer, with the same body', async () => {
		const hook = await receiver([503, 500]);
		try {
			await control('PUT', '/webhooks/settings', { retryDelaysMs: [50, 50, 50] });
			await api('POST', `/lists/${listId}/webhooks`, { url: hook.url, events: ALL_EVENTS, sources: { admin: true } });
			const [a] = dataset.accounts[0].lists[0].members.filter((m) => m.status === 'subscribed');
			await control('POST', `/lists/${listId}/members/${a.email_address}/actions/unsubscribe`);
			await until(() => (em.webhooks.deliveries.length >= 3 ? true : undefined));
			expect(em.webhooks.deliveries.map((d) => [d.attempt, d.status])).toEqual([
				[1, 503],
				[2, 500],
				[3, 200],
			]);
			expect(new Set(em.webhooks.deliveries.map((d) => d.body)).size).toBe(1);
		} finally {
			await hook.close();
		}
	});
});
