/**
 * Map Fields in the real n8n 2.41.1, after Fetch Tagged Members, against both emulators: the
 * mapping as a new node stores it (never opened: the defaults apply), and a mapping with an
 * expression and Hub custom fields as the editor stores it. Both outputs are read back from n8n's
 * own run data, so n8n's parameter handling (resource mapper, expressions) is what is tested.
 */
import { startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { API_KEY, AUDIENCE, CITY_FIELD, HUB_CUSTOM_FIELDS, HUB_KEY, MEMBERS, POINTS_FIELD, dataset } from '../unit/MapFields/fixtures';
import { E2E_TIMEOUT_MS, N8nSuite, type WorkflowFixture } from './harness';

jest.setTimeout(E2E_TIMEOUT_MS);

const MAP = 'Map Fields';
const mailchimpCredential = { id: 'mfMailchimp', name: 'Mailchimp emulator', type: 'mailchimpHubSyncApi' };
const hubCredential = { id: 'mfHub', name: 'Hub emulator', type: 'sinchHubApi' };
const audience = { __rl: true, mode: 'id', value: AUDIENCE };

function workflow(name: string, mapParameters: Record<string, unknown>): WorkflowFixture {
	return {
		name,
		nodes: [
			{ parameters: {}, id: 'a0000000-0000-4000-8000-000000000001', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0] },
			{
				parameters: { authentication: 'apiKey', audience, tags: ['VIP'], match: 'any', statuses: ['subscribed'], options: {} },
				id: 'a0000000-0000-4000-8000-000000000002',
				name: 'Fetch Tagged Members',
				type: 'n8n-nodes-mailchimp-hub-sync.fetchTaggedMembers',
				typeVersion: 1,
				position: [220, 0],
				credentials: { mailchimpHubSyncApi: { id: mailchimpCredential.id, name: mailchimpCredential.name } },
			},
			{
				parameters: { authentication: 'apiKey', audience, defaultCountry: 'AU', options: {}, ...mapParameters },
				id: 'a0000000-0000-4000-8000-000000000003',
				name: MAP,
				type: 'n8n-nodes-mailchimp-hub-sync.mapFields',
				typeVersion: 1,
				position: [440, 0],
				credentials: {
					mailchimpHubSyncApi: { id: mailchimpCredential.id, name: mailchimpCredential.name },
					sinchHubApi: { id: hubCredential.id, name: hubCredential.name },
				},
			},
		],
		connections: {
			Start: { main: [[{ node: 'Fetch Tagged Members', type: 'main', index: 0 }]] },
			'Fetch Tagged Members': { main: [[{ node: MAP, type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

const emails = (items: Array<Record<string, unknown>>) =>
	items.map((i) => String((i.member as Record<string, unknown>).email)).sort();

describe('Map Fields in the real n8n', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset: dataset() });
		hub = await startHubEmulator({ accounts: [{ ...HUB_KEY, customFields: HUB_CUSTOM_FIELDS }] });
		n8n = await N8nSuite.create({ name: 'map-fields' });
		await n8n.importCredentials([
			{ ...mailchimpCredential, data: { apiKey: API_KEY, apiBaseUrl: mailchimp.url } },
			{ ...hubCredential, data: { apiKey: HUB_KEY.apiKey, apiSecret: HUB_KEY.apiSecret, region: 'custom', baseUrl: hub.url, accountId: '' } },
		]);
	});
	afterAll(async () => {
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	it('maps with the defaults when the mapping was never opened, and reports invalid phones', async () => {
		const [id] = await n8n.importWorkflows([workflow('Map Fields defaults', {})]);
		const run = await n8n.execute(id);
		const valid = run.itemsOf(MAP, 0);
		const invalid = run.itemsOf(MAP, 1);
		expect(valid.length + invalid.length).toBe(MEMBERS.length);
		expect(emails(valid)).toEqual(['ana@example.com', 'ben@example.com', 'chloe@example.com']);
		const ana = valid.find((i) => (i.member as Record<string, unknown>).email === 'ana@example.com')!;
		expect(ana.contact).toEqual({
			phone: '+61491570156',
			firstName: 'Ana',
			lastName: 'López',
			country: 'AU',
			dateOfBirth: '1990-07-04',
			email: 'ana@example.com',
			customFields: [],
		});
		expect(ana.sync).toMatchObject({ audienceId: AUDIENCE, phone: '+61491570156' });
		expect(emails(invalid)).toEqual(['dev@example.com', 'emma@example.com', 'finn@example.com']);
		const dev = invalid.find((i) => (i.member as Record<string, unknown>).email === 'dev@example.com')!;
		expect(dev.reason).toBe('"02 5550 1234" is a landline in Australia, which cannot receive SMS');
		// What Remove needs to take such a member's contact out of the list.
		expect(dev.sync).toMatchObject({ audienceId: AUDIENCE, change: 'invalid', invalidReason: 'phone-invalid', result: 'invalid' });
		const emma = invalid.find((i) => (i.member as Record<string, unknown>).email === 'emma@example.com')!;
		expect(emma.sync).toMatchObject({ change: 'invalid', invalidReason: 'phone-missing' });
	});

	it('applies a stored mapping with an expression and Hub custom fields', async () => {
		const fields = {
			mappingMode: 'defineBelow',
			value: {
				firstName: '={{ $json.mergeFields.FNAME.toUpperCase() }}',
				lastName: 'merge:LNAME',
				phone: 'smsPhone||merge:PHONE',
				country: 'none',
				[`custom:${POINTS_FIELD}`]: 'merge:POINTS',
				[`custom:${CITY_FIELD}`]: 'merge:ADDRESS.city',
			},
			matchingColumns: [],
			schema: [],
			attemptToConvertTypes: false,
			convertFieldsToString: false,
		};
		const [id] = await n8n.importWorkflows([workflow('Map Fields configured', { fields })]);
		const run = await n8n.execute(id);
		const valid = run.itemsOf(MAP, 0);
		const chloe = valid.find((i) => (i.member as Record<string, unknown>).email === 'chloe@example.com')!;
		expect(chloe.contact).toEqual({
			phone: '+447400123456',
			firstName: 'CHLOÉ',
			lastName: 'Martin',
			customFields: [
				{ id: POINTS_FIELD, value: null },
				{ id: CITY_FIELD, value: 'Lond' },
			],
		});
		expect(chloe.warnings).toEqual([`Custom field "City" was shortened to 4 characters, the Hub's limit`]);
	});
});
