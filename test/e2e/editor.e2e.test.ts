/**
 * What the user sees in the real n8n 2.41.1 editor while setting the nodes up, through the REST calls the
 * editor makes (`/rest/dynamic-node-parameters/...`): the searchable audience list, the tag multi-select with
 * every tag of the audience (more than one page of 1,000), and Map Fields' dropdowns of the audience's Mailchimp
 * fields next to the Hub's fields, its custom fields included, with the defaults filled in.
 */
import { startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { API_KEY, AUDIENCE, HUB_CUSTOM_FIELDS, HUB_KEY, dataset } from '../unit/MapFields/fixtures';
import { E2E_TIMEOUT_MS, N8nSuite, type N8nServer } from './harness';

jest.setTimeout(E2E_TIMEOUT_MS);

const PACKAGE = 'n8n-nodes-mailchimp-hub-sync';
const mailchimpCredential = { id: 'edMailchimp00001', name: 'Mailchimp emulator', type: 'mailchimpHubSyncApi' };
const hubCredential = { id: 'edHub00000000001', name: 'Hub emulator', type: 'sinchHubApi' };
/** More tags than one page of Mailchimp's largest page (1,000) holds. */
const EXTRA_TAGS = 1_050;

interface Option {
	name: string;
	value: string;
	description?: string;
}
interface MapperField {
	id: string;
	displayName: string;
	required: boolean;
	defaultValue: string;
	options: Option[];
}

describe('setting the nodes up in the real n8n editor', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let server: N8nServer;

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset: dataset() });
		const state = mailchimp.state;
		for (let i = 0; i < EXTRA_TAGS; i++) state.createTag(AUDIENCE, `Campaign ${String(i).padStart(4, '0')}`);
		hub = await startHubEmulator({ accounts: [{ ...HUB_KEY, customFields: HUB_CUSTOM_FIELDS }] });
		n8n = await N8nSuite.create({ name: 'editor' });
		await n8n.importCredentials([
			{ ...mailchimpCredential, data: { apiKey: API_KEY, apiBaseUrl: mailchimp.url } },
			{ ...hubCredential, data: { apiKey: HUB_KEY.apiKey, apiSecret: HUB_KEY.apiSecret, region: 'custom', baseUrl: hub.url, accountId: '' } },
		]);
		server = await n8n.startServer();
	});
	afterAll(async () => {
		await server?.stop();
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	const credentials = {
		[mailchimpCredential.type]: { id: mailchimpCredential.id, name: mailchimpCredential.name },
		[hubCredential.type]: { id: hubCredential.id, name: hubCredential.name },
	};
	const audience = (value: string) => ({ __rl: true, mode: 'list', value });

	/** One editor call; returns `data` of a 200 answer, or throws with n8n's message. */
	async function editor<T>(route: string, node: string, path: string, methodName: string, parameters: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<T> {
		const { status, body } = await server.rest('POST', `/rest/dynamic-node-parameters/${route}`, {
			path,
			nodeTypeAndVersion: { name: `${PACKAGE}.${node}`, version: 1 },
			currentNodeParameters: { authentication: 'apiKey', ...parameters },
			methodName,
			credentials,
			...extra,
		});
		if (status !== 200) throw new Error(`${route} answered ${status}: ${(body as { message?: string }).message ?? JSON.stringify(body)}`);
		return (body as { data: T }).data;
	}

	it('lists the audiences to pick from, and filters them by what the user types', async () => {
		const all = await editor<{ results: Option[] }>('resource-locator-results', 'fetchTaggedMembers', 'parameters.audience', 'searchAudiences', { audience: audience('') });
		expect(all.results.map((r) => r.value)).toEqual([AUDIENCE]);
		expect(all.results[0].name).toMatch(/^Customers \(\d+ members\)$/);
		const none = await editor<{ results: Option[] }>('resource-locator-results', 'fetchTaggedMembers', 'parameters.audience', 'searchAudiences', { audience: audience('') }, { filter: 'wholesale' });
		expect(none.results).toEqual([]);
		const typed = await editor<{ results: Option[] }>('resource-locator-results', 'fetchTaggedMembers', 'parameters.audience', 'searchAudiences', { audience: audience('') }, { filter: 'CUST' });
		expect(typed.results.map((r) => r.value)).toEqual([AUDIENCE]);
	});

	it("offers every tag of the audience in the Tags multi-select, over Mailchimp's 1,000-per-page limit", async () => {
		const route = 'GET /3.0/lists/{list_id}/segments';
		const pagesBefore = mailchimp.counters.get(route) ?? 0;
		const tags = await editor<Option[]>('options', 'fetchTaggedMembers', 'parameters.tags', 'getTags', { audience: audience(AUDIENCE), tags: [] });
		expect((mailchimp.counters.get(route) ?? 0) - pagesBefore).toBe(2); // 1,051 tags at count=1000
		const expected = mailchimp.state
			.dump()
			.accounts[0].lists[0].segments!.filter((s) => s.type === 'static')
			.map((s) => s.name)
			.sort((a, b) => a.localeCompare(b));
		expect(expected.length).toBe(EXTRA_TAGS + 1);
		expect(tags.map((t) => t.name)).toEqual(expected);
		const vip = tags.find((t) => t.name === 'VIP')!;
		expect(vip.description).toMatch(/^\d+ members$/);
		expect(Number(vip.value)).toBeGreaterThan(0);
	});

	it('names an unknown audience in the Tags dropdown instead of showing an empty list', async () => {
		await expect(editor('options', 'fetchTaggedMembers', 'parameters.tags', 'getTags', { audience: audience('nosuchlist'), tags: [] })).rejects.toThrow(
			"Mailchimp has no audience with ID 'nosuchlist'",
		);
	});

	it("shows Map Fields' Hub fields with dropdowns of the audience's Mailchimp fields and the defaults filled in", async () => {
		const { fields } = await editor<{ fields: MapperField[] }>('resource-mapper-fields', 'mapFields', 'parameters.fields', 'getMappingFields', {
			audience: audience(AUDIENCE),
			fields: { mappingMode: 'defineBelow', value: null },
		});
		const byName = new Map(fields.map((f) => [f.displayName, f]));
		expect([...byName.keys()]).toEqual(expect.arrayContaining(['Custom Field: City', 'Custom Field: Loyalty points']));
		const phone = fields.find((f) => f.id === 'phone')!;
		expect(phone.required).toBe(true);
		expect(phone.defaultValue).toMatch(/^smsPhone.*merge:PHONE$/);
		expect(fields.find((f) => f.id === 'firstName')!.defaultValue).toBe('merge:FNAME');
		expect(fields.find((f) => f.id === 'lastName')!.defaultValue).toBe('merge:LNAME');
		// Every merge field of the audience, and the parts of its address, can be picked for any Hub field.
		const choices = phone.options.map((o) => o.value);
		for (const tag of ['FNAME', 'LNAME', 'PHONE', 'DOB', 'POINTS', 'ADDRESS', 'ADDRESS.city', 'ADDRESS.country']) expect(choices).toContain(`merge:${tag}`);
		expect(fields.find((f) => f.displayName === 'Custom Field: City')!.defaultValue).toBe('none');
	});
});
