/**
 * The sync store's one interface. Two backends implement it (embedded SQLite and PostgreSQL) and one
 * contract test suite holds both to it, so a node never needs to know which one it talks to.
 *
 * Times are `Date`s. Lease times come from the database's clock on PostgreSQL (several hosts may
 * share it) and from the process clock on SQLite (one host by construction).
 */

/** The lease a run holds on a lock. The owner token is deliberately not part of it: see `AcquiredLease`. */
export interface LeaseInfo {
	lockName: string;
	/** Who holds it, as users can recognise it: the n8n execution id. */
	holder: string;
	/** The run record of the holder. */
	runId: string;
	acquiredAt: Date;
	expiresAt: Date;
}

/** What the winner of `acquire` gets: the lease plus the token that alone can release or renew it. */
export interface AcquiredLease extends LeaseInfo {
	ownerToken: string;
}

export interface AcquireRequest {
	lockName: string;
	/** Shown to others while held; the n8n execution id. */
	holder: string;
	ttlMs: number;
	/** Recorded on the run; defaults to the lock name. */
	audienceId?: string;
	/** How the run was started: scheduled, manual, webhook, cli, … */
	triggerKind?: string;
}

export type AcquireResult =
	| { acquired: true; lease: AcquiredLease }
	/** `busyRunId` is the run record of this refused attempt (outcome "busy"). `heldBy` is null only if
	 * the holder let go in the instant between our attempt and our look at who held it. */
	| { acquired: false; heldBy: LeaseInfo | null; busyRunId: string };

/** Why a token could not release or renew: it never held a lease here, its lease lapsed, or it already ended. */
export type LeaseRefusal = 'unknown-token' | 'expired' | 'already-released' | 'force-released';

/** A refusal carries the token's run record when there is one, so the node can say what happened to it. */
export type RenewResult =
	| { renewed: true; lease: LeaseInfo }
	| { renewed: false; reason: LeaseRefusal; run: RunRecord | null };

export type RunOutcome = 'running' | 'success' | 'partial' | 'failed' | 'cancelled' | 'busy' | 'expired' | 'forced';

/** Outcomes a holder may report when it releases its own lease. */
export type FinishedOutcome = 'success' | 'partial' | 'failed' | 'cancelled';

export interface RunSummary {
	outcome: FinishedOutcome;
	/** Counts per kind of change, e.g. { new: 12, changed: 3, removed: 1, errors: 0 }. */
	counts: Record<string, number>;
	errorSummary?: string;
}

export type ReleaseResult =
	| { released: true; run: RunRecord }
	| { released: false; reason: LeaseRefusal; run: RunRecord | null };

export interface ForceReleaseResult {
	/** False when nothing held the lock. */
	released: boolean;
	/** The lease that was broken (it may already have been expired). */
	previous: LeaseInfo | null;
	run: RunRecord | null;
}

export interface RunRecord {
	id: string;
	lockName: string;
	audienceId: string;
	triggerKind: string;
	holder: string;
	startedAt: Date;
	finishedAt: Date | null;
	outcome: RunOutcome;
	counts: Record<string, number>;
	errorSummary: string | null;
	forcedRelease: boolean;
}

export interface StatusOptions {
	/** List refused attempts (outcome "busy") among the runs; default true. */
	includeBusy?: boolean;
}

export interface LockStatus {
	lockName: string;
	/** The current, unexpired lease, if any. */
	holder: LeaseInfo | null;
	/** Newest first. */
	runs: RunRecord[];
}

/**
 * The run's lease, passed along with ledger writes: a run whose lease lapsed or was taken over must
 * not write ledger rows that the next holder of the lock would then trust.
 */
export interface LeaseFence {
	ownerToken: string;
}

/** What the sync last wrote to the Hub for one member; written only after the Hub accepted it. */
export interface LedgerEntry {
	/**
	 * Whose ledger this is: one sync (by default its workflow's id), so a sync that switches to another
	 * audience still sees what it wrote for the old one, and two syncs never read each other's entries.
	 */
	syncName: string;
	audienceId: string;
	memberKey: string;
	contentHash: string;
	hubContactId: string | null;
	phone: string | null;
	syncedAt: Date;
}

export type ConsentState =
	/** Claimed for asking; the request may or may not have gone out (a crash in between): never ask again. */
	| 'claimed'
	/** The request went out with this message id. */
	| 'asked'
	| 'confirmed'
	| 'declined'
	| 'opted-out';

export interface ConsentRecord {
	audienceId: string;
	phone: string;
	state: ConsentState;
	askedAt: Date | null;
	messageId: string | null;
	answeredAt: Date | null;
	answer: string | null;
}

export type ConsentAnswerState = 'confirmed' | 'declined' | 'opted-out';

/** Where the sync saw a number opt out. */
export type OptOutSource = 'hub-unsubscribed' | 'hub-blacklist' | 'mailchimp-sms-unsubscribed' | 'reply-stop';

export const OPT_OUT_SOURCES: readonly OptOutSource[] = [
	'hub-unsubscribed',
	'hub-blacklist',
	'mailchimp-sms-unsubscribed',
	'reply-stop',
];

export interface OptOutRecord {
	/** E.164, e.g. +61491570156. */
	phone: string;
	source: OptOutSource;
	/** The audience whose sync saw it, when there was one. */
	audienceId?: string;
}

/** An opt-out as the store keeps it: the first time the sync saw the number opt out. */
export interface StoredOptOut {
	phone: string;
	source: OptOutSource;
	audienceId: string | null;
	recordedAt: Date;
}

export type StoreKind = 'sqlite' | 'postgres';

export interface SyncStore {
	readonly kind: StoreKind;
	/** Where it lives, for messages: the file path, or host:port/database (never a password). */
	readonly location: string;

	// Leases and runs
	/** Atomic: of any number of simultaneous callers at most one gets the lease. Records a run either way. */
	acquire(request: AcquireRequest): Promise<AcquireResult>;
	/**
	 * Extends the caller's own unexpired lease to now + ttl. Without `ttlMs` the lease's own time to live
	 * (the one it was acquired or last renewed with); a given `ttlMs` becomes the lease's own from then on.
	 * An expired lease is not revived.
	 */
	renew(ownerToken: string, ttlMs?: number): Promise<RenewResult>;
	/** Ends the caller's own unexpired lease and records how the run went. Any other token, or an
	 * expired lease, changes nothing. */
	release(ownerToken: string, summary: RunSummary): Promise<ReleaseResult>;
	/** For an operator: ends whatever lease the lock has, recording the run as forced. */
	forceRelease(lockName: string, reason?: string): Promise<ForceReleaseResult>;
	/** The current holder and the newest runs (default 10). Marks a lapsed lease's run as expired on the way. */
	status(lockName: string, runLimit?: number, options?: StatusOptions): Promise<LockStatus>;
	getRun(runId: string): Promise<RunRecord | null>;

	// Ledger (bulk, per sync)
	/** Everything the sync wrote, for every audience it has read. */
	readLedger(syncName: string): Promise<LedgerEntry[]>;
	/** One member's entry (a reply's run needs no other), or null. */
	getLedgerEntry(syncName: string, audienceId: string, memberKey: string): Promise<LedgerEntry | null>;
	/** How many entries the sync has, over every audience (the removal guard's denominator). */
	countLedger(syncName: string): Promise<number>;
	/**
	 * With a fence, each write first checks, in its own transaction, that the token still holds its
	 * lock's current, unexpired lease; if not it writes nothing and throws `LeaseLostError`.
	 */
	upsertLedger(entries: LedgerEntry[], fence?: LeaseFence): Promise<void>;
	/** Fenced like `upsertLedger`. Returns how many entries were deleted. */
	deleteLedger(syncName: string, audienceId: string, memberKeys: string[], fence?: LeaseFence): Promise<number>;

	// Consent
	getConsent(audienceId: string, phone: string): Promise<ConsentRecord | null>;
	readConsent(audienceId: string): Promise<ConsentRecord[]>;
	findConsentByMessageId(messageId: string): Promise<ConsentRecord | null>;
	/** True if this call claimed the number for asking; false if it was ever claimed, asked or answered. */
	claimConsentAsk(audienceId: string, phone: string): Promise<boolean>;
	/** The batch form: returns the phones this call claimed. */
	claimConsentAsks(audienceId: string, phones: string[]): Promise<string[]>;
	/** After sending: the request went out with this message id. */
	markConsentAsked(audienceId: string, phone: string, messageId: string, askedAt?: Date): Promise<void>;
	/**
	 * Re-ask (double opt-in's "ask again after N days"): claims again the numbers asked before `askedBefore`
	 * and never answered; returns those claimed. Claimed, answered and opted-out numbers are never taken.
	 */
	reclaimConsentAsks(audienceId: string, phones: string[], askedBefore: Date): Promise<string[]>;
	/**
	 * After a send that certainly did not go out (no credit spent): a first claim is removed (the number may
	 * be asked later), a re-claim goes back to asked with its earlier request.
	 */
	releaseConsentClaim(audienceId: string, phone: string): Promise<boolean>;
	/** A reply (Y/YES, STOP, …) or another final answer; creates the record if the number was never asked. */
	recordConsentAnswer(
		audienceId: string,
		phone: string,
		state: ConsentAnswerState,
		answer: string,
		answeredAt?: Date,
	): Promise<ConsentRecord>;

	// Opt-outs
	/**
	 * Remembers numbers that opted out, so a sync never subscribes them again even if the Hub forgot.
	 * Idempotent: a number keeps the source, audience and time it was first recorded with.
	 */
	recordOptOuts(records: OptOutRecord[]): Promise<void>;
	/** The subset of `phones` that ever opted out. */
	readOptOuts(phones: string[]): Promise<Set<string>>;
	/** Where and when a number was first seen opting out, for messages; null if it never was. */
	getOptOut(phone: string): Promise<StoredOptOut | null>;

	/** Closes this store's connection; the next `openSyncStore` opens a fresh one. */
	close(): Promise<void>;
}
