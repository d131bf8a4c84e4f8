/**
 * A separate OS process that uses the sync store, driven by its parent over IPC: the race, crash and
 * benchmark scenarios fork several of these against one store.
 *
 * Started with the store config as JSON in HUB_SYNC_WORKER_CONFIG. Messages in → answers out:
 *   { type: 'attempt', lock, holder, ttlMs, marker? } → { type: 'attempted', won, runId, heldByRunId, violation? }
 *   { type: 'release', marker? }                     → { type: 'released', released, violation }
 *   { type: 'hammer', lock, attempts, marker }       → { type: 'hammered', wins, busy, violations, acquireMs, releaseMs }
 *   { type: 'claim', audience, phones, batch }       → { type: 'claimed', phones }
 *   { type: 'hold', lock, ttlMs }                    → { type: 'holding', runId }   (then idles until killed)
 *
 * The marker is the independent check that the lock works: a winner creates it with O_EXCL (which
 * fails if another process holds it) and removes it before releasing, so two holders at once
 * cannot go unnoticed, whatever the store believes.
 */
import { openSync, closeSync, unlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { openSyncStore, type StoreConfig, type SyncStore } from '../../../../nodes/shared/store';

type Message =
	| { type: 'attempt'; lock: string; holder: string; ttlMs: number; marker?: string }
	| { type: 'release'; marker?: string }
	| { type: 'hammer'; lock: string; attempts: number; marker: string; ttlMs: number }
	| { type: 'claim'; audience: string; phones: string[]; batch: number }
	| { type: 'hold'; lock: string; ttlMs: number };

const config = JSON.parse(process.env.HUB_SYNC_WORKER_CONFIG ?? '{}') as StoreConfig;
const id = process.env.HUB_SYNC_WORKER_ID ?? String(process.pid);
let token: string | undefined;

function send(message: object): void {
	process.send!(message);
}

/** True if this process now holds the marker; false if another process still does (a double holder). */
function takeMarker(marker: string): boolean {
	try {
		closeSync(openSync(marker, 'wx'));
		return true;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
		throw error;
	}
}

/** False if the marker was already gone: someone else removed it while we thought we held the lock. */
function dropMarker(marker: string): boolean {
	try {
		unlinkSync(marker);
		return true;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
		throw error;
	}
}

async function handle(store: SyncStore, message: Message): Promise<void> {
	switch (message.type) {
		case 'attempt': {
			const result = await store.acquire({ lockName: message.lock, holder: message.holder, ttlMs: message.ttlMs });
			if (result.acquired) {
				token = result.lease.ownerToken;
				const violation = message.marker ? !takeMarker(message.marker) : false;
				send({ type: 'attempted', won: true, runId: result.lease.runId, violation });
			} else {
				send({ type: 'attempted', won: false, heldByRunId: result.heldBy?.runId ?? null });
			}
			return;
		}
		case 'release': {
			const violation = message.marker ? !dropMarker(message.marker) : false;
			const result = await store.release(token!, { outcome: 'success', counts: { rounds: 1 } });
			token = undefined;
			send({ type: 'released', released: result.released, violation });
			return;
		}
		case 'hammer': {
			let wins = 0;
			let busy = 0;
			let violations = 0;
			const acquireMs: number[] = [];
			const releaseMs: number[] = [];
			for (let i = 0; i < message.attempts; i++) {
				let started = performance.now();
				const result = await store.acquire({ lockName: message.lock, holder: `${id}-${i}`, ttlMs: message.ttlMs });
				acquireMs.push(performance.now() - started);
				if (!result.acquired) {
					busy++;
					continue;
				}
				wins++;
				if (!takeMarker(message.marker)) violations++;
				// Hold briefly so that others really collide with a held lease.
				await new Promise((resolve) => setImmediate(resolve));
				if (!dropMarker(message.marker)) violations++;
				started = performance.now();
				const released = await store.release(result.lease.ownerToken, { outcome: 'success', counts: {} });
				releaseMs.push(performance.now() - started);
				if (!released.released) violations++;
			}
			send({ type: 'hammered', wins, busy, violations, acquireMs, releaseMs });
			return;
		}
		case 'claim': {
			const claimed: string[] = [];
			for (let i = 0; i < message.phones.length; i += message.batch) {
				claimed.push(...(await store.claimConsentAsks(message.audience, message.phones.slice(i, i + message.batch))));
			}
			send({ type: 'claimed', phones: claimed });
			return;
		}
		case 'hold': {
			const result = await store.acquire({ lockName: message.lock, holder: `holder-${id}`, ttlMs: message.ttlMs });
			send({ type: 'holding', runId: result.acquired ? result.lease.runId : null });
			// Idle with the lease held until the parent kills this process.
			setInterval(() => undefined, 60_000);
			return;
		}
	}
}

async function main(): Promise<void> {
	const store = await openSyncStore(config);
	process.on('message', (message: Message) => {
		handle(store, message).catch((error: Error) => send({ type: 'error', message: error.message }));
	});
	process.on('disconnect', () => process.exit(0));
	send({ type: 'ready' });
}

main().catch((error: Error) => {
	send({ type: 'error', message: error.message });
	process.exit(1);
});
