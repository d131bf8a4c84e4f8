/**
 * Races between OS processes on one lock, on both backends:
 *  - rounds: 8 processes try to acquire at the same moment, 1,000 rounds in all; each round must have
 *    exactly one winner, and every loser must be told the winner holds it;
 *  - free-for-all: 8 processes acquire and release as fast as they can, 1,000 attempts in all;
 * an O_EXCL marker file, outside the store, proves there were never two holders at once.
 * Plus: 8 processes claim the same phone numbers for consent requests; each number is claimed once.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FIXTURES, type BackendFixture } from './backends';
import { startWorkers, stopWorkers, type Worker } from './workers';

const PROCESSES = 8;
const ROUNDS = 1_000;
const HAMMER_ATTEMPTS = 1_000;
const TTL_MS = 120_000;

interface Attempted {
	won: boolean;
	runId?: string;
	heldByRunId?: string | null;
	violation?: boolean;
}

describe.each(FIXTURES)('lock races between processes: %s', (_name, makeFixture) => {
	let fixture: BackendFixture;
	let workers: Worker[];
	let dir: string;

	beforeAll(async () => {
		fixture = await makeFixture();
		dir = mkdtempSync(join(tmpdir(), 'hub-sync-race-'));
		// All of them open a brand-new store at once, so the schema migration races too.
		workers = await startWorkers(PROCESSES, fixture.config);
	}, 60_000);

	afterAll(async () => {
		await stopWorkers(workers ?? []);
		await fixture.cleanup();
		rmSync(dir, { recursive: true, force: true });
	});

	it(`has exactly one winner in each of ${ROUNDS} rounds, and all others see it held`, async () => {
		const marker = join(dir, 'rounds.holder');
		const winnersPerProcess = new Array(PROCESSES).fill(0);
		for (let round = 0; round < ROUNDS; round++) {
			const answers = await Promise.all(
				workers.map((w) =>
					w.request<Attempted>({ type: 'attempt', lock: 'rounds', holder: `w${w.id}-r${round}`, ttlMs: TTL_MS, marker }, 'attempted'),
				),
			);
			const winners = answers.flatMap((a, i) => (a.won ? [i] : []));
			if (winners.length !== 1) throw new Error(`round ${round}: ${winners.length} winners`);
			const winner = answers[winners[0]];
			expect(winner.violation).toBe(false);
			const losers = answers.filter((a) => !a.won);
			expect(losers.every((a) => a.heldByRunId === winner.runId)).toBe(true);
			winnersPerProcess[winners[0]]++;
			const released = await workers[winners[0]].request<{ released: boolean; violation: boolean }>(
				{ type: 'release', marker },
				'released',
			);
			expect(released).toEqual({ type: 'released', released: true, violation: false });
		}
		expect(existsSync(marker)).toBe(false);
		expect(winnersPerProcess.reduce((a, b) => a + b, 0)).toBe(ROUNDS);
	}, 120_000);

	it(`never has two holders while ${PROCESSES} processes hammer one lock (${HAMMER_ATTEMPTS} attempts)`, async () => {
		const marker = join(dir, 'hammer.holder');
		const results = await Promise.all(
			workers.map((w) =>
				w.request<{ wins: number; busy: number; violations: number }>(
					{ type: 'hammer', lock: 'hammer', attempts: HAMMER_ATTEMPTS / PROCESSES, marker, ttlMs: TTL_MS },
					'hammered',
				),
			),
		);
		const total = results.reduce(
			(sum, r) => ({ wins: sum.wins + r.wins, busy: sum.busy + r.busy, violations: sum.violations + r.violations }),
			{ wins: 0, busy: 0, violations: 0 },
		);
		expect(total.violations).toBe(0);
		expect(total.wins + total.busy).toBe(HAMMER_ATTEMPTS);
		expect(total.wins).toBeGreaterThan(0);
		expect(existsSync(marker)).toBe(false);
	}, 120_000);

	it('claims each phone number for a consent request exactly once across processes', async () => {
		const phones = Array.from({ length: 300 }, (_, i) => `+6149157${String(i).padStart(4, '0')}`);
		const answers = await Promise.all(
			workers.map((w, i) =>
				w.request<{ phones: string[] }>(
					// Each process walks the numbers from a different starting point, in batches.
					{ type: 'claim', audience: 'race', phones: [...phones.slice(i * 37), ...phones.slice(0, i * 37)], batch: 25 },
					'claimed',
				),
			),
		);
		const claimed = answers.flatMap((a) => a.phones);
		expect(claimed).toHaveLength(phones.length);
		expect(new Set(claimed).size).toBe(phones.length);
	}, 60_000);
});
