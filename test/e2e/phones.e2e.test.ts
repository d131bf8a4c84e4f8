/**
 * Phones as members really type them, through the shipped sync template in the real n8n 2.41.1
 * against both emulators: an extension, a `tel:` URI, full-width and Arabic-Indic digits, and an
 * SMS number that is no mobile next to a PHONE field that is one. Each must end as one Hub contact
 * with the right E.164 number, in the list, with a warning where something was dropped or skipped.
 * Numbers are worked out by hand here, not by our normaliser.
 */
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type DatasetMember, type MailchimpDataset, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type ExecutionResult } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const AUDIENCE = 'c3d4e5f6a7';
const API_KEY = `${'fedcba9876543210'.repeat(2)}-us7`;
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const CREDENTIALS = {
	mailchimp: { id: 'phonesMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'phonesHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};

const address = (country: string) => ({ addr1: '1 Example St', addr2: '', city: 'Somewhere', state: '', zip: '', country });

interface PhoneCase {
	email: string;
	phone: string;
	smsPhone?: string;
	country?: string;
	e164: string;
	/** A piece of the warning Map Fields must give, if any. */
	warning?: string;
}

const CASES: PhoneCase[] = [
	{ email: 'ext@example.com', phone: '+61 412 345 681 ext. 12', e164: '+61412345681', warning: "extension (12) was dropped" },
	{ email: 'us.ext@example.com', phone: '(415) 555-2671 x99', country: 'US', e164: '+14155552671', warning: 'extension (99) was dropped' },
	{ email: 'uri@example.com', phone: 'tel:+61-412-345-682', e164: '+61412345682' },
	{ email: 'uri.context@example.com', phone: 'tel:0412-345-683;phone-context=+61;ext=5', e164: '+61412345683', warning: 'extension (5) was dropped' },
	{ email: 'full.width@example.com', phone: '＋６１ ４１２ ３４５ ６８４', e164: '+61412345684' },
	{ email: 'arabic.indic@example.com', phone: '٠٤١٢ ٣٤٥ ٦٨٥', e164: '+61412345685' },
	{
		email: 'two.fields@example.com',
		smsPhone: '12345',
		phone: '0412 345 703',
		e164: '+61412345703',
		warning: 'The SMS phone number was skipped ("12345" is not a valid phone number in Australia); the PHONE field was used',
	},
];

function dataset(): MailchimpDataset {
	const members = CASES.map(
		(c, i) =>
			({
				email_address: c.email,
				status: 'subscribed',
				merge_fields: { FNAME: `Member${i}`, LNAME: 'Phones', PHONE: c.phone, ADDRESS: address(c.country ?? 'AU') },
				...(c.smsPhone ? { sms_phone_number: c.smsPhone, sms_subscription_status: 'subscribed' } : {}),
				tags: ['SMS Opt-in'],
			}) as DatasetMember,
	);
	return {
		accounts: [
			{
				id: 'acct-phones',
				name: 'Example Phones',
				dc: 'us7',
				apiKeys: [API_KEY],
				lists: [
					{
						id: AUDIENCE,
						name: 'Phones',
						merge_fields: [
							{ tag: 'FNAME', name: 'First Name', type: 'text' },
							{ tag: 'LNAME', name: 'Last Name', type: 'text' },
							{ tag: 'ADDRESS', name: 'Address', type: 'address', options: { default_country: 13 } },
							{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
						],
						segments: [{ name: 'SMS Opt-in', type: 'static' }],
						members,
					},
				],
			},
		],
	};
}

/** The Hub's contacts by SMS number: name, subscription and lists. */
function hubContacts(hub: HubEmulator) {
	const account = hub.account(HUB_ACCOUNT);
	return [...account.contacts.values()].map((stored) => {
		const data = account.contactData(stored);
		const sms = data.channels.find((c) => c.type === 'SMS');
		return { phone: sms?.channelId, subscription: sms?.subscriptionState, firstName: data.firstName, lists: data.lists.map((l) => l.name) };
	});
}

describe('phones as members type them, synced by the template in the real n8n', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let run: ExecutionResult;

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset: dataset() });
		hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
		n8n = await N8nSuite.create({ name: 'phones' });
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimp, data: { apiKey: API_KEY, apiBaseUrl: mailchimp.url } },
			{
				...CREDENTIALS.hub,
				data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url },
			},
		]);
		const workflowId = await n8n.importWorkflowFile(
			SYNC_TEMPLATE,
			configureSyncTemplate({ audienceId: AUDIENCE, tags: ['SMS Opt-in'], mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub }),
		);
		run = await n8n.execute(workflowId);
	});
	afterAll(async () => {
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	it('creates one subscribed contact per member, in the list, with the E.164 number worked out by hand', () => {
		const contacts = hubContacts(hub);
		expect(contacts.map((c) => c.phone).sort()).toEqual(CASES.map((c) => c.e164).sort());
		for (const [i, c] of CASES.entries()) {
			const contact = contacts.find((x) => x.phone === c.e164);
			expect({ email: c.email, ...contact }).toEqual({
				email: c.email,
				phone: c.e164,
				subscription: 'SUBSCRIBED',
				firstName: `Member${i}`,
				lists: ['MAILCHIMP'],
			});
		}
	});

	it('sends no member to Invalid, and says what was dropped or skipped', () => {
		expect(run.itemsOf('Map Fields', 1)).toEqual([]);
		const valid = run.itemsOf('Map Fields', 0);
		expect(valid).toHaveLength(CASES.length);
		for (const c of CASES) {
			const item = valid.find((v) => (v.member as { email: string }).email === c.email)!;
			expect({ email: c.email, phone: (item.contact as { phone: string }).phone }).toEqual({ email: c.email, phone: c.e164 });
			const warnings = item.warnings as string[];
			if (c.warning) expect({ email: c.email, warnings }).toEqual({ email: c.email, warnings: [expect.stringContaining(c.warning)] });
			else expect({ email: c.email, warnings }).toEqual({ email: c.email, warnings: [] });
		}
	});

	it("passes the run's lease on from Fetch to Upsert", () => {
		const [acquired] = run.itemsOf('Acquire Sync Lock');
		expect(typeof acquired.token).toBe('string');
		for (const item of run.itemsOf('Map Fields', 0)) expect((item.sync as { lease?: string }).lease).toBe(acquired.token);
	});

	it('records the run as a success with every member created', () => {
		const [release] = run.itemsOf('Release Sync Lock') as Array<{ outcome: string; counts: Record<string, number>; released: boolean }>;
		expect(release.released).toBe(true);
		expect(release.outcome).toBe('success');
		expect(release.counts.created).toBe(CASES.length);
	});
});
