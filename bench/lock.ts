/**
 * Lock throughput and latency under contention: 8 OS processes acquire and release one lock as fast
 * as they can, on embedded SQLite and on PostgreSQL (a fresh file and a fresh schema each run).
 *
 *   npx tsx bench/lock.ts [--processes 8] [--attempts 4000] [--backend sqlite|postgres|both] [--json]
 *
 * `attempts` is the total number of acquire calls over all processes. Throughput counts store calls
 * (acquire or release) per second and completed acquire→release cycles per second; latency is per
 * call as the caller sees it, including busy answers. PostgreSQL comes from PGHOST/PGPORT/PGUSER/
 * PGPASSWORD/PGDATABASE (default 127.0.0.1:5432, postgres, test).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { postgresFixture, sqliteFixture, type BackendFixture } from '../test/unit/shared/store/backends';
import { startWorkers, stopWorkers } from '../test/unit/shared/store/workers';

interface Hammered {
	wins: number;
	busy: number;
	violations: number;
	acquireMs: number[];
	releaseMs: number[];
}

export interface LockBenchResult {
	backend: string;
	processes: number;
	acquireCalls: number;
	cycles: number;
	busy: number;
	violations: number;
	seconds: number;
	callsPerSecond: number;
	cyclesPerSecond: number;
	acquireP50Ms: number;
	acquireP99Ms: number;
	releaseP50Ms: number;
	releaseP99Ms: number;
}

function percentile(values: number[], p: number): number {
	if (values.length === 0) return 0;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (n: number, digits = 2) => Number(n.toFixed(digits));

export async function benchLock(fixture: BackendFixture, processes: number, attempts: number): Promise<LockBenchResult> {
	const dir = mkdtempSync(join(tmpdir(), 'hub-sync-bench-'));
	const workers = await startWorkers(processes, fixture.config);
	try {
		// A short warm-up so connection setup and statement preparation are not measured.
		await Promise.all(
			workers.map((w) => w.request({ type: 'hammer', lock: 'warm-up', attempts: 20, marker: join(dir, `warm-${w.id}`), ttlMs: 60_000 }, 'hammered')),
		);
		const started = performance.now();
		const results = await Promise.all(
			workers.map((w) =>
				w.request<Hammered>(
					{ type: 'hammer', lock: 'bench', attempts: Math.ceil(attempts / processes), marker: join(dir, 'holder'), ttlMs: 60_000 },
					'hammered',
				),
			),
		);
		const seconds = (performance.now() - started) / 1000;
		const acquireMs = results.flatMap((r) => r.acquireMs);
		const releaseMs = results.flatMap((r) => r.releaseMs);
		const cycles = results.reduce((sum, r) => sum + r.wins, 0);
		return {
			backend: fixture.name,
			processes,
			acquireCalls: acquireMs.length,
			cycles,
			busy: results.reduce((sum, r) => sum + r.busy, 0),
			violations: results.reduce((sum, r) => sum + r.violations, 0),
			seconds: round(seconds),
			callsPerSecond: Math.round((acquireMs.length + releaseMs.length) / seconds),
			cyclesPerSecond: Math.round(cycles / seconds),
			acquireP50Ms: round(percentile(acquireMs, 50)),
			acquireP99Ms: round(percentile(acquireMs, 99)),
			releaseP50Ms: round(percentile(releaseMs, 50)),
			releaseP99Ms: round(percentile(releaseMs, 99)),
		};
	} finally {
		await stopWorkers(workers);
		rmSync(dir, { recursive: true, force: true });
	}
}

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			processes: { type: 'string', default: '8' },
			attempts: { type: 'string', default: '4000' },
			backend: { type: 'string', default: 'both' },
			json: { type: 'boolean', default: false },
		},
	});
	const processes = Number(values.processes);
	const attempts = Number(values.attempts);
	const backends = values.backend === 'both' ? ['sqlite', 'postgres'] : [values.backend];
	const results: LockBenchResult[] = [];
	for (const backend of backends) {
		const fixture = backend === 'sqlite' ? await sqliteFixture() : await postgresFixture();
		try {
			results.push(await benchLock(fixture, processes, attempts));
		} finally {
			await fixture.cleanup();
		}
	}
	if (values.json) {
		console.log(JSON.stringify(results, null, 2));
		return;
	}
	console.log(`Sync Lock: ${processes} processes contending for one lock`);
	console.table(
		results.map((r) => ({
			backend: r.backend,
			'acquire calls': r.acquireCalls,
			'cycles (won+released)': r.cycles,
			'calls/s': r.callsPerSecond,
			'cycles/s': r.cyclesPerSecond,
			'acquire p50 ms': r.acquireP50Ms,
			'acquire p99 ms': r.acquireP99Ms,
			'release p50 ms': r.releaseP50Ms,
			'release p99 ms': r.releaseP99Ms,
			'double holders': r.violations,
		})),
	);
	if (results.some((r) => r.violations > 0)) process.exitCode = 1;
}

if (require.main === module) {
	main().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
