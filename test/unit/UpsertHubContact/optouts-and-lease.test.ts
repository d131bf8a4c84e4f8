/**
 * Upsert Hub Contact (and its Remove) with the store's two newer duties: every opt-out the sync sees
 * is remembered and wins even when the Hub forgot it (CONTRACT §2), and a run writes only while it
 * holds its Sync Lock lease (CONTRACT §1).
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { openSyncStore, type SyncStore } from '../../../nodes/shared/store';
import type { HubEmulator } from '../../emulators/hub';
import { useHubAndStore } from '../helpers/hubAndStore';
import type { HubAccount } from '../../emulators/hub-state';
import { HUB_KEY, hubOf, invalidItem, ledgerOf, memberItem, removedItem, runNode, totalWrites, type StoreDir } from './harness';

let hub: HubEmulator;
let store: StoreDir;
useHubAndStore({ accounts: [HUB_KEY] }, (h, s) => {
	hub = h;
	store = s;
});

const account = (): HubAccount => hub.account(HUB_KEY.accountId);
const contactOf = (phone: string) => {
	const [stored] = account().contactsWithChannel(phone);
	return stored ? account().contactData(stored) : undefined;
};
const syncStore = (): Promise<SyncStore> => openSyncStore({ kind: 'sqlite', path: store.path });

const ANA = { key: 'ana', phone: '+61491570156' };
const BEN = { key: 'ben', phone: '+61491570110' };
const CAT = { key: 'cat', phone: '+61491570111' };

describe('opt-outs the sync sees are remembered (CONTRACT §2)', () => {
	it('records a Mailchimp SMS opt-out, a blacklisted number and an UNSUBSCRIBED Hub contact, each with its source', async () => {
		hub.seed(HUB_KEY.accountId, { blacklist: [BEN.phone], contacts: [{ firstName: 'Cat', channels: [{ channelId: CAT.phone, subscriptionState: 'UNSUBSCRIBED' }] }] });
		const { errors } = await runNode(hub, store.path, [memberItem({ ...ANA, sms: 'unsubscribed' }), memberItem(BEN), memberItem(CAT)]);
		expect(errors).toEqual([]);
		const kept = await syncStore();
		expect((await kept.getOptOut(ANA.phone))?.source).toBe('mailchimp-sms-unsubscribed');
		expect((await kept.getOptOut(BEN.phone))?.source).toBe('hub-blacklist');
		expect((await kept.getOptOut(CAT.phone))?.source).toBe('hub-unsubscribed');
		expect(await kept.readOptOuts([ANA.phone, BEN.phone, CAT.phone, '+61491570999'])).toEqual(new Set([ANA.phone, BEN.phone, CAT.phone]));
	});

	it('creates a number that once opted out UNSUBSCRIBED, although the Hub forgot the preference and Mailchimp says subscribed', async () => {
		await runNode(hub, store.path, [memberItem({ ...ANA, sms: 'unsubscribed' })]);
		// The contact is deleted and the Hub keeps no preference for the number (another account, a purge).
		hub.reset();
		expect(account().subscriptionMemory.size).toBe(0);
		const { done } = await runNode(hub, store.path, [memberItem({ ...ANA, sms: 'subscribed', change: 'changed' })]);
		expect(hubOf(done[0])).toMatchObject({ action: 'created', subscription: 'UNSUBSCRIBED' });
		expect(contactOf(ANA.phone)!.channels).toEqual([{ channelId: ANA.phone, type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }]);
	});

	it('records the opt-out of an invalid row whose member unsubscribed from SMS', async () => {
		await runNode(hub, store.path, [memberItem(ANA)]);
		const ledger = await ledgerOf(store.path);
		await runNode(hub, store.path, [invalidItem('ana', ledger.get('ana')!.hubContactId, ANA.phone, { smsUnsubscribed: true })], {
			operation: 'remove',
			maxRemovalShare: 0,
		});
		expect((await (await syncStore()).getOptOut(ANA.phone))?.source).toBe('mailchimp-sms-unsubscribed');
	});
});

describe('a run writes only while it holds its lease (CONTRACT §1)', () => {
	const withLease = (item: INodeExecutionData, lease: string): INodeExecutionData => ({
		json: { ...item.json, sync: { ...(item.json.sync as object), lease } },
	});

	async function leaseTakenOver() {
		const locks = await syncStore();
		const first = await locks.acquire({ lockName: 'aud0upsert', holder: 'exec-1', ttlMs: 60_000 });
		if (!first.acquired) throw new Error('no lease');
		await locks.forceRelease('aud0upsert', 'test: the lease lapsed');
		const second = await locks.acquire({ lockName: 'aud0upsert', holder: 'exec-2', ttlMs: 60_000 });
		if (!second.acquired) throw new Error('no second lease');
		return { stale: first.lease.ownerToken, current: second.lease.ownerToken };
	}

	it('writes to the Hub and the ledger under the current lease', async () => {
		const { current } = await leaseTakenOver();
		const { done, errors } = await runNode(hub, store.path, [withLease(memberItem(ANA), current), withLease(memberItem(BEN), current)]);
		expect(errors).toEqual([]);
		expect(done).toHaveLength(2);
		expect((await ledgerOf(store.path)).size).toBe(2);
	});

	it('stops before any Hub write or ledger row when its lease was taken over, and says so', async () => {
		const { stale } = await leaseTakenOver();
		await expect(runNode(hub, store.path, [withLease(memberItem(ANA), stale), withLease(memberItem(BEN), stale)])).rejects.toThrow(/lease/i);
		expect(totalWrites(hub)).toBe(0);
		expect((await ledgerOf(store.path)).size).toBe(0);
	});

	it('puts every member on Error marked fatal under continue on fail, so the run is recorded failed', async () => {
		const { stale } = await leaseTakenOver();
		const { done, errors } = await runNode(hub, store.path, [withLease(memberItem(ANA), stale)], { continueOnFail: true });
		expect(done).toEqual([]);
		expect(errors[0].json).toMatchObject({ fatal: true, error: expect.stringMatching(/lease/i) });
	});

	it('Remove takes nothing out and forgets nothing once its lease was taken over', async () => {
		await runNode(hub, store.path, [memberItem(ANA), memberItem(BEN), memberItem(CAT)]);
		const ledger = await ledgerOf(store.path);
		const { stale } = await leaseTakenOver();
		hub.counters.clear();
		const leaving = withLease(removedItem('ana', ledger.get('ana')!.hubContactId, ANA.phone), stale);
		await expect(runNode(hub, store.path, [leaving], { operation: 'remove', removeAction: 'delete', maxRemovalShare: 0 })).rejects.toThrow(/lease/i);
		expect(totalWrites(hub)).toBe(0);
		expect((await ledgerOf(store.path)).size).toBe(3);
	});

	it('writes no ledger row after its lease was taken over mid-run, and the next run finishes without duplicates', async () => {
		const locks = await syncStore();
		const held = await locks.acquire({ lockName: 'aud0upsert', holder: 'exec-1', ttlMs: 60_000 });
		if (!held.acquired) throw new Error('no lease');
		let takenOver = false;
		const items = [ANA, BEN, CAT].map((m) => withLease(memberItem(m), held.lease.ownerToken));
		const run = runNode(hub, store.path, items, {
			concurrency: 1,
			continueOnFail: true,
			beforeRequest: async (request) => {
				if (takenOver || request.method !== 'POST' || !String(request.url).endsWith('/api/v1/contacts/contacts')) return;
				takenOver = true;
				await locks.forceRelease('aud0upsert', 'test: the lease lapsed');
				await locks.acquire({ lockName: 'aud0upsert', holder: 'exec-2', ttlMs: 60_000 });
			},
		});
		const { done, errors } = await run;
		expect(takenOver).toBe(true);
		// The contacts were written before the run learnt it had lost the lease, but no ledger entry was:
		// every member is on Error, fatal, and the next run redoes them.
		expect(done).toEqual([]);
		expect(errors.map((e) => [e.json.fatal, /lease/i.test(String(e.json.error))])).toEqual(Array(3).fill([true, true]));
		expect((await ledgerOf(store.path)).size).toBe(0);

		const next = await locks.acquire({ lockName: 'aud1upsert', holder: 'exec-3', ttlMs: 60_000 });
		if (!next.acquired) throw new Error('no lease');
		const again = await runNode(hub, store.path, [ANA, BEN, CAT].map((m) => withLease(memberItem(m), next.lease.ownerToken)));
		expect(again.errors).toEqual([]);
		expect(account().contacts.size).toBe(3);
		expect((await ledgerOf(store.path)).size).toBe(3);
	});
});
