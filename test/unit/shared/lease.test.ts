/**
 * RunLease against a real store (SQLite): the token the items carry, renewals at most every few
 * seconds, and the error when the lease is gone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeOperationError, type INode, type INodeExecutionData } from 'n8n-workflow';

import { isLeaseLost, RunLease } from '../../../nodes/shared/lease';
import { closeAllSyncStores, LeaseLostError, openSyncStore, type SyncStore } from '../../../nodes/shared/store';

const node: INode = {
	id: 'n1',
	name: 'Upsert Hub Contact',
	type: 'n8n-nodes-mailchimp-hub-sync.upsertHubContact',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};
const HOUR = 3_600_000;

const item = (lease?: unknown): INodeExecutionData => ({
	json: { member: { id: 'm' }, sync: lease === undefined ? { change: 'new' } : { change: 'new', lease } },
});

/** Counts renewals, so the tests see how often the store is asked. */
function counting(store: SyncStore): { store: SyncStore; renewals: () => number } {
	let renewals = 0;
	const wrapped = Object.create(store) as SyncStore;
	wrapped.renew = (token: string, ttlMs?: number) => {
		renewals++;
		return store.renew(token, ttlMs);
	};
	return { store: wrapped, renewals: () => renewals };
}

describe('RunLease', () => {
	let dir: string;
	let store: SyncStore;
	let lockSeq = 0;
	const acquire = async (ttlMs: number) => {
		const result = await store.acquire({ lockName: `lease-test-${++lockSeq}`, holder: 'exec-1', ttlMs });
		if (!result.acquired) throw new Error('expected the lock');
		return result.lease;
	};

	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), 'hub-sync-lease-'));
		store = await openSyncStore({ kind: 'sqlite', path: join(dir, 'store.sqlite') });
	});

	afterAll(async () => {
		await closeAllSyncStores();
		rmSync(dir, { recursive: true, force: true });
	});

	describe('tokenOf', () => {
		it('takes the token all items carry, and null when none carries one', () => {
			expect(RunLease.tokenOf([item('tok-1'), item('tok-1'), item()])).toBe('tok-1');
			expect(RunLease.tokenOf([item(), item()])).toBeNull();
			expect(RunLease.tokenOf([])).toBeNull();
		});

		it('refuses items of two runs (two different tokens) and a lease that is not a token', () => {
			expect(() => RunLease.tokenOf([item('tok-1'), item('tok-2')], node)).toThrow(NodeOperationError);
			expect(() => RunLease.tokenOf([item('tok-1'), item('tok-2')])).toThrow(/two different leases.*item 1.*own Sync Lock lease/s);
			expect(() => RunLease.tokenOf([item(42)], node)).toThrow(/not a token/);
			expect(() => RunLease.tokenOf([item('')])).toThrow(/not a token/);
		});
	});

	it('without a token fences nothing and never asks the store', async () => {
		const { store: watched, renewals } = counting(store);
		const lease = new RunLease(watched, null, node);
		await lease.check();
		expect(lease.fence).toBeUndefined();
		expect(renewals()).toBe(0);
	});

	it('renews with the lease\'s own TTL at most once per interval, however often it is checked', async () => {
		const held = await acquire(HOUR);
		const { store: watched, renewals } = counting(store);
		let now = 1_000_000;
		const lease = new RunLease(watched, held.ownerToken, node, { renewEveryMs: 5_000, now: () => now });
		expect(lease.fence).toEqual({ ownerToken: held.ownerToken });
		for (let i = 0; i < 1_000; i++) {
			await lease.check();
			now += 10; // 1,000 batches over 10 seconds
		}
		expect(renewals()).toBe(2);
		const status = await store.status(held.lockName);
		const left = status.holder!.expiresAt.getTime() - Date.now();
		expect(left).toBeGreaterThan(HOUR - 5_000);
	});

	it('asks sooner than the interval when the lease is short', async () => {
		const held = await acquire(2_000);
		const { store: watched, renewals } = counting(store);
		let now = Date.now();
		const lease = new RunLease(watched, held.ownerToken, node, { renewEveryMs: 5_000, now: () => now });
		await lease.check();
		now += 900;
		await lease.check();
		expect(renewals()).toBe(1);
		now += 200; // past half of the 2 s lease
		await lease.check();
		expect(renewals()).toBe(2);
	});

	it('stops with a clear error once the lease lapsed and another run took the lock, and stays stopped', async () => {
		const held = await acquire(200);
		const { store: watched, renewals } = counting(store);
		const lease = new RunLease(watched, held.ownerToken, node, { renewEveryMs: 0 });
		await lease.check();
		await new Promise((resolve) => setTimeout(resolve, 600));
		const next = await store.acquire({ lockName: held.lockName, holder: 'exec-2', ttlMs: HOUR });
		expect(next.acquired).toBe(true);

		const error = await lease.check().catch((e: unknown) => e);
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(isLeaseLost(error)).toBe(true);
		expect((error as Error).cause).toBeInstanceOf(LeaseLostError);
		expect((error as Error).message).toMatch(
			new RegExp(`lease of this run on lock "${held.lockName}" lapsed.*run exec-2 took the lock over.*stopped writing.*raise the lease time.*Sync Lock: Status`, 's'),
		);
		const asked = renewals();
		await expect(lease.check()).rejects.toBe(error);
		expect(renewals()).toBe(asked);
		// The store refuses the fence too, so a node that skipped check() still writes nothing.
		await expect(
			store.upsertLedger(
				[{ syncName: 's', audienceId: 'a', memberKey: 'm', contentHash: 'h', hubContactId: null, phone: null, syncedAt: new Date() }],
				lease.fence,
			),
		).rejects.toBeInstanceOf(LeaseLostError);
	});

	it('stops when the lease was released by force', async () => {
		const held = await acquire(HOUR);
		const lease = new RunLease(store, held.ownerToken, node);
		await lease.check();
		await store.forceRelease(held.lockName, 'operator');
		const again = new RunLease(store, held.ownerToken, node);
		await expect(again.check()).rejects.toThrow(/released by force.*stopped writing/s);
		expect(isLeaseLost(new Error('other'))).toBe(false);
	});
});
