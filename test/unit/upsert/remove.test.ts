/**
 * Upsert Hub Contact (Remove) against the Hub emulator: each action, what counts as done, and the
 * rule that a contact the sync did not create or link is never touched.
 */
import { OpenApiValidator } from '../../contract/openapi';
import { startHubEmulator, type HubEmulator, type HubExchange } from '../../emulators/hub';
import type { HubAccount } from '../../emulators/hub-state';
import {
	HUB_KEY,
	hubOf,
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
} from './helpers';

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

const remove = (items: ReturnType<typeof removedItem>[], removeAction: string) =>
	runNode(hub, store.path, items, { operation: 'remove', removeAction });

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
