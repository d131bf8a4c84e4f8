/**
 * Upsert Hub Contact (Remove) against the Hub emulator: each action, what counts as done, and the
 * rule that a contact the sync did not create or link is never touched.
 */
import { OpenApiValidator } from '../../../contract/openapi';
import { startHubEmulator, type HubEmulator, type HubExchange } from '../../../emulators/hub';
import type { HubAccount } from '../../../emulators/hub-state';
import {
	HUB_KEY,
	hubOf,
	invalidItem,
	keyOf,
	ledgerOf,
	memberItem,
	removedItem,
	requestCounts,
	runNode,
	tempStore,
	totalWrites,
	writeCounts,
	type MemberSpec,
	type StoreDir,
} from '../harness';

let hub: HubEmulator;
let store: StoreDir;
const exchanges: HubExchange[] = [];

beforeAll(async () => {
	hub = await startHubEmulator({ accounts: [HUB_KEY], onExchange: (e) => exchanges.push(e) });
});
afterAll(async () => hub?.close());
beforeEach(() => {
	hub.reset();
	store = tempStore();
});
afterEach(async () => store.cleanup());

const account = (): HubAccount => hub.account(HUB_KEY.accountId);
const contact = (id: string) => {
	const stored = account().contacts.get(id);
	return stored ? account().contactData(stored) : undefined;
};
const list = () => [...account().lists.values()].find((l) => l.name === 'MAILCHIMP')!;

const MEMBERS: MemberSpec[] = [
	{ key: 'ana', phone: '+61491570156' },
	{ key: 'ben', phone: '+61491570110' },
	{ key: 'cat', phone: '+61491570111' },
];

/** Syncs the members and returns the removed items Fetch would emit for them, from the ledger. */
async function synced() {
	await runNode(hub, store.path, MEMBERS.map(memberItem));
	const ledger = await ledgerOf(store.path);
	hub.counters.clear();
	return {
		ledger,
		removed: (keys: string[]) => keys.map((k) => removedItem(k, ledger.get(k)!.hubContactId, ledger.get(k)!.phone)),
	};
}

/** Three synced members: any removal is a third of the ledger, so the guard (tested on its own) is off here. */
const remove = (items: ReturnType<typeof removedItem>[], removeAction: string) =>
	runNode(hub, store.path, items, { operation: 'remove', removeAction, maxRemovalShare: 0 });

describe('Remove', () => {
	it('takes contacts out of the list in one bulk request (the default), and forgets them in the ledger', async () => {
		const { ledger, removed } = await synced();
		const { done, errors } = await remove(removed(['ana', 'ben']), 'removeFromList');
		expect(errors).toEqual([]);
		expect(done.map((d) => [keyOf(d), hubOf(d).action, hubOf(d).changedFields])).toEqual([
			['ana', 'removed-from-list', ['list']],
			['ben', 'removed-from-list', ['list']],
		]);
		expect(done.map((d) => d.json.sync)).toEqual([expect.objectContaining({ change: 'removed' }), expect.objectContaining({ change: 'removed' })]);
		expect(writeCounts(hub)).toEqual({ 'PATCH /api/v1/contacts/lists/{listId}/contacts': 1 });
		expect([...list().members]).toEqual([ledger.get('cat')!.hubContactId]);
		expect(contact(ledger.get('ana')!.hubContactId!)).toBeDefined();
		expect([...(await ledgerOf(store.path)).keys()]).toEqual(['cat']);
	});

	it('unsubscribes the SMS channel with one PATCH each, and nothing when it already is', async () => {
		const { ledger, removed } = await synced();
		const { done } = await remove(removed(['ana']), 'unsubscribe');
		expect(hubOf(done[0])).toMatchObject({ action: 'unsubscribed', subscription: 'UNSUBSCRIBED', changedFields: ['subscription'] });
		expect(writeCounts(hub)).toEqual({ 'PATCH /api/v1/contacts/contacts/{contactId}': 1 });
		const ana = contact(ledger.get('ana')!.hubContactId!)!;
		expect(ana.channels).toEqual([{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }]);
		expect(ana.lists.map((l) => l.name)).toEqual(['MAILCHIMP']);

		hub.counters.clear();
		const again = await remove(removed(['ana']), 'unsubscribe');
		expect(hubOf(again.done[0])).toMatchObject({ action: 'unsubscribed', changedFields: [] });
		expect(totalWrites(hub)).toBe(0);
	});

	it('deletes the contacts; the Hub keeps the number unsubscribed for later', async () => {
		const { ledger, removed } = await synced();
		await remove(removed(['ben']), 'unsubscribe');
		hub.counters.clear();
		const { done } = await remove(removed(['ana', 'ben']), 'delete');
		expect(done.map((d) => hubOf(d).action)).toEqual(['deleted', 'deleted']);
		expect(writeCounts(hub)).toEqual({ 'DELETE /api/v1/contacts/contacts/{contactId}': 2 });
		expect(contact(ledger.get('ana')!.hubContactId!)).toBeUndefined();
		expect(account().subscriptionMemory.get('SMS:+61491570110')).toBe('UNSUBSCRIBED');
		expect([...(await ledgerOf(store.path)).keys()]).toEqual(['cat']);
	});

	it('keeps the contacts without a single Hub request, and forgets the members', async () => {
		const { removed } = await synced();
		const { done } = await remove(removed(['ana', 'ben', 'cat']), 'keep');
		expect(done.map((d) => hubOf(d).action)).toEqual(['kept', 'kept', 'kept']);
		expect(requestCounts(hub)).toEqual({});
		expect((await ledgerOf(store.path)).size).toBe(0);
		expect(list().members.size).toBe(3);
	});

	it('counts a contact already gone from the Hub as done, for every action', async () => {
		for (const action of ['removeFromList', 'unsubscribe', 'delete']) {
			hub.reset();
			await store.cleanup();
			store = tempStore();
			const { ledger, removed } = await synced();
			account().deleteContact(ledger.get('ana')!.hubContactId!);
			const { done, errors } = await remove(removed(['ana']), action);
			expect(errors).toEqual([]);
			expect(hubOf(done[0]).note).toBe('The contact no longer exists in the Hub');
			expect(totalWrites(hub)).toBe(0);
			expect((await ledgerOf(store.path)).has('ana')).toBe(false);
		}
	});

	it("never unsubscribes, deletes or unlists a contact that now carries another member's Mailchimp ID", async () => {
		for (const action of ['removeFromList', 'unsubscribe', 'delete']) {
			hub.reset();
			await store.cleanup();
			store = tempStore();
			const { ledger, removed } = await synced();
			const id = ledger.get('ana')!.hubContactId!;
			const field = [...account().customFields.values()].find((f) => f.mergeTag === 'mailchimp_id')!;
			account().contacts.get(id)!.customFields.set(field.id, 'someone-else');
			const before = contact(id);
			const { done } = await remove(removed(['ana']), action);
			expect(hubOf(done[0])).toMatchObject({ action: 'kept', contactId: id, changedFields: [] });
			expect(hubOf(done[0]).note).toContain("another Mailchimp member's ID (someone-else)");
			expect(totalWrites(hub)).toBe(0);
			expect(contact(id)).toEqual(before);
		}
	});

	it('takes a ledger contact whose Mailchimp ID was cleared out of the list, but does not delete it', async () => {
		const { ledger, removed } = await synced();
		const field = [...account().customFields.values()].find((f) => f.mergeTag === 'mailchimp_id')!;
		for (const key of ['ana', 'ben']) account().contacts.get(ledger.get(key)!.hubContactId!)!.customFields.delete(field.id);

		const unlisted = await remove(removed(['ana']), 'removeFromList');
		expect(hubOf(unlisted.done[0]).action).toBe('removed-from-list');
		const deleted = await remove(removed(['ben']), 'delete');
		expect(hubOf(deleted.done[0])).toMatchObject({ action: 'kept' });
		expect(hubOf(deleted.done[0]).note).toContain("no longer carries this member's Mailchimp ID");
		expect(contact(ledger.get('ben')!.hubContactId!)).toBeDefined();
	});

	it('leaves every Hub contact that is not in the input alone', async () => {
		hub.seed(HUB_KEY.accountId, { lists: [{ name: 'MAILCHIMP' }], contacts: [{ firstName: 'Hub only', channels: [{ channelId: '+61491570999' }], lists: ['MAILCHIMP'] }] });
		const { ledger, removed } = await synced();
		const others = [...account().contacts.values()].filter((c) => c.id !== ledger.get('ana')!.hubContactId).map((c) => account().contactData(c));
		await remove(removed(['ana']), 'delete');
		await remove(removed(['ana']), 'removeFromList');
		expect([...account().contacts.values()].map((c) => account().contactData(c))).toEqual(others);
		expect(list().members.size).toBe(3);
	});

	it('finds a ledger contact without a stored id by its number, only when it carries the member\'s Mailchimp ID', async () => {
		hub.seed(HUB_KEY.accountId, { contacts: [{ firstName: 'Hub only', channels: [{ channelId: '+61491570999' }] }] });
		const { ledger } = await synced();
		const { done } = await remove([removedItem('ana', null, '+61491570156'), removedItem('zoe', null, '+61491570999')], 'delete');
		expect(done.map((d) => [hubOf(d).action, hubOf(d).contactId])).toEqual([
			['deleted', ledger.get('ana')!.hubContactId],
			['deleted', null],
		]);
		expect(hubOf(done[1]).note).toContain("No Hub contact carrying this member's Mailchimp ID holds +61491570999");
		expect(writeCounts(hub)).toEqual({ 'DELETE /api/v1/contacts/contacts/{contactId}': 1 });
		expect(requestCounts(hub)['GET /v1/number_authorisation/is_authorised/{numbers}']).toBeUndefined();
		expect([...account().contacts.values()].some((c) => c.firstName === 'Hub only')).toBe(true);
	});

	it.each([
		['{}', {}],
		['a proxy page', '<html>Service moved</html>'],
		['contacts without channels', { content: [{ id: 'x' }] }],
	])('removes nothing when the contacts lookup answers %s, and keeps the ledger', async (_what, garbage) => {
		const { ledger, removed } = await synced();
		const before = list().members.size;
		const run = runNode(hub, store.path, removed(['ana', 'ben']), {
			operation: 'remove',
			removeAction: 'delete',
			maxRemovalShare: 0,
			afterResponse: (request, response) =>
				String(request.url).includes('/api/v1/contacts/contacts?') ? { ...response, statusCode: 200, body: garbage } : response,
		});
		await expect(run).rejects.toThrow(/GET \/api\/v1\/contacts\/contacts was not what the API documents/);
		expect(totalWrites(hub)).toBe(0);
		expect(list().members.size).toBe(before);
		expect((await ledgerOf(store.path)).size).toBe(ledger.size);
	});

	it('reports items that are not removed members', async () => {
		const { done, errors } = await runNode(hub, store.path, [memberItem(MEMBERS[0]), { json: { foo: 1 } }], { operation: 'remove' });
		expect(done).toEqual([]);
		expect(errors).toHaveLength(2);
		expect(errors[1].json.error).toContain('connect Remove to the Removed output of Fetch Tagged Members');
	});
});

describe('Remove: the removal guard', () => {
	const TEN: MemberSpec[] = Array.from({ length: 10 }, (_, i) => ({ key: `g${i}`, phone: `+614915702${String(i).padStart(2, '0')}` }));
	async function syncedTen() {
		await runNode(hub, store.path, TEN.map(memberItem));
		const ledger = await ledgerOf(store.path);
		hub.counters.clear();
		return { ledger, removed: (n: number) => TEN.slice(0, n).map((m) => removedItem(m.key, ledger.get(m.key)!.hubContactId, m.phone)) };
	}

	it('removes nothing when a run would remove more than 20 % of the ledger, and marks every removal fatal', async () => {
		const { ledger, removed } = await syncedTen();
		const { done, errors } = await runNode(hub, store.path, removed(3), { operation: 'remove', removeAction: 'delete' });
		expect(done).toEqual([]);
		expect(errors).toHaveLength(3);
		for (const error of errors) {
			expect(error.json.fatal).toBe(true);
			expect(error.json.error).toBe(
				'Removal guard: this run would take 3 of the 10 members the sync has written out of the Hub (30 %), more than the Max Removal Share of 20 %; nothing was removed',
			);
			expect(String(error.json.description)).toContain('raise Max Removal Share');
		}
		expect(totalWrites(hub)).toBe(0);
		expect(requestCounts(hub)).toEqual({});
		expect(account().contacts.size).toBe(10);
		expect((await ledgerOf(store.path)).size).toBe(ledger.size);
	});

	it('lets a run at the limit through, and one above it once the limit is raised or the guard is off', async () => {
		const { removed } = await syncedTen();
		expect((await runNode(hub, store.path, removed(2), { operation: 'remove' })).done).toHaveLength(2);
		expect((await runNode(hub, store.path, removed(5).slice(2), { operation: 'remove', maxRemovalShare: 40 })).done).toHaveLength(3);
		expect((await runNode(hub, store.path, removed(10).slice(5), { operation: 'remove', maxRemovalShare: 0 })).done).toHaveLength(5);
		expect(list().members.size).toBe(0);
	});

	it('always lets one removal through, however small the sync: in three members one is a third', async () => {
		const { removed } = await synced();
		const one = await runNode(hub, store.path, removed(['ana']), { operation: 'remove' });
		expect(one.errors).toEqual([]);
		expect(one.done).toHaveLength(1);
		expect(list().members.size).toBe(2);
		// Two of the remaining two are still refused.
		const both = await runNode(hub, store.path, removed(['ben', 'cat']), { operation: 'remove' });
		expect(both.done).toEqual([]);
		expect(both.errors.map((e) => e.json.error)).toEqual([expect.stringContaining('Removal guard: this run would take 2 of the 2 members'), expect.stringContaining('Removal guard')]);
		expect(list().members.size).toBe(2);
	});

	it('refuses a share that is not a percentage', async () => {
		const { removed } = await syncedTen();
		await expect(runNode(hub, store.path, removed(1), { operation: 'remove', maxRemovalShare: -5 })).rejects.toThrow(/percentage from 0 to 100/);
	});
});

describe('Remove: invalid rows (a member whose phone is now missing or not a mobile)', () => {
	it('keeps a row the sync never wrote, with a note, and asks the Hub nothing', async () => {
		const { done, errors } = await runNode(hub, store.path, [invalidItem('nobody', null, null, { invalidReason: 'phone-missing' })], { operation: 'remove' });
		expect(errors).toEqual([]);
		expect(hubOf(done[0])).toEqual({ contactId: null, action: 'kept', subscription: null, changedFields: [], note: 'Never synced; nothing to take out' });
		// Counted by Release as invalid, as Map Fields marked it.
		expect((done[0].json.sync as { result: string }).result).toBe('invalid');
		expect(requestCounts(hub)).toEqual({});
	});

	it('takes the contact the ledger knows out of the list, says why, and forgets the member', async () => {
		const { ledger } = await synced();
		const ana = ledger.get('ana')!;
		const { done, errors } = await runNode(hub, store.path, [invalidItem('ana', ana.hubContactId, ana.phone, { invalidReason: 'phone-missing' })], {
			operation: 'remove',
			maxRemovalShare: 0,
		});
		expect(errors).toEqual([]);
		expect(hubOf(done[0])).toMatchObject({ contactId: ana.hubContactId, action: 'removed-from-list', changedFields: ['list'], subscription: 'SUBSCRIBED' });
		expect(hubOf(done[0]).note).toBe("The member's phone number is now empty in Mailchimp");
		expect(list().members.has(ana.hubContactId!)).toBe(false);
		expect((await ledgerOf(store.path)).has('ana')).toBe(false);
	});

	it('keeps the contact of a row that failed for a reason other than the phone, and its ledger entry', async () => {
		const { ledger } = await synced();
		const ana = ledger.get('ana')!;
		const { done, errors } = await runNode(hub, store.path, [invalidItem('ana', ana.hubContactId, ana.phone, { invalidReason: 'other' })], {
			operation: 'remove',
			maxRemovalShare: 0,
		});
		expect(errors).toEqual([]);
		expect(hubOf(done[0])).toMatchObject({ contactId: ana.hubContactId, action: 'kept', changedFields: [] });
		expect(list().members.has(ana.hubContactId!)).toBe(true);
		expect((await ledgerOf(store.path)).has('ana')).toBe(true);
	});

	it('unsubscribes the contact of a member who opted out of SMS, whatever the action', async () => {
		const { ledger } = await synced();
		const item = (key: string) => invalidItem(key, ledger.get(key)!.hubContactId, ledger.get(key)!.phone, { smsUnsubscribed: true });
		const removed = await runNode(hub, store.path, [item('ana')], { operation: 'remove', maxRemovalShare: 0 });
		expect(hubOf(removed.done[0])).toMatchObject({ action: 'removed-from-list', changedFields: ['subscription', 'list'], subscription: 'UNSUBSCRIBED' });
		const kept = await runNode(hub, store.path, [item('ben')], { operation: 'remove', removeAction: 'keep', maxRemovalShare: 0 });
		expect(hubOf(kept.done[0])).toMatchObject({ action: 'unsubscribed', changedFields: ['subscription'], subscription: 'UNSUBSCRIBED' });
		for (const key of ['ana', 'ben']) {
			expect(contact(ledger.get(key)!.hubContactId!)!.channels[0].subscriptionState).toBe('UNSUBSCRIBED');
		}
		expect(list().members.has(ledger.get('ben')!.hubContactId!)).toBe(true);
	});
});

describe('Remove: the requests themselves', () => {
	it('sent only requests the official Sinch Engage spec allows', async () => {
		const validator = await OpenApiValidator.load();
		for (const route of ['DELETE /api/v1/contacts/contacts/{contactId}', 'PATCH /api/v1/contacts/lists/{listId}/contacts', 'PATCH /api/v1/contacts/contacts/{contactId}']) {
			expect(exchanges.some((e) => e.request.route === route)).toBe(true);
		}
		const problems = exchanges.flatMap((e) =>
			validator.validateRequest({ method: e.request.method, path: e.request.path, query: e.request.query, headers: e.request.headers, body: e.request.body }),
		);
		expect(problems).toEqual([]);
	});
});
