import { backoffDelay, parseRetryAfter, RetriesExhaustedError, withRetry, type RetryPolicy } from '../../../nodes/shared/retry';

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, maxTotalWaitMs: 10_000 };

function recorder() {
	const waits: number[] = [];
	return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const retryable = () => ({ retryable: true });

describe('withRetry', () => {
	it('returns the first success and waits between failures', async () => {
		const { waits, sleep } = recorder();
		let calls = 0;
		const result = await withRetry(
			async () => {
				if (++calls < 3) throw new Error('busy');
				return 'ok';
			},
			retryable,
			{ sleep, random: () => 1 },
			policy,
		);
		expect(result).toBe('ok');
		expect(calls).toBe(3);
		// Full jitter with random() = 1 hits the exponential ceiling: 100, then 200.
		expect(waits).toEqual([100, 200]);
	});

	it('never resends a request that may have been carried out when nobody can look', async () => {
		const { sleep } = recorder();
		let calls = 0;
		const lost = new Error('HTTP 500');
		await expect(
			withRetry(
				async () => {
					calls++;
					throw lost;
				},
				() => ({ retryable: true, mayHaveApplied: true }),
				{ sleep },
				policy,
			),
		).rejects.toBe(lost);
		expect(calls).toBe(1);
	});

	it('asks reconcile before resending a request that may have been carried out, and ends with what it found', async () => {
		const { waits, sleep } = recorder();
		let calls = 0;
		const looked: unknown[] = [];
		const lost = new Error('socket hang up');
		const result = await withRetry<string>(
			async () => {
				calls++;
				throw lost;
			},
			() => ({ retryable: true, mayHaveApplied: true }),
			{
				sleep,
				random: () => 1,
				reconcile: async (error) => {
					looked.push(error);
					return { result: 'found it' };
				},
			},
			policy,
		);
		expect([result, calls, looked, waits]).toEqual(['found it', 1, [lost], [100]]);
	});

	it('resends once reconcile found nothing, and looks once more before giving up', async () => {
		const { sleep } = recorder();
		let calls = 0;
		let looks = 0;
		await expect(
			withRetry(
				async () => {
					calls++;
					throw new Error('HTTP 502');
				},
				() => ({ retryable: true, mayHaveApplied: true }),
				{ sleep, reconcile: async () => void looks++ },
				policy,
			),
		).rejects.toBeInstanceOf(RetriesExhaustedError);
		expect([calls, looks]).toEqual([policy.maxAttempts, policy.maxAttempts]);
	});

	it('does not retry what the classifier calls final', async () => {
		const { waits, sleep } = recorder();
		let calls = 0;
		const fatal = new Error('bad request');
		await expect(
			withRetry(
				async () => {
					calls++;
					throw fatal;
				},
				() => ({ retryable: false }),
				{ sleep },
				policy,
			),
		).rejects.toBe(fatal);
		expect(calls).toBe(1);
		expect(waits).toEqual([]);
	});

	it('gives up after maxAttempts with the last error attached', async () => {
		const { sleep } = recorder();
		let calls = 0;
		const error = await withRetry(
			async () => {
				throw new Error(`fail ${++calls}`);
			},
			retryable,
			{ sleep, random: () => 0.5 },
			policy,
		).catch((e) => e);
		expect(error).toBeInstanceOf(RetriesExhaustedError);
		expect(error.attempts).toBe(5);
		expect((error.lastError as Error).message).toBe('fail 5');
	});

	it('stops once the total wait budget would be exceeded', async () => {
		const { waits, sleep } = recorder();
		const error = await withRetry(
			async () => {
				throw new Error('busy');
			},
			() => ({ retryable: true, retryAfterMs: 400 }),
			{ sleep },
			{ ...policy, maxAttempts: 100, maxTotalWaitMs: 1000 },
		).catch((e) => e);
		expect(error).toBeInstanceOf(RetriesExhaustedError);
		expect(waits).toEqual([400, 400]);
		expect(error.waitedMs).toBe(800);
	});

	it("honours the server's Retry-After, capped by maxDelayMs", async () => {
		const { waits, sleep } = recorder();
		let calls = 0;
		await withRetry(
			async () => {
				if (++calls === 1) throw new Error('429');
				return 1;
			},
			() => ({ retryable: true, retryAfterMs: 60_000 }),
			{ sleep },
			policy,
		);
		expect(waits).toEqual([1000]);
	});
});

describe('backoffDelay', () => {
	it('grows exponentially up to the ceiling', () => {
		const max = (attempt: number) => backoffDelay(policy, attempt, () => 1);
		expect([1, 2, 3, 4, 5, 6].map(max)).toEqual([100, 200, 400, 800, 1000, 1000]);
		expect(backoffDelay(policy, 3, () => 0)).toBe(0);
	});
});

describe('parseRetryAfter', () => {
	it('reads seconds and HTTP dates', () => {
		expect(parseRetryAfter('3')).toBe(3000);
		expect(parseRetryAfter(undefined)).toBeUndefined();
		expect(parseRetryAfter('soon')).toBeUndefined();
		const now = Date.parse('2026-01-01T00:00:00Z');
		expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
		expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:05 GMT', now)).toBe(0);
	});
});
