/**
 * The sync store contract: one suite, run against embedded SQLite and against PostgreSQL.
 * A backend is correct when it passes this file unchanged.
 */
import {
	closeAllSyncStores,
	LeaseLostError,
	openSyncStore,
	SyncStoreError,
	type AcquiredLease,
	type LedgerEntry,
	type SyncStore,
} from '../../../../nodes/shared/store';
import { PostgresSyncStore } from '../../../../nodes/shared/store/postgres';
import { SqliteSyncStore } from '../../../../nodes/shared/store/sqlite';
import { Client } from 'pg';

import { FIXTURES, sleep, type BackendFixture, type PostgresConfig } from './backends';

const HOUR = 3_600_000;

describe.each(FIXTURES)('sync store contract: %s', (_name, makeFixture) => {
	let fixture: BackendFixture;
	let store: SyncStore;
	let lockSeq = 0;
	/** A lock name no other test uses, so tests stay independent within one store. */
	const freshLock = () => `audience-${++lockSeq}`;

	beforeAll(async () => {
		fixture = await makeFixture();
		store = await openSyncStore(fixture.config);
	});

	afterAll(async () => {
		await closeAllSyncStores();
		await fixture.cleanup();
	});

	describe('schema', () => {
		it('opens an existing store again without migrating twice and keeps its rows', async () => {
			const lock = freshLock();
			const first = await store.acquire({ lockName: lock, holder: 'exec-1', ttlMs: HOUR });
			await store.close();
			store = await openSyncStore(fixture.config);
			const status = await store.status(lock);
			expect(first.acquired).toBe(true);
			expect(status.holder?.holder).toBe('exec-1');
		});

		it('lets several connections migrate a fresh store at the same time', async () => {
			const extra = await makeFixture();
			const opens =
				extra.config.kind === 'sqlite'
					? Array.from({ length: 4 }, () => Promise.resolve().then(() => SqliteSyncStore.open({ path: (extra.config as { path: string }).path })))
					: Array.from({ length: 4 }, () => PostgresSyncStore.open(extra.config as PostgresConfig));
			try {
				const stores = await Promise.all(opens);
				const results = await Promise.all(stores.map((s, i) => s.acquire({ lockName: 'x', holder: `p${i}`, ttlMs: HOUR })));
				expect(results.filter((r) => r.acquired)).toHaveLength(1);
				await Promise.all(stores.map((s) => s.close()));
			} finally {
				await extra.cleanup();
			}
		});
	});

	describe('leases', () => {
		it('gives a free lock to the first caller, with a token and a running run record', async () => {
			const lock = freshLock();
			const result = await store.acquire({ lockName: lock, holder: 'exec-7', ttlMs: 2 * HOUR, triggerKind: 'manual' });
			if (!result.acquired) throw new Error('expected the lock');
			const { lease } = result;
			expect(lease.ownerToken).toMatch(/^exec-7\.[0-9a-f]{32}$/);
			expect(lease.expiresAt.getTime() - lease.acquiredAt.getTime()).toBe(2 * HOUR);
			const status = await store.status(lock);
			expect(status.holder).toEqual({
				lockName: lock,
				holder: 'exec-7',
				runId: lease.runId,
				acquiredAt: lease.acquiredAt,
				expiresAt: lease.expiresAt,
			});
			expect(status.runs[0]).toMatchObject({
				id: lease.runId,
				lockName: lock,
				audienceId: lock,
				triggerKind: 'manual',
				holder: 'exec-7',
				outcome: 'running',
				finishedAt: null,
				forcedRelease: false,
			});
		});

		it('answers busy while held, naming the holder, and records the refused attempt', async () => {
			const lock = freshLock();
			const first = await store.acquire({ lockName: lock, holder: 'exec-1', ttlMs: HOUR });
			const second = await store.acquire({ lockName: lock, holder: 'exec-2', ttlMs: HOUR, triggerKind: 'webhook' });
			if (!first.acquired || second.acquired) throw new Error('expected acquired, then busy');
			expect(second.heldBy).toEqual({
				lockName: lock,
				holder: 'exec-1',
				runId: first.lease.runId,
				acquiredAt: first.lease.acquiredAt,
				expiresAt: first.lease.expiresAt,
			});
			expect(JSON.stringify(second)).not.toContain(first.lease.ownerToken);
			const busyRun = await store.getRun(second.busyRunId);
			expect(busyRun).toMatchObject({ outcome: 'busy', holder: 'exec-2', triggerKind: 'webhook' });
			expect(busyRun?.finishedAt).not.toBeNull();
		});

		it('keeps different locks independent', async () => {
			const a = await store.acquire({ lockName: freshLock(), holder: 'exec-1', ttlMs: HOUR });
			const b = await store.acquire({ lockName: freshLock(), holder: 'exec-2', ttlMs: HOUR });
			expect([a.acquired, b.acquired]).toEqual([true, true]);
		});

		it('gives the lock to exactly one of many simultaneous callers', async () => {
			const lock = freshLock();
			const results = await Promise.all(
				Array.from({ length: 12 }, (_, i) => store.acquire({ lockName: lock, holder: `exec-${i}`, ttlMs: HOUR })),
			);
			expect(results.filter((r) => r.acquired)).toHaveLength(1);
			const status = await store.status(lock, 20);
			expect(status.runs.filter((r) => r.outcome === 'running')).toHaveLength(1);
			expect(status.runs.filter((r) => r.outcome === 'busy')).toHaveLength(11);
		});

		it('releases by the owner token and records outcome, counts and error summary', async () => {
			const lock = freshLock();
			const acquired = await store.acquire({ lockName: lock, holder: 'exec-1', ttlMs: HOUR });
			if (!acquired.acquired) throw new Error('expected the lock');
			const released = await store.release(acquired.lease.ownerToken, {
				outcome: 'partial',
				counts: { new: 3, changed: 1, errors: 2 },
				errorSummary: '2 members failed',
			});
			if (!released.released) throw new Error('expected a release');
			expect(released.run).toMatchObject({
				id: acquired.lease.runId,
				outcome: 'partial',
				counts: { new: 3, changed: 1, errors: 2 },
				errorSummary: '2 members failed',
				forcedRelease: false,
			});
			expect(released.run.finishedAt!.getTime()).toBeGreaterThanOrEqual(released.run.startedAt.getTime());
			expect((await store.status(lock)).holder).toBeNull();
			expect((await store.acquire({ lockName: lock, holder: 'exec-2', ttlMs: HOUR })).acquired).toBe(true);
		});

		it('refuses a wrong token and changes nothing', async () => {
			const lock = freshLock();
			const acquired = await store.acquire({ lockName: lock, holder: 'exec-1', ttlMs: HOUR });
			if (!acquired.acquired) throw new Error('expected the lock');
			const before = await store.status(lock);
			const result = await store.release(`${acquired.lease.ownerToken}0`, { outcome: 'success', counts: {} });
			expect(result).toEqual({ released: false, reason: 'unknown-token', run: null });
			expect(await store.renew('exec-1.nope', HOUR)).toEqual({ renewed: false, reason: 'unknown-token', run: null });
			expect(await store.status(lock)).toEqual(before);
		});

		it('says a second release of the same token was already released', async () => {
			const acquired = await store.acquire({ lockName: freshLock(), holder: 'exec-1', ttlMs: HOUR });
			if (!acquired.acquired) throw new Error('expected the lock');
			await store.release(acquired.lease.ownerToken, { outcome: 'success', counts: { new: 1 } });
			const again = await store.release(acquired.lease.ownerToken, { outcome: 'failed', counts: {} });
			expect(again).toMatchObject({ released: false, reason: 'already-released', run: { outcome: 'success', counts: { new: 1 } } });
			expect(await store.renew(acquired.lease.ownerToken, HOUR)).toMatchObject({ renewed: false, reason: 'already-released' });
		});

		it('renews the owner lease and refuses others', async () => {
			const lock = freshLock();
			const acquired = await store.acquire({ lockName: lock, holder: 'exec-1', ttlMs: 60_000 });
			if (!acquired.acquired) throw new Error('expected the lock');
			const renewed = await store.renew(acquired.lease.ownerToken, 3 * HOUR);
			if (!renewed.renewed) throw new Error('expected a renewal');
			expect(renewed.lease.expiresAt.getTime()).toBeGreaterThan(acquired.lease.expiresAt.getTime());
			expect(renewed.lease.runId).toBe(acquired.lease.runId);
			expect((await store.status(lock)).holder?.expiresAt).toEqual(renewed.lease.expiresAt);
		});

		it('lets a lapsed lease go: the next acquire wins, the old run is expired, the old token is refused', async () => {
			const lock = freshLock();
			const old = await store.acquire({ lockName: lock, holder: 'crashed', ttlMs: 300 });
			if (!old.acquired) throw new Error('expected the lock');
			await sleep(450);
			const refusedRenew = await store.renew(old.lease.ownerToken, HOUR);
			expect(refusedRenew).toMatchObject({ renewed: false, reason: 'expired' });
			const next = await store.acquire({ lockName: lock, holder: 'exec-2', ttlMs: HOUR });
			expect(next.acquired).toBe(true);
			const oldRun = await store.getRun(old.lease.runId);
			expect(oldRun).toMatchObject({ outcome: 'expired' });
			expect(oldRun!.finishedAt).toEqual(old.lease.expiresAt);
			const late = await store.release(old.lease.ownerToken, { outcome: 'success', counts: { new: 5 } });
			expect(late).toMatchObject({ released: false, reason: 'expired', run: { outcome: 'expired', counts: {} } });
			expect((await store.status(lock)).holder?.holder).toBe('exec-2');
		});

		it('refuses a release after expiry even before anyone else took the lock, and status then shows it expired', async () => {
			const lock = freshLock();
			const old = await store.acquire({ lockName: lock, holder: 'slow', ttlMs: 300 });
			if (!old.acquired) throw new Error('expected the lock');
			await sleep(450);
			const late = await store.release(old.lease.ownerToken, { outcome: 'success', counts: {} });
			expect(late).toMatchObject({ released: false, reason: 'expired', run: { outcome: 'running' } });
			const status = await store.status(lock);
			expect(status.holder).toBeNull();
			expect(status.runs[0]).toMatchObject({ id: old.lease.runId, outcome: 'expired' });
		});

		it('force-releases for an operator and records it as forced', async () => {
			const lock = freshLock();
			const acquired = await store.acquire({ lockName: lock, holder: 'stuck', ttlMs: HOUR });
			if (!acquired.acquired) throw new Error('expected the lock');
			const forced = await store.forceRelease(lock, 'operator: stuck since yesterday');
			expect(forced.released).toBe(true);
			expect(forced.previous).toMatchObject({ holder: 'stuck', runId: acquired.lease.runId });
			expect(forced.run).toMatchObject({ outcome: 'forced', forcedRelease: true, errorSummary: 'operator: stuck since yesterday' });
			expect((await store.status(lock)).holder).toBeNull();
			const late = await store.release(acquired.lease.ownerToken, { outcome: 'success', counts: {} });
			expect(late).toMatchObject({ released: false, reason: 'force-released' });
			expect(await store.forceRelease(lock)).toEqual({ released: false, previous: null, run: null });
		});

		it('lists runs newest first, limited', async () => {
			const lock = freshLock();
			for (let i = 0; i < 4; i++) {
				const acquired = await store.acquire({ lockName: lock, holder: `exec-${i}`, ttlMs: HOUR });
				if (!acquired.acquired) throw new Error('expected the lock');
				await store.release(acquired.lease.ownerToken, { outcome: 'success', counts: { new: i } });
			}
			const status = await store.status(lock, 3);
			expect(status.runs.map((r) => r.holder)).toEqual(['exec-3', 'exec-2', 'exec-1']);
			expect(status.runs.map((r) => r.counts.new)).toEqual([3, 2, 1]);
			expect((await store.status(lock, 0)).runs).toEqual([]);
		});

		it('rejects a TTL of 0, a negative or non-numeric TTL and a missing token, changing nothing', async () => {
			const lock = freshLock();
			const acquired = await store.acquire({ lockName: lock, holder: 'exec-1', ttlMs: HOUR });
			if (!acquired.acquired) throw new Error('expected the lock');
			const before = await store.status(lock, 50);
			for (const ttlMs of [0, -5, Number.NaN]) {
				await expect(store.acquire({ lockName: freshLock(), holder: 'x', ttlMs })).rejects.toMatchObject({
					code: 'invalid-input',
					message: expect.stringMatching(/time to live must be a positive/),
				});
				await expect(store.renew(acquired.lease.ownerToken, ttlMs)).rejects.toBeInstanceOf(SyncStoreError);
			}
			for (const token of ['', '   ', undefined as unknown as string]) {
				await expect(store.release(token, { outcome: 'success', counts: {} })).rejects.toMatchObject({
					code: 'invalid-input',
					message: expect.stringMatching(/owner token is missing/),
				});
				await expect(store.renew(token, HOUR)).rejects.toMatchObject({ code: 'invalid-input' });
			}
			await expect(store.acquire({ lockName: ' ', holder: 'x', ttlMs: HOUR })).rejects.toMatchObject({
				message: expect.stringMatching(/lock name is missing/),
			});
			await expect(
				store.release(acquired.lease.ownerToken, { outcome: 'success', counts: { new: -1 } }),
			).rejects.toMatchObject({ code: 'invalid-input' });
			expect(await store.status(lock, 50)).toEqual(before);
		});

		it('never returns or stores the owner token in readable form', async () => {
			const lock = freshLock();
			const acquired = await store.acquire({ lockName: lock, holder: 'exec-1', ttlMs: HOUR });
			if (!acquired.acquired) throw new Error('expected the lock');
			const busy = await store.acquire({ lockName: lock, holder: 'exec-2', ttlMs: HOUR });
			const status = await store.status(lock);
			const secret = acquired.lease.ownerToken.split('.')[1];
			expect(JSON.stringify([busy, status])).not.toContain(secret);
		});
	});

	describe('ledger', () => {
		const entry = (audienceId: string, memberKey: string, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
			syncName: 'sync-1',
			audienceId,
			memberKey,
			contentHash: `hash-${memberKey}`,
			hubContactId: `contact-${memberKey}`,
			phone: '+61491570156',
			syncedAt: new Date('2025-01-02T03:04:05.678Z'),
			...extra,
		});
		const byKey = (a: LedgerEntry, b: LedgerEntry) => a.audienceId.localeCompare(b.audienceId) || a.memberKey.localeCompare(b.memberKey);

		it("upserts, reads back a sync's entries of every audience, overwrites and deletes", async () => {
			await store.upsertLedger([entry('aud-1', 'm1'), entry('aud-1', 'm2', { hubContactId: null, phone: null }), entry('aud-2', 'm1')]);
			await store.upsertLedger([entry('aud-1', 'm1', { contentHash: 'changed', syncedAt: new Date('2025-02-01T00:00:00.000Z') })]);
			expect((await store.readLedger('sync-1')).sort(byKey)).toEqual([
				entry('aud-1', 'm1', { contentHash: 'changed', syncedAt: new Date('2025-02-01T00:00:00.000Z') }),
				entry('aud-1', 'm2', { hubContactId: null, phone: null }),
				entry('aud-2', 'm1'),
			]);
			expect(await store.deleteLedger('sync-1', 'aud-1', ['m1', 'missing'])).toBe(1);
			expect((await store.readLedger('sync-1')).sort(byKey).map((r) => `${r.audienceId}/${r.memberKey}`)).toEqual(['aud-1/m2', 'aud-2/m1']);
		});

		it("reads one member's entry and counts a sync's entries without reading them", async () => {
			const g = (audienceId: string, memberKey: string, extra: Partial<LedgerEntry> = {}) => entry(audienceId, memberKey, { syncName: 'sync-g', ...extra });
			await store.upsertLedger([g('aud-g', 'm1'), g('aud-g', 'm2', { hubContactId: null, phone: null }), g('aud-h', 'm1', { contentHash: 'h' })]);
			await store.upsertLedger([g('aud-g', 'm1', { syncName: 'sync-g2', contentHash: 'other' })]);
			expect(await store.getLedgerEntry('sync-g', 'aud-g', 'm1')).toEqual(g('aud-g', 'm1'));
			expect(await store.getLedgerEntry('sync-g', 'aud-g', 'm2')).toEqual(g('aud-g', 'm2', { hubContactId: null, phone: null }));
			expect(await store.getLedgerEntry('sync-g', 'aud-h', 'm1')).toEqual(g('aud-h', 'm1', { contentHash: 'h' }));
			expect(await store.getLedgerEntry('sync-g', 'aud-g', 'missing')).toBeNull();
			expect(await store.getLedgerEntry('sync-g2', 'aud-h', 'm1')).toBeNull();
			expect(await store.countLedger('sync-g')).toBe(3);
			expect(await store.countLedger('sync-g2')).toBe(1);
			expect(await store.countLedger('sync-none')).toBe(0);
		});

		it('keeps two syncs apart, even on the same audience and member', async () => {
			await store.upsertLedger([entry('aud-s', 'm1', { syncName: 'sync-a', contentHash: 'a' }), entry('aud-s', 'm1', { syncName: 'sync-b', contentHash: 'b' })]);
			expect((await store.readLedger('sync-a')).map((r) => r.contentHash)).toEqual(['a']);
			expect((await store.readLedger('sync-b')).map((r) => r.contentHash)).toEqual(['b']);
			expect(await store.deleteLedger('sync-a', 'aud-s', ['m1'])).toBe(1);
			expect(await store.readLedger('sync-a')).toEqual([]);
			expect((await store.readLedger('sync-b')).map((r) => r.contentHash)).toEqual(['b']);
		});

		it('keeps the last of duplicate members in one batch', async () => {
			await store.upsertLedger([
				entry('aud-dup', 'm1', { syncName: 'sync-dup', contentHash: 'first' }),
				entry('aud-dup', 'm1', { syncName: 'sync-dup', contentHash: 'last' }),
			]);
			expect((await store.readLedger('sync-dup')).map((r) => r.contentHash)).toEqual(['last']);
		});

		it('rejects an invalid batch before writing any of it', async () => {
			const bad = (audienceId: string, memberKey: string, extra: Partial<LedgerEntry> = {}) => entry(audienceId, memberKey, { syncName: 'sync-bad', ...extra });
			await expect(
				store.upsertLedger([bad('aud-bad', 'm1'), bad('aud-bad', '', {}), bad('aud-bad', 'm3')]),
			).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/member key is missing/) });
			await expect(
				store.upsertLedger([bad('aud-bad', 'm1', { syncedAt: new Date('nonsense') })]),
			).rejects.toMatchObject({ code: 'invalid-input' });
			await expect(store.upsertLedger([bad('aud-bad', 'm1', { syncName: '' })])).rejects.toMatchObject({
				code: 'invalid-input',
				message: expect.stringMatching(/sync name is missing/),
			});
			expect(await store.readLedger('sync-bad')).toEqual([]);
		});

		it('handles 100,000 members of one audience in bulk', async () => {
			const audience = 'aud-big';
			const many = Array.from({ length: 100_000 }, (_, i) => entry(audience, `member-${i}`, { syncName: 'sync-big', phone: `+6140000${i}` }));
			// A second audience of the same sync: a read in slices must cross from one audience to the next.
			const other = Array.from({ length: 7_000 }, (_, i) => entry('aud-big-2', `member-${i}`, { syncName: 'sync-big', phone: `+6141000${i}` }));
			await store.upsertLedger([...many, ...other]);
			const read = await store.readLedger('sync-big');
			expect(read).toHaveLength(107_000);
			expect(new Set(read.map((r) => `${r.audienceId}/${r.memberKey}`)).size).toBe(107_000);
			const byKey = new Map(read.filter((r) => r.audienceId === audience).map((r) => [r.memberKey, r]));
			expect(byKey.get('member-99999')).toEqual(many[99_999]);
			expect(read.find((r) => r.audienceId === 'aud-big-2' && r.memberKey === 'member-6999')).toEqual(other[6_999]);
			const removed = await store.deleteLedger(
				'sync-big',
				audience,
				many.slice(0, 60_000).map((e) => e.memberKey),
			);
			expect(removed).toBe(60_000);
			expect(await store.readLedger('sync-big')).toHaveLength(47_000);
		}, 120_000);
	});

	describe('lease fencing', () => {
		const row = (syncName: string, memberKey: string): LedgerEntry => ({
			syncName,
			audienceId: 'aud-f',
			memberKey,
			contentHash: `hash-${memberKey}`,
			hubContactId: `contact-${memberKey}`,
			phone: null,
			syncedAt: new Date('2025-05-01T00:00:00.000Z'),
		});
		const keys = async (syncName: string) => (await store.readLedger(syncName)).map((r) => r.memberKey).sort();
		const take = async (lockName: string, holder: string, ttlMs: number): Promise<AcquiredLease> => {
			const result = await store.acquire({ lockName, holder, ttlMs });
			if (!result.acquired) throw new Error(`expected ${holder} to get ${lockName}`);
			return result.lease;
		};

		it("refuses run A's fenced writes once its lease lapsed and run B acquired, writing no row after that moment", async () => {
			const lock = freshLock();
			const a = await take(lock, 'run-a', 300);
			const fenceA = { ownerToken: a.ownerToken };
			await store.upsertLedger([row('sync-fa', 'm1'), row('sync-fa', 'm2')], fenceA);
			expect(await keys('sync-fa')).toEqual(['m1', 'm2']);

			await sleep(450);
			// Lapsed, nobody took it yet: already refused.
			await expect(store.upsertLedger([row('sync-fa', 'late-1')], fenceA)).rejects.toMatchObject({
				name: 'LeaseLostError',
				code: 'lease-lost',
				reason: 'expired',
			});
			const b = await take(lock, 'run-b', HOUR);
			const refused = store.upsertLedger([row('sync-fa', 'late-2')], fenceA);
			await expect(refused).rejects.toBeInstanceOf(LeaseLostError);
			await expect(refused).rejects.toMatchObject({
				reason: 'expired',
				currentHolder: { holder: 'run-b', runId: b.runId },
				message: expect.stringMatching(
					new RegExp(`lease of this run on lock "${lock}" lapsed.*run run-b took the lock over.*stopped writing.*raise the lease time`, 's'),
				),
			});
			await expect(store.deleteLedger('sync-fa', 'aud-f', ['m1'], fenceA)).rejects.toMatchObject({ reason: 'expired' });
			expect(await keys('sync-fa')).toEqual(['m1', 'm2']);

			// B, holding the lease, writes and deletes under its own fence.
			await store.upsertLedger([row('sync-fa', 'm3')], { ownerToken: b.ownerToken });
			expect(await store.deleteLedger('sync-fa', 'aud-f', ['m1'], { ownerToken: b.ownerToken })).toBe(1);
			expect(await keys('sync-fa')).toEqual(['m2', 'm3']);
		});

		it('lets no write of run A that starts after run B acquired succeed, while A writes as fast as it can', async () => {
			const lock = freshLock();
			const a = await take(lock, 'run-a', 400);
			let bAcquiredAt = Number.POSITIVE_INFINITY;
			const written: string[] = [];
			const lateSuccesses: string[] = [];
			let refusedAfterB = 0;
			const writer = (async () => {
				for (let i = 0; ; i++) {
					// A refusal is thrown before any await: give the taker's timers a turn.
					await new Promise((resolve) => setImmediate(resolve));
					const startedAfterB = Date.now() > bAcquiredAt;
					try {
						await store.upsertLedger([row('sync-race', `w${i}`)], { ownerToken: a.ownerToken });
						written.push(`w${i}`);
						if (startedAfterB) lateSuccesses.push(`w${i}`);
					} catch (error) {
						expect(error).toBeInstanceOf(LeaseLostError);
						if (startedAfterB && ++refusedAfterB >= 20) return;
					}
				}
			})();
			const taker = (async () => {
				for (;;) {
					const result = await store.acquire({ lockName: lock, holder: 'run-b', ttlMs: HOUR });
					if (result.acquired) {
						bAcquiredAt = Date.now();
						return;
					}
					await sleep(5);
				}
			})();
			await Promise.all([writer, taker]);
			expect(lateSuccesses).toEqual([]);
			expect(written.length).toBeGreaterThan(0);
			expect(await keys('sync-race')).toEqual([...written].sort());
		});

		// PostgreSQL runs transactions side by side: a fenced write that checked the lease just before it
		// lapsed must be committed before another run can take the lock over, never after.
		(_name === 'postgres' ? it : it.skip)('makes a takeover wait for a fenced write that is under way (postgres)', async () => {
			const { schema, host, port, user, password, database } = fixture.config as PostgresConfig;
			const admin = new Client({ host, port, user, password, database });
			await admin.connect();
			try {
				// A slow ledger write: the row for member "slow" takes 600 ms to insert.
				await admin.query(`CREATE FUNCTION ${schema}.slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN IF NEW.member_key = 'slow' THEN PERFORM pg_sleep(0.6); END IF; RETURN NEW; END $$`);
				await admin.query(
					`CREATE TRIGGER slow_insert BEFORE INSERT ON ${schema}.hub_sync_ledger FOR EACH ROW EXECUTE FUNCTION ${schema}.slow_insert()`,
				);
				const lock = freshLock();
				const a = await take(lock, 'run-a', 300);
				let aWroteAt = 0;
				const write = store.upsertLedger([row('sync-slow', 'slow')], { ownerToken: a.ownerToken }).then(() => {
					aWroteAt = Date.now();
				});
				await sleep(400); // A's lease has lapsed; its write is still inside its transaction
				const b = await store.acquire({ lockName: lock, holder: 'run-b', ttlMs: HOUR });
				const bAcquiredAt = Date.now();
				await write;
				expect(b.acquired).toBe(true);
				expect(aWroteAt).toBeGreaterThan(0);
				expect(aWroteAt).toBeLessThanOrEqual(bAcquiredAt);
			} finally {
				await admin.query(`DROP TRIGGER IF EXISTS slow_insert ON ${schema}.hub_sync_ledger`);
				await admin.end();
			}
		});

		it("refuses a released token's and a force-released token's writes, and an unknown token's", async () => {
			const released = await take(freshLock(), 'run-done', HOUR);
			await store.release(released.ownerToken, { outcome: 'success', counts: {} });
			await expect(store.upsertLedger([row('sync-fr', 'x')], { ownerToken: released.ownerToken })).rejects.toMatchObject({
				reason: 'already-released',
				message: expect.stringMatching(/already released/),
			});

			const forcedLock = freshLock();
			const forced = await take(forcedLock, 'run-stuck', HOUR);
			await store.forceRelease(forcedLock, 'operator');
			await expect(store.upsertLedger([row('sync-fr', 'y')], { ownerToken: forced.ownerToken })).rejects.toMatchObject({
				reason: 'force-released',
				message: expect.stringMatching(/released by force/),
			});
			await expect(store.deleteLedger('sync-fr', 'aud-f', ['y'], { ownerToken: forced.ownerToken })).rejects.toMatchObject({
				reason: 'force-released',
			});

			await expect(store.upsertLedger([row('sync-fr', 'z')], { ownerToken: 'exec-0.unknown' })).rejects.toMatchObject({
				reason: 'unknown-token',
			});
			await expect(store.upsertLedger([row('sync-fr', 'z')], { ownerToken: ' ' })).rejects.toMatchObject({ code: 'invalid-input' });
			expect(await keys('sync-fr')).toEqual([]);
		});

		it("writes without a fence as before (Fetch used without Sync Lock), and never leaks the token", async () => {
			await store.upsertLedger([row('sync-nf', 'free')]);
			expect(await keys('sync-nf')).toEqual(['free']);
			const gone = await take(freshLock(), 'run-gone', HOUR);
			await store.release(gone.ownerToken, { outcome: 'success', counts: {} });
			const error = await store.upsertLedger([row('sync-nf', 'x')], { ownerToken: gone.ownerToken }).catch((e: Error) => e);
			expect(String((error as Error).message)).not.toContain(gone.ownerToken.split('.')[1]);
		});

		it('renews without a TTL by the lease\'s own, and a TTL given to a renewal becomes its own', async () => {
			const lease = await take(freshLock(), 'run-r', 60_000);
			const first = await store.renew(lease.ownerToken);
			if (!first.renewed) throw new Error('expected a renewal');
			const firstLeft = first.lease.expiresAt.getTime() - Date.now();
			expect(firstLeft).toBeGreaterThan(55_000);
			expect(firstLeft).toBeLessThanOrEqual(60_000);
			await store.renew(lease.ownerToken, 3 * HOUR);
			const again = await store.renew(lease.ownerToken);
			if (!again.renewed) throw new Error('expected a renewal');
			const left = again.lease.expiresAt.getTime() - Date.now();
			expect(left).toBeGreaterThan(3 * HOUR - 5_000);
			expect(left).toBeLessThanOrEqual(3 * HOUR);
		});
	});

	describe('opt-outs', () => {
		it('remembers numbers that opted out and answers which of the asked numbers did', async () => {
			await store.recordOptOuts([
				{ phone: '+61491570301', source: 'hub-unsubscribed', audienceId: 'aud-o' },
				{ phone: '+61491570302', source: 'mailchimp-sms-unsubscribed' },
			]);
			const found = await store.readOptOuts(['+61491570301', '+61491570302', '+61491570303', '+61491570301']);
			expect([...found].sort()).toEqual(['+61491570301', '+61491570302']);
			expect(await store.readOptOuts([])).toEqual(new Set());
			expect(await store.getOptOut('+61491570301')).toMatchObject({ source: 'hub-unsubscribed', audienceId: 'aud-o' });
			expect(await store.getOptOut('+61491570302')).toMatchObject({ source: 'mailchimp-sms-unsubscribed', audienceId: null });
			expect(await store.getOptOut('+61491570303')).toBeNull();
		});

		it('is idempotent and keeps the first source and time a number was seen with', async () => {
			await store.recordOptOuts([{ phone: '+61491570311', source: 'reply-stop', audienceId: 'aud-1' }]);
			const first = await store.getOptOut('+61491570311');
			await sleep(20);
			await store.recordOptOuts([
				{ phone: '+61491570311', source: 'hub-blacklist', audienceId: 'aud-2' },
				{ phone: '+61491570311', source: 'hub-unsubscribed' },
			]);
			expect(await store.getOptOut('+61491570311')).toEqual(first);
			expect(first).toMatchObject({ phone: '+61491570311', source: 'reply-stop', audienceId: 'aud-1' });
			expect(first!.recordedAt).toBeInstanceOf(Date);
		});

		it('rejects a number not in E.164, an unknown source or an empty audience, writing none of the batch', async () => {
			const ok = { phone: '+61491570321', source: 'hub-blacklist' as const };
			for (const bad of [
				{ phone: '0491570322', source: 'hub-blacklist' },
				{ phone: '+61 491 570 322', source: 'hub-blacklist' },
				{ phone: '', source: 'hub-blacklist' },
				{ phone: '+61491570322', source: 'unsubscribed' },
				{ phone: '+61491570322', source: 'hub-blacklist', audienceId: ' ' },
			]) {
				await expect(store.recordOptOuts([ok, bad as never])).rejects.toMatchObject({ code: 'invalid-input' });
			}
			expect(await store.readOptOuts(['+61491570321', '+61491570322'])).toEqual(new Set());
		});

		it('records and reads 100,000 numbers in bulk', async () => {
			const phones = Array.from({ length: 100_000 }, (_, i) => `+6149${String(i).padStart(7, '0')}`);
			await store.recordOptOuts(phones.filter((_, i) => i % 2 === 0).map((phone) => ({ phone, source: 'hub-unsubscribed' as const })));
			const found = await store.readOptOuts(phones);
			expect(found.size).toBe(50_000);
			expect(found.has(phones[0])).toBe(true);
			expect(found.has(phones[1])).toBe(false);
		}, 120_000);
	});

	describe('consent', () => {
		it('claims a number once, ever: a credit is never spent twice', async () => {
			expect(await store.claimConsentAsk('aud-c', '+61491570001')).toBe(true);
			expect(await store.claimConsentAsk('aud-c', '+61491570001')).toBe(false);
			expect(await store.claimConsentAsk('aud-other', '+61491570001')).toBe(true);
			const record = await store.getConsent('aud-c', '+61491570001');
			expect(record).toMatchObject({ state: 'claimed', messageId: null, answer: null });
			expect(record!.askedAt).toBeInstanceOf(Date);
		});

		it('claims a batch, skipping numbers already claimed and duplicates', async () => {
			await store.claimConsentAsk('aud-b', '+1');
			const claimed = await store.claimConsentAsks('aud-b', ['+1', '+2', '+3', '+2']);
			expect(claimed).toEqual(['+2', '+3']);
			expect(await store.claimConsentAsks('aud-b', [])).toEqual([]);
		});

		it('lets exactly one of many simultaneous claims win', async () => {
			const results = await Promise.all(Array.from({ length: 10 }, () => store.claimConsentAsk('aud-race', '+61491570002')));
			expect(results.filter(Boolean)).toHaveLength(1);
		});

		it('marks a claimed number asked with its message id, findable by that id', async () => {
			await store.claimConsentAsk('aud-m', '+61491570003');
			const askedAt = new Date('2025-03-01T10:00:00.000Z');
			await store.markConsentAsked('aud-m', '+61491570003', 'msg-123', askedAt);
			const record = await store.findConsentByMessageId('msg-123');
			expect(record).toEqual({
				audienceId: 'aud-m',
				phone: '+61491570003',
				state: 'asked',
				askedAt,
				messageId: 'msg-123',
				answeredAt: null,
				answer: null,
			});
			expect(await store.findConsentByMessageId('msg-unknown')).toBeNull();
			await expect(store.markConsentAsked('aud-m', '+61491570003', 'msg-456')).rejects.toMatchObject({
				code: 'invalid-input',
			});
			await expect(store.markConsentAsked('aud-m', '+61499999999', 'msg-789')).rejects.toMatchObject({
				message: expect.stringMatching(/was not claimed/),
			});
		});

		it('gives back a claim whose request certainly did not go out, but never one that was sent', async () => {
			await store.claimConsentAsk('aud-r', '+10');
			expect(await store.releaseConsentClaim('aud-r', '+10')).toBe(true);
			expect(await store.getConsent('aud-r', '+10')).toBeNull();
			expect(await store.claimConsentAsk('aud-r', '+10')).toBe(true);
			await store.markConsentAsked('aud-r', '+10', 'msg-r');
			expect(await store.releaseConsentClaim('aud-r', '+10')).toBe(false);
			expect(await store.claimConsentAsk('aud-r', '+10')).toBe(false);
		});

		it('re-asks only numbers asked before the cut-off and never answered; a re-claim given back is asked again', async () => {
			const longAgo = new Date('2025-01-01T00:00:00.000Z');
			for (const phone of ['+30', '+31', '+32', '+33']) {
				await store.claimConsentAsk('aud-q', phone);
				await store.markConsentAsked('aud-q', phone, `msg-q${phone}`, longAgo);
			}
			await store.recordConsentAnswer('aud-q', '+31', 'opted-out', 'STOP');
			await store.recordConsentAnswer('aud-q', '+32', 'confirmed', 'YES');
			await store.claimConsentAsk('aud-q', '+34');
			const cutOff = new Date('2025-02-01T00:00:00.000Z');
			expect(await store.reclaimConsentAsks('aud-q', ['+30', '+31', '+32', '+34', '+35'], cutOff)).toEqual(['+30']);
			expect(await store.reclaimConsentAsks('aud-q', ['+30'], cutOff)).toEqual([]);
			expect(await store.reclaimConsentAsks('aud-q', ['+33'], new Date('2024-12-01T00:00:00.000Z'))).toEqual([]);
			expect(await store.getConsent('aud-q', '+30')).toMatchObject({ state: 'claimed', messageId: 'msg-q+30' });
			// The re-ask certainly did not go out: back to asked, with the earlier request.
			expect(await store.releaseConsentClaim('aud-q', '+30')).toBe(true);
			expect(await store.getConsent('aud-q', '+30')).toMatchObject({ state: 'asked', messageId: 'msg-q+30', askedAt: longAgo });
			expect(await store.reclaimConsentAsks('aud-q', ['+30'], cutOff)).toEqual(['+30']);
			await store.markConsentAsked('aud-q', '+30', 'msg-q2');
			expect(await store.getConsent('aud-q', '+30')).toMatchObject({ state: 'asked', messageId: 'msg-q2' });
			expect(await store.getConsent('aud-q', '+31')).toMatchObject({ state: 'opted-out' });
		});

		it('records answers, keeping when and with which message the number was asked', async () => {
			await store.claimConsentAsk('aud-a', '+20');
			await store.markConsentAsked('aud-a', '+20', 'msg-a', new Date('2025-03-01T00:00:00.000Z'));
			const answeredAt = new Date('2025-03-02T00:00:00.000Z');
			const confirmed = await store.recordConsentAnswer('aud-a', '+20', 'confirmed', 'YES', answeredAt);
			expect(confirmed).toEqual({
				audienceId: 'aud-a',
				phone: '+20',
				state: 'confirmed',
				askedAt: new Date('2025-03-01T00:00:00.000Z'),
				messageId: 'msg-a',
				answeredAt,
				answer: 'YES',
			});
			// A STOP from a number never asked is kept too, so it is never asked later.
			const stop = await store.recordConsentAnswer('aud-a', '+21', 'opted-out', 'STOP');
			expect(stop).toMatchObject({ state: 'opted-out', askedAt: null, messageId: null, answer: 'STOP' });
			expect(await store.claimConsentAsk('aud-a', '+21')).toBe(false);
			expect((await store.readConsent('aud-a')).map((r) => r.phone).sort()).toEqual(['+20', '+21']);
		});
	});
});
