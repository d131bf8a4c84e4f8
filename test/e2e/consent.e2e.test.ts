/**
 * Apply Consent in the real n8n 2.41.1, in the shipped sync template (`workflows/mailchimp-hub-sync.json`:
 * Apply Consent before Upsert, Send Confirmations after its Done output) against the emulators. The
 * Hub emulator keeps every message and counts its credits; what should have been sent is worked out
 * from the Mailchimp dataset, not from our code.
 */
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import type { HubAccount } from '../emulators/hub-state';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type ExecutionResult, type WorkflowFixture } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const PACKAGE = 'n8n-nodes-mailchimp-hub-sync.';
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const TAG = 'SMS Opt-in';
const CREDENTIALS = {
	mailchimp: { id: 'consentMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'consentHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};
const CONFIRMATION = 'You are subscribed to receive messages from Acme Coffee. Reply STOP to cancel.';
const REQUEST = 'Reply Y or Yes to confirm that you want to receive SMS messages from Acme Coffee.';

/** One audience per scenario, each with its own range of Australian mobiles. */
const AUDIENCES = { confirm: 'aud0confirm', none: 'aud0none', budget: 'aud0budget', doi: 'aud0doi', killed: 'aud0killed' } as const;
const SIZES = { confirm: 12, none: 5, budget: 25, doi: 150, killed: 150 };
const RANGES = { confirm: 100_000, none: 200_000, budget: 300_000, doi: 400_000, killed: 500_000 };
const phoneOf = (scenario: keyof typeof AUDIENCES, i: number) => `+61412${String(RANGES[scenario] + i).padStart(6, '0')}`;
const emailOf = (scenario: keyof typeof AUDIENCES, i: number) => `${scenario}.${i}@example.com`;
/** In the confirmation audience: SMS-unsubscribed in Mailchimp, and UNSUBSCRIBED in the Hub. */
const MAILCHIMP_OPTED_OUT = phoneOf('confirm', 10);
const HUB_OPTED_OUT = phoneOf('confirm', 11);

function dataset() {
	const base = largeAudience({ members: 1, tags: [TAG], seed: 5 });
	const template = base.accounts[0].lists[0];
	base.accounts[0].lists = (Object.keys(AUDIENCES) as Array<keyof typeof AUDIENCES>).map((scenario) => ({
		...template,
		id: AUDIENCES[scenario],
		name: `Consent ${scenario}`,
		members: Array.from({ length: SIZES[scenario] }, (_, i) => {
			const phone = phoneOf(scenario, i);
			const smsOptOut = phone === MAILCHIMP_OPTED_OUT;
			return {
				email_address: emailOf(scenario, i),
				status: 'subscribed' as const,
				merge_fields: { FNAME: `Member${i}`, LNAME: scenario, PHONE: phone },
				...(smsOptOut ? { sms_phone_number: phone, sms_subscription_status: 'unsubscribed' } : {}),
				tags: [TAG],
			};
		}),
	}));
	return base;
}

const forceReleaseOf = (lockName: string): WorkflowFixture => ({
	name: `Force release ${lockName}`,
	nodes: [
		{ id: 'f1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{ id: 'f2', name: 'Force Release', type: `${PACKAGE}syncLock`, typeVersion: 1, position: [200, 0], parameters: { operation: 'forceRelease', lockName } },
	],
	connections: { Start: { main: [[{ node: 'Force Release', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
});

let mailchimp: MailchimpEmulator;
let hub: HubEmulator;
let n8n: N8nSuite;
const workflows: Partial<Record<keyof typeof AUDIENCES, string>> = {};
const forceRelease: Partial<Record<keyof typeof AUDIENCES, string>> = {};

async function importSync(scenario: keyof typeof AUDIENCES, consent: Record<string, unknown>, id?: string): Promise<string> {
	return await n8n.importWorkflowFile(SYNC_TEMPLATE, (workflow) => ({
		...configureSyncTemplate({
			audienceId: AUDIENCES[scenario],
			tags: [TAG],
			mailchimp: CREDENTIALS.mailchimp,
			hub: CREDENTIALS.hub,
			parameters: { 'Apply Consent': { companyName: 'Acme Coffee', ...consent } },
		})(workflow),
		...(id ? { id } : {}),
	}));
}

beforeAll(async () => {
	const data = dataset();
	mailchimp = await startMailchimpEmulator({ dataset: data });
	hub = await startHubEmulator({ accounts: [{ ...DEFAULT_HUB_ACCOUNT, unsubscribedNumbers: [HUB_OPTED_OUT] }] });
	n8n = await N8nSuite.create({ name: 'consent' });
	const [account] = credentialsOf(data);
	await n8n.importCredentials([
		{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
		{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
	]);
	workflows.confirm = await importSync('confirm', {});
	workflows.none = await importSync('none', { mode: 'none' });
	workflows.budget = await importSync('budget', { creditBudget: 10 });
	workflows.doi = await importSync('doi', { mode: 'doubleOptIn' });
	workflows.killed = await importSync('killed', {});
	[forceRelease.doi, forceRelease.killed] = await n8n.importWorkflows([forceReleaseOf(AUDIENCES.doi), forceReleaseOf(AUDIENCES.killed)]);
});
afterAll(async () => {
	await n8n?.dispose();
	await mailchimp?.close();
	await hub?.close();
});

const account = (): HubAccount => hub.account(HUB_ACCOUNT);
/** Messages the Hub holds to numbers of one scenario, by number. */
function messagesTo(scenario: keyof typeof AUDIENCES): Map<string, string[]> {
	const prefix = `+61412${String(RANGES[scenario]).slice(0, 1)}`;
	const byNumber = new Map<string, string[]>();
	for (const m of account().messages.values()) {
		if (!m.destination_number.startsWith(prefix)) continue;
		byNumber.set(m.destination_number, [...(byNumber.get(m.destination_number) ?? []), m.content]);
	}
	return byNumber;
}
const messageCount = (scenario: keyof typeof AUDIENCES) => [...messagesTo(scenario).values()].flat().length;
const release = (run: ExecutionResult) => run.itemsOf('Release Sync Lock')[0] as { outcome: string; counts: Record<string, number>; released: boolean };
const subscriptionOf = (phone: string) => {
	const [stored] = account().contactsWithChannel(phone);
	return stored ? account().contactData(stored).channels.find((c) => c.type === 'SMS')?.subscriptionState : undefined;
};

describe('Confirmation notification (the template default)', () => {
	it('the first sync sends exactly one confirmation per newly synced valid number, none to an opted-out one, and Release counts the credits', async () => {
		const creditsBefore = account().creditsUsed;
		const run = await n8n.execute(workflows.confirm!);
		const sent = messagesTo('confirm');
		const expected = Array.from({ length: SIZES.confirm }, (_, i) => phoneOf('confirm', i)).filter((p) => p !== MAILCHIMP_OPTED_OUT && p !== HUB_OPTED_OUT);
		expect([...sent.keys()].sort()).toEqual(expected.sort());
		for (const contents of sent.values()) expect(contents).toEqual([CONFIRMATION]);
		expect(account().creditsUsed - creditsBefore).toBe(expected.length);
		expect(release(run).counts.credits).toBe(expected.length);
		expect(release(run).outcome).toBe('success');
		// Opt-out wins: both are in the Hub, UNSUBSCRIBED, and got nothing.
		expect(subscriptionOf(MAILCHIMP_OPTED_OUT)).toBe('UNSUBSCRIBED');
		expect(subscriptionOf(HUB_OPTED_OUT)).toBe('UNSUBSCRIBED');
		expect(subscriptionOf(expected[0])).toBe('SUBSCRIBED');
	});

	it('the second sync sends none', async () => {
		const before = messageCount('confirm');
		const run = await n8n.execute(workflows.confirm!);
		expect(messageCount('confirm')).toBe(before);
		expect(release(run).counts.credits ?? 0).toBe(0);
	});

	it("a member's rename sends none", async () => {
		const before = messageCount('confirm');
		mailchimp.state.updateMember(AUDIENCES.confirm, emailOf('confirm', 0), { merge_fields: { FNAME: 'Renamed' } });
		const run = await n8n.execute(workflows.confirm!);
		expect(release(run).counts.updated).toBe(1);
		expect(messageCount('confirm')).toBe(before);
	});
});

describe('None (inferred consent)', () => {
	it('sends no message and syncs the contacts SUBSCRIBED', async () => {
		const run = await n8n.execute(workflows.none!);
		expect(messageCount('none')).toBe(0);
		for (let i = 0; i < SIZES.none; i++) expect(subscriptionOf(phoneOf('none', i))).toBe('SUBSCRIBED');
		expect(release(run).counts.created).toBe(SIZES.none);
	});
});

describe('credit budget', () => {
	it('budget 10 on 25 new members: 10 messages, 15 Skipped with the reason, the rest on the next runs, each number once', async () => {
		const creditsBefore = account().creditsUsed;
		const first = await n8n.execute(workflows.budget!);
		expect(messageCount('budget')).toBe(10);
		expect(account().creditsUsed - creditsBefore).toBe(10);
		const skipped = first.itemsOf('Send Confirmations', 2);
		expect(skipped).toHaveLength(15);
		expect((skipped[0].consent as { reason: string }).reason).toMatch(/credit budget of 10 credits/);
		expect(release(first).counts.credits).toBe(10);
		// Every member is in the Hub already; only their messages wait.
		for (let i = 0; i < SIZES.budget; i++) expect(subscriptionOf(phoneOf('budget', i))).toBe('SUBSCRIBED');

		const second = await n8n.execute(workflows.budget!);
		expect(messageCount('budget')).toBe(20);
		expect(release(second).counts.credits).toBe(10);
		await n8n.execute(workflows.budget!);
		const sent = messagesTo('budget');
		expect(sent.size).toBe(25);
		for (const contents of sent.values()) expect(contents).toHaveLength(1);
		await n8n.execute(workflows.budget!);
		expect(messageCount('budget')).toBe(25);
		expect(account().creditsUsed - creditsBefore).toBe(25);
	});
});

/** Runs the workflow and kills n8n (SIGKILL) the moment the Hub has carried out its first message request. */
async function killAfterFirstSend(workflowId: string): Promise<void> {
	const hubAccount = account();
	const send = hubAccount.sendMessages.bind(hubAccount);
	const running = n8n.startExecution(workflowId);
	// The Hub carries out the first batch; n8n dies before it hears the answer (so before the store marks it asked).
	hubAccount.sendMessages = (body: unknown) => {
		const sent = send(body);
		running.kill('SIGKILL');
		hubAccount.sendMessages = send;
		return sent;
	};
	await running.result;
	hubAccount.sendMessages = send;
}

describe('Confirmation notification, killed between sending and recording', () => {
	it('the rerun confirms every number exactly once: the claimed ones are not resent, the rest are sent', async () => {
		await killAfterFirstSend(workflows.killed!);
		expect(messageCount('killed')).toBe(100);
		// Upsert had finished: every member is in the Hub.
		for (let i = 0; i < SIZES.killed; i++) expect(subscriptionOf(phoneOf('killed', i))).toBe('SUBSCRIBED');

		await n8n.execute(forceRelease.killed!);
		const rerun = await n8n.execute(workflows.killed!);
		const sent = messagesTo('killed');
		expect(sent.size).toBe(SIZES.killed);
		for (const contents of sent.values()) expect(contents).toEqual([CONFIRMATION]);
		const statuses = rerun.itemsOf('Send Confirmations').map((item) => (item.consent as { status: string }).status);
		expect(statuses.filter((s) => s === 'claimed-unknown')).toHaveLength(100);
		expect(statuses.filter((s) => s === 'sent')).toHaveLength(50);
		expect(release(rerun).counts.credits).toBe(50);

		// Settled: the next run carries nobody (Send Confirmations gets no item) and sends nothing.
		const next = await n8n.execute(workflows.killed!);
		expect(next.itemsOf('Fetch Tagged Members')).toHaveLength(0);
		expect(release(next).counts.credits ?? 0).toBe(0);
		expect(messageCount('killed')).toBe(SIZES.killed);
	});
});

describe('Double opt-in, killed between sending and recording', () => {
	it('the rerun sends no second message to any number: the claimed ones wait, the others are asked once', async () => {
		await killAfterFirstSend(workflows.doi!);
		expect(messageCount('doi')).toBe(100);
		// Nobody is in the Hub: double opt-in waits for the reply.
		expect(subscriptionOf(phoneOf('doi', 0))).toBeUndefined();

		await n8n.execute(forceRelease.doi!);
		const rerun = await n8n.execute(workflows.doi!);
		const sent = messagesTo('doi');
		expect(sent.size).toBe(SIZES.doi);
		for (const contents of sent.values()) expect(contents).toEqual([REQUEST]);
		const awaiting = rerun.itemsOf('Apply Consent', 1);
		expect(awaiting).toHaveLength(SIZES.doi);
		const statuses = awaiting.map((item) => (item.consent as { status: string }).status);
		expect(statuses.filter((s) => s === 'claimed-unknown')).toHaveLength(100);
		expect(statuses.filter((s) => s === 'sent')).toHaveLength(50);
		expect(release(rerun).counts.credits).toBe(50);

		await n8n.execute(workflows.doi!);
		expect(messageCount('doi')).toBe(SIZES.doi);
	});
});
