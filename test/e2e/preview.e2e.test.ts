/**
 * Preview (dry run) in the real n8n 2.41.1, in the shipped sync template: its *Preview Sync* trigger,
 * run as the editor runs it (Execute workflow from that trigger), against the emulators. A preview
 * must announce exactly what the next real run then does (creates, updates, removals, invalid rows,
 * confirmation messages and credits) and write nothing: no Hub request that writes, no message, no
 * ledger row, no run recorded as the last sync. What is expected comes from the Mailchimp dataset.
 */
import path from 'node:path';

import { SQLITE_FILE_NAME, closeAllSyncStores, openSyncStore, type LedgerEntry } from '../../nodes/shared/store';
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import type { HubAccount } from '../emulators/hub-state';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type N8nRun, type N8nServer, type WorkflowFixture } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const PACKAGE = 'n8n-nodes-mailchimp-hub-sync.';
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const AUDIENCE = 'aud0preview';
const TAG = 'SMS Opt-in';
const CREDENTIALS = {
	mailchimp: { id: 'previewMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'previewHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};
const VALID = 20;
const phoneOf = (i: number) => `+61412${String(600_000 + i).padStart(6, '0')}`;
const emailOf = (i: number) => `preview.${i}@example.com`;
/** Valid, but SMS-unsubscribed in Mailchimp: synced UNSUBSCRIBED, never messaged. */
const OPTED_OUT = phoneOf(VALID);

function dataset() {
	const base = largeAudience({ members: 1, tags: [TAG], seed: 7 });
	const list = base.accounts[0].lists[0];
	const member = (i: number, phone: string, extra: Record<string, unknown> = {}) => ({
		email_address: emailOf(i),
		status: 'subscribed' as const,
		merge_fields: { FNAME: `Member${i}`, LNAME: 'Preview', PHONE: phone },
		tags: [TAG],
		...extra,
	});
	base.accounts[0].lists = [
		{
			...list,
			id: AUDIENCE,
			name: 'Preview Audience',
			members: [
				...Array.from({ length: VALID }, (_, i) => member(i, phoneOf(i))),
				member(VALID, OPTED_OUT, { sms_phone_number: OPTED_OUT, sms_subscription_status: 'unsubscribed' }),
				member(VALID + 1, ''),
				member(VALID + 2, '02 9999 9999'),
			],
		},
	];
	return base;
}

const statusWorkflow: WorkflowFixture = {
	id: 'previewStatus',
	name: 'Sync status',
	nodes: [
		{ id: 's1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{ id: 's2', name: 'Status', type: `${PACKAGE}syncLock`, typeVersion: 1, position: [200, 0], parameters: { operation: 'status', lockName: AUDIENCE } },
	],
	connections: { Start: { main: [[{ node: 'Status', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
};

let mailchimp: MailchimpEmulator;
let hub: HubEmulator;
let n8n: N8nSuite;
let server: N8nServer;
let workflowId: string;
let syncName: string;

beforeAll(async () => {
	const data = dataset();
	mailchimp = await startMailchimpEmulator({ dataset: data });
	hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
	n8n = await N8nSuite.create({ name: 'preview' });
	const [account] = credentialsOf(data);
	await n8n.importCredentials([
		{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
		{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
	]);
	workflowId = await n8n.importWorkflowFile(SYNC_TEMPLATE, configureSyncTemplate({ audienceId: AUDIENCE, tags: [TAG], mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub }));
	await n8n.importWorkflows([statusWorkflow]);
	server = await n8n.startServer({ timeoutMs: 240_000 });
}, 600_000);
afterAll(async () => {
	await closeAllSyncStores();
	await server?.stop();
	await n8n?.dispose();
	await mailchimp?.close();
	await hub?.close();
});

interface Ran {
	status: string;
	ran: string[];
	itemsOf(node: string, output?: number): Array<Record<string, unknown>>;
}

/** Runs the workflow from a trigger as the editor's "Execute workflow" does, and waits for it to end. */
async function runFrom(id: string, trigger: string): Promise<Ran> {
	const executionId = await server.runManually(id, trigger);
	const deadline = Date.now() + 5 * 60_000;
	for (;;) {
		const { body } = await server.rest('GET', `/rest/executions/${executionId}`);
		const execution = (body as { data?: { status?: string; data?: string } }).data;
		if (execution?.status && !['new', 'running', 'waiting'].includes(execution.status) && typeof execution.data === 'string') {
			const data = (await n8n.unflatten(execution.data)) as N8nRun['data'];
			const runData = data.resultData.runData;
			return {
				status: execution.status,
				ran: Object.keys(runData).sort(),
				itemsOf: (node, output = 0) => (runData[node]?.at(-1)?.data?.main?.[output] ?? []).map((item) => item.json),
			};
		}
		if (Date.now() > deadline) throw new Error(`execution ${executionId} did not finish within 5 minutes`);
		await new Promise((r) => setTimeout(r, 300));
	}
}

const account = (): HubAccount => hub.account(HUB_ACCOUNT);
const hubWrites = () => [...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) \/(api|v1)\//.test(route)).reduce((n, [, count]) => n + count, 0);
const released = (run: Ran) => run.itemsOf('Release Sync Lock')[0] as { preview?: boolean; outcome: string; counts: Record<string, number>; message: string };

async function ledger(): Promise<LedgerEntry[]> {
	const store = await openSyncStore({ kind: 'sqlite', path: path.join(n8n.userFolder, '.n8n', SQLITE_FILE_NAME) });
	const entries = await store.readLedger(syncName);
	await closeAllSyncStores();
	return entries.sort((a, b) => (a.memberKey < b.memberKey ? -1 : 1));
}

/** Nothing written since the counters were cleared: no Hub write, no message, no credit. */
function expectNothingWritten(creditsBefore: number, messagesBefore: number, contactsBefore: number) {
	expect(hubWrites()).toBe(0);
	expect(account().messages.size).toBe(messagesBefore);
	expect(account().creditsUsed).toBe(creditsBefore);
	expect(account().contacts.size).toBe(contactsBefore);
}

describe('Preview Sync', () => {
	let firstPreview: Record<string, number>;

	it('on an empty Hub announces every create, the invalid rows and the confirmation messages and credits, and writes nothing', async () => {
		hub.counters.clear();
		const run = await runFrom(workflowId, 'Preview Sync');
		expect(run.status).toBe('success');
		syncName = String((run.itemsOf('Fetch Tagged Members')[0].sync as { syncName: string }).syncName);
		const summary = released(run);
		// 21 valid numbers (one SMS-unsubscribed: created UNSUBSCRIBED, not messaged), 2 without a mobile.
		expect(summary).toMatchObject({ preview: true, outcome: 'success' });
		expect(summary.counts).toEqual({ 'would-create': VALID + 1, invalid: 2, messages: VALID, credits: VALID });
		expect(summary.message).toMatch(/^Preview of "aud0preview", nothing written: success/);
		firstPreview = summary.counts;
		expect(run.itemsOf('Send Confirmations').filter((item) => (item.consent as { status?: string }).status === 'would-send')).toHaveLength(VALID);
		expectNothingWritten(0, 0, 0);
		expect(account().lists.size).toBe(0);
		expect(await ledger()).toEqual([]);
	});

	it('is not the last sync: Status shows none yet, and the preview apart', async () => {
		const run = await runFrom('previewStatus', 'Start');
		expect(run.itemsOf('Status')[0]).toMatchObject({ running: false, lastRun: null, runs: [], lastPreview: { preview: true, trigger: 'preview (manual)' } });
	});

	it('the real run then does exactly what the preview announced', async () => {
		const run = await runFrom(workflowId, 'Start Sync Now');
		expect(released(run).counts).toEqual({ created: VALID + 1, invalid: 2, credits: VALID });
		expect(account().contacts.size).toBe(firstPreview['would-create']);
		expect(account().messages.size).toBe(firstPreview.messages);
		expect(account().creditsUsed).toBe(firstPreview.credits);
		expect(await ledger()).toHaveLength(VALID + 1);
	});

	it('after renames, a member leaving and a new member, announces the exact updates, removal and create, and again writes nothing', async () => {
		mailchimp.state.updateMember(AUDIENCE, emailOf(0), { merge_fields: { FNAME: 'Renamed0' } });
		mailchimp.state.updateMember(AUDIENCE, emailOf(1), { merge_fields: { FNAME: 'Renamed1' } });
		mailchimp.state.tagMember(AUDIENCE, emailOf(2), { remove: [TAG] });
		mailchimp.state.addMembers(AUDIENCE, [
			{ email_address: emailOf(99), status: 'subscribed', merge_fields: { FNAME: 'Newcomer', LNAME: 'Preview', PHONE: phoneOf(99) }, tags: [TAG] },
		]);
		const before = { ledger: await ledger(), credits: account().creditsUsed, messages: account().messages.size, contacts: account().contacts.size };
		const firstName = (phone: string) => account().contactData(account().contactsWithChannel(phone)[0]).firstName;
		hub.counters.clear();
		const preview = await runFrom(workflowId, 'Preview Sync');
		// The two members without a mobile are carried (and counted invalid) by every run until they have one.
		expect(released(preview)).toMatchObject({ preview: true, outcome: 'success' });
		expect(released(preview).counts).toEqual({ 'would-update': 2, 'would-remove-from-list': 1, 'would-create': 1, invalid: 2, messages: 1, credits: 1 });
		expectNothingWritten(before.credits, before.messages, before.contacts);
		expect(firstName(phoneOf(0))).toBe('Member0');
		expect(await ledger()).toEqual(before.ledger);

		const real = await runFrom(workflowId, 'Start Sync Now');
		expect(released(real).counts).toEqual({ updated: 2, 'removed-from-list': 1, created: 1, invalid: 2, credits: 1 });
		expect(firstName(phoneOf(0))).toBe('Renamed0');
		expect(account().messages.size).toBe(before.messages + 1);
		expect(account().creditsUsed).toBe(before.credits + 1);
	});

	it('while a sync holds the lock, a preview stops at Already Running and writes nothing', async () => {
		const store = await openSyncStore({ kind: 'sqlite', path: path.join(n8n.userFolder, '.n8n', SQLITE_FILE_NAME) });
		const held = await store.acquire({ lockName: AUDIENCE, holder: 'exec-scheduled', ttlMs: 10 * 60_000, triggerKind: 'trigger' });
		if (!held.acquired) throw new Error('the test could not take the lock');
		try {
			hub.counters.clear();
			const credits = account().creditsUsed;
			const messages = account().messages.size;
			const contacts = account().contacts.size;
			const run = await runFrom(workflowId, 'Preview Sync');
			expect(run.itemsOf('Already Running')[0]).toMatchObject({ acquired: false, holder: 'exec-scheduled' });
			expect(run.ran).not.toContain('Fetch Tagged Members');
			expect(run.ran).not.toContain('Release Sync Lock');
			expectNothingWritten(credits, messages, contacts);
		} finally {
			await store.release(held.lease.ownerToken, { outcome: 'success', counts: {} });
			await closeAllSyncStores();
		}
		// The last sync is the one that held the lock; the refused preview is not a run.
		const status = (await runFrom('previewStatus', 'Start')).itemsOf('Status')[0] as { lastRun: { trigger: string; counts: Record<string, number> } };
		expect(status.lastRun.counts).toEqual({});
		expect(status.lastRun.trigger).toBe('trigger');
	});
});
