/**
 * The contact pipeline as a workflow runs it, against both emulators: Fetch Tagged Members (changes
 * since the last sync, from the ledger) → Map Fields → Upsert Hub Contact, and Fetch's Removed output
 * → Upsert Hub Contact (Remove). Three runs: the first sync, a run with no change, and a run after a
 * few changes in Mailchimp. Each run's Hub writes are counted; the Sync Lock's summary is checked too.
 */
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { MailchimpHubSyncApi } from '../../../credentials/MailchimpHubSyncApi.credentials';
import { SinchHubApi } from '../../../credentials/SinchHubApi.credentials';
import { FetchTaggedMembers } from '../../../nodes/FetchTaggedMembers/FetchTaggedMembers.node';
import { MapFields } from '../../../nodes/MapFields/MapFields.node';
import { summariseItems } from '../../../nodes/SyncLock/helpers';
import { startHubEmulator, type HubEmulator } from '../../emulators/hub';
import type { HubAccount } from '../../emulators/hub-state';
import { startMailchimpEmulator, type DatasetMember, type MailchimpDataset, type MailchimpEmulator } from '../../emulators/mailchimp';
import { fakeExecuteContext, type FakeCredential } from '../helpers/fakeExecuteContext';
import { HUB_KEY, SYNC, hubOf, keyOf, ledgerOf, requestCounts, runNode, tempStore, totalWrites, writeCounts, type StoreDir } from './harness';

const AUDIENCE = 'b2c3d4e5f6';
const API_KEY = `${'fedcba9876543210'.repeat(2)}-us6`;
const HUB_UNSUBSCRIBED = '+61491571266';

const mobile = (n: number) => `0491 57${String(n).padStart(4, '0').replace(/^(\d)(\d{3})$/, '$1 $2')}`;
const e164 = (n: number) => `+6149157${String(n).padStart(4, '0')}`;

/** 30 good members over two overlapping tags, plus the cases the sync must handle. */
function dataset(): MailchimpDataset {
	const members: DatasetMember[] = [];
	for (let i = 0; i < 30; i++) {
		members.push({
			email_address: `member${i}@example.com`,
			status: 'subscribed',
			merge_fields: { FNAME: `First${i}`, LNAME: `Last${i}`, PHONE: mobile(1000 + i) },
			tags: i < 20 ? (i >= 10 ? ['VIP', 'Newsletter'] : ['VIP']) : ['Newsletter'],
		});
	}
	members.push(
		{ email_address: 'badphone@example.com', status: 'subscribed', merge_fields: { FNAME: 'Bad', PHONE: '12345' }, tags: ['VIP'] },
		{ email_address: 'nophone@example.com', status: 'subscribed', merge_fields: { FNAME: 'None', PHONE: '' }, tags: ['VIP'] },
		// Shares member3's number; the winner is decided by member key, which the emulator makes up.
		{ email_address: 'twin@example.com', status: 'subscribed', merge_fields: { FNAME: 'Twin', PHONE: mobile(1003) }, tags: ['VIP'] },
		{ email_address: 'optedout@example.com', status: 'subscribed', merge_fields: { FNAME: 'Opted', PHONE: '0491 571 266' }, tags: ['VIP'] },
		{
			email_address: 'smsno@example.com',
			status: 'subscribed',
			merge_fields: { FNAME: 'Sms', PHONE: '' },
			sms_phone_number: '+61491579999',
			sms_subscription_status: 'unsubscribed',
			tags: ['Newsletter'],
		},
		{ email_address: 'untagged@example.com', status: 'subscribed', merge_fields: { FNAME: 'Out', PHONE: mobile(1900) }, tags: [] },
	);
	return {
		accounts: [
			{
				id: 'acct-pipeline',
				name: 'Example Coffee',
				dc: 'us6',
				apiKeys: [API_KEY],
				lists: [
					{
						id: AUDIENCE,
						name: 'Customers',
						merge_fields: [
							{ tag: 'FNAME', name: 'First Name', type: 'text' },
							{ tag: 'LNAME', name: 'Last Name', type: 'text' },
							{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
						],
						segments: [
							{ name: 'VIP', type: 'static' },
							{ name: 'Newsletter', type: 'static' },
						],
						members,
					},
				],
			},
		],
	};
}

let mailchimp: MailchimpEmulator;
let hub: HubEmulator;
let store: StoreDir;

beforeAll(async () => {
	mailchimp = await startMailchimpEmulator({ dataset: dataset() });
	hub = await startHubEmulator({
		accounts: [{ ...HUB_KEY, contacts: [{ firstName: 'Opted', channels: [{ channelId: HUB_UNSUBSCRIBED, subscriptionState: 'UNSUBSCRIBED' }] }] }],
	});
	store = tempStore();
});
afterAll(async () => {
	await store?.cleanup();
	await mailchimp?.close();
	await hub?.close();
});

function credentials(): Record<string, FakeCredential> {
	return {
		mailchimpHubSyncApi: { type: new MailchimpHubSyncApi(), data: { apiKey: API_KEY, apiBaseUrl: mailchimp.url } },
		sinchHubApi: { type: new SinchHubApi(), data: { ...HUB_KEY, accountId: '', region: 'custom', baseUrl: hub.url } },
	};
}

const audience = { __rl: true, mode: 'id', value: AUDIENCE };

interface SyncRun {
	members: INodeExecutionData[];
	removed: INodeExecutionData[];
	invalid: INodeExecutionData[];
	upsert: { done: INodeExecutionData[]; errors: INodeExecutionData[] };
	remove: { done: INodeExecutionData[]; errors: INodeExecutionData[] };
	writes: Record<string, number>;
}

async function syncRun(): Promise<SyncRun> {
	hub.counters.clear();
	const fetchCtx = fakeExecuteContext({
		credentials: credentials(),
		parameters: {
			authentication: 'apiKey',
			audience,
			tags: ['VIP', 'Newsletter'],
			match: 'any',
			statuses: ['subscribed'],
			output: 'changes',
			store: 'sqlite',
			storePath: store.path,
			options: { syncName: SYNC },
		},
	});
	const [members, removed] = await new FetchTaggedMembers().execute.call(fetchCtx);
	const mapCtx = fakeExecuteContext({
		credentials: credentials(),
		items: members,
		parameters: { authentication: 'apiKey', audience, defaultCountry: 'AU', options: {} },
	});
	const [valid, invalid] = await new MapFields().execute.call(mapCtx as unknown as IExecuteFunctions);
	const upsert = await runNode(hub, store.path, valid);
	const remove = await runNode(hub, store.path, removed, { operation: 'remove', removeAction: 'removeFromList' });
	return { members, removed, invalid, upsert, remove, writes: writeCounts(hub) };
}

const hubAccount = (): HubAccount => hub.account(HUB_KEY.accountId);
const contacts = () => [...hubAccount().contacts.values()].map((c) => hubAccount().contactData(c));
const contactOf = (phone: string) => contacts().find((c) => c.channels.some((ch) => ch.channelId === phone));
const listMembers = () => [...hubAccount().lists.values()].find((l) => l.name === 'MAILCHIMP')!.members;
const emailOf = (item: INodeExecutionData) => String(((item.json.member as IDataObject | undefined) ?? item.json).email);
const releaseCounts = (run: SyncRun) =>
	summariseItems([...run.upsert.done, ...run.upsert.errors, ...run.remove.done, ...run.remove.errors], 'sync.change', 'auto', '');

describe('Fetch → Map Fields → Upsert Hub Contact, three runs', () => {
	let first: SyncRun;

	it('first run: creates exactly the expected contacts, list membership and fields; reports invalid rows and the duplicate', async () => {
		first = await syncRun();
		// 30 members + badphone, nophone, twin, optedout, smsno; the untagged member is not selected.
		expect(first.members).toHaveLength(35);
		expect(first.invalid.map(emailOf).sort()).toEqual(['badphone@example.com', 'nophone@example.com']);
		expect(first.removed).toEqual([]);

		// Member 3 and the twin share a number: one of them wins, by member key.
		const [loser] = first.upsert.errors;
		expect(first.upsert.errors).toHaveLength(1);
		expect(['member3@example.com', 'twin@example.com']).toContain(emailOf(loser));
		expect(loser.json.error).toContain(`has the same phone number ${e164(1003)}`);

		expect(first.upsert.done).toHaveLength(32);
		// 31 new contacts; the Hub's own unsubscribed contact for "optedout" is linked, not duplicated.
		expect(first.writes).toEqual({
			'POST /api/v1/contacts/lists': 1,
			'POST /api/v1/contacts/custom-fields': 3,
			'POST /api/v1/contacts/contacts': 31,
			'PATCH /api/v1/contacts/contacts/{contactId}': 1,
			'PATCH /api/v1/contacts/lists/{listId}/contacts': 1,
		});
		expect(contacts()).toHaveLength(32);
		expect(listMembers().size).toBe(32);
		expect(contactOf(HUB_UNSUBSCRIBED)!.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
		expect(contactOf('+61491579999')!.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
		expect(contactOf(e164(1007))).toMatchObject({ firstName: 'First7', lastName: 'Last7' });
		expect(contactOf(e164(1007))!.customFields.find((f) => f.mergeTag === 'email')?.value).toBe('member7@example.com');
		expect(hubAccount().subscriptionEvents.filter((e) => e.to === 'SUBSCRIBED' && e.cause !== 'create')).toEqual([]);

		expect((await ledgerOf(store.path, AUDIENCE)).size).toBe(32);
		expect(releaseCounts(first)).toMatchObject({ outcome: 'partial', counts: { new: 32, errors: 1 } });
	});

	it('second run with no change makes zero Hub write requests', async () => {
		const second = await syncRun();
		// Only members without a ledger entry come again: the duplicate and the invalid rows, reported again.
		expect(second.members.map(emailOf).sort()).toEqual(['badphone@example.com', emailOf(first.upsert.errors[0]), 'nophone@example.com'].sort());
		expect(second.invalid).toHaveLength(2);
		expect(second.upsert.done).toEqual([]);
		expect(second.upsert.errors).toHaveLength(1);
		expect(second.removed).toEqual([]);
		expect(totalWrites(hub)).toBe(0);
	});

	it('after a name change, a phone change, a tag removed, an unsubscribe and a delete: exactly those changes', async () => {
		const state = mailchimp.state;
		state.updateMember(AUDIENCE, 'member5@example.com', { merge_fields: { FNAME: 'Renamed' } });
		state.updateMember(AUDIENCE, 'member6@example.com', { merge_fields: { PHONE: '0491 579 876' } });
		state.tagMember(AUDIENCE, 'member1@example.com', { remove: ['VIP'] });
		state.setStatus(AUDIENCE, 'member12@example.com', 'unsubscribed');
		state.deletePermanently(AUDIENCE, 'member25@example.com');
		const before = new Map(contacts().map((c) => [c.id, c]));
		const removedIds = ['member1', 'member12', 'member25'].map((m) => contactOf(e164(1000 + Number(m.slice(6))))!.id);

		const third = await syncRun();
		expect(third.upsert.done.map((d) => [emailOf(d), hubOf(d).action, hubOf(d).changedFields])).toEqual(
			expect.arrayContaining([
				['member5@example.com', 'updated', ['firstName']],
				['member6@example.com', 'updated', ['phone']],
			]),
		);
		expect(third.upsert.done).toHaveLength(2);
		expect(third.remove.done.map((d) => [keyOf(d), hubOf(d).action]).length).toBe(3);
		expect(third.remove.done.every((d) => hubOf(d).action === 'removed-from-list')).toBe(true);
		// Two PATCHes for the two changed members, one bulk list request for the three who left.
		expect(third.writes).toEqual({
			'PATCH /api/v1/contacts/contacts/{contactId}': 2,
			'PATCH /api/v1/contacts/lists/{listId}/contacts': 1,
		});

		expect(contactOf(e164(1005))!.firstName).toBe('Renamed');
		expect(contactOf(e164(1006))).toBeUndefined();
		expect(contactOf('+61491579876')!.id).toBe([...before.values()].find((c) => c.firstName === 'First6')!.id);
		for (const id of removedIds) expect(listMembers().has(id)).toBe(false);
		expect(listMembers().size).toBe(29);
		expect(contacts()).toHaveLength(32);
		// Nothing else moved.
		for (const contact of contacts()) {
			if (contact.firstName === 'Renamed' || contact.firstName === 'First6') continue;
			expect(contact).toEqual({ ...before.get(contact.id)!, lists: contact.lists });
		}
		const ledger = await ledgerOf(store.path, AUDIENCE);
		expect(ledger.size).toBe(29);
		expect([...ledger.values()].find((e) => e.phone === '+61491579876')).toBeDefined();
		expect(releaseCounts(third)).toMatchObject({ counts: { changed: 2, removed: 3, errors: 1 } });
	});

	it('fourth run: nothing left to do, nothing written', async () => {
		const fourth = await syncRun();
		expect(fourth.upsert.done).toEqual([]);
		expect(fourth.removed).toEqual([]);
		expect(totalWrites(hub)).toBe(0);
		expect(requestCounts(hub)['PATCH /api/v1/contacts/contacts/{contactId}']).toBeUndefined();
	});
});

describe('Fetch Tagged Members: whose ledger', () => {
	const fetchWith = (options: Record<string, unknown>, workflowId: string) =>
		new FetchTaggedMembers().execute.call(
			fakeExecuteContext({
				credentials: credentials(),
				parameters: {
					authentication: 'apiKey',
					audience,
					tags: ['VIP'],
					match: 'any',
					statuses: ['subscribed'],
					output: 'changes',
					store: 'sqlite',
					storePath: store.path,
					options,
				},
				overrides: { getWorkflow: () => ({ id: workflowId, name: 'Sync', active: false }) },
			}),
		);

	it("names the node's own ledger by the workflow's ID and the node's when no Sync Name is given", async () => {
		const [members] = await fetchWith({}, 'wf-own-ledger');
		expect(members.length).toBeGreaterThan(0);
		expect(new Set(members.map((m) => (m.json.sync as { syncName: string }).syncName))).toEqual(new Set(['wf-own-ledger/test-node']));
	});

	it('stops with what to do when the workflow has no ID and no Sync Name is given', async () => {
		await expect(fetchWith({}, '')).rejects.toThrow('This sync has no name for its ledger yet');
		const [members] = await fetchWith({ syncName: '  named-sync ' }, '');
		expect((members[0].json.sync as { syncName: string }).syncName).toBe('named-sync');
	});
});
