/**
 * Upsert Hub Contact when the Hub misbehaves: 10% of answers 429/5xx, a route that keeps failing, a
 * run that dies half-way. The end state must be exact, and the ledger must only hold members whose
 * Hub write completed, so the next run redoes exactly the rest without duplicates.
 *
 * The retry policy's waits are real in n8n; here n8n's `sleep` returns at once so the tests stay quick.
 */
jest.mock('n8n-workflow', () => ({ ...jest.requireActual('n8n-workflow'), sleep: async () => undefined }));

import { HubUnavailableError } from '../../../nodes/shared/transport/hub';
import { openSyncStore } from '../../../nodes/shared/store';
import type { HubEmulator } from '../../emulators/hub';
import { useHubAndStore } from '../helpers/hubAndStore';
import type { HubAccount } from '../../emulators/hub-state';
import {
	AUDIENCE,
	HUB_KEY,
	hubOf,
	keyOf,
	ledgerOf,
	memberItem,
	removedItem,
	runNode,
	tempStore,
	totalWrites,
	writeCounts,
	SYNC,
	type MemberSpec,
	type StoreDir,
} from './harness';

let hub: HubEmulator;
let store: StoreDir;
useHubAndStore({ accounts: [HUB_KEY] }, (h, s) => {
	hub = h;
	store = s;
	// reset() keeps the account's settings and the faults a test set: every test starts from a plain Hub.
	hub.account(HUB_KEY.accountId).acceptDuplicateNumbers = false;
	Object.assign(hub.faults, { rate429: 0, rate5xx: 0, dropRate: 0, rateAppliedThen500: 0, rateAppliedThenDrop: 0, rate403NoBody: 0, routeFilter: '', seed: null });
});

const account = (): HubAccount => hub.account(HUB_KEY.accountId);
const contacts = () => [...account().contacts.values()].map((c) => account().contactData(c));
const list = () => [...account().lists.values()].find((l) => l.name === 'MAILCHIMP')!;

/** n members with distinct valid AU mobile numbers; every fifth is SMS-unsubscribed in Mailchimp. */
function members(n: number, from = 0): MemberSpec[] {
	return Array.from({ length: n }, (_, i) => ({
		key: `m${String(from + i).padStart(5, '0')}`,
		phone: `+614915${String(70000 + from + i).padStart(5, '0')}`,
		firstName: `First ${from + i}`,
		lastName: `Last ${from + i}`,
		sms: (from + i) % 5 === 0 ? ('unsubscribed' as const) : null,
	}));
}

/** The Hub holds exactly these members, once each, with their fields, in the list, never wrongly subscribed. */
function expectExactly(specs: MemberSpec[]) {
	const all = contacts();
	expect(all).toHaveLength(specs.length);
	const byKey = new Map(all.map((c) => [c.customFields.find((f) => f.mergeTag === 'mailchimp_id')?.value, c]));
	for (const spec of specs) {
		const c = byKey.get(spec.key)!;
		expect(c).toBeDefined();
		expect(c).toMatchObject({ firstName: spec.firstName, lastName: spec.lastName });
		expect(c.channels).toEqual([
			{ channelId: spec.phone, type: 'SMS', subscriptionState: spec.sms === 'unsubscribed' ? 'UNSUBSCRIBED' : 'SUBSCRIBED' },
		]);
		expect(c.customFields.find((f) => f.mergeTag === 'source')?.value).toBe('MAILCHIMP');
	}
	expect(list().members.size).toBe(specs.length);
}

describe('Upsert at its default concurrency', () => {
	it('keeps up to 32 Hub requests in flight, and still ends exact when a fifth of the answers are 429', async () => {
		const specs = members(200);
		hub.faults.latencyMs = 20;
		let inFlight = 0;
		let peak = 0;
		const { done, errors } = await runNode(hub, store.path, specs.map(memberItem), {
			beforeRequest: () => {
				peak = Math.max(peak, ++inFlight);
			},
			afterResponse: (_request, response) => {
				inFlight--;
				return response;
			},
		});
		hub.faults.latencyMs = 0;
		expect(errors).toEqual([]);
		expect(done).toHaveLength(200);
		expect(peak).toBeGreaterThan(16);
		expect(peak).toBeLessThanOrEqual(32);
		expectExactly(specs);

		// Every 429 is backed off and retried (the waits are skipped here), never a duplicate or a lost member.
		hub.reset();
		hub.counters.clear();
		await store.cleanup();
		store = tempStore();
		Object.assign(hub.faults, { rate429: 0.2, seed: 11 });
		const busy = await runNode(hub, store.path, specs.map(memberItem));
		expect(busy.errors).toEqual([]);
		expect(hub.counters.get('fault 429') ?? 0).toBeGreaterThan(20);
		expectExactly(specs);
	});
});

describe('Upsert with 10% of Hub answers 429 or 5xx', () => {
	it('still ends exactly right, and the next run writes nothing', async () => {
		const specs = members(150);
		Object.assign(hub.faults, { rate429: 0.05, rate5xx: 0.05, seed: 7 });
		const { done, errors } = await runNode(hub, store.path, specs.map(memberItem));
		expect(errors).toEqual([]);
		expect(done).toHaveLength(150);
		expect((hub.counters.get('fault 429') ?? 0) + (hub.counters.get('fault 5xx') ?? 0)).toBeGreaterThan(0);
		expectExactly(specs);
		expect((await ledgerOf(store.path)).size).toBe(150);

		hub.counters.clear();
		const again = await runNode(hub, store.path, specs.map((s) => memberItem({ ...s, change: 'changed' })));
		expect(again.errors).toEqual([]);
		expect(again.done.every((d) => hubOf(d).action === 'unchanged')).toBe(true);
		expect(totalWrites(hub)).toBe(0);
	});

	it('removes exactly the members that left', async () => {
		const specs = members(60);
		await runNode(hub, store.path, specs.map(memberItem));
		const ledger = await ledgerOf(store.path);
		Object.assign(hub.faults, { rate429: 0.05, rate5xx: 0.05, seed: 7 });
		const leaving = specs.slice(0, 20).map((s) => removedItem(s.key, ledger.get(s.key)!.hubContactId, s.phone));
		const { done, errors } = await runNode(hub, store.path, leaving, { operation: 'remove', removeAction: 'removeFromList', maxRemovalShare: 50 });
		expect(errors).toEqual([]);
		expect(done.map((d) => hubOf(d).action)).toEqual(Array(20).fill('removed-from-list'));
		expect(list().members.size).toBe(40);
		expect(contacts()).toHaveLength(60);
		expect((await ledgerOf(store.path)).size).toBe(40);
	});
});

describe('Upsert when the Hub carries out a write but its answer is lost', () => {
	const allCreated = (done: Array<{ json: Record<string, unknown> }>) => done.map((d) => hubOf(d as never).action);

	it.each([
		['answers 500', { rateAppliedThen500: 0.5 }],
		['drops the connection', { rateAppliedThenDrop: 0.5 }],
	])('creates each contact once and reports it created when the Hub %s after creating', async (_what, fault) => {
		const specs = members(40);
		Object.assign(hub.faults, { ...fault, routeFilter: '^POST /api/v1/contacts/contacts$', seed: 5 });
		const { done, errors } = await runNode(hub, store.path, specs.map(memberItem));
		expect(errors).toEqual([]);
		const lost = (hub.counters.get('fault applied 500') ?? 0) + (hub.counters.get('fault applied drop') ?? 0);
		expect(lost).toBeGreaterThan(5);
		expect(allCreated(done)).toEqual(Array(40).fill('created'));
		// Looked up, not resent: one create per member.
		expect(hub.counters.get('POST /api/v1/contacts/contacts')).toBe(40);
		expectExactly(specs);
		expect((await ledgerOf(store.path)).size).toBe(40);

		Object.assign(hub.faults, { rateAppliedThen500: 0, rateAppliedThenDrop: 0, routeFilter: '' });
		hub.counters.clear();
		const again = await runNode(hub, store.path, specs.map((s) => memberItem({ ...s, change: 'changed' })));
		expect(allCreated(again.done)).toEqual(Array(40).fill('unchanged'));
		expect(totalWrites(hub)).toBe(0);
	});

	it('creates the list and the custom fields once when their answers are lost', async () => {
		Object.assign(hub.faults, { rateAppliedThen500: 1, routeFilter: '^POST /api/v1/contacts/(lists|custom-fields)$' });
		const { done, errors } = await runNode(hub, store.path, members(3).map(memberItem));
		expect(errors).toEqual([]);
		expect(done).toHaveLength(3);
		expect([...account().lists.values()].map((l) => l.name)).toEqual(['MAILCHIMP']);
		expect([...account().customFields.values()].map((f) => f.mergeTag).sort()).toEqual(['mailchimp_id', 'source']);
		expect(hub.counters.get('fault applied 500')).toBe(3);
		expect(hub.counters.get('POST /api/v1/contacts/lists')).toBe(1);
	});

	it('puts contacts in the list once when the answer to a list add is lost', async () => {
		const specs = members(10);
		await runNode(hub, store.path, specs.map(memberItem));
		for (const id of [...list().members]) list().members.delete(id);
		Object.assign(hub.faults, { rateAppliedThen500: 0.5, routeFilter: '^PATCH /api/v1/contacts/lists/\\{listId\\}/contacts$', seed: 2 });
		const { done, errors } = await runNode(hub, store.path, specs.map((s) => memberItem({ ...s, change: 'changed' })));
		expect(errors).toEqual([]);
		expect(done.map((d) => hubOf(d).changedFields)).toEqual(Array(10).fill(['list']));
		expect(list().members.size).toBe(10);
		expect(contacts()).toHaveLength(10);
	});
});

describe('A Hub that accepts one number twice', () => {
	it('still makes one contact per member when create answers are lost', async () => {
		account().acceptDuplicateNumbers = true;
		const specs = members(30);
		Object.assign(hub.faults, { rateAppliedThen500: 0.3, rateAppliedThenDrop: 0.3, routeFilter: '^POST /api/v1/contacts/contacts$', seed: 9 });
		const { done, errors } = await runNode(hub, store.path, specs.map(memberItem));
		expect(errors).toEqual([]);
		expect(done.map((d) => hubOf(d).action)).toEqual(Array(30).fill('created'));
		expectExactly(specs);
	});

	it('merges copies of a member that are certainly the sync\'s (keeping an opt-out), and reports one that is not', async () => {
		account().acceptDuplicateNumbers = true;
		const [a, b] = members(3, 1);
		await runNode(hub, store.path, [a, b].map(memberItem));
		const ledger = await ledgerOf(store.path);
		const copy = (spec: MemberSpec, extra: Record<string, unknown>) =>
			account().createContact({
				firstName: 'Copy',
				channels: [{ channelId: spec.phone, type: 'SMS', ...extra }],
				customFields: [...account().customFields.values()]
					.filter((f) => f.mergeTag === 'mailchimp_id' || (f.mergeTag === 'source' && !('foreign' in extra)))
					.map((f) => ({ id: f.id, value: f.mergeTag === 'source' ? 'MAILCHIMP' : spec.key })),
				lists: [{ id: list().id }],
			});
		const first = copy(a, { subscriptionState: 'UNSUBSCRIBED' });
		const second = copy(a, {});
		const foreign = account().createContact({
			channels: [{ channelId: b.phone, type: 'SMS' }],
			customFields: [...account().customFields.values()].filter((f) => f.mergeTag === 'mailchimp_id').map((f) => ({ id: f.id, value: b.key })),
		});
		const { done, errors } = await runNode(hub, store.path, [a, b].map((s) => memberItem({ ...s, change: 'changed', hubContactId: ledger.get(s.key)!.hubContactId })));
		expect(errors).toEqual([]);
		const [forA, forB] = done.map(hubOf);
		expect(forA).toMatchObject({ contactId: ledger.get(a.key)!.hubContactId, action: 'updated', subscription: 'UNSUBSCRIBED' });
		expect(forA.changedFields).toEqual(['subscription', 'duplicates']);
		expect(forA.note).toContain(first.id);
		expect(forA.note).toContain(second.id);
		expect(account().contactsWithChannel(a.phone).map((c) => c.id)).toEqual([ledger.get(a.key)!.hubContactId]);
		expect(forB.note).toContain(foreign.id);
		expect(account().contactsWithChannel(b.phone)).toHaveLength(2);
	});
});

describe('Upsert when the Hub stops answering', () => {
	it('sends the members it could not write to Error, writes no ledger entry for them, and the next run completes', async () => {
		const specs = members(20);
		Object.assign(hub.faults, { rate5xx: 1, routeFilter: '^POST /api/v1/contacts/contacts$' });
		const { done, errors } = await runNode(hub, store.path, specs.map(memberItem), { concurrency: 2 });
		expect(done).toEqual([]);
		expect(errors).toHaveLength(20);
		expect(errors[0].json.error).toBe('The Sinch MessageMedia Hub is not answering; try again later');
		// Once the Hub is known to be down, the rest are not even tried.
		expect(errors.filter((e) => String(e.json.error).startsWith('Not attempted')).length).toBeGreaterThanOrEqual(17);
		// A Hub that stopped answering fails the run, not just these members (Release records it failed).
		expect(errors.filter((e) => e.json.fatal === true).length).toBeGreaterThanOrEqual(17);
		expect(hub.counters.get('POST /api/v1/contacts/contacts')).toBeLessThanOrEqual(2 * 8);
		expect((await ledgerOf(store.path)).size).toBe(0);

		Object.assign(hub.faults, { rate5xx: 0, routeFilter: '' });
		const again = await runNode(hub, store.path, specs.map(memberItem));
		expect(again.errors).toEqual([]);
		expectExactly(specs);
	});

	it('under continue on fail, a rejected key puts every member on Error marked fatal, so the run is recorded failed', async () => {
		Object.assign(hub.faults, { rate403NoBody: 1 });
		const { done, errors } = await runNode(hub, store.path, members(3).map(memberItem), { continueOnFail: true });
		expect(done).toEqual([]);
		expect(errors.map((e) => [e.json.error, e.json.fatal])).toEqual(Array(3).fill(['The Hub rejected the API key and secret; check the credential', true]));
		expect(contacts()).toEqual([]);
	});

	it('throws when the setup calls keep failing, and touches no contact', async () => {
		Object.assign(hub.faults, { rate5xx: 1, routeFilter: '^GET /api/v1/contacts/lists$' });
		await expect(runNode(hub, store.path, members(3).map(memberItem))).rejects.toBeInstanceOf(HubUnavailableError);
		expect(contacts()).toEqual([]);
	});
});

describe('A run that stops half-way', () => {
	it('loses at most the unflushed ledger batch, and the next run finishes without duplicates or rewrites', async () => {
		const specs = members(200);
		let posts = 0;
		let ledgerAtFailure = -1;
		// The connection dies at the 120th create; the Hub never sees it, and the run goes no further.
		const first = await runNode(hub, store.path, specs.map(memberItem), {
			concurrency: 1,
			beforeRequest: async (request) => {
				if (request.method === 'POST' && String(request.url).endsWith('/api/v1/contacts/contacts') && ++posts === 120) {
					ledgerAtFailure = (await ledgerOf(store.path)).size;
					throw new Error('socket closed');
				}
			},
		});
		// While the run went on, the ledger followed in batches of 50, only for contacts already created.
		expect(ledgerAtFailure).toBe(100);
		expect(first.done).toHaveLength(119);
		expect(first.errors).toHaveLength(81);
		expect(contacts()).toHaveLength(119);
		const ledger = await ledgerOf(store.path);
		expect(ledger.size).toBe(119);
		// Flushed in batches of 50: a process killed at this point would have lost the last partial batch.
		const kept = [...ledger.values()].sort((a, b) => a.memberKey.localeCompare(b.memberKey)).slice(0, 100);
		const db = await openSyncStore({ kind: 'sqlite', path: store.path });
		await db.deleteLedger(SYNC, AUDIENCE, [...ledger.keys()].filter((k) => !kept.some((e) => e.memberKey === k)));

		// The next run gets what Fetch would emit: the members without a ledger entry.
		hub.counters.clear();
		const rest = specs.filter((s) => !kept.some((e) => e.memberKey === s.key));
		const { done, errors } = await runNode(hub, store.path, rest.map(memberItem));
		expect(errors).toEqual([]);
		expect(done.filter((d) => hubOf(d).action === 'unchanged').map(keyOf)).toEqual(rest.slice(0, 19).map((s) => s.key));
		expect(writeCounts(hub)).toEqual({ 'POST /api/v1/contacts/contacts': 81 });
		expectExactly(specs);
		expect((await ledgerOf(store.path)).size).toBe(200);
	});
});
