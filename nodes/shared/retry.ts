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
	/**
	 * The server may have carried the request out although its answer was lost (a timeout, a reset,
	 * a 500/502/504 to a write that is not safe to repeat). Such a request is never resent blindly:
	 * only after the caller's `reconcile` found that it was not carried out.
	 */
	mayHaveApplied?: boolean;
}

export interface RetryHooks<T = unknown> {
	/** Injected in tests; the transports pass n8n's `sleep`. */
	sleep: (ms: number) => Promise<void>;
	random?: () => number;
	/** Told before each wait, e.g. to count retries. */
	onRetry?: (info: { attempt: number; waitMs: number; error: unknown }) => void;
	/**
	 * Asked, after a failure that `mayHaveApplied`, whether the request was carried out after all:
	 * `{ result }` ends the call with it, undefined lets the request be sent again. Without it such a
	 * failure is final.
	 */
	reconcile?: (error: unknown) => Promise<{ result: T } | undefined>;
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
	hooks: RetryHooks<T>,
	policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<T> {
	const random = hooks.random ?? Math.random;
	let waited = 0;
	for (let attempt = 1; ; attempt++) {
		let failure: unknown;
		try {
			return await operation(attempt);
		} catch (error) {
			failure = error;
		}
		const verdict = classify(failure);
		if (!verdict.retryable) throw failure;
		if (verdict.mayHaveApplied && !hooks.reconcile) throw failure;
		const last = attempt >= policy.maxAttempts;
		const wait = last ? 0 : Math.min(policy.maxDelayMs, verdict.retryAfterMs ?? backoffDelay(policy, attempt, random));
		const givingUp = last || waited + wait > policy.maxTotalWaitMs;
		if (!givingUp) {
			hooks.onRetry?.({ attempt, waitMs: wait, error: failure });
			await hooks.sleep(wait);
			waited += wait;
		}
		if (verdict.mayHaveApplied) {
			// Look before resending (and before giving up): the lost answer may hide a success.
			const found = await hooks.reconcile!(failure);
			if (found) return found.result;
		}
		if (givingUp) throw new RetriesExhaustedError(failure, attempt, waited);
	}
}
