/**
 * The sync template in the real n8n 2.41.1 when the Hub loses answers and handsets opt out mid-run:
 * - the Hub carries out contact creates but answers 500 or drops the connection (on a Hub that takes
 *   a number twice, so a blind resend would leave two contacts): one contact per member, reported
 *   created;
 * - a STOP reaches the Hub between the run's read of a contact and its patch: it stays UNSUBSCRIBED.
 */
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator, type HubExchange } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const TAG = 'SMS Opt-in';
const CREDENTIALS = {
	mailchimp: { id: 'answersMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'answersHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};
const mobile = (i: number) => `+61413${String(i).padStart(6, '0')}`;

let mailchimp: MailchimpEmulator;
let hub: HubEmulator;
let n8n: N8nSuite;
let workflowId: string;
let audienceId: string;
/** Called with every Hub exchange (after the Hub has answered it, before the client reads the answer). */
let onHubExchange: (exchange: HubExchange) => void = () => undefined;

beforeAll(async () => {
	const dataset = largeAudience({ members: 60, tags: [{ name: TAG, share: 1 }], seed: 5 });
	const list = dataset.accounts[0].lists[0];
	list.members!.forEach((member, i) => {
		member.merge_fields = { ...member.merge_fields, PHONE: mobile(i) };
		delete member.sms_phone_number;
	});
	mailchimp = await startMailchimpEmulator({ dataset });
	hub = await startHubEmulator({ accounts: [{ ...DEFAULT_HUB_ACCOUNT, acceptDuplicateNumbers: true }], onExchange: (e) => onHubExchange(e) });
	n8n = await N8nSuite.create({ name: 'hub-answers' });
	const [account] = credentialsOf(dataset);
	await n8n.importCredentials([
		{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
		{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
	]);
	audienceId = account.lists[0].id;
	workflowId = await n8n.importWorkflowFile(
		SYNC_TEMPLATE,
		configureSyncTemplate({ audienceId, tags: [TAG], mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub }),
	);
});

afterAll(async () => {
	await n8n?.dispose();
	await mailchimp?.close();
	await hub?.close();
});

const account = () => hub.account(HUB_ACCOUNT);
const contacts = () => [...account().contacts.values()].map((c) => account().contactData(c));
const mailchimpIdOf = (c: ReturnType<typeof contacts>[number]) => c.customFields.find((f) => f.mergeTag === 'mailchimp_id')?.value;

function selectedMembers() {
	const audience = mailchimp.state.accounts[0].audiences.get(audienceId)!;
	return [...audience.members.values()].filter((m) => m.status === 'subscribed' && m.tags.some((t) => t.name === TAG));
}

describe('the sync when the Hub loses its answers', () => {
	it('makes exactly one contact per member when creates are carried out but answered 500 or dropped', async () => {
		Object.assign(hub.faults, { rateAppliedThen500: 0.25, rateAppliedThenDrop: 0.25, routeFilter: '^POST /api/v1/contacts/contacts$', seed: 17 });
		let run: Awaited<ReturnType<N8nSuite['execute']>>;
		try {
			run = await n8n.execute(workflowId);
		} finally {
			Object.assign(hub.faults, { rateAppliedThen500: 0, rateAppliedThenDrop: 0, routeFilter: '', seed: null });
		}
		const lost = (hub.counters.get('fault applied 500') ?? 0) + (hub.counters.get('fault applied drop') ?? 0);
		expect(lost).toBeGreaterThanOrEqual(10);

		const members = selectedMembers();
		expect(members.length).toBeGreaterThanOrEqual(40);
		const all = contacts();
		// One contact per member and per number, none twice, every one in the list.
		expect(all).toHaveLength(members.length);
		expect(new Set(all.map(mailchimpIdOf)).size).toBe(members.length);
		expect(new Set(all.map((c) => c.channels[0].channelId)).size).toBe(members.length);
		expect(all.every((c) => c.lists.some((l) => l.name === 'MAILCHIMP'))).toBe(true);
		// One create per member: a lost answer was looked up, not sent again.
		expect(hub.counters.get('POST /api/v1/contacts/contacts')).toBe(members.length);
		const done = run!.itemsOf('Upsert Hub Contact');
		expect(done.map((i) => (i.hub as { action: string }).action)).toEqual(Array(members.length).fill('created'));
		expect(run!.itemsOf('Upsert Hub Contact', 1)).toEqual([]);

		// The next run has nothing to do.
		hub.counters.clear();
		await n8n.execute(workflowId);
		expect([...hub.counters.keys()].filter((k) => /^(POST|PATCH|DELETE) \/api\//.test(k))).toEqual([]);
	});
});

describe('the sync when a handset opts out mid-run', () => {
	it("keeps a STOP that reached the Hub between the run's read and its patch", async () => {
		// A member whose contact also holds a second number, and whose Mailchimp phone changes.
		const [member] = selectedMembers();
		const contact = contacts().find((c) => mailchimpIdOf(c) === member.contactId)!;
		const second = mobile(900_001);
		account().updateContact(contact.id, { channels: [...contact.channels.map(({ channelId, type }) => ({ channelId, type })), { channelId: second, type: 'SMS' }] });
		const newPhone = mobile(900_002);
		mailchimp.state.updateMember(audienceId, member.email, { merge_fields: { PHONE: newPhone } });

		// The run finds the contact by the id the ledger kept; right after that read, the second number replies STOP.
		let stopped = false;
		const before = account().subscriptionEvents.length;
		onHubExchange = (e) => {
			if (stopped || e.request.route !== 'GET /api/v1/contacts/contacts' || !e.request.query.includes('contactIds=')) return;
			stopped = true;
			account().receiveReply({ from: second, content: 'STOP' });
		};
		try {
			const run = await n8n.execute(workflowId);
			expect(run.itemsOf('Upsert Hub Contact', 1)).toEqual([]);
		} finally {
			onHubExchange = () => undefined;
		}
		expect(stopped).toBe(true);
		const after = account().contactData(account().contacts.get(contact.id)!);
		expect(after.channels).toEqual([
			{ channelId: second, type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
			{ channelId: newPhone, type: 'SMS', subscriptionState: 'SUBSCRIBED' },
		]);
		// Not even for a moment: no event set the second number SUBSCRIBED again during the run.
		expect(account().subscriptionEvents.slice(before).filter((e) => e.channelId === second && e.to === 'SUBSCRIBED')).toEqual([]);
	});
});

describe('the sync when the Hub answers garbage', () => {
	it.each([
		['an HTML page', { rateHtml200: 1 }],
		['{}', { rateEmpty200: 1 }],
	])('removes nothing when the contacts lookup of a removal answers %s, and removes once it answers properly', async (_what, fault) => {
		const leaving = selectedMembers().at(-1)!;
		const contact = contacts().find((c) => mailchimpIdOf(c) === leaving.contactId)!;
		expect(contact.lists.map((l) => l.name)).toEqual(['MAILCHIMP']);
		mailchimp.state.tagMember(audienceId, leaving.email, { remove: [TAG] });

		Object.assign(hub.faults, { ...fault, routeFilter: '^GET /api/v1/contacts/contacts$' });
		hub.counters.clear();
		let failed: Awaited<ReturnType<N8nSuite['execute']>>;
		try {
			failed = await n8n.execute(workflowId);
		} finally {
			Object.assign(hub.faults, { rateHtml200: 0, rateEmpty200: 0, routeFilter: '' });
		}
		// Remove's error names the endpoint and what was wrong; the run is recorded failed.
		const errors = failed.itemsOf('Remove From Hub', 1);
		expect(errors.map((e) => String(e.error))).toEqual([expect.stringMatching(/GET \/api\/v1\/contacts\/contacts was not what the API documents/)]);
		expect((failed.itemsOf('Release Sync Lock')[0] as { outcome: string }).outcome).toBe('failed');
		expect([...hub.counters.keys()].filter((k) => /^(POST|PATCH|DELETE) \/api\//.test(k))).toEqual([]);
		expect(account().contactData(account().contacts.get(contact.id)!).lists.map((l) => l.name)).toEqual(['MAILCHIMP']);

		// With proper answers the removal the ledger still holds happens.
		await n8n.execute(workflowId);
		expect(account().contactData(account().contacts.get(contact.id)!).lists).toEqual([]);
	});
});

describe('the sync when a phone becomes invalid', () => {
	it('takes the contact the ledger knows out of the list, unsubscribes it if the member opted out of SMS, and counts the rows invalid', async () => {
		const [wrong, emptied] = selectedMembers().slice(1, 3);
		const contactOf = (member: typeof wrong) => contacts().find((c) => mailchimpIdOf(c) === member.contactId)!;
		const [before1, before2] = [contactOf(wrong), contactOf(emptied)];
		expect([before1, before2].map((c) => c.lists.map((l) => l.name))).toEqual([['MAILCHIMP'], ['MAILCHIMP']]);
		mailchimp.state.updateMember(audienceId, wrong.email, { merge_fields: { PHONE: 'call me after 5' } });
		mailchimp.state.updateMember(audienceId, emptied.email, { merge_fields: { PHONE: '' }, sms_subscription_status: 'unsubscribed' });

		const run = await n8n.execute(workflowId);
		const after1 = account().contactData(account().contacts.get(before1.id)!);
		const after2 = account().contactData(account().contacts.get(before2.id)!);
		expect(after1.lists).toEqual([]);
		expect(after1.channels[0].subscriptionState).toBe('SUBSCRIBED');
		expect(after2.lists).toEqual([]);
		expect(after2.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
		const done = run.itemsOf('Remove Invalid From Hub');
		expect(done.map((i) => (i.hub as { action: string; changedFields: string[] }).changedFields).sort()).toEqual([['list'], ['subscription', 'list']].sort());
		const release = run.itemsOf('Release Sync Lock')[0] as { outcome: string; counts: Record<string, number> };
		expect(release.counts.invalid).toBe(2);
		expect(release.outcome).toBe('success');

		// Nothing is left to do for them.
		hub.counters.clear();
		await n8n.execute(workflowId);
		expect([...hub.counters.keys()].filter((k) => /^(POST|PATCH|DELETE) \/api\//.test(k))).toEqual([]);
	});
});
