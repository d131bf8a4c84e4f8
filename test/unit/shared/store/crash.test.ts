/**
 * A holder that dies (SIGKILL: no cleanup, no release) keeps the lock only until its lease expires;
 * then the next acquire succeeds and the dead run is recorded as expired. A process killed in the
 * middle of its store traffic leaves the store usable.
 */
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { closeAllSyncStores, openSyncStore, type SyncStore } from '../../../../nodes/shared/store';
import { FIXTURES, sleep, type BackendFixture } from './backends';
import { startWorkers, stopWorkers, type Worker } from './workers';

const TTL_MS = 1_500;

function exited(worker: Worker): Promise<void> {
	return new Promise((resolve) => {
		if (worker.child.exitCode !== null || worker.child.signalCode !== null) resolve();
		else worker.child.once('exit', () => resolve());
	});
}

describe.each(FIXTURES)('a holder killed with SIGKILL: %s', (_name, makeFixture) => {
	let fixture: BackendFixture;
	let store: SyncStore;
	let workers: Worker[] = [];
	let dir: string;

	beforeAll(async () => {
		fixture = await makeFixture();
		store = await openSyncStore(fixture.config);
		dir = mkdtempSync(join(tmpdir(), 'hub-sync-crash-'));
	});

	afterAll(async () => {
		await stopWorkers(workers);
		await closeAllSyncStores();
		await fixture.cleanup();
		rmSync(dir, { recursive: true, force: true });
	});

	it('loses the lease at expiry, and the next acquire succeeds', async () => {
		workers = await startWorkers(1, fixture.config);
		const [holder] = workers;
		const { runId } = await holder.request<{ runId: string }>({ type: 'hold', lock: 'crash', ttlMs: TTL_MS }, 'holding');
		expect(runId).toEqual(expect.any(String));

		holder.kill('SIGKILL');
		await exited(holder);
		expect(holder.child.signalCode).toBe('SIGKILL');

		// Dead, but its lease is still valid: others are told who holds it.
		const early = await store.acquire({ lockName: 'crash', holder: 'next', ttlMs: 60_000 });
		expect(early).toMatchObject({ acquired: false, heldBy: { runId } });
		const status = await store.status('crash');
		await sleep(Math.max(0, status.holder!.expiresAt.getTime() - Date.now()) + 200);

		const next = await store.acquire({ lockName: 'crash', holder: 'next', ttlMs: 60_000 });
		expect(next.acquired).toBe(true);
		expect(await store.getRun(runId)).toMatchObject({ outcome: 'expired', finishedAt: status.holder!.expiresAt });
	}, 30_000);

	it('stays usable after a process is killed in the middle of its store traffic', async () => {
		const [worker] = (workers = await startWorkers(1, fixture.config));
		const hammering = worker
			.request({ type: 'hammer', lock: 'crash-busy', attempts: 1_000_000, marker: join(dir, 'own.marker'), ttlMs: 1_000 }, 'hammered')
			.catch(() => undefined);
		await sleep(300);
		worker.kill('SIGKILL');
		await exited(worker);
		await hammering;

		await sleep(1_200);
		const after = await store.acquire({ lockName: 'crash-busy', holder: 'survivor', ttlMs: 60_000 });
		expect(after.acquired).toBe(true);
		if (fixture.config.kind === 'sqlite') {
			const check = new DatabaseSync(fixture.config.path, { readOnly: true });
			expect(check.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
			check.close();
		}
	}, 30_000);
});
