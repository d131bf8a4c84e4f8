import type { IHttpRequestOptions } from 'n8n-workflow';
/**
 * Upsert Hub Contact (Upsert) through a fake n8n context against the Hub emulator: what the Hub ends
 * up holding, how many requests it took, what each item says, and what the ledger holds.
 */
import type { IDataObject } from 'n8n-workflow';

import { OpenApiValidator } from '../../../contract/openapi';
import { startHubEmulator, type HubEmulator, type HubExchange } from '../../../emulators/hub';
import type { HubAccount } from '../../../emulators/hub-state';
import {
	AUDIENCE,
	HUB_KEY,
	hubOf,
	keyOf,
	ledgerOf,
	memberItem,
	requestCounts,
	runNode,
	tempStore,
	totalWrites,
	writeCounts,
	type MemberSpec,
	type StoreDir,
} from '../harness';

const POINTS = '5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f';
const CITY = '6a1d2e3f-4b5c-4d6e-9f70-8b9c0d1e2f3a';

let hub: HubEmulator;
let store: StoreDir;
const exchanges: HubExchange[] = [];
/** Every exchange of the whole file, for the spec check at its end. */
const allExchanges: HubExchange[] = [];

beforeAll(async () => {
	hub = await startHubEmulator({
		accounts: [
			{
				...HUB_KEY,
				customFields: [
					{ id: POINTS, label: 'Loyalty points', mergeTag: 'points', type: 'NUMBER', maxLength: 10 },
					{ id: CITY, label: 'City', mergeTag: 'city', type: 'TEXT', maxLength: 4 },
				],
			},
		],
		onExchange: (exchange) => {
			exchanges.push(exchange);
			allExchanges.push(exchange);
		},
	});
});
afterAll(async () => hub?.close());

beforeEach(() => {
	hub.reset();
	hub.counters.clear();
	exchanges.length = 0;
	store = tempStore();
});
afterEach(async () => store.cleanup());

const account = (): HubAccount => hub.account(HUB_KEY.accountId);
const contacts = () => [...account().contacts.values()].map((c) => account().contactData(c));
const contactByPhone = (phone: string) => contacts().find((c) => c.channels.some((ch) => ch.channelId === phone));
const custom = (contact: { customFields: Array<{ mergeTag: string; value: string }> }, tag: string) =>
	contact.customFields.find((f) => f.mergeTag === tag)?.value;
const list = () => [...account().lists.values()].find((l) => l.name === 'MAILCHIMP');
const run = (specs: MemberSpec[], options = {}) => runNode(hub, store.path, specs.map(memberItem), options);
const bodiesOf = (method: string, route: string) =>
	exchanges.filter((e) => e.request.method === method && e.request.route === `${method} ${route}`).map((e) => e.request.body as IDataObject);

const ANA: MemberSpec = { key: 'ana', phone: '+61491570156', firstName: 'Ana', lastName: 'López', country: 'AU', dateOfBirth: '1990-07-04', email: 'ana@example.com', customFields: [{ id: POINTS, value: '1250' }] };
const BEN: MemberSpec = { key: 'ben', phone: '+61491570110', firstName: 'Ben', lastName: 'Okafor', sms: 'subscribed' };
const CHLOE: MemberSpec = { key: 'chloe', phone: '+447400123456', firstName: 'Chloé', lastName: 'Martin', country: 'GB' };

describe('Upsert: first run', () => {
	it('creates the list, the fields and one contact per member, each with one POST', async () => {
		const { done, errors } = await run([ANA, BEN, CHLOE]);
		expect(errors).toEqual([]);
		expect(done.map((d) => [keyOf(d), hubOf(d).action, hubOf(d).subscription])).toEqual([
			['ana', 'created', 'SUBSCRIBED'],
			['ben', 'created', 'SUBSCRIBED'],
			['chloe', 'created', 'SUBSCRIBED'],
		]);
		expect(done.map((d) => d.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);

		// Writes: the list, Source, Mailchimp ID and Email once, then one POST per member, nothing else.
		expect(writeCounts(hub)).toEqual({
			'POST /api/v1/contacts/lists': 1,
			'POST /api/v1/contacts/custom-fields': 3,
			'POST /api/v1/contacts/contacts': 3,
		});
		// Reads: one phone lookup and one blacklist check for all three.
		expect(requestCounts(hub)['GET /api/v1/contacts/contacts']).toBe(1);
		expect(requestCounts(hub)['GET /v1/number_authorisation/is_authorised/{numbers}']).toBe(1);

		const ana = contactByPhone(ANA.phone)!;
		expect(ana).toMatchObject({ firstName: 'Ana', lastName: 'López', country: 'AU', dateOfBirth: '1990-07-04' });
		expect(ana.channels).toEqual([{ channelId: ANA.phone, type: 'SMS', subscriptionState: 'SUBSCRIBED' }]);
		expect(ana.lists.map((l) => l.name)).toEqual(['MAILCHIMP']);
		expect(Object.fromEntries(ana.customFields.map((f) => [f.mergeTag, f.value]))).toEqual({
			points: '1250',
			email: 'ana@example.com',
			source: 'MAILCHIMP',
			mailchimp_id: 'ana',
		});
		const fields = [...account().customFields.values()].map((f) => [f.label, f.mergeTag, f.type]);
		expect(fields).toEqual(expect.arrayContaining([['Source', 'source', 'TEXT'], ['Mailchimp ID', 'mailchimp_id', 'TEXT'], ['Email', 'email', 'EMAIL']]));
		expect(list()!.members.size).toBe(3);
		expect(contacts()).toHaveLength(3);

		// The item says what happened and keeps its bookkeeping.
		expect(hubOf(done[0])).toEqual({
			contactId: ana.id,
			action: 'created',
			subscription: 'SUBSCRIBED',
			changedFields: ['phone', 'firstName', 'lastName', 'country', 'dateOfBirth', 'points', 'email', 'source', 'mailchimp_id', 'list'],
		});
		expect(done[0].json.sync).toMatchObject({ audienceId: AUDIENCE, memberKey: 'ana', change: 'new', hubContactId: ana.id });

		const ledger = await ledgerOf(store.path);
		expect([...ledger.keys()].sort()).toEqual(['ana', 'ben', 'chloe']);
		expect(ledger.get('ana')).toMatchObject({ contentHash: 'hash-ana', hubContactId: ana.id, phone: ANA.phone });
	});

	it('does not create the Email field when no email is mapped, and never sends a subscription state for a clean number', async () => {
		await run([BEN, CHLOE]);
		expect([...account().customFields.values()].map((f) => f.label)).not.toContain('Email');
		for (const body of bodiesOf('POST', '/api/v1/contacts/contacts')) {
			expect(body.channels).toEqual([{ channelId: expect.any(String), type: 'SMS' }]);
		}
	});

	it('finds the list and fields by name after that, even when they were made by hand', async () => {
		hub.seed(HUB_KEY.accountId, {
			lists: [{ name: 'MAILCHIMP' }],
			customFields: [
				{ label: 'Source', mergeTag: 'source', type: 'TEXT', maxLength: 20 },
				{ label: 'Mailchimp ID', mergeTag: 'mailchimp_id', type: 'TEXT', maxLength: 50 },
			],
		});
		await run([BEN]);
		expect(writeCounts(hub)).toEqual({ 'POST /api/v1/contacts/contacts': 1 });
	});
});

describe('Upsert: later runs', () => {
	it('makes zero write requests when the same members come again', async () => {
		await run([ANA, BEN, CHLOE]);
		hub.counters.clear();
		const { done, errors } = await run([ANA, BEN, CHLOE].map((m) => ({ ...m, change: 'changed' as const })));
		expect(errors).toEqual([]);
		expect(done.map((d) => hubOf(d).action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
		expect(done.every((d) => hubOf(d).changedFields.length === 0)).toBe(true);
		expect(totalWrites(hub)).toBe(0);
		// Reads only: the list, the three fields, one phone lookup, one blacklist check.
		expect(requestCounts(hub)).toEqual({
			'GET /api/v1/contacts/lists': 1,
			'GET /api/v1/contacts/custom-fields': 3,
			'GET /api/v1/contacts/contacts': 1,
			'GET /v1/number_authorisation/is_authorised/{numbers}': 1,
		});
	});

	it('makes no Hub request at all for no items', async () => {
		const { done, errors } = await run([]);
		expect([done, errors]).toEqual([[], []]);
		expect(requestCounts(hub)).toEqual({});
	});

	it('patches exactly the field that changed', async () => {
		await run([ANA, BEN]);
		const before = contactByPhone(ANA.phone)!;
		hub.counters.clear();
		exchanges.length = 0;
		const { done } = await run([{ ...ANA, firstName: 'Anna', hubContactId: before.id, contentHash: 'hash-ana-2' }, BEN]);
		expect(writeCounts(hub)).toEqual({ 'PATCH /api/v1/contacts/contacts/{contactId}': 1 });
		expect(bodiesOf('PATCH', '/api/v1/contacts/contacts/{contactId}')).toEqual([{ firstName: 'Anna' }]);
		expect(hubOf(done[0])).toMatchObject({ action: 'updated', changedFields: ['firstName'], contactId: before.id });
		expect(hubOf(done[1]).action).toBe('unchanged');
		const after = contactByPhone(ANA.phone)!;
		expect({ ...after, firstName: 'Ana', fullName: before.fullName, lastModifiedDate: before.lastModifiedDate }).toEqual(before);
		expect((await ledgerOf(store.path)).get('ana')!.contentHash).toBe('hash-ana-2');
	});

	it('sends the complete custom field array when one custom field changes, and clears an emptied one', async () => {
		await run([{ ...ANA, customFields: [{ id: POINTS, value: '1250' }, { id: CITY, value: 'Syd' }] }]);
		const id = contactByPhone(ANA.phone)!.id;
		exchanges.length = 0;
		const { done } = await run([{ ...ANA, customFields: [{ id: POINTS, value: '1300' }, { id: CITY, value: null }], hubContactId: id }]);
		const [patch] = bodiesOf('PATCH', '/api/v1/contacts/contacts/{contactId}');
		expect(Object.keys(patch)).toEqual(['customFields']);
		expect(Object.fromEntries(contactByPhone(ANA.phone)!.customFields.map((f) => [f.mergeTag, f.value]))).toEqual({
			points: '1300',
			email: 'ana@example.com',
			source: 'MAILCHIMP',
			mailchimp_id: 'ana',
		});
		expect(hubOf(done[0]).changedFields).toEqual(['points', 'city']);
	});

	it('keeps what the Hub has for fields that are not mapped', async () => {
		await run([ANA]);
		exchanges.length = 0;
		hub.counters.clear();
		// Only the phone and first name are mapped now: nothing else is touched.
		const { done } = await run([{ key: 'ana', phone: ANA.phone, firstName: 'Ana' }]);
		expect(totalWrites(hub)).toBe(0);
		expect(hubOf(done[0]).action).toBe('unchanged');
		expect(contactByPhone(ANA.phone)).toMatchObject({ lastName: 'López', country: 'AU' });
	});

	it('finds a member whose phone changed by the stored contact id and moves the number', async () => {
		await run([ANA, BEN]);
		const before = contactByPhone(ANA.phone)!;
		hub.counters.clear();
		exchanges.length = 0;
		const NEW = '+61491570157';
		const { done, errors } = await run([{ ...ANA, phone: NEW, hubContactId: before.id, previousPhone: ANA.phone }]);
		expect(errors).toEqual([]);
		expect(writeCounts(hub)).toEqual({ 'PATCH /api/v1/contacts/contacts/{contactId}': 1 });
		expect(bodiesOf('PATCH', '/api/v1/contacts/contacts/{contactId}')).toEqual([{ channels: [{ channelId: NEW, type: 'SMS' }] }]);
		expect(hubOf(done[0])).toMatchObject({ contactId: before.id, action: 'updated', changedFields: ['phone'], subscription: 'SUBSCRIBED' });
		expect(contacts()).toHaveLength(2);
		expect(contactByPhone(ANA.phone)).toBeUndefined();
		expect(contactByPhone(NEW)!.id).toBe(before.id);
		expect((await ledgerOf(store.path)).get('ana')).toMatchObject({ hubContactId: before.id, phone: NEW });
	});

	it('keeps the other channels of a contact when its number moves', async () => {
		hub.seed(HUB_KEY.accountId, {
			contacts: [{ firstName: 'Ana', channels: [{ channelId: ANA.phone }, { channelId: '+61491570999', type: 'WHATSAPP' }] }],
		});
		await run([{ key: 'ana', phone: ANA.phone, firstName: 'Ana' }]);
		const id = contactByPhone(ANA.phone)!.id;
		await run([{ key: 'ana', phone: '+61491570157', firstName: 'Ana', hubContactId: id, previousPhone: ANA.phone }]);
		expect(contactByPhone('+61491570157')!.channels).toEqual([
			{ channelId: '+61491570999', type: 'WHATSAPP', subscriptionState: 'SUBSCRIBED' },
			{ channelId: '+61491570157', type: 'SMS', subscriptionState: 'SUBSCRIBED' },
		]);
	});

	it('creates the contact again when the stored one was deleted in the Hub', async () => {
		await run([BEN]);
		const gone = contactByPhone(BEN.phone)!.id;
		account().deleteContact(gone);
		const { done } = await run([{ ...BEN, hubContactId: gone }]);
		expect(hubOf(done[0]).action).toBe('created');
		expect(hubOf(done[0]).contactId).not.toBe(gone);
		expect((await ledgerOf(store.path)).get('ben')!.hubContactId).toBe(hubOf(done[0]).contactId);
	});

	it('links a Hub contact found by phone that carries no Mailchimp ID, and puts it in the list in bulk', async () => {
		hub.seed(HUB_KEY.accountId, {
			contacts: [
				{ firstName: 'Benjamin', channels: [{ channelId: BEN.phone }], customFields: {} },
				{ firstName: 'Chloé', lastName: 'Martin', country: 'GB', channels: [{ channelId: CHLOE.phone }] },
			],
		});
		hub.counters.clear();
		const { done } = await run([BEN, CHLOE]);
		expect(done.map((d) => [hubOf(d).action, hubOf(d).changedFields])).toEqual([
			['updated', ['firstName', 'lastName', 'source', 'mailchimp_id', 'list']],
			['updated', ['source', 'mailchimp_id', 'list']],
		]);
		expect(writeCounts(hub)).toMatchObject({
			'PATCH /api/v1/contacts/contacts/{contactId}': 2,
			'PATCH /api/v1/contacts/lists/{listId}/contacts': 1,
		});
		expect(contacts()).toHaveLength(2);
		expect(list()!.members.size).toBe(2);
	});
});

describe('Upsert: opt-out wins', () => {
	const subscribedEvents = (phone: string) => account().subscriptionEvents.filter((e) => e.channelId === phone && e.to === 'SUBSCRIBED');

	it('links a contact that is UNSUBSCRIBED in the Hub and leaves it unsubscribed', async () => {
		hub.seed(HUB_KEY.accountId, { contacts: [{ firstName: 'Ben', channels: [{ channelId: BEN.phone, subscriptionState: 'UNSUBSCRIBED' }] }] });
		const seeded = account().subscriptionEvents.length;
		const { done } = await run([{ ...BEN, sms: 'subscribed' }]);
		expect(hubOf(done[0])).toMatchObject({ action: 'updated', subscription: 'UNSUBSCRIBED' });
		expect(hubOf(done[0]).changedFields).not.toContain('subscription');
		expect(account().subscriptionEvents.slice(seeded)).toEqual([]);
		hub.counters.clear();
		await run([{ ...BEN, sms: 'subscribed' }]);
		expect(totalWrites(hub)).toBe(0);
		expect(contactByPhone(BEN.phone)!.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
	});

	it.each([
		['after the run read it', 'read'],
		['just before the patch', 'patch'],
	])('keeps a STOP on another channel that arrived mid-run (%s) when the number moves', async (_when, moment) => {
		const SECOND = '+61491570998';
		hub.seed(HUB_KEY.accountId, { contacts: [{ firstName: 'Ana', channels: [{ channelId: ANA.phone }, { channelId: SECOND }] }] });
		await run([{ key: 'ana', phone: ANA.phone, firstName: 'Ana' }]);
		const id = contactByPhone(ANA.phone)!.id;
		let stopped = false;
		const stop = () => {
			if (stopped) return;
			stopped = true;
			account().receiveReply({ from: SECOND, content: 'STOP' });
		};
		const moved = { key: 'ana', phone: '+61491570157', firstName: 'Ana', hubContactId: id, previousPhone: ANA.phone };
		const { done, errors } = await runNode(hub, store.path, [memberItem(moved)], {
			afterResponse: (request, response) => {
				if (moment === 'read' && String(request.url).includes('contactIds=')) stop();
				return response;
			},
			beforeRequest: (request) => {
				if (moment === 'patch' && request.method === 'PATCH' && String(request.url).includes(`/contacts/contacts/${id}`)) stop();
			},
		});
		expect(errors).toEqual([]);
		expect(stopped).toBe(true);
		expect(hubOf(done[0]).changedFields).toEqual(['phone']);
		expect(account().contactData(account().contacts.get(id)!).channels).toEqual([
			{ channelId: SECOND, type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
			{ channelId: '+61491570157', type: 'SMS', subscriptionState: 'SUBSCRIBED' },
		]);
		expect(subscribedEvents(SECOND).filter((e) => e.cause !== 'seed' && e.cause !== 'create')).toEqual([]);
	});

	it('creates a blacklisted number UNSUBSCRIBED, and unsubscribes an existing contact once its number is blacklisted', async () => {
		hub.seed(HUB_KEY.accountId, { blacklist: [BEN.phone] });
		await run([BEN, CHLOE]);
		expect(bodiesOf('POST', '/api/v1/contacts/contacts').find((b) => JSON.stringify(b).includes(BEN.phone))!.channels).toEqual([
			{ channelId: BEN.phone, type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
		]);
		expect(contactByPhone(BEN.phone)!.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
		expect(subscribedEvents(BEN.phone)).toEqual([]);

		account().blacklist.add(CHLOE.phone);
		const { done } = await run([BEN, CHLOE]);
		expect(done.map((d) => [hubOf(d).action, hubOf(d).changedFields, hubOf(d).subscription])).toEqual([
			['unchanged', [], 'UNSUBSCRIBED'],
			['updated', ['subscription'], 'UNSUBSCRIBED'],
		]);
	});

	it('does not subscribe a member whose Mailchimp SMS status is unsubscribed, new or existing', async () => {
		await run([BEN, CHLOE]);
		const { done } = await run([{ ...BEN, sms: 'unsubscribed' }, { ...ANA, sms: 'unsubscribed' }]);
		expect(done.map((d) => [keyOf(d), hubOf(d).action, hubOf(d).subscription])).toEqual([
			['ben', 'updated', 'UNSUBSCRIBED'],
			['ana', 'created', 'UNSUBSCRIBED'],
		]);
		expect(subscribedEvents(ANA.phone)).toEqual([]);
		// Back to subscribed in Mailchimp: the sync still does not resubscribe (that is done by hand in the Hub).
		hub.counters.clear();
		const again = await run([{ ...BEN, sms: 'subscribed' }]);
		expect(hubOf(again.done[0])).toMatchObject({ action: 'unchanged', subscription: 'UNSUBSCRIBED' });
		expect(totalWrites(hub)).toBe(0);
	});

	it('leaves a number deleted while unsubscribed UNSUBSCRIBED when its contact is created again', async () => {
		hub.seed(HUB_KEY.accountId, { unsubscribedNumbers: [CHLOE.phone] });
		const { done } = await run([CHLOE]);
		expect(hubOf(done[0])).toMatchObject({ action: 'created', subscription: 'UNSUBSCRIBED' });
		expect(subscribedEvents(CHLOE.phone)).toEqual([]);
		hub.counters.clear();
		await run([CHLOE]);
		expect(totalWrites(hub)).toBe(0);
		expect(subscribedEvents(CHLOE.phone)).toEqual([]);
	});

	it('never sends SUBSCRIBED in any request', async () => {
		hub.seed(HUB_KEY.accountId, { blacklist: [CHLOE.phone], contacts: [{ channels: [{ channelId: BEN.phone, subscriptionState: 'UNSUBSCRIBED' }] }] });
		await run([ANA, BEN, CHLOE]);
		await run([{ ...ANA, phone: '+61491570157', previousPhone: ANA.phone, hubContactId: contactByPhone(ANA.phone)!.id }, BEN, { ...CHLOE, sms: 'unsubscribed' }]);
		const written = exchanges.filter((e) => e.request.method !== 'GET').map((e) => JSON.stringify(e.request.body ?? {}));
		expect(written.length).toBeGreaterThan(0);
		for (const body of written) expect(body).not.toContain('"SUBSCRIBED"');
	});
});

describe('Upsert: two members with one phone number', () => {
	it('makes one contact; the SMS-subscribed member wins, the other is reported with the winner', async () => {
		const AMY = { key: 'amy', phone: BEN.phone, firstName: 'Amy' };
		const { done, errors } = await run([AMY, { ...BEN, sms: 'subscribed' }, CHLOE]);
		expect(done.map(keyOf)).toEqual(['ben', 'chloe']);
		expect(errors).toHaveLength(1);
		expect(errors[0].pairedItem).toEqual({ item: 0 });
		expect(errors[0].json.error).toContain('Member ben (ben@example.com) has the same phone number +61491570110');
		expect(contacts()).toHaveLength(2);
		expect(custom(contactByPhone(BEN.phone)!, 'mailchimp_id')).toBe('ben');
		expect((await ledgerOf(store.path)).has('amy')).toBe(false);

		// Next run the loser comes alone (it has no ledger entry): still reported, nothing written.
		hub.counters.clear();
		const again = await run([AMY]);
		expect(totalWrites(hub)).toBe(0);
		expect(again.errors[0].json.error).toContain('linked to another Mailchimp member (ben)');
	});

	it('picks the lowest member key when neither is SMS-subscribed, whatever the input order', async () => {
		const one = await run([{ key: 'zed', phone: BEN.phone }, { key: 'abe', phone: BEN.phone }]);
		expect(one.done.map(keyOf)).toEqual(['abe']);
		expect(one.errors.map(keyOf)).toEqual(['zed']);
	});

	it('keeps the member the contact already belongs to', async () => {
		await run([{ key: 'zed', phone: BEN.phone }]);
		const { done, errors } = await run([{ key: 'abe', phone: BEN.phone, sms: 'subscribed' }, { key: 'zed', phone: BEN.phone }]);
		expect(done.map(keyOf)).toEqual(['zed']);
		expect(errors.map(keyOf)).toEqual(['abe']);
	});

	it('unsubscribes the number when any member holding it opted out of SMS', async () => {
		const { done } = await run([{ key: 'abe', phone: BEN.phone, sms: 'subscribed' }, { key: 'zed', phone: BEN.phone, sms: 'unsubscribed' }]);
		expect(hubOf(done[0]).subscription).toBe('UNSUBSCRIBED');
	});
});

describe('Upsert: per-member failures', () => {
	it("sends the Hub's 400 with its invalid fields to Error and syncs the others", async () => {
		const { done, errors } = await run([BEN, { ...CHLOE, dateOfBirth: '1990-13-01' }, ANA]);
		expect(done.map(keyOf)).toEqual(['ben', 'ana']);
		expect(errors).toHaveLength(1);
		expect(errors[0].pairedItem).toEqual({ item: 1 });
		expect(errors[0].json).toMatchObject({
			error: expect.stringContaining('dateOfBirth'),
			hubStatus: 400,
			invalidFields: [expect.objectContaining({ name: 'dateOfBirth', code: 'invalid_format' })],
			sync: expect.objectContaining({ memberKey: 'chloe' }),
		});
		const ledger = await ledgerOf(store.path);
		expect([...ledger.keys()].sort()).toEqual(['ana', 'ben']);
	});

	it('continues as an update when the create meets a 409 for a contact nobody linked', async () => {
		const { done, errors } = await run([BEN], {
			// Another writer creates a contact with Ben's number between our lookup and our POST.
			beforeRequest: (request: IHttpRequestOptions) => {
				if (request.method === 'POST' && String(request.url).endsWith('/api/v1/contacts/contacts')) {
					if (!contactByPhone(BEN.phone)) hub.seed(HUB_KEY.accountId, { contacts: [{ firstName: 'B', channels: [{ channelId: BEN.phone }] }] });
				}
			},
		});
		expect(errors).toEqual([]);
		expect(hubOf(done[0])).toMatchObject({ action: 'updated' });
		expect(requestCounts(hub)['POST /api/v1/contacts/contacts']).toBe(1);
		expect(contacts()).toHaveLength(1);
		expect(contactByPhone(BEN.phone)).toMatchObject({ firstName: 'Ben', lists: [expect.objectContaining({ name: 'MAILCHIMP' })] });
	});

	it("sends a 409 for another member's contact to Error, and syncs the others", async () => {
		const { done, errors } = await run([BEN, CHLOE], {
			beforeRequest: (request: IHttpRequestOptions) => {
				const body = JSON.stringify(request.body ?? {});
				if (request.method === 'POST' && body.includes(BEN.phone) && !contactByPhone(BEN.phone)) {
					hub.seed(HUB_KEY.accountId, { contacts: [{ channels: [{ channelId: BEN.phone }], customFields: { mailchimp_id: 'someone-else' } }] });
				}
			},
		});
		expect(done.map(keyOf)).toEqual(['chloe']);
		expect(errors.map(keyOf)).toEqual(['ben']);
		expect(errors[0].json.error).toContain('someone-else');
		expect(custom(contactByPhone(BEN.phone)!, 'mailchimp_id')).toBe('someone-else');
		expect((await ledgerOf(store.path)).has('ben')).toBe(false);
	});

	it("never takes over a contact in the list that carries another member's Mailchimp ID", async () => {
		hub.seed(HUB_KEY.accountId, {
			lists: [{ name: 'MAILCHIMP' }],
			customFields: [{ label: 'Mailchimp ID', mergeTag: 'mailchimp_id', type: 'TEXT', maxLength: 100 }],
			contacts: [{ firstName: 'Other', channels: [{ channelId: BEN.phone }], lists: ['MAILCHIMP'], customFields: { mailchimp_id: 'other-member' } }],
		});
		hub.counters.clear();
		const { done, errors } = await run([BEN]);
		expect(done).toEqual([]);
		expect(errors[0].json.error).toMatch(/belongs to Hub contact .* linked to another Mailchimp member \(other-member\)/);
		expect(writeCounts(hub)).not.toHaveProperty(['PATCH /api/v1/contacts/contacts/{contactId}']);
		expect(contactByPhone(BEN.phone)!.firstName).toBe('Other');
	});

	it('gives the member who has the number now a contact that a departed member left (out of the list)', async () => {
		hub.seed(HUB_KEY.accountId, {
			lists: [{ name: 'MAILCHIMP' }],
			customFields: [{ label: 'Mailchimp ID', mergeTag: 'mailchimp_id', type: 'TEXT', maxLength: 100 }],
			contacts: [{ firstName: 'Gone', channels: [{ channelId: BEN.phone }], customFields: { mailchimp_id: 'departed-member' } }],
		});
		const { done, errors } = await run([BEN]);
		expect(errors).toEqual([]);
		expect(hubOf(done[0])).toMatchObject({ action: 'updated' });
		expect(contacts()).toHaveLength(1);
		const contact = contactByPhone(BEN.phone)!;
		expect(contact).toMatchObject({ firstName: 'Ben', lists: [expect.objectContaining({ name: 'MAILCHIMP' })] });
		expect(custom(contact, 'mailchimp_id')).toBe('ben');
		expect((await ledgerOf(store.path)).get('ben')?.hubContactId).toBe(contact.id);
	});

	it('reports items that are not Map Fields output, and members given twice', async () => {
		const { done, errors } = await runNode(hub, store.path, [{ json: { email: 'x@example.com' } }, memberItem(BEN), memberItem({ ...BEN, firstName: 'Again' })]);
		expect(done.map(keyOf)).toEqual(['ben']);
		expect(errors.map((e) => e.pairedItem)).toEqual([{ item: 0 }, { item: 2 }]);
		expect(errors[0].json.error).toMatch(/^This item has no Hub contact with a phone number; connect Upsert Hub Contact to the Valid output of Map Fields/);
		expect(errors[1].json.error).toBe('Member ben appears more than once in the input; it was synced from item 1');
	});

	it('throws on a credential the Hub rejects, or with "continue on fail" sends every item to Error', async () => {
		const items = [memberItem(BEN)];
		const bad = async (continueOnFail: boolean) => {
			const { UpsertHubContact } = await import('../../../../nodes/UpsertHubContact/UpsertHubContact.node');
			const { fakeExecuteContext } = await import('../../helpers/fakeExecuteContext');
			const { SinchHubApi } = await import('../../../../credentials/SinchHubApi.credentials');
			const ctx = fakeExecuteContext({
				credentials: { sinchHubApi: { type: new SinchHubApi(), data: { region: 'custom', baseUrl: hub.url, apiKey: 'wrong', apiSecret: 'wrong', accountId: '' } } },
				parameters: { operation: 'upsert', listName: 'MAILCHIMP', store: 'sqlite', storePath: store.path, options: {} },
				items,
				continueOnFail,
			});
			return await new UpsertHubContact().execute.call(ctx);
		};
		await expect(bad(false)).rejects.toThrow('The Hub rejected the API key and secret; check the credential');
		const [done, errors] = await bad(true);
		expect(done).toEqual([]);
		expect(errors[0].json.error).toBe('The Hub rejected the API key and secret; check the credential');
	});
});

describe('Upsert: the requests themselves', () => {
	it('sent only requests the official Sinch Engage spec allows, in every test above', async () => {
		const validator = await OpenApiValidator.load();
		const routes = new Set(allExchanges.map((e) => e.request.route));
		expect(routes).toEqual(
			new Set([
				'GET /api/v1/contacts/lists',
				'POST /api/v1/contacts/lists',
				'GET /api/v1/contacts/custom-fields',
				'POST /api/v1/contacts/custom-fields',
				'GET /api/v1/contacts/contacts',
				'GET /api/v1/contacts/contacts/{contactId}',
				'POST /api/v1/contacts/contacts',
				'PATCH /api/v1/contacts/contacts/{contactId}',
				'PATCH /api/v1/contacts/lists/{listId}/contacts',
				'GET /v1/number_authorisation/is_authorised/{numbers}',
			]),
		);
		// The one request the Hub refused is the member with an impossible date of birth (the 400 test).
		const refused = allExchanges.filter((e) => e.response.status === 400);
		expect(refused.map((e) => (e.request.body as IDataObject).dateOfBirth)).toEqual(['1990-13-01']);
		const problems = allExchanges.filter((e) => e.response.status !== 400).flatMap((e) =>
			validator.validateRequest({ method: e.request.method, path: e.request.path, query: e.request.query, headers: e.request.headers, body: e.request.body }),
		);
		expect(problems).toEqual([]);
	});
});
