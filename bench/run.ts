/**
 * `npm run bench`: every benchmark of the package, one after the other, on the built package.
 *
 *   npm run bench                      full size: Fetch read rate (20,000 members), Sync Lock contention,
 *                                      the whole sync at 100,000 members against its built-in-nodes baseline
 *   npm run bench -- --baseline 0.05   the same, the baseline on 5 % of the audience and scaled up (a full-size
 *                                      baseline takes well over an hour; `auto` picks a fraction within 90 min)
 *   npm run bench -- --small           a quick version (minutes): smaller audiences, same latencies
 *   npm run bench -- --members 20000   any bench/sync.ts option is passed on (see that file)
 *
 * The summary judges the goals of issue 10 (all at 100,000 members; at another size the first sync's
 * time goal scales with the members): first sync ≤ 300 s; daily run (1 % changed) within 1.3× its latency
 * lower bound and ≥ 100× faster than the baseline's; Mailchimp read ≥ 50,000 members/s inside n8n; peak
 * RSS ≤ 1 GB for the first sync (saving the execution included) and ≤ 700 MB for the daily run. The memory
 * goals are judged on a second run of our sync with the memory setting the README recommends
 * (RECOMMENDED_MEMORY), and n8n's defaults are reported beside it.
 *
 * The sync writes its full results to bench/results/ (gitignored); this prints every table and a last
 * summary of the targets. The exit code is 1 when a benchmark failed to run or a correctness check failed,
 * never because a timing missed its target.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

import { REPO_ROOT } from '../test/e2e/harness';
import { benchFetch } from './fetch';
import { RECOMMENDED_MEMORY, benchSync, printSyncReport, syncOptionsFromArgs, type SyncBenchReport } from './sync';

const small = process.argv.includes('--small');
const passed = process.argv.slice(2).filter((arg) => arg !== '--small');

function section(title: string): void {
	console.log(`\n=== ${title} ${'='.repeat(Math.max(0, 96 - title.length))}`);
}

/** bench/lock.ts runs as its own process: it starts worker processes of its own and prints its own table. */
function benchLock(args: string[]): Promise<number> {
	return new Promise((resolve, reject) => {
		const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
		const child = spawn(tsx, [path.join(REPO_ROOT, 'bench', 'lock.ts'), ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
		child.on('error', reject);
		child.on('close', (code) => resolve(code ?? 1));
	});
}

async function main(): Promise<void> {
	const failures: string[] = [];

	section(`Fetch Tagged Members read rate${small ? ' (small)' : ''}`);
	try {
		await benchFetch(small ? 5_000 : 20_000, 120);
	} catch (error) {
		failures.push(`fetch: ${(error as Error).message}`);
		console.error(error);
	}

	section(`Sync Lock under contention${small ? ' (small)' : ''}`);
	const lockExit = await benchLock(small ? ['--attempts', '400'] : []);
	if (lockExit !== 0) failures.push(`lock: bench/lock.ts exited with ${lockExit} (PostgreSQL reachable? see PG* variables in bench/lock.ts)`);

	const syncOptions = { ...(small ? { members: 2_000, baseline: 1 } : {}), ...syncOptionsFromArgs(passed) };
	const checkSync = (name: string, report: SyncBenchReport) => {
		const c = report.checks;
		if (!report.runs.every((run) => run.ok)) failures.push(`${name}: a run failed (${report.runs.filter((r) => !r.ok).map((r) => `${r.contender} ${r.phase}: ${r.error}`).join('; ')})`);
		if (!c.oursAfterA.ok || !c.oursAfterB.ok) failures.push(`${name}: our Hub end state differs from the expected contacts`);
		if (c.oursWritesOutsideChanged.length > 0) failures.push(`${name}: the daily run wrote to contacts of unchanged members`);
		if (c.baselineEqualsOursAfterA && !c.baselineEqualsOursAfterA.ok) failures.push(`${name}: the baseline's end state differs from ours`);
	};
	section(`Whole sync in the real n8n${small ? ' (small)' : ''}`);
	let sync: SyncBenchReport | undefined;
	try {
		sync = await benchSync(syncOptions);
		printSyncReport(sync);
		checkSync('sync', sync);
	} catch (error) {
		failures.push(`sync: ${(error as Error).message}`);
		console.error(error);
	}

	// The memory goals are met by the setting the README recommends, not by n8n's defaults, under which V8
	// lets its heap grow: our sync once more with it (ours only), both reported.
	const setting = `NODE_OPTIONS="--max-old-space-size=${RECOMMENDED_MEMORY.maxOldSpaceMb} ${RECOMMENDED_MEMORY.nodeOptions}"`;
	let tuned: SyncBenchReport | undefined;
	if (syncOptions.maxOldSpaceMb === undefined && syncOptions.nodeOptions === undefined) {
		section(`Whole sync with the README's memory setting, ${setting}`);
		try {
			tuned = await benchSync({ ...syncOptions, ...RECOMMENDED_MEMORY, baseline: false });
			printSyncReport(tuned);
			checkSync('sync with the memory setting', tuned);
		} catch (error) {
			failures.push(`sync with the memory setting: ${(error as Error).message}`);
			console.error(error);
		}
	}

	section('Summary');
	if (sync) {
		const o = sync.options;
		console.log(
			`${o.members} members, Mailchimp ${o.mailchimpLatencyMs} ms, Hub ${o.hubLatencyMs} ms, ${o.runner === 'server' ? 'n8n start + webhook per run (as in production)' : 'n8n execute'}; ` +
				(sync.baseline ? `baseline: ${sync.baseline.note}` : 'baseline not run'),
		);
		const mark = (met: boolean | null) => (met === null ? '  -' : met ? ' ok' : 'MISS');
		for (const t of sync.targets) {
			const withSetting = t.memory ? tuned?.targets.find((u) => u.target === t.target) : undefined;
			if (withSetting) console.log(`${mark(withSetting.met)}  ${t.target}: with ${setting}: ${withSetting.reached}; n8n's defaults: ${t.reached}`);
			else console.log(`${mark(t.met)}  ${t.target}: ${t.reached}`);
		}
		if (sync.runs.some((run) => run.extrapolatedFrom)) {
			console.log(
				`      * the baseline ran on ${sync.baseline!.members} members (${sync.baseline!.fraction * 100} %): its run times and per-contact requests are scaled ×${Math.round(100 / sync.baseline!.fraction) / 100} ` +
					'to the full audience, n8n around the run is not; its memory and read rate are as measured on the smaller audience',
			);
		}
	}
	for (const failure of failures) console.log(`FAILED ${failure}`);
	if (failures.length > 0) process.exitCode = 1;
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
