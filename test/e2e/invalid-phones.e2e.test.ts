/**
 * A member whose phone became invalid, through the shipped sync template in the real n8n 2.41.1
 * against both emulators: Map Fields sends the member to Invalid, and Remove Invalid From Hub takes
 * the contact the ledger knows out of the MAILCHIMP list; a member who also unsubscribed from SMS in
 * Mailchimp has that contact UNSUBSCRIBED. A member who never had a contact changes nothing.
 */
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type DatasetMember, type MailchimpDataset, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type ExecutionResult } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const AUDIENCE = 'd4e5f6a7b8';
const API_KEY = `${'0f1e2d3c4b5a6978'.repeat(2)}-us8`;
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const CREDENTIALS = {
	mailchimp: { id: 'invalidMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'invalidHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};

/**
 * Members and their mobiles (ACMA's range for fiction). Enough of them stay that the two who change
 * are within Remove's removal guard (at most 20 % of the ledger leaves in one run).
 */
const STAYING = Array.from({ length: 10 }, (_, i) => ({ email: `stays.${i}@example.com`, phone: `+614915701${10 + i}` }));
const STAYS = STAYING[0];
const BROKEN = { email: 'broken@example.com', phone: '+61491570102' };
const OPTED_OUT = { email: 'opted.out@example.com', phone: '+61491570103' };
const NEVER = { email: 'never@example.com', phone: '02 5550 1234' };

function dataset(): MailchimpDataset {
	const member = (email: string, phone: string, i: number) =>
		({
			email_address: email,
			status: 'subscribed',
			merge_fields: { FNAME: `Member${i}`, LNAME: 'Invalid', PHONE: phone },
			sms_subscription_status: 'subscribed',
			tags: ['SMS Opt-in'],
		}) as DatasetMember;
	return {
		accounts: [
			{
				id: 'acct-invalid',
				name: 'Example Invalid',
				dc: 'us8',
				apiKeys: [API_KEY],
				lists: [
					{
						id: AUDIENCE,
						name: 'Invalid phones',
						merge_fields: [
							{ tag: 'FNAME', name: 'First Name', type: 'text' },
							{ tag: 'LNAME', name: 'Last Name', type: 'text' },
							{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
						],
						segments: [{ name: 'SMS Opt-in', type: 'static' }],
						members: [...STAYING, BROKEN, OPTED_OUT, NEVER].map((m, i) => member(m.email, m.phone, i)),
					},
				],
			},
		],
	};
}

function contactOf(hub: HubEmulator, phone: string) {
	const account = hub.account(HUB_ACCOUNT);
	const found = [...account.contacts.values()]
		.map((stored) => account.contactData(stored))
		.filter((data) => data.channels.some((c) => c.type === 'SMS' && c.channelId === phone));
	return found.map((data) => ({
		subscription: data.channels.find((c) => c.type === 'SMS')?.subscriptionState,
		lists: data.lists.map((l) => l.name),
	}));
}

function hubWrites(hub: HubEmulator): Record<string, number> {
	return Object.fromEntries([...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) \/api\//.test(route)));
}

const release = (run: ExecutionResult) => run.itemsOf('Release Sync Lock')[0] as { outcome: string; released: boolean };

describe('a member whose phone became invalid, in the real n8n', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let workflowId: string;

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset: dataset() });
		hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
		n8n = await N8nSuite.create({ name: 'invalid-phones' });
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimp, data: { apiKey: API_KEY, apiBaseUrl: mailchimp.url } },
			{
				...CREDENTIALS.hub,
				data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url },
			},
		]);
		workflowId = await n8n.importWorkflowFile(
			SYNC_TEMPLATE,
			configureSyncTemplate({ audienceId: AUDIENCE, tags: ['SMS Opt-in'], mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub }),
		);
	});
	afterAll(async () => {
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	it('1. the first run puts the mobiles in the list and leaves the landline out', async () => {
		const run = await n8n.execute(workflowId);
		for (const { phone } of [...STAYING, BROKEN, OPTED_OUT]) {
			expect({ phone, contacts: contactOf(hub, phone) }).toEqual({ phone, contacts: [{ subscription: 'SUBSCRIBED', lists: ['MAILCHIMP'] }] });
		}
		expect(contactOf(hub, '+61255501234')).toEqual([]);
		expect(release(run)).toMatchObject({ released: true, outcome: 'success' });
	});

	it('2. a phone that became invalid takes the contact out of the list; with an SMS opt-out it is unsubscribed too', async () => {
		mailchimp.state.updateMember(AUDIENCE, BROKEN.email, { merge_fields: { PHONE: '12345' } });
		mailchimp.state.updateMember(AUDIENCE, OPTED_OUT.email, { merge_fields: { PHONE: 'n/a' }, sms_subscription_status: 'unsubscribed' });
		const run = await n8n.execute(workflowId);

		const invalid = run.itemsOf('Map Fields', 1);
		const reasons = Object.fromEntries(
			invalid.map((i) => [(i.member as { email: string }).email, (i.sync as { invalidReason: string }).invalidReason]),
		);
		// The landline was never synced: it is Invalid on every run, and Remove has no contact of it to touch.
		expect(reasons).toEqual({ [BROKEN.email]: 'phone-invalid', [OPTED_OUT.email]: 'phone-invalid', [NEVER.email]: 'phone-invalid' });
		const removed = Object.fromEntries(
			run.itemsOf('Remove Invalid From Hub').map((i) => [(i.member as { email: string }).email, (i.hub as { action: string }).action]),
		);
		expect(removed).toEqual({ [BROKEN.email]: 'removed-from-list', [OPTED_OUT.email]: expect.any(String), [NEVER.email]: 'kept' });
		expect(contactOf(hub, BROKEN.phone)).toEqual([{ subscription: 'SUBSCRIBED', lists: [] }]);
		expect(contactOf(hub, OPTED_OUT.phone)).toEqual([{ subscription: 'UNSUBSCRIBED', lists: [] }]);
		expect(contactOf(hub, STAYS.phone)).toEqual([{ subscription: 'SUBSCRIBED', lists: ['MAILCHIMP'] }]);
		expect(run.itemsOf('Remove Invalid From Hub', 1)).toEqual([]);
		expect(release(run)).toMatchObject({ released: true });
		expect(release(run).outcome).not.toBe('failed');
	});

	it('3. the next run, with the phones still invalid, writes nothing to the Hub', async () => {
		hub.counters.clear();
		const run = await n8n.execute(workflowId);
		expect(hubWrites(hub)).toEqual({});
		expect(contactOf(hub, OPTED_OUT.phone)).toEqual([{ subscription: 'UNSUBSCRIBED', lists: [] }]);
		expect(release(run)).toMatchObject({ released: true });
	});
});
