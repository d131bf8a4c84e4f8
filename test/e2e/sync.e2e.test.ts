/**
 * The whole sync in the real n8n 2.41.1, as shipped: `workflows/mailchimp-hub-sync.json` (Sync Lock →
 * Fetch Tagged Members → Map Fields → Upsert Hub Contact, the Removed branch, Release) against the
 * emulators. The expected Hub state is worked out from the Mailchimp dataset, not from our code.
 */
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpDataset, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type ExecutionResult, type WorkflowFixture } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const TAGS = [
	{ name: 'SMS Opt-in', share: 0.5 },
	{ name: 'VIP', share: 0.3 },
	{ name: 'Sydney', share: 0.4 },
];
const PACKAGE = 'n8n-nodes-mailchimp-hub-sync.';
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const SECOND_AUDIENCE = 'b2c3d4e5f6';
const CREDENTIALS = {
	mailchimp: { id: 'syncMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'syncHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};

/** Unique Australian mobiles, typed as people type them (every seventh in national form). */
function mobile(index: number, range = '412') {
	const digits = String(index).padStart(6, '0');
	const e164 = `+61${range}${digits}`;
	return { e164, typed: index % 7 === 3 ? `0${range} ${digits.slice(0, 3)} ${digits.slice(3)}` : e164 };
}

/** An audience over three overlapping tags, with the awkward members a real one has. */
function audienceWith(members: number, seed: number): { dataset: MailchimpDataset; unsubscribedInHub: string; duplicate: string } {
	const dataset = largeAudience({ members, tags: TAGS, seed });
	const list = dataset.accounts[0].lists[0];
	list.members!.forEach((member, i) => {
		member.merge_fields = { ...member.merge_fields, PHONE: mobile(i).typed };
		delete member.sms_phone_number;
	});
	const special = (email: string, phone: string, fname: string) => ({
		email_address: email,
		status: 'subscribed' as const,
		merge_fields: { FNAME: fname, LNAME: 'Special', PHONE: phone },
		tags: ['SMS Opt-in'],
	});
	const duplicate = mobile(900_001).e164;
	const unsubscribedInHub = mobile(900_002).e164;
	// A second audience of the same account, for switching the sync over: twenty people of its own and
	// one who shares a number with a twin of the first.
	dataset.accounts[0].lists.push({
		id: SECOND_AUDIENCE,
		name: 'Second Audience',
		merge_fields: list.merge_fields,
		segments: [{ name: 'VIP', type: 'static' }],
		members: [
			...Array.from({ length: 20 }, (_, i) => ({
				email_address: `second.${i}@example.com`,
				status: 'subscribed' as const,
				merge_fields: { FNAME: 'Second', LNAME: `Member${i}`, PHONE: mobile(700_000 + i).e164 },
				tags: ['VIP'],
			})),
			{ email_address: 'shared.twin@example.com', status: 'subscribed' as const, merge_fields: { FNAME: 'Shared', LNAME: 'Twin', PHONE: duplicate }, tags: ['VIP'] },
		],
	});
	list.members!.push(
		special('no.phone@example.com', '', 'Nophone'),
		special('words@example.com', 'call me after 5', 'Words'),
		special('landline@example.com', '02 9999 9999', 'Landline'),
		special('first.twin@example.com', duplicate, 'Twin'),
		special('second.twin@example.com', `0${duplicate.slice(3, 6)} ${duplicate.slice(6, 9)} ${duplicate.slice(9)}`, 'Twin'),
		special('opted.out@example.com', unsubscribedInHub, 'Optedout'),
	);
	return { dataset, unsubscribedInHub, duplicate };
}

interface Expected {
	firstName: string;
	lastName: string;
	memberKey: string;
}

/** One contact per distinct valid mobile of a subscribed member with a selected tag. */
function expectedContacts(mailchimp: MailchimpEmulator, tags = TAGS.map((t) => t.name), audienceId?: string): Map<string, Expected[]> {
	const expected = new Map<string, Expected[]>();
	const audiences = mailchimp.state.accounts[0].audiences;
	const audience = audienceId ? audiences.get(audienceId)! : audiences.values().next().value!;
	for (const member of audience.members.values()) {
		if (member.status !== 'subscribed' || !member.tags.some((t) => tags.includes(t.name))) continue;
		const typed = String(member.mergeFields.PHONE ?? '');
		const digits = typed.replace(/[\s]/g, '');
		const e164 = /^\+614\d{8}$/.test(digits) ? digits : /^04\d{8}$/.test(digits) ? `+61${digits.slice(1)}` : undefined;
		if (!e164) continue;
		const entry = { firstName: String(member.mergeFields.FNAME), lastName: String(member.mergeFields.LNAME), memberKey: member.contactId };
		expected.set(e164, [...(expected.get(e164) ?? []), entry]);
	}
	return expected;
}

interface HubView {
	id: string;
	firstName: string;
	lastName: string;
	subscription?: string;
	lists: string[];
	source?: string;
	mailchimpId?: string;
}

function hubContacts(hub: HubEmulator): Map<string, HubView[]> {
	const account = hub.account(HUB_ACCOUNT);
	const byPhone = new Map<string, HubView[]>();
	for (const stored of account.contacts.values()) {
		const data = account.contactData(stored);
		const sms = data.channels.find((c) => c.type === 'SMS');
		const field = (label: string) => data.customFields.find((f) => account.customFields.get(f.id)?.label === label)?.value;
		const view: HubView = {
			id: data.id,
			firstName: data.firstName,
			lastName: data.lastName,
			subscription: sms?.subscriptionState,
			lists: data.lists.map((l) => l.name).sort(),
			source: field('Source') as string | undefined,
			mailchimpId: field('Mailchimp ID') as string | undefined,
		};
		const phone = sms?.channelId ?? `(no SMS) ${data.id}`;
		byPhone.set(phone, [...(byPhone.get(phone) ?? []), view]);
	}
	return byPhone;
}

/** Hub requests that change something (POST, PATCH, PUT, DELETE), by route. */
function hubWrites(hub: HubEmulator): Record<string, number> {
	return Object.fromEntries([...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) \/api\//.test(route)));
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** The Hub holds exactly the expected contacts: one per number, in the list, labelled, fields right. */
function expectHubToMatch(hub: HubEmulator, mailchimp: MailchimpEmulator, context: { unsubscribedInHub?: string; tags?: string[]; audienceId?: string } = {}) {
	const expected = expectedContacts(mailchimp, context.tags, context.audienceId);
	const actual = hubContacts(hub);
	const inList = new Map([...actual].filter(([, views]) => views.some((v) => v.lists.includes('MAILCHIMP'))));
	expect([...inList.keys()].sort()).toEqual([...expected.keys()].sort());
	for (const [phone, views] of actual) expect({ phone, contacts: views.length }).toEqual({ phone, contacts: 1 });
	for (const [phone, wanted] of expected) {
		const [view] = actual.get(phone)!;
		expect({ phone, source: view.source, lists: view.lists }).toEqual({ phone, source: 'MAILCHIMP', lists: ['MAILCHIMP'] });
		expect(wanted.map((w) => w.memberKey)).toContain(view.mailchimpId);
		const owner = wanted.find((w) => w.memberKey === view.mailchimpId)!;
		expect({ phone, firstName: view.firstName, lastName: view.lastName }).toEqual({ phone, firstName: owner.firstName, lastName: owner.lastName });
		const wantedState = phone === context.unsubscribedInHub ? 'UNSUBSCRIBED' : 'SUBSCRIBED';
		expect({ phone, subscription: view.subscription }).toEqual({ phone, subscription: wantedState });
	}
}

const FORCE_RELEASE: WorkflowFixture = {
	name: 'Operator: force release',
	nodes: [
		{ id: 'f1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{
			id: 'f2',
			name: 'Force Release',
			type: `${PACKAGE}syncLock`,
			typeVersion: 1,
			position: [200, 0],
			parameters: { operation: 'forceRelease', lockName: '' },
		},
	],
	connections: { Start: { main: [[{ node: 'Force Release', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
};

async function setUp(members: number, seed: number) {
	const { dataset, unsubscribedInHub, duplicate } = audienceWith(members, seed);
	const mailchimp = await startMailchimpEmulator({ dataset });
	const hub = await startHubEmulator({ accounts: [{ ...DEFAULT_HUB_ACCOUNT, unsubscribedNumbers: [unsubscribedInHub] }] });
	const n8n = await N8nSuite.create({ name: `sync-${members}` });
	const [account] = credentialsOf(dataset);
	await n8n.importCredentials([
		{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
		{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
	]);
	const audienceId = account.lists[0].id;
	const workflowId = await n8n.importWorkflowFile(
		SYNC_TEMPLATE,
		configureSyncTemplate({ audienceId, tags: TAGS.map((t) => t.name), mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub }),
	);
	const [forceRelease] = await n8n.importWorkflows([
		{ ...FORCE_RELEASE, nodes: FORCE_RELEASE.nodes.map((n) => (n.name === 'Force Release' ? { ...n, parameters: { operation: 'forceRelease', lockName: audienceId } } : n)) },
	]);
	return { mailchimp, hub, n8n, audienceId, workflowId, forceRelease, unsubscribedInHub, duplicate };
}

const release = (run: ExecutionResult) => run.itemsOf('Release Sync Lock')[0] as { outcome: string; counts: Record<string, number>; released: boolean };

describe('the sync template in the real n8n, a few hundred members', () => {
	let env: Awaited<ReturnType<typeof setUp>>;
	beforeAll(async () => {
		env = await setUp(400, 11);
	});
	afterAll(async () => {
		await env?.n8n.dispose();
		await env?.mailchimp.close();
		await env?.hub.close();
	});

	it('1. the first run creates exactly the expected contacts, list and fields, and reports invalid rows', async () => {
		const run = await env.n8n.execute(env.workflowId);
		expectHubToMatch(env.hub, env.mailchimp, { unsubscribedInHub: env.unsubscribedInHub });
		const invalid = run.itemsOf('Map Fields', 1).map((i) => (i.member as { email: string }).email).sort();
		expect(invalid).toEqual(['landline@example.com', 'no.phone@example.com', 'words@example.com']);
		const errors = run.itemsOf('Upsert Hub Contact', 1);
		expect(errors.map((e) => (e.member as { email: string }).email)).toEqual(['second.twin@example.com']);
		expect(String(errors[0].error)).toContain('first.twin@example.com');
		// Opt-out wins: the number unsubscribed in the Hub was never set SUBSCRIBED.
		const events = env.hub.account(HUB_ACCOUNT).subscriptionEvents.filter((e) => e.channelId === env.unsubscribedInHub);
		expect(events.filter((e) => e.to === 'SUBSCRIBED')).toEqual([]);
		const summary = release(run);
		expect(summary.released).toBe(true);
		expect(summary.outcome).toBe('partial');
		expect(summary.counts.created).toBe(expectedContacts(env.mailchimp).size);
		expect(summary.counts.invalid).toBe(3);
		expect(summary.counts.errors).toBe(1);
	});

	it('2. a second run with no change makes zero Hub write requests', async () => {
		env.hub.counters.clear();
		const run = await env.n8n.execute(env.workflowId);
		expect(hubWrites(env.hub)).toEqual({});
		expect(run.itemsOf('Upsert Hub Contact').length).toBe(0);
		expect(release(run).released).toBe(true);
	});

	it('3. a name, a phone, a tag, an unsubscribe and a deletion become exactly those changes', async () => {
		const audience = env.mailchimp.state.accounts[0].audiences.values().next().value!;
		const synced = [...audience.members.values()].filter(
			(m) => m.status === 'subscribed' && /^\+614/.test(String(m.mergeFields.PHONE)) && m.tags.some((t) => t.name === 'SMS Opt-in'),
		);
		const [renamed, moved, untagged, unsubscribed, deleted] = synced;
		// The emulator's member objects are live: note the numbers before they change.
		const phoneOf = new Map(synced.slice(0, 5).map((m) => [m.email, String(m.mergeFields.PHONE)]));
		const state = env.mailchimp.state;
		state.updateMember(env.audienceId, renamed.email, { merge_fields: { LNAME: 'Renamed-Ødegård' } });
		const newPhone = mobile(777_777, '413').e164;
		state.updateMember(env.audienceId, moved.email, { merge_fields: { PHONE: newPhone } });
		state.tagMember(env.audienceId, untagged.email, { remove: untagged.tags.map((t) => t.name) });
		state.setStatus(env.audienceId, unsubscribed.email, 'unsubscribed');
		state.deletePermanently(env.audienceId, deleted.email);
		const contactsBefore = hubContacts(env.hub);
		const movedContact = contactsBefore.get(phoneOf.get(moved.email)!)![0];

		env.hub.counters.clear();
		const run = await env.n8n.execute(env.workflowId);
		const writes = hubWrites(env.hub);
		expect(writes).toEqual({
			'PATCH /api/v1/contacts/contacts/{contactId}': 2,
			'PATCH /api/v1/contacts/lists/{listId}/contacts': 1,
		});
		expect(total(writes)).toBe(3);
		expectHubToMatch(env.hub, env.mailchimp, { unsubscribedInHub: env.unsubscribedInHub });
		const after = hubContacts(env.hub);
		expect(after.get(newPhone)![0].id).toBe(movedContact.id);
		for (const left of [untagged, unsubscribed, deleted]) {
			const [view] = after.get(phoneOf.get(left.email)!)!;
			expect(view.lists).toEqual([]);
		}
		expect(release(run).counts).toMatchObject({ updated: 2, 'removed-from-list': 3 });
	});

	it('5. with 10% of Hub answers 429 or 5xx, the end state is still exact, and the next run writes nothing', async () => {
		Object.assign(env.hub.faults, { rate429: 0.05, rate5xx: 0.05, seed: 7 });
		Object.assign(env.mailchimp.faults, { rate429: 0.05, rate5xx: 0.05 });
		// New members and changes, so the faulty run has real work: a hundred writes and their lookups.
		const state = env.mailchimp.state;
		const audience = state.accounts[0].audiences.values().next().value!;
		const renamed = [...audience.members.values()].filter((m) => m.status === 'subscribed').slice(0, 100);
		for (const member of renamed) state.updateMember(env.audienceId, member.email, { merge_fields: { FNAME: `${String(member.mergeFields.FNAME)}-Faulty` } });
		state.addMembers(env.audienceId, [
			{ email_address: 'late.joiner@example.com', status: 'subscribed', merge_fields: { FNAME: 'Late', LNAME: 'Joiner', PHONE: mobile(555_555).e164 }, tags: ['VIP'] },
		]);
		try {
			await env.n8n.execute(env.workflowId);
		} finally {
			Object.assign(env.hub.faults, { rate429: 0, rate5xx: 0, seed: null });
			Object.assign(env.mailchimp.faults, { rate429: 0, rate5xx: 0 });
		}
		expect((env.hub.counters.get('fault 429') ?? 0) + (env.hub.counters.get('fault 5xx') ?? 0)).toBeGreaterThan(0);
		expectHubToMatch(env.hub, env.mailchimp, { unsubscribedInHub: env.unsubscribedInHub });
		env.hub.counters.clear();
		await env.n8n.execute(env.workflowId);
		expect(hubWrites(env.hub)).toEqual({});
	});

	it('6. narrowing the tag selection takes exactly the members of the dropped tag out of the list', async () => {
		const kept = ['SMS Opt-in', 'VIP'];
		const before = expectedContacts(env.mailchimp).size;
		const after = expectedContacts(env.mailchimp, kept).size;
		expect(after).toBeLessThan(before);
		// The user edits the tags of the same workflow (its id names the sync's ledger).
		await env.n8n.importWorkflowFile(SYNC_TEMPLATE, (workflow) => ({
			...configureSyncTemplate({ audienceId: env.audienceId, tags: kept, mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub })(workflow),
			id: env.workflowId,
		}));
		env.hub.counters.clear();
		const run = await env.n8n.execute(env.workflowId);
		expectHubToMatch(env.hub, env.mailchimp, { unsubscribedInHub: env.unsubscribedInHub, tags: kept });
		expect(release(run).counts['removed-from-list']).toBe(before - after);
		// One bulk request takes them all out of the list; nothing else is written.
		expect(hubWrites(env.hub)).toEqual({ 'PATCH /api/v1/contacts/lists/{listId}/contacts': 1 });
	});

	it("7. switching the audience is stopped by the removal guard until confirmed, then takes the old audience's members out of the list and brings the new one's in", async () => {
		const leaving = expectedContacts(env.mailchimp, ['SMS Opt-in', 'VIP']).size;
		const switchTo = (parameters?: Record<string, Record<string, unknown>>) =>
			env.n8n.importWorkflowFile(SYNC_TEMPLATE, (workflow) => ({
				...configureSyncTemplate({ audienceId: SECOND_AUDIENCE, tags: ['VIP'], mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub, parameters })(workflow),
				id: env.workflowId,
			}));
		await switchTo();
		const listedBefore = [...hubContacts(env.hub).values()].flat().filter((v) => v.lists.includes('MAILCHIMP')).length;
		env.hub.counters.clear();
		// Every member the sync wrote leaves at once: exactly what a wrong audience looks like, so nothing is removed.
		const refused = release(await env.n8n.execute(env.workflowId)) as ReturnType<typeof release> & { errorSummary?: string };
		expect(refused.outcome).toBe('failed');
		expect(refused.errorSummary).toMatch(/^The run failed: Removal guard: this run would take \d+ of the \d+ members/);
		expect(refused.counts.errors).toBeGreaterThanOrEqual(leaving);
		expect(env.hub.counters.get('PATCH /api/v1/contacts/lists/{listId}/contacts') ?? 0).toBeLessThanOrEqual(1);
		expect([...hubContacts(env.hub).values()].flat().filter((v) => v.lists.includes('MAILCHIMP')).length).toBeGreaterThanOrEqual(listedBefore);

		// The user confirms (the guard off for this sync) and runs again.
		await switchTo({ 'Remove From Hub': { options: { maxRemovalShare: 0 } } });
		env.hub.counters.clear();
		const run = await env.n8n.execute(env.workflowId);
		expectHubToMatch(env.hub, env.mailchimp, { audienceId: SECOND_AUDIENCE, tags: ['VIP'] });
		const { counts } = release(run);
		// Every member the sync wrote for the first audience is let go: out of the list, or kept where a member
		// of the new audience now holds the number (the shared twin).
		expect((counts['removed-from-list'] ?? 0) + (counts.kept ?? 0)).toBe(leaving);
		const shared = hubContacts(env.hub).get(mobile(900_001).e164)!;
		expect(shared).toHaveLength(1);
		expect(shared[0].lists).toEqual(['MAILCHIMP']);
		expect(shared[0].firstName).toBe('Shared');

		env.hub.counters.clear();
		await env.n8n.execute(env.workflowId);
		expect(hubWrites(env.hub)).toEqual({});
	});

	it('8. a run that fails (Mailchimp rejects the key) says so, releases the lock and touches nothing', async () => {
		const [account] = credentialsOf(env.mailchimp.state.dump());
		env.mailchimp.state.revokeCredential(account.apiKey!);
		env.hub.counters.clear();
		const failed = await env.n8n.execute(env.workflowId);
		const summary = release(failed) as { outcome: string; released: boolean; errorSummary?: string };
		expect(summary).toMatchObject({ released: true, outcome: 'failed' });
		expect(summary.errorSummary).toContain('Mailchimp rejected the API key');
		expect(JSON.stringify(failed.run)).not.toContain(account.apiKey!);
		expect(hubWrites(env.hub)).toEqual({});
		// Released: the next run is not turned away as busy (it fails the same way, for the same reason).
		const next = await env.n8n.execute(env.workflowId);
		expect(next.run?.data.resultData.runData['Already Running']).toBeUndefined();
		expect(release(next).released).toBe(true);
	});
});

describe('the sync template in the real n8n, killed half-way through 5,000 new members', () => {
	let env: Awaited<ReturnType<typeof setUp>>;
	beforeAll(async () => {
		env = await setUp(8000, 23);
	});
	afterAll(async () => {
		await env?.n8n.dispose();
		await env?.mailchimp.close();
		await env?.hub.close();
	});

	it('4. the next run ends the Hub exactly as if it had run once: no duplicates, nothing missing', async () => {
		const expected = expectedContacts(env.mailchimp).size;
		expect(expected).toBeGreaterThan(5000);
		// Slow the Hub down enough to stop the run in the middle of its writes.
		env.hub.faults.latencyMs = 15;
		const running = env.n8n.startExecution(env.workflowId);
		const account = env.hub.account(HUB_ACCOUNT);
		const deadline = Date.now() + 5 * 60_000;
		while (account.contacts.size < expected / 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
		running.kill('SIGKILL');
		await running.result;
		const createdBeforeKill = account.contacts.size;
		expect(createdBeforeKill).toBeGreaterThan(0);
		expect(createdBeforeKill).toBeLessThan(expected);
		env.hub.faults.latencyMs = 0;

		// The killed run still holds the lease: the next run is turned away until an operator frees it.
		const busy = await env.n8n.execute(env.workflowId);
		expect(busy.itemsOf('Already Running').length).toBe(1);
		await env.n8n.execute(env.forceRelease);

		env.hub.counters.clear();
		const run = await env.n8n.execute(env.workflowId);
		expectHubToMatch(env.hub, env.mailchimp, { unsubscribedInHub: env.unsubscribedInHub });
		// Only what the killed run had not finished was created now.
		expect(env.hub.counters.get('POST /api/v1/contacts/contacts') ?? 0).toBe(account.contacts.size - createdBeforeKill);
		expect(release(run).released).toBe(true);

		env.hub.counters.clear();
		await env.n8n.execute(env.workflowId);
		expect(hubWrites(env.hub)).toEqual({});
	});
});
