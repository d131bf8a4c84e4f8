/**
 * The one retry policy of the package, used by the Mailchimp and the Hub transports alike.
 *
 * Exponential backoff with full jitter, bounded both in attempts and in total waiting time, so a
 * 429 storm slows a sync down instead of failing it, yet a dead service still fails it in minutes.
 */

export interface RetryPolicy {
	/** Attempts in all, the first one included. */
	maxAttempts: number;
	/** Ceiling of the first backoff; it doubles on each attempt. */
	baseDelayMs: number;
	/** No single wait is longer than this. */
	maxDelayMs: number;
	/** Once this much time has been spent waiting, the next failure is final. */
	maxTotalWaitMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
	maxAttempts: 8,
	baseDelayMs: 250,
	maxDelayMs: 20_000,
	maxTotalWaitMs: 120_000,
};

/** What a transport says about one failure. */
export interface RetryVerdict {
	retryable: boolean;
	/** The server's own hint (Retry-After), which wins over the computed backoff. */
	retryAfterMs?: number;
}

export interface RetryHooks {
	/** Injected in tests; the transports pass n8n's `sleep`. */
	sleep: (ms: number) => Promise<void>;
	random?: () => number;
	/** Told before each wait, e.g. to count retries. */
	onRetry?: (info: { attempt: number; waitMs: number; error: unknown }) => void;
}

/** Thrown when retrying gave up; carries the last error and how hard we tried. */
export class RetriesExhaustedError extends Error {
	constructor(
		readonly lastError: unknown,
		readonly attempts: number,
		readonly waitedMs: number,
	) {
		super(
			`Gave up after ${attempts} attempts over ${Math.round(waitedMs / 1000)} s: ${
				(lastError as Error)?.message ?? String(lastError)
			}`,
		);
		this.name = 'RetriesExhaustedError';
	}
}

/** The wait before retry number `attempt` (1-based): full jitter over an exponential ceiling. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
	const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
	return Math.round(random() * ceiling);
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
	const raw = Array.isArray(value) ? value[0] : value;
	if (raw === undefined || raw === '') return undefined;
	const seconds = Number(raw);
	if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
	const date = Date.parse(raw);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export async function withRetry<T>(
	operation: (attempt: number) => Promise<T>,
	classify: (error: unknown) => RetryVerdict,
	hooks: RetryHooks,
	policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<T> {
	const random = hooks.random ?? Math.random;
	let waited = 0;
	for (let attempt = 1; ; attempt++) {
		try {
			return await operation(attempt);
		} catch (error) {
			const verdict = classify(error);
			if (!verdict.retryable) throw error;
			if (attempt >= policy.maxAttempts) throw new RetriesExhaustedError(error, attempt, waited);
			const wait = Math.min(
				policy.maxDelayMs,
				verdict.retryAfterMs ?? backoffDelay(policy, attempt, random),
			);
			if (waited + wait > policy.maxTotalWaitMs) throw new RetriesExhaustedError(error, attempt, waited);
			hooks.onRetry?.({ attempt, waitMs: wait, error });
			await hooks.sleep(wait);
			waited += wait;
		}
	}
}
