/**
 * Map Fields as n8n runs it, against both emulators: Fetch Tagged Members reads a small audience,
 * its items go into Map Fields, and both outputs are checked item by item. The editor's mapping form
 * is loaded the same way. Expected results come from the dataset below.
 */
import {
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type ILoadOptionsFunctions,
	type INodeExecutionData,
} from 'n8n-workflow';

import { MailchimpHubSyncApi } from '../../../credentials/MailchimpHubSyncApi.credentials';
import { SinchHubApi } from '../../../credentials/SinchHubApi.credentials';
import { FetchTaggedMembers } from '../../../nodes/FetchTaggedMembers/FetchTaggedMembers.node';
import { MapFields } from '../../../nodes/MapFields/MapFields.node';
import { customFieldKey } from '../../../nodes/MapFields/helpers/mapping';
import { startHubEmulator, type HubEmulator, type HubExchange } from '../../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../../emulators/mailchimp';
import { fakeExecuteContext, type FakeCredential } from '../helpers/fakeExecuteContext';
import { API_KEY, AUDIENCE, CITY_FIELD, HUB_CUSTOM_FIELDS, HUB_KEY, MEMBERS, POINTS_FIELD, dataset } from './fixtures';

let mailchimp: MailchimpEmulator;
let hub: HubEmulator;
const hubExchanges: HubExchange[] = [];

beforeAll(async () => {
	mailchimp = await startMailchimpEmulator({ dataset: dataset() });
	hub = await startHubEmulator({
		accounts: [
			{
				...HUB_KEY,
				customFields: HUB_CUSTOM_FIELDS,
			},
		],
		onExchange: (exchange) => hubExchanges.push(exchange),
	});
});

afterAll(async () => {
	await mailchimp?.close();
	await hub?.close();
});

beforeEach(() => {
	hubExchanges.length = 0;
});

function credentials(): Record<string, FakeCredential> {
	return {
		mailchimpHubSyncApi: { type: new MailchimpHubSyncApi(), data: { apiKey: API_KEY, apiBaseUrl: mailchimp.url } },
		sinchHubApi: { type: new SinchHubApi(), data: { ...HUB_KEY, accountId: '', region: 'custom', baseUrl: hub.url } },
	};
}

const audience = { __rl: true, mode: 'id', value: AUDIENCE };

async function fetchMembers(): Promise<INodeExecutionData[]> {
	const ctx = fakeExecuteContext({
		credentials: credentials(),
		parameters: { authentication: 'apiKey', audience, tags: ['VIP'], match: 'any', statuses: ['subscribed'], output: 'all', options: {} },
	});
	const [out] = await new FetchTaggedMembers().execute.call(ctx);
	return out;
}

/**
 * n8n's parameter reading for Map Fields: `rawExpressions` gives the stored value, otherwise
 * `={{ … }}` strings are evaluated against the item, as n8n's expression engine would.
 */
function mapFieldsContext(items: INodeExecutionData[], parameters: Record<string, unknown>, continueOnFail = false) {
	const ctx = fakeExecuteContext({ credentials: credentials(), items, parameters, continueOnFail, node: { name: 'Map Fields' } });
	const read = ctx.getNodeParameter.bind(ctx) as (name: string, i?: number, fallback?: unknown, options?: IDataObject) => unknown;
	const evaluate = (value: unknown, itemIndex: number): unknown => {
		if (typeof value !== 'string' || !value.startsWith('=')) return value;
		const expression = /^=\{\{([\s\S]*)\}\}$/.exec(value.trim())?.[1] ?? JSON.stringify(value.slice(1));
		// Test stand-in for n8n's expression engine: JavaScript over $json.
		// eslint-disable-next-line @typescript-eslint/no-implied-eval
		return new Function('$json', `return (${expression});`)(items[itemIndex].json);
	};
	(ctx as { getNodeParameter: unknown }).getNodeParameter = (name: string, i = 0, fallback?: unknown, options?: IDataObject) => {
		const value = read(name, i, fallback, options);
		return options?.rawExpressions ? value : evaluate(value, i);
	};
	return ctx;
}

const baseParameters = (fields: unknown = { mappingMode: 'defineBelow', value: null }) => ({
	authentication: 'apiKey',
	audience,
	fields,
	defaultCountry: 'AU',
	options: {},
});

async function runMapFields(items: INodeExecutionData[], parameters: Record<string, unknown>) {
	const ctx = mapFieldsContext(items, parameters);
	const [valid, invalid] = await new MapFields().execute.call(ctx as unknown as IExecuteFunctions);
	return { valid, invalid };
}

const byEmail = (items: INodeExecutionData[], path: 'member') =>
	new Map(items.map((item) => [String((item.json[path] as IDataObject).email), item]));

describe('Map Fields after Fetch Tagged Members, mapping never configured (the defaults)', () => {
	let input: INodeExecutionData[];
	let valid: INodeExecutionData[];
	let invalid: INodeExecutionData[];

	beforeAll(async () => {
		input = await fetchMembers();
		({ valid, invalid } = await runMapFields(input, baseParameters()));
	});

	it('puts every member on exactly one output, paired with its input item', () => {
		expect(input).toHaveLength(MEMBERS.length);
		expect(valid.length + invalid.length).toBe(input.length);
		const paired = [...valid, ...invalid].map((item) => (item.pairedItem as { item: number }).item).sort();
		expect(paired).toEqual(input.map((_, i) => i));
		for (const item of [...valid, ...invalid]) {
			const source = input[(item.pairedItem as { item: number }).item].json;
			expect((item.json.member as IDataObject).email).toBe(source.email);
		}
	});

	it('emits the Hub contact fields, the member facts and the bookkeeping on Valid', () => {
		const ana = byEmail(valid, 'member').get('ana@example.com')!;
		const source = input[(ana.pairedItem as { item: number }).item].json;
		expect(ana.json).toEqual({
			contact: {
				phone: '+61491570156',
				firstName: 'Ana',
				lastName: 'López',
				country: 'AU',
				dateOfBirth: '1990-07-04',
				email: 'ana@example.com',
				customFields: [],
			},
			member: {
				memberKey: (source.sync as IDataObject).memberKey,
				memberId: source.memberId,
				contactId: source.contactId,
				email: 'ana@example.com',
				status: 'subscribed',
				smsSubscriptionStatus: null,
				audienceId: AUDIENCE,
				tags: ['VIP'],
			},
			sync: { ...(source.sync as IDataObject), phone: '+61491570156' },
			warnings: [],
		});
	});

	it("uses the SMS phone first and the member's address country for national numbers", () => {
		const valids = byEmail(valid, 'member');
		expect((valids.get('ben@example.com')!.json.contact as IDataObject).phone).toBe('+61491570110');
		expect((valids.get('ben@example.com')!.json.member as IDataObject).smsSubscriptionStatus).toBe('subscribed');
		expect((valids.get('chloe@example.com')!.json.contact as IDataObject).phone).toBe('+447400123456');
		expect([...valids.keys()].sort()).toEqual(['ana@example.com', 'ben@example.com', 'chloe@example.com']);
	});

	it('sends the others to Invalid with a reason and the original member data', () => {
		const invalids = byEmail(invalid, 'member');
		expect([...invalids.keys()].sort()).toEqual(['dev@example.com', 'emma@example.com', 'finn@example.com']);
		const dev = invalids.get('dev@example.com')!;
		const source = input[(dev.pairedItem as { item: number }).item].json;
		const { sync, ...member } = source;
		expect(dev.json).toEqual({
			reason: '"02 5550 1234" is a landline in Australia, which cannot receive SMS',
			problems: [{ field: 'phone', reason: '"02 5550 1234" is a landline in Australia, which cannot receive SMS' }],
			member,
			sync: { ...(sync as object), change: 'invalid', invalidReason: 'phone-invalid', result: 'invalid' },
		});
		expect((invalids.get('emma@example.com')!.json.sync as IDataObject).invalidReason).toBe('phone-missing');
		expect(invalids.get('emma@example.com')!.json.reason).toBe(
			'The member has no phone number (the SMS phone number and the PHONE field are empty)',
		);
		expect(invalids.get('finn@example.com')!.json.reason).toContain('0011');
	});
});

describe('Map Fields with a configured mapping', () => {
	let input: INodeExecutionData[];
	beforeAll(async () => {
		input = await fetchMembers();
	});

	it('fills mapped Hub custom fields by their type and length, reading the Hub once', async () => {
		const fields = {
			mappingMode: 'defineBelow',
			value: {
				firstName: 'merge:FNAME',
				lastName: 'none',
				phone: 'smsPhone||merge:PHONE',
				email: 'email',
				[customFieldKey(POINTS_FIELD)]: 'merge:POINTS',
				[customFieldKey(CITY_FIELD)]: 'merge:ADDRESS.city',
			},
		};
		const { valid } = await runMapFields(input, baseParameters(fields));
		const ana = byEmail(valid, 'member').get('ana@example.com')!;
		expect(ana.json.contact).toEqual({
			phone: '+61491570156',
			firstName: 'Ana',
			email: 'ana@example.com',
			customFields: [
				{ id: POINTS_FIELD, value: '1250' },
				{ id: CITY_FIELD, value: 'Sydn' },
			],
		});
		expect(ana.json.warnings).toEqual([`Custom field "City" was shortened to 4 characters, the Hub's limit`]);
		const ben = byEmail(valid, 'member').get('ben@example.com')!;
		expect((ben.json.contact as IDataObject).customFields).toEqual([
			{ id: POINTS_FIELD, value: null },
			{ id: CITY_FIELD, value: 'Pert' },
		]);
		expect(hubExchanges.map((e) => `${e.request.method} ${e.request.path}`)).toEqual(['GET /api/v1/contacts/custom-fields']);
	});

	it('does not call the Hub when no custom field is mapped, and reads the audience fields once', async () => {
		const before = mailchimp.requests.length;
		await runMapFields(input, baseParameters({ mappingMode: 'defineBelow', value: { phone: 'smsPhone||merge:PHONE' } }));
		expect(hubExchanges).toEqual([]);
		const routes = mailchimp.requests.slice(before).map((r) => r.path);
		expect(routes).toEqual([`/3.0/lists/${AUDIENCE}/merge-fields`]);
	});

	it('evaluates expressions per item and sends a member whose expression fails to Invalid', async () => {
		const fields = {
			mappingMode: 'defineBelow',
			value: {
				phone: 'smsPhone||merge:PHONE',
				firstName: '={{ $json.mergeFields.FNAME.toUpperCase() }}',
				lastName: '={{ $json.mergeFields.LNAME.length > 0 ? $json.mergeFields.LNAME : $json.missing.boom }}',
			},
		};
		const { valid, invalid } = await runMapFields(input, baseParameters(fields));
		const chloe = byEmail(valid, 'member').get('chloe@example.com')!;
		expect(chloe.json.contact).toMatchObject({ firstName: 'CHLOÉ', lastName: 'Martin' });
		const emma = byEmail(invalid, 'member').get('emma@example.com')!;
		expect(emma.json.reason).toMatch(/^The expression for lastName failed: /);
		expect(valid.length + invalid.length).toBe(input.length);
	});

	it('reads the default country per item, so an expression may give it', async () => {
		const fields = { mappingMode: 'defineBelow', value: { phone: 'merge:PHONE' } };
		const perItem = {
			...baseParameters(fields),
			defaultCountry: "={{ $json.email.startsWith('chloe') ? 'GB' : 'AU' }}",
			options: { useAddressCountry: false },
		};
		const { valid } = await runMapFields(input, perItem);
		expect([...byEmail(valid, 'member').keys()].sort()).toEqual(['ana@example.com', 'chloe@example.com']);

		// From the UK, 00 is the international prefix, so "00 61 …" is an Australian mobile there.
		const fromUk = { ...baseParameters(fields), defaultCountry: 'GB', options: { useAddressCountry: false } };
		const uk = await runMapFields(input, fromUk);
		expect([...byEmail(uk.valid, 'member').keys()].sort()).toEqual(['chloe@example.com', 'finn@example.com']);
		expect((byEmail(uk.valid, 'member').get('finn@example.com')!.json.contact as IDataObject).phone).toBe('+61491570157');
	});
});

describe("Map Fields passes the run's bookkeeping on", () => {
	/** The items Fetch sends in Changes mode: the ledger's contact and phone, and the run's lease. */
	async function changedMembers(): Promise<INodeExecutionData[]> {
		return (await fetchMembers()).map((item, i) => ({
			...item,
			json: {
				...item.json,
				sync: {
					...(item.json.sync as IDataObject),
					syncName: 'wf-1',
					change: 'changed',
					contentHash: `hash-${i}`,
					hubContactId: `hub-contact-${i}`,
					previousPhone: '+61491570999',
					lease: 'lease-token-1',
				},
			},
		}));
	}

	it('keeps the lease on both outputs, and the ledger\'s contact and phone on Invalid', async () => {
		const input = await changedMembers();
		const { valid, invalid } = await runMapFields(input, baseParameters());
		expect(valid.length).toBeGreaterThan(0);
		expect(invalid.length).toBeGreaterThan(0);
		for (const item of valid) expect((item.json.sync as IDataObject).lease).toBe('lease-token-1');
		for (const item of invalid) {
			const i = (item.pairedItem as { item: number }).item;
			expect(item.json.sync).toMatchObject({
				lease: 'lease-token-1',
				syncName: 'wf-1',
				change: 'invalid',
				hubContactId: `hub-contact-${i}`,
				previousPhone: '+61491570999',
				memberKey: (input[i].json.sync as IDataObject).memberKey,
			});
		}
	});

	it('marks an invalid member who unsubscribed from SMS in Mailchimp, so the contact is unsubscribed too', async () => {
		const input = await changedMembers();
		for (const item of input) {
			if (item.json.email === 'dev@example.com' || item.json.email === 'ana@example.com') item.json.smsSubscriptionStatus = 'unsubscribed';
		}
		const { valid, invalid } = await runMapFields(input, baseParameters());
		const dev = byEmail(invalid, 'member').get('dev@example.com')!;
		expect(dev.json.sync).toMatchObject({ change: 'invalid', invalidReason: 'phone-invalid', smsUnsubscribed: true });
		const emma = byEmail(invalid, 'member').get('emma@example.com')!;
		expect(emma.json.sync).not.toHaveProperty('smsUnsubscribed');
		// A valid member's opt-out is Upsert's to apply, from the member's SMS status.
		expect(byEmail(valid, 'member').get('ana@example.com')!.json.sync).not.toHaveProperty('smsUnsubscribed');
	});
});

describe('Map Fields with input it cannot use', () => {
	it('sends items that are not Mailchimp members to Invalid, saying why', async () => {
		const items: INodeExecutionData[] = [{ json: { error: 'Mailchimp kept failing' } }, { json: { hello: 'world' } }];
		const { valid, invalid } = await runMapFields(items, baseParameters());
		expect(valid).toEqual([]);
		expect(invalid.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(invalid[0].json).toEqual({
			reason:
				'This item is not a Mailchimp member (the previous node reported: Mailchimp kept failing); connect Map Fields after Fetch Tagged Members',
			problems: [{ field: 'member', reason: expect.any(String) }],
			member: { error: 'Mailchimp kept failing' },
			sync: { change: 'invalid', invalidReason: 'other', result: 'invalid' },
		});
	});

	it('stops when no Mailchimp field is mapped to the phone, instead of sending every member to Invalid', async () => {
		// Invalid members leave the Hub list: a mapping without a phone must not take everyone out.
		const input = await fetchMembers();
		const fields = { mappingMode: 'defineBelow', value: { phone: 'none', firstName: 'merge:FNAME' } };
		await expect(runMapFields(input, baseParameters(fields))).rejects.toThrow('No Mailchimp field is mapped to the phone');
		const expression = { mappingMode: 'defineBelow', value: { phone: '={{ $json.mergeFields.PHONE }}' } };
		const { valid } = await runMapFields(input, baseParameters(expression));
		expect(valid.length).toBeGreaterThan(0);
	});

	it('returns two empty outputs for no input, without a request', async () => {
		const before = mailchimp.requests.length;
		expect(await runMapFields([], baseParameters())).toEqual({ valid: [], invalid: [] });
		expect(mailchimp.requests.length).toBe(before);
	});

	it('stops on a default country that is not one', async () => {
		const input = await fetchMembers();
		await expect(runMapFields(input, { ...baseParameters(), defaultCountry: 'Oz' })).rejects.toThrow(NodeOperationError);
		await expect(runMapFields(input, { ...baseParameters(), defaultCountry: 'Oz' })).rejects.toThrow('"Oz" is not a country code');
	});

	it('stops on a stored mapping that names no Mailchimp field', async () => {
		const input = await fetchMembers();
		const fields = { mappingMode: 'defineBelow', value: { phone: 'merge:PHONE', firstName: 'Ana' } };
		await expect(runMapFields(input, baseParameters(fields))).rejects.toThrow('The mapping of "firstName" is not a Mailchimp field: "Ana"');
	});
});

describe('the mapping form in the editor', () => {
	function loadOptionsContext(parameters: Record<string, unknown>): ILoadOptionsFunctions {
		return fakeExecuteContext({ credentials: credentials(), parameters }) as unknown as ILoadOptionsFunctions;
	}

	it("offers the audience's Mailchimp fields for every Hub field, custom fields included", async () => {
		const { fields } = await new MapFields().methods.resourceMapping.getMappingFields.call(
			loadOptionsContext({ authentication: 'apiKey', audience }),
		);
		expect(fields.map((f) => f.displayName)).toEqual([
			'First Name',
			'Last Name',
			'Phone (SMS)',
			'Country',
			'Date of Birth',
			'Email',
			'Custom Field: City',
			'Custom Field: Loyalty points',
		]);
		const phone = fields.find((f) => f.id === 'phone')!;
		expect(phone.defaultValue).toBe('smsPhone||merge:PHONE');
		expect(phone.options?.map((o) => o.name)).toEqual([
			"(Don't Map)",
			'Email Address',
			'SMS Phone Number',
			'Full Name',
			'SMS Phone Number, Else Phone Number',
			'First Name',
			'Last Name',
			'Address',
			'Address: Street',
			'Address: Street Line 2',
			'Address: City',
			'Address: State',
			'Address: Postal Code',
			'Address: Country',
			'Phone Number',
			'Date of Birth',
			'Points',
		]);
		expect(fields.find((f) => f.id === 'dateOfBirth')!.defaultValue).toBe('merge:DOB');
	});

	it('names the credential still to choose, instead of failing the editor\'s request (issue 8, #2)', async () => {
		const withOnly = (type: string) => fakeExecuteContext({ credentials: { [type]: credentials()[type] }, parameters: { authentication: 'apiKey', audience } }) as unknown as ILoadOptionsFunctions;
		const getMappingFields = new MapFields().methods.resourceMapping.getMappingFields;
		await expect(getMappingFields.call(withOnly('mailchimpHubSyncApi'))).resolves.toEqual({
			fields: [],
			emptyFieldsNotice: "Choose the Hub credential above: the dropdowns list the audience's fields and the Hub's custom fields",
		});
		await expect(getMappingFields.call(withOnly('sinchHubApi'))).resolves.toMatchObject({ fields: [], emptyFieldsNotice: expect.stringMatching(/^Choose the Mailchimp credential above/) });
	});

	it("with no audience picked, lists the fields of the account's only audience (the run takes each member's own)", async () => {
		const getMappingFields = new MapFields().methods.resourceMapping.getMappingFields;
		const picked = await getMappingFields.call(loadOptionsContext({ authentication: 'apiKey', audience }));
		const empty = await getMappingFields.call(loadOptionsContext({ authentication: 'apiKey', audience: { __rl: true, mode: 'list', value: '' } }));
		expect(empty).toEqual(picked);
	});

	it('asks for the audience when the account has several', async () => {
		const several = dataset();
		const lists = several.accounts[0].lists!;
		lists.push({ ...lists[0], id: 'second0list', name: 'Second audience', members: [] });
		const other = await startMailchimpEmulator({ dataset: several });
		try {
			const context = fakeExecuteContext({
				credentials: { ...credentials(), mailchimpHubSyncApi: { type: new MailchimpHubSyncApi(), data: { apiKey: API_KEY, apiBaseUrl: other.url } } },
				parameters: { authentication: 'apiKey', audience: { __rl: true, mode: 'list', value: '' } },
			}) as unknown as ILoadOptionsFunctions;
			await expect(new MapFields().methods.resourceMapping.getMappingFields.call(context)).resolves.toEqual({
				fields: [],
				emptyFieldsNotice: 'Pick the audience above: its fields fill the dropdowns',
			});
		} finally {
			await other.close();
		}
	});
});
