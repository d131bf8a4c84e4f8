/**
 * Mailchimp's list webhooks in the real n8n 2.41.1 with `n8n start`: the webhook template
 * (workflows/mailchimp-webhooks.json) runs the shipped sync workflow for the member each event names.
 * After a full sync, a member unsubscribed in Mailchimp leaves the Hub list within seconds; a profile
 * change (new name and phone) reaches the contact; the next daily run writes nothing for them; a call
 * with a wrong secret changes nothing; and an event that meets a running sync (the lock held) is
 * answered 503, retried by Mailchimp, and applied once the lock is free.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { closeAllSyncStores, openSyncStore, SQLITE_FILE_NAME } from '../../nodes/shared/store';
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { EditorSession } from './browser';
import { E2E_TIMEOUT_MS, N8nSuite, REPO_ROOT, type N8nServer, type WorkflowFixture } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const WEBHOOK_TEMPLATE = 'workflows/mailchimp-webhooks.json';
const TAGS = ['SMS Opt-in'];
const SECRET = 'e2e-secret-0123456789abcdef';
const CREDENTIALS = {
	mailchimp: { id: 'hookMailchimp001', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'hookHub000000001', name: 'Hub (emulator)', type: 'sinchHubApi' },
};

interface HubView {
	inList: boolean;
	status?: string;
	firstName?: string;
}

describe('Mailchimp webhooks → the sync workflow, in the real n8n', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let server: N8nServer;
	let syncId: string;
	let audienceId: string;
	let hookUrl: string;
	let hookWorkflowId: string;
	const timings: Record<string, number> = {};

	beforeAll(async () => {
		const dataset = largeAudience({ members: 40, tags: TAGS, seed: 11 });
		dataset.accounts[0].lists[0].members!.forEach((member, i) => {
			member.merge_fields!.PHONE = `+61412${String(i).padStart(6, '0')}`;
		});
		mailchimp = await startMailchimpEmulator({ dataset });
		hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
		n8n = await N8nSuite.create({ name: 'mailchimp-webhooks' });
		const [account] = credentialsOf(dataset);
		audienceId = account.lists[0].id;
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
			{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
		]);
		syncId = await n8n.importWorkflowFile(SYNC_TEMPLATE, configureSyncTemplate({ audienceId, tags: TAGS, ...CREDENTIALS }));
		// What the sticky notes ask: pick the sync workflow, set the secret and the audience.
		const hookId = (hookWorkflowId = await n8n.importWorkflowFile(WEBHOOK_TEMPLATE, (workflow: WorkflowFixture) => ({
			...workflow,
			nodes: workflow.nodes.map((node) => {
				const parameters = node.parameters as Record<string, unknown>;
				if (node.name === 'Run Sync Workflow') return { ...node, parameters: { ...parameters, workflowId: { __rl: true, mode: 'list', value: syncId } } };
				if (node.name !== 'Webhook Settings') return node;
				const assignments = (parameters.assignments as { assignments: Array<Record<string, unknown>> }).assignments;
				const values: Record<string, string> = { secret: SECRET, audienceId };
				return { ...node, parameters: { ...parameters, assignments: { assignments: assignments.map((a) => ({ ...a, value: values[String(a.name)] })) } } };
			}),
		})));

		// The first full sync, as the schedule runs it.
		const first = await n8n.execute(syncId);
		expect(first.ok).toBe(true);
		expect(inHubList().length).toBeGreaterThan(10);

		server = await n8n.startServer({ ui: true });
		await server.setActive(syncId, true);
		await server.setActive(hookId, true);
		const template = JSON.parse(readFileSync(path.join(REPO_ROOT, WEBHOOK_TEMPLATE), 'utf8')) as WorkflowFixture;
		const webhookId = template.nodes.find((n) => n.name === 'Mailchimp Calls')!.webhookId as string;
		hookUrl = `${server.url}/webhook/${webhookId}/mailchimp-hub-events`;
		// n8n registers a dynamic path a moment after activation answers.
		await until(async () => (await fetch(`${hookUrl}/${SECRET}`)).status !== 404, 20_000);
		// Registered as a user does in Mailchimp (here through its API): Mailchimp checks the URL with a GET.
		const created = await mailchimpApi('POST', `/lists/${audienceId}/webhooks`, {
			url: `${hookUrl}/${SECRET}`,
			events: { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: false },
			sources: { user: true, admin: true, api: false },
		});
		if (created.status !== 200) throw new Error(`registering the webhook: ${JSON.stringify(created.json)}`);
		// Mailchimp retries failed deliveries over 75 minutes; here every 4 s.
		await control('PUT', '/webhooks/settings', { retryDelaysMs: [4000, 4000, 4000, 4000, 4000, 4000] });
	});
	afterAll(async () => {
		if (Object.keys(timings).length > 0) process.stderr.write(`[mailchimp-webhooks] seconds to the Hub: ${JSON.stringify(timings)}\n`);
		await server?.stop();
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	function mailchimpApi(method: string, route: string, body?: unknown) {
		const [account] = credentialsOf(mailchimp.state.dump());
		return fetch(`${mailchimp.apiUrl}${route}`, {
			method,
			headers: { authorization: `apikey ${account.apiKey}`, 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
		}).then(async (r) => ({ status: r.status, json: (await r.json().catch(() => undefined)) as unknown }));
	}
	function control(method: string, route: string, body?: unknown) {
		return fetch(`${mailchimp.url}/_control${route}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }).then(async (r) => {
			if (!r.ok) throw new Error(`control ${route} answered ${r.status}: ${await r.text()}`);
		});
	}

	/** The Hub contact of a number, as the test reads the Hub emulator's state. */
	function hubContact(phone: string): HubView | undefined {
		const account = hub.account(DEFAULT_HUB_ACCOUNT.accountId!);
		for (const stored of account.contacts.values()) {
			const data = account.contactData(stored);
			const sms = data.channels.find((c) => c.type === 'SMS' && c.channelId === phone);
			if (!sms) continue;
			return { inList: data.lists.some((l) => l.name === 'MAILCHIMP'), status: sms.subscriptionState, firstName: data.firstName ?? undefined };
		}
		return undefined;
	}
	function inHubList(): string[] {
		const account = hub.account(DEFAULT_HUB_ACCOUNT.accountId!);
		return [...account.contacts.values()]
			.map((stored) => account.contactData(stored))
			.filter((data) => data.lists.some((l) => l.name === 'MAILCHIMP'))
			.map((data) => String(data.channels.find((c) => c.type === 'SMS')?.channelId));
	}
	const hubWrites = () => [...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) \/api\//.test(route)).reduce((n, [, c]) => n + c, 0);

	/** Synced members (in the Hub list), by email and phone, taken one at a time. */
	const synced = (() => {
		const used = new Set<string>();
		return () => {
			const audience = mailchimp.state.accounts[0].audiences.get(audienceId)!;
			const member = [...audience.members.values()].find(
				(m) => !used.has(m.email) && m.status === 'subscribed' && m.tags.some((t) => TAGS.includes(t.name)) && hubContact(String(m.mergeFields.PHONE))?.inList,
			)!;
			used.add(member.email);
			return { email: member.email, phone: String(member.mergeFields.PHONE) };
		};
	})();

	async function until<T>(what: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
		const deadline = Date.now() + ms;
		for (;;) {
			const value = await what();
			if (value) return value;
			if (Date.now() > deadline) throw new Error('timed out');
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	it('answers Mailchimp\'s GET check with the right secret only', async () => {
		expect((await fetch(`${hookUrl}/${SECRET}`)).status).toBe(200);
		expect((await fetch(`${hookUrl}/wrong-secret-0123456789`)).status).toBe(401);
	});

	it('an unsubscribe takes the member out of the Hub list within seconds', async () => {
		const member = synced();
		const started = Date.now();
		await control('POST', `/lists/${audienceId}/members/${member.email}/actions/unsubscribe`, { source: 'user' });
		await until(() => hubContact(member.phone)?.inList === false);
		timings.unsubscribe = (Date.now() - started) / 1000;
		expect(timings.unsubscribe).toBeLessThan(60);
		// n8n answers Mailchimp after the sync run for the member ended.
		const delivery = await until(() => mailchimp.webhooks.deliveries.find((d) => d.type === 'unsubscribe' && d.body.includes(encodeURIComponent(member.email))));
		expect(delivery.status).toBe(200);
	});

	it('a profile change (new name and phone) updates the contact', async () => {
		const member = synced();
		const phone = '+61412999001';
		const started = Date.now();
		await control('PATCH', `/lists/${audienceId}/members/${member.email}`, { merge_fields: { FNAME: 'Renamed', PHONE: phone } });
		await until(() => hubContact(phone)?.firstName === 'Renamed' && hubContact(phone)?.inList);
		timings.profile = (Date.now() - started) / 1000;
		await until(() => mailchimp.webhooks.deliveries.find((d) => d.type === 'profile' && d.body.includes(encodeURIComponent(member.email)))?.status === 200);
	});

	it("an SMS opt-out (Mailchimp sends no event for it) goes with the member's next event: the contact becomes UNSUBSCRIBED", async () => {
		const member = synced();
		const sentFor = () => mailchimp.webhooks.deliveries.filter((d) => d.body.includes(encodeURIComponent(member.email))).length;
		await control('PATCH', `/lists/${audienceId}/members/${member.email}`, { sms_subscription_status: 'unsubscribed' });
		await new Promise((r) => setTimeout(r, 500));
		expect(sentFor()).toBe(0);
		expect(hubContact(member.phone)?.status).toBe('SUBSCRIBED');
		const started = Date.now();
		await control('PATCH', `/lists/${audienceId}/members/${member.email}`, { merge_fields: { LNAME: 'Later' } });
		await until(() => hubContact(member.phone)?.status === 'UNSUBSCRIBED');
		timings.smsOptOut = (Date.now() - started) / 1000;
	});

	it('a forged call (wrong secret) changes nothing', async () => {
		const member = synced();
		// A change Mailchimp sends no event for (made through its API, which the webhook does not follow).
		const original = mailchimp.state.member(audienceId, member.email).mergeFields.FNAME;
		await control('PATCH', `/lists/${audienceId}/members/${member.email}`, { merge_fields: { FNAME: 'Quietly' }, source: 'api' });
		const before = hubWrites();
		const form = new URLSearchParams({ type: 'profile', fired_at: '2026-11-30 10:00:00', 'data[id]': 'x', 'data[email]': member.email, 'data[list_id]': audienceId });
		for (const url of [`${hookUrl}/wrong-secret-0123456789`, `${hookUrl}/`]) {
			const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
			expect([401, 404]).toContain(answer.status);
		}
		// With the secret but for another audience: refused too.
		const other = new URLSearchParams(form);
		other.set('data[list_id]', 'another-list');
		expect((await fetch(`${hookUrl}/${SECRET}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: other })).status).toBe(400);
		await new Promise((r) => setTimeout(r, 1500));
		expect(hubWrites()).toBe(before);
		expect(hubContact(member.phone)?.firstName).not.toBe('Quietly');
		// Back as it was, so the daily run below has nothing to write for this member either.
		await control('PATCH', `/lists/${audienceId}/members/${member.email}`, { merge_fields: { FNAME: original }, source: 'api' });
	});

	it('an event while a sync holds the lock is answered 503, retried, and applied after the lock is free', async () => {
		const member = synced();
		const store = await openSyncStore({ kind: 'sqlite', path: path.join(n8n.userFolder, '.n8n', SQLITE_FILE_NAME) });
		const held = await store.acquire({ lockName: audienceId, holder: 'e2e: a daily sync', ttlMs: 10 * 60_000, audienceId, triggerKind: 'trigger' });
		if (!held.acquired) throw new Error('the test could not take the lock');
		try {
			const started = Date.now();
			await control('POST', `/lists/${audienceId}/members/${member.email}/actions/unsubscribe`, { source: 'user' });
			const mine = () => mailchimp.webhooks.deliveries.filter((d) => d.body.includes(encodeURIComponent(member.email)));
			const refused = await until(() => mine()[0]);
			expect(refused.status).toBe(503);
			timings.busyAnswer = (Date.now() - started) / 1000;
			expect(hubContact(member.phone)?.inList).toBe(true);
		} finally {
			await store.release(held.lease.ownerToken, { outcome: 'success', counts: {} });
			await closeAllSyncStores();
		}
		const freed = Date.now();
		await until(() => hubContact(member.phone)?.inList === false);
		timings.afterLockFreed = (Date.now() - freed) / 1000;
		const attempts = () => mailchimp.webhooks.deliveries.filter((d) => d.body.includes(encodeURIComponent(member.email)));
		await until(() => attempts().some((d) => d.status === 200));
		// Refused while the lock was held, then delivered by a retry of the same body.
		expect(attempts().map((d) => d.status).filter((s) => s !== 503)).toEqual([200]);
		expect(new Set(attempts().map((d) => d.body)).size).toBe(1);
	});

	it('on screen: the template shows its nodes and set-up notes, and the URL to register under Mailchimp Calls', async () => {
		const session = await EditorSession.open(server);
		try {
			const page = session.page;
			await page.goto(`${server.url}/workflow/${hookWorkflowId}`);
			await page.locator('[data-test-id="canvas-node"]').first().waitFor();
			await page.waitForLoadState('networkidle');
			const names = await page.locator('[data-test-id="canvas-node"]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-node-name')));
			for (const name of ['Mailchimp Calls', 'Webhook Settings', 'Authorized?', 'Run Sync Workflow', 'Busy, Retry Later']) expect(names).toContain(name);
			for (const note of ['Point this at your sync', 'Secret and audience', 'Publish, then register in Mailchimp', 'A sync is running']) {
				await expect(page.getByText(note).first().isVisible()).resolves.toBe(true);
			}
			await session.screenshot('mailchimp-webhooks-canvas');
			// The production URL the user copies into Mailchimp, as the Webhook node's panel shows it.
			await page.locator('[data-test-id="canvas-node"][data-node-name="Mailchimp Calls"]').dblclick();
			await page.getByText('Production URL', { exact: true }).click();
			const url = page.getByText(/\/webhook\/[0-9a-f-]{36}\/mailchimp-hub-events\/:secret$/);
			await url.waitFor();
			// The path the test registered with Mailchimp (n8n names its host from its own settings).
			expect(new URL(String(await url.textContent())).pathname).toBe(`${new URL(hookUrl).pathname}/:secret`);
			await session.screenshot('mailchimp-webhooks-url');
			expect(session.errors).toEqual([]);
		} finally {
			await session.close();
		}
	});

	it('the next daily run writes nothing for those members', async () => {
		const before = hubWrites();
		const syncRuns = async () => (await n8n.executions()).filter((e) => String(e.workflowId) === syncId);
		const executions = (await syncRuns()).length;
		await server.runManually(syncId, 'Start Sync Now');
		const deadline = Date.now() + 5 * 60_000;
		for (;;) {
			const runs = await syncRuns();
			if (runs.length > executions && runs.every((r) => r.stoppedAt !== null)) break;
			if (Date.now() > deadline) throw new Error('the daily run did not finish');
			await new Promise((r) => setTimeout(r, 500));
		}
		expect(hubWrites()).toBe(before);
		const daily = (await syncRuns()).sort((a, b) => a.id - b.id).at(-1)!;
		expect([daily.mode, daily.status]).toEqual(['manual', 'success']);
		// Every sync workflow run was the first sync, one per webhook event applied, and this one; none failed.
		expect((await syncRuns()).filter((r) => r.status !== 'success')).toEqual([]);
	});
});
