/**
 * The sync benchmark (bench/sync.ts) at a small size, so it cannot rot: the same code as `npm run bench`,
 * our flow and the built-in-nodes baseline in the real n8n, on 300 members at low latency. Only correctness
 * and structure are asserted, never timings (the machine is shared; timings belong to `npm run bench`).
 */
import { benchSync, type RunResult, type SyncBenchReport } from '../../bench/sync';
import { E2E_TIMEOUT_MS } from './harness';

jest.setTimeout(E2E_TIMEOUT_MS);

describe('the sync benchmark, small', () => {
	let report: SyncBenchReport;
	const run = (contender: RunResult['contender'], phase: RunResult['phase']) => {
		const found = report.runs.find((r) => r.contender === contender && r.phase === phase);
		if (!found) throw new Error(`No ${contender} (${phase}) run in the report`);
		return found;
	};

	beforeAll(async () => {
		report = await benchSync({
			members: 300,
			mailchimpLatencyMs: 5,
			hubLatencyMs: 5,
			changeShare: 0.02,
			baseline: 1,
			resultsDir: false,
			// Memory is not asserted here: no waiting for n8n to give back its start-up memory.
			settleMemory: false,
			// Two daily runs: the second after new changes, each after a previous run in its n8n.
			dailyRuns: 2,
			log: () => undefined,
		});
	});

	it('completes the runs in n8n: ours and the baseline, first sync and daily run (ours twice)', () => {
		expect(report.runs.map((r) => [r.contender, r.phase, r.ok, r.error ?? null])).toEqual([
			['ours', 'a', true, null],
			['baseline', 'a', true, null],
			['ours', 'b', true, null],
			['ours', 'b', true, null],
			['baseline', 'b', true, null],
		]);
	});

	it('leaves exactly the expected Hub contacts after the first sync and after the daily run', () => {
		expect(report.checks.oursAfterA).toMatchObject({ ok: true, missing: [], unexpected: [], different: [] });
		expect(report.checks.oursAfterA.contacts).toBeGreaterThan(100);
		expect(report.checks.oursAfterB).toMatchObject({ ok: true, missing: [], unexpected: [], different: [] });
	});

	it('writes in the daily run only for the changed members, one write each', () => {
		const dailies = report.runs.filter((r) => r.contender === 'ours' && r.phase === 'b');
		expect(dailies).toHaveLength(2);
		expect(report.checks.oursWritesOutsideChanged).toEqual([]);
		for (const daily of dailies) {
			expect(daily.changedMembers).toBe(6);
			// Names and phones changed: each is one PATCH of the member's contact, and nothing is created;
			// the previous run before it (nothing changed) is not counted.
			expect(daily.requests.hub['PATCH /api/v1/contacts/contacts/{contactId}']).toBe(daily.changedMembers);
			expect(daily.hubWrites).toBe(daily.changedMembers);
		}
	});

	it('reads every selected tag completely in every run', () => {
		for (const r of report.runs) {
			expect(r.requests.mailchimp['GET /3.0/lists/{list_id}/segments/{segment_id}/members']).toBeGreaterThanOrEqual(3);
			expect(r.mailchimpRead.rows).toBeGreaterThanOrEqual(r.syncedMembers);
		}
	});

	it('has the baseline do the same job: the same Hub end state as ours after the first sync', () => {
		expect(report.checks.baselineAfterA).toMatchObject({ ok: true });
		expect(report.checks.baselineEqualsOursAfterA).toMatchObject({ ok: true, missing: [], unexpected: [], different: [] });
		// The plain way looks every contact up and writes every contact, every run.
		const first = run('baseline', 'a');
		expect(first.requests.hub['GET /api/v1/contacts/contacts']).toBe(first.syncedMembers);
		expect(first.requests.hub['POST /api/v1/contacts/contacts']).toBe(first.syncedMembers);
		expect(run('baseline', 'b').hubWrites).toBe(first.syncedMembers);
	});

	it('measures memory and timings for every run and fills in the ratios and targets', () => {
		for (const r of report.runs) {
			expect(r.wallMs).toBeGreaterThan(0);
			expect(r.runMs).toBeGreaterThan(0);
			expect(r.memory.peakRssMb).toBeGreaterThan(0);
			expect(r.memory.peakRssDuringRunMb).toBeLessThanOrEqual(r.memory.peakRssUntilSavedMb);
			expect(r.memory.peakRssUntilSavedMb).toBeLessThanOrEqual(r.memory.peakRssMb);
		}
		expect(report.ratios).toEqual({
			firstSyncSpeedup: expect.any(Number),
			dailySyncSpeedup: expect.any(Number),
			dailyHubWritesPerChangedMember: 1,
			mailchimpMembersPerSecond: expect.any(Number),
			peakRssFirstSyncMb: expect.any(Number),
		});
		// Every goal of issue 10 is judged (met or not) when both sides ran.
		expect(report.targets.map((t) => t.met === null)).toEqual([false, false, false, false, false, false, false]);
	});

	it('runs n8n as production does and gives our runs their latency lower bound', () => {
		expect(report.options.runner).toBe('server');
		for (const r of report.runs) {
			// A running n8n: its idle memory is read before the run, and its own cost of an empty run.
			expect(r.memory.idleRssMb).toBeGreaterThan(100);
			expect(r.n8nFixedCostMs).toBeGreaterThanOrEqual(0);
		}
		for (const phase of ['a', 'b'] as const) {
			const ours = run('ours', phase);
			const bound = ours.lowerBound!;
			expect(bound.mailchimpRequests).toBe(ours.mailchimpRequests);
			// Every Hub request counts, number authorisation checks too.
			expect(bound.hubRequests).toBeGreaterThanOrEqual(ours.hubReads + ours.hubWrites);
			expect(bound.totalMs).toBe(bound.mailchimpMs + bound.hubMs + bound.n8nFixedCostMs);
			expect(bound.ratio).toBeGreaterThan(0);
		}
	});
});
