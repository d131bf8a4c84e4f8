/**
 * Waiting for a SQLite file that another process holds locked must not stop n8n: every other
 * execution, webhook and timer in the process runs on the same event loop. The wait is measured as
 * the longest stretch the event loop could not run anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { closeAllSyncStores, openSyncStore } from '../../../../nodes/shared/store';

const HOUR = 3_600_000;

/** Another process that takes the store's write lock and keeps it for `holdMs`. */
function holdWriteLock(path: string, holdMs: number): Promise<ChildProcess> {
	const code = `
		const { DatabaseSync } = require('node:sqlite');
		const db = new DatabaseSync(process.argv[1]);
		db.exec('BEGIN IMMEDIATE');
		process.stdout.write('locked\\n');
		setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));
	`;
	const child = spawn(process.execPath, ['-e', code, path, String(holdMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
	return new Promise((resolve, reject) => {
		child.stdout!.once('data', () => resolve(child));
		child.once('exit', (exitCode) => reject(new Error(`the lock holder exited early (${exitCode})`)));
	});
}

/** Runs `work` while a 5 ms timer notes the longest gap between its ticks: how long nothing else could run. */
async function measured<T>(work: () => Promise<T>): Promise<{ outcome: T | Error; waitedMs: number; longestBlockMs: number }> {
	let last = performance.now();
	let longestBlockMs = 0;
	const ticker = setInterval(() => {
		const now = performance.now();
		longestBlockMs = Math.max(longestBlockMs, now - last);
		last = now;
	}, 5);
	const started = performance.now();
	const outcome = await work().catch((error: Error) => error);
	const waitedMs = performance.now() - started;
	// One more tick, so a block that lasted to the end of the work is counted too.
	await new Promise((resolve) => setTimeout(resolve, 30));
	clearInterval(ticker);
	return { outcome, waitedMs, longestBlockMs };
}

describe('embedded SQLite store: waiting for a locked file', () => {
	let dir: string;
	const children: ChildProcess[] = [];

	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), 'hub-sync-busy-'));
	});

	afterEach(async () => {
		for (const child of children.splice(0)) child.kill('SIGKILL');
		await closeAllSyncStores();
		rmSync(dir, { recursive: true, force: true });
	});

	it('waits for the lock to be free while the event loop keeps running', async () => {
		const path = join(dir, 'store.sqlite');
		const store = await openSyncStore({ kind: 'sqlite', path });
		children.push(await holdWriteLock(path, 2_000));
		const { outcome, waitedMs, longestBlockMs } = await measured(() => store.acquire({ lockName: 'x', holder: 'h', ttlMs: HOUR }));
		console.log(`locked for 2 s: acquire waited ${Math.round(waitedMs)} ms; longest event-loop block ${longestBlockMs.toFixed(1)} ms`);
		expect(outcome).toMatchObject({ acquired: true });
		expect(waitedMs).toBeGreaterThan(1_500);
		expect(longestBlockMs).toBeLessThan(250);
	}, 30_000);

	it('gives up after the busy timeout with a clear error, still without blocking', async () => {
		const path = join(dir, 'store.sqlite');
		const store = await openSyncStore({ kind: 'sqlite', path, busyTimeoutMs: 800 });
		children.push(await holdWriteLock(path, 5_000));
		const { outcome, waitedMs, longestBlockMs } = await measured(() => store.acquire({ lockName: 'x', holder: 'h', ttlMs: HOUR }));
		console.log(`locked for 5 s, busy timeout 0.8 s: gave up after ${Math.round(waitedMs)} ms; longest event-loop block ${longestBlockMs.toFixed(1)} ms`);
		expect(outcome).toMatchObject({ code: 'busy', message: expect.stringMatching(/stayed locked by another process/) });
		expect(waitedMs).toBeGreaterThan(700);
		expect(waitedMs).toBeLessThan(2_500);
		expect(longestBlockMs).toBeLessThan(250);
	}, 30_000);

	it('opens and migrates a new store whose file is locked, without blocking', async () => {
		const path = join(dir, 'new.sqlite');
		children.push(await holdWriteLock(path, 1_500));
		const { outcome, waitedMs, longestBlockMs } = await measured(() => openSyncStore({ kind: 'sqlite', path }));
		console.log(`new file locked for 1.5 s: open waited ${Math.round(waitedMs)} ms; longest event-loop block ${longestBlockMs.toFixed(1)} ms`);
		expect(outcome).not.toBeInstanceOf(Error);
		expect(waitedMs).toBeGreaterThan(1_000);
		expect(longestBlockMs).toBeLessThan(250);
	}, 30_000);
});
