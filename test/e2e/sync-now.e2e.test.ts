/**
 * The "Sync now + status page" template in the real n8n 2.41.1, opened in Chromium as a marketer opens it:
 * the page shows the lock's state and the last run, its button starts the sync workflow (the shipped sync
 * template, configured only there), and a second press while that sync runs answers "already running" and
 * starts nothing.
 */
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { EditorSession } from './browser';
import { E2E_TIMEOUT_MS, N8nSuite, type N8nServer, type WorkflowFixture } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const PAGE_TEMPLATE = 'workflows/mailchimp-hub-sync-now.json';
const TAGS = ['SMS Opt-in'];
const CREDENTIALS = {
	mailchimp: { id: 'nowMailchimp0001', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'nowHub0000000001', name: 'Hub (emulator)', type: 'sinchHubApi' },
};

/** The mobiles of subscribed members with the tag, in E.164, worked out from the dataset alone. */
function expectedPhones(mailchimp: MailchimpEmulator): string[] {
	const audience = mailchimp.state.accounts[0].audiences.values().next().value!;
	const phones = new Set<string>();
	for (const member of audience.members.values()) {
		if (member.status !== 'subscribed' || !member.tags.some((t) => TAGS.includes(t.name))) continue;
		const digits = String(member.mergeFields.PHONE ?? '').replace(/\s/g, '');
		const e164 = /^\+614\d{8}$/.test(digits) ? digits : /^04\d{8}$/.test(digits) ? `+61${digits.slice(1)}` : undefined;
		if (e164) phones.add(e164);
	}
	return [...phones].sort();
}

/** The numbers in the Hub's MAILCHIMP list, one contact each. */
function hubListPhones(hub: HubEmulator): string[] {
	const account = hub.account(DEFAULT_HUB_ACCOUNT.accountId!);
	const phones: string[] = [];
	for (const stored of account.contacts.values()) {
		const data = account.contactData(stored);
		if (!data.lists.some((l) => l.name === 'MAILCHIMP')) continue;
		phones.push(String(data.channels.find((c) => c.type === 'SMS')?.channelId));
	}
	return phones.sort();
}

describe('the sync now + status page in the real n8n and Chromium', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let server: N8nServer;
	let session: EditorSession;
	let syncId: string;
	let pageUrl: string;

	beforeAll(async () => {
		// Large enough that a first sync takes a while: the second press must meet it running.
		const dataset = largeAudience({ members: 4_000, tags: TAGS, seed: 8 });
		// Numbers from one allocated mobile range (0412), so which are valid needs no numbering plan here.
		dataset.accounts[0].lists[0].members!.forEach((member, i) => {
			const national = `0412${String(i).padStart(6, '0')}`;
			member.merge_fields!.PHONE = i % 10 === 9 ? national : `+61${national.slice(1)}`;
		});
		mailchimp = await startMailchimpEmulator({ dataset });
		hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
		n8n = await N8nSuite.create({ name: 'sync-now' });
		const [account] = credentialsOf(dataset);
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
			{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
		]);
		const audienceId = account.lists[0].id;
		syncId = await n8n.importWorkflowFile(SYNC_TEMPLATE, configureSyncTemplate({ audienceId, tags: TAGS, ...CREDENTIALS }));
		// What the sticky notes ask: pick the sync workflow, and set the audience ID in Page Settings.
		const pageId = await n8n.importWorkflowFile(PAGE_TEMPLATE, (workflow: WorkflowFixture) => ({
			...workflow,
			nodes: workflow.nodes.map((node) => {
				const parameters = node.parameters as Record<string, unknown>;
				if (node.name === 'Run Sync Workflow') return { ...node, parameters: { ...parameters, workflowId: { __rl: true, mode: 'list', value: syncId } } };
				if (node.name !== 'Page Settings') return node;
				const assignments = (parameters.assignments as { assignments: Array<Record<string, unknown>> }).assignments;
				return {
					...node,
					parameters: { ...parameters, assignments: { assignments: assignments.map((a) => (a.name === 'audienceId' ? { ...a, value: audienceId } : a)) } },
				};
			}),
		}));
		server = await n8n.startServer({ ui: true });
		// n8n publishes a workflow only after the sub-workflows it calls: the sync first (its schedule), then the page.
		await server.setActive(syncId, true);
		await server.setActive(pageId, true);
		pageUrl = `${server.url}/webhook/mailchimp-hub-sync`;
		session = await EditorSession.open(server);
	});
	afterAll(async () => {
		await session?.close();
		await server?.stop();
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	const text = async (id: string) => (await session.page.locator(`#${id}`).textContent())?.trim() ?? '';
	const syncRuns = async () => (await n8n.executions()).filter((e) => String(e.workflowId) === syncId);

	it('shows idle and no run yet before the first sync', async () => {
		await session.page.goto(pageUrl);
		expect(await text('state')).toBe('Idle: no sync is running.');
		expect(await text('last')).toBe('Last run: none yet');
		expect(await text('next')).toContain('Next scheduled run:');
		await session.screenshot('sync-now-idle');
	});

	it('starts the sync; a second press while it runs answers "already running" and starts nothing; the Hub ends exact', async () => {
		await session.page.getByRole('button', { name: 'Start sync now' }).click();
		await session.page.waitForLoadState();
		expect(await session.page.locator('.ok').textContent()).toContain('Sync started');
		// The page as the sync runs: reload until the lock is held, then press again (a request like the button's).
		let running = '';
		for (let i = 0; i < 200 && !running.startsWith('Running since'); i++) {
			await session.page.goto(pageUrl);
			running = await text('state');
		}
		expect(running).toMatch(/^Running since \d{1,2} \w{3} \d{4}, \d{1,2}:\d{2} [AP]M /);
		// The run in progress is not "the last run": that is the last finished one (none yet here).
		expect(await text('last')).toBe('Last run: none yet');
		await session.screenshot('sync-now-running');
		const busy = await fetch(pageUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'start=now' });
		const busyPage = await busy.text();
		expect(busy.status).toBe(200);
		expect(busyPage).toMatch(/A sync is already running since \d{1,2} \w{3} \d{4}, [^;]+; nothing was started/);
		await session.page.setContent(busyPage);
		await session.screenshot('sync-now-busy');
		// Only the first press started the sync workflow.
		const deadline = Date.now() + 5 * 60_000;
		for (;;) {
			const runs = await syncRuns();
			if (runs.length > 0 && runs.every((r) => r.stoppedAt !== null)) break;
			if (Date.now() > deadline) throw new Error(`the sync did not finish: ${JSON.stringify(runs)}`);
			await new Promise((r) => setTimeout(r, 500));
		}
		expect((await syncRuns()).length).toBe(1);
		expect((await syncRuns()).map((r) => r.status)).toEqual(['success']);

		await session.page.goto(pageUrl);
		expect(await text('state')).toBe('Idle: no sync is running.');
		expect(await text('last')).toMatch(/^Last run: success, started \d{1,2} \w{3} \d{4}, .+\(created: (\d+), credits: \1\)$/);
		await session.screenshot('sync-now-after-run');
		expect(hubListPhones(hub)).toEqual(expectedPhones(mailchimp));
		expect(session.errors).toEqual([]);
	});
});
