/**
 * The embedded backend: one SQLite file per host, shared by every n8n execution and process there.
 *
 * `node:sqlite` is synchronous, which suits a lock: each operation runs start to finish inside one
 * `BEGIN IMMEDIATE` transaction without yielding, so calls from one process never interleave, and the
 * write lock serialises other processes (they wait up to the busy timeout, between attempts and without
 * blocking the event loop: see `patiently`). Transactions are kept to
 * a handful of statements; bulk ledger writes go in slices with a yield in between.
 */
import { closeSync, mkdirSync, openSync } from 'fs';
import { dirname } from 'path';
import { performance } from 'perf_hooks';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

import {
	chunks,
	cleanCounts,
	cleanOptOuts,
	clampRunLimit,
	clipSummary,
	dedupeLedger,
	hashToken,
	newOwnerToken,
	newRunId,
	notClaimed,
	refusalReason,
	toLedgerEntry,
	toOptOut,
	uniquePhones,
} from './common';
import { assertName, assertToken, assertTtl, fromSqliteError, LeaseLostError, SyncStoreError } from './errors';
import { latestVersion, schemaTooNewMessage, SQLITE_MIGRATIONS } from './migrations';
import { SQLITE_FILE_NAME, STORE_APPLICATION_ID } from './place';
import type {
	AcquireRequest,
	AcquireResult,
	ConsentAnswerState,
	ConsentRecord,
	ConsentState,
	ForceReleaseResult,
	LeaseFence,
	LeaseInfo,
	LeaseRefusal,
	LedgerEntry,
	LockStatus,
	OptOutRecord,
	ReleaseResult,
	RenewResult,
	RunOutcome,
	RunRecord,
	RunSummary,
	StatusOptions,
	StoredOptOut,
	SyncStore,
} from './types';

export interface SqliteStoreOptions {
	path: string;
	/** How long a writer waits for another process's transaction. */
	busyTimeoutMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
/** The longest SQLite may sleep inside one call (blocking the event loop) waiting for a lock. */
const BLOCKING_BUSY_MS = 20;
const LEDGER_SLICE = 5_000;

type Row = Record<string, unknown>;

const FOLDER_PROBLEMS: Record<string, string> = {
	EEXIST: 'a file is in the way of the folder',
	ENOTDIR: 'a file is in the way of the folder',
	EACCES: 'permission denied',
	EPERM: 'permission denied',
	EROFS: 'the file system is read-only',
};

interface LeaseRow {
	lock_name: string;
	token_hash: string;
	holder: string;
	run_id: string;
	acquired_at: number;
	expires_at: number;
	ttl_ms: number;
}

const RUN_COLUMNS =
	'id, lock_name, audience_id, trigger_kind, holder, started_at, finished_at, outcome, counts, error_summary, forced_release';

export class SqliteSyncStore implements SyncStore {
	readonly kind = 'sqlite' as const;
	readonly location: string;
	private db: DatabaseSync | undefined;
	private readonly statements = new Map<string, StatementSync>();

	private constructor(
		db: DatabaseSync,
		path: string,
		/** How long in all to wait for another process's lock before giving up. */
		private readonly busyTimeoutMs: number,
		private readonly onClose?: () => void,
	) {
		this.db = db;
		this.location = path;
	}

	/** The process clock: every process of one host shares it, and SQLite serves one host. */
	private now(): number {
		return Date.now();
	}

	/**
	 * Opens (creating if needed, readable by the n8n user only) the file, makes sure it is ours, switches
	 * it to WAL and brings the schema up to date.
	 */
	static async open(options: SqliteStoreOptions, onClose?: () => void): Promise<SqliteSyncStore> {
		const { path } = options;
		try {
			// Folders and file are private to the n8n user: the store holds phone numbers and consent.
			mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
		} catch (error) {
			const why = FOLDER_PROBLEMS[(error as NodeJS.ErrnoException).code ?? ''] ?? (error as Error).message;
			throw new SyncStoreError(
				'permission',
				`Cannot create the folder for the sync store ${path}: ${why}; choose a store path in a folder the n8n user may write to`,
				error,
			);
		}
		createPrivately(path);
		let db: DatabaseSync | undefined;
		try {
			db = new DatabaseSync(path, { timeout: BLOCKING_BUSY_MS });
			const store = new SqliteSyncStore(db, path, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, onClose);
			// Before anything writes to it (switching to WAL does): a database that is not ours is left alone.
			await store.patiently(() => store.assertOurs());
			// WAL lets readers work while one writer commits; NORMAL sync is durable across process crashes.
			await store.patiently(() => db!.exec('PRAGMA journal_mode = WAL'));
			db.exec('PRAGMA synchronous = NORMAL');
			await store.migrate();
			return store;
		} catch (error) {
			try {
				db?.close();
			} catch {
				// The original error is the one worth reporting.
			}
			throw fromSqliteError(error, path);
		}
	}

	/**
	 * Ours: marked with our application_id, or unmarked with no tables but ours (empty, or a store
	 * created before stores were marked). Anything else is another program's database.
	 */
	private assertOurs(): void {
		const id = this.applicationId();
		if (id === STORE_APPLICATION_ID) return;
		const foreign = (
			this.database
				.prepare(`SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND substr(name, 1, 7) <> 'sqlite_' ORDER BY name`)
				.all() as Row[]
		)
			.map((row) => row.name as string)
			.filter((name) => !name.startsWith('hub_sync_'));
		if (id === 0 && foreign.length === 0) return;
		const tables = foreign.length ? `; its tables include ${foreign.slice(0, 5).join(', ')}` : '';
		throw new SyncStoreError(
			'not-ours',
			`The file ${this.location} is a SQLite database of another program (application_id ${id}${tables}); ` +
				`the sync store never writes into another program's database, so it was left untouched. ` +
				`Choose another store file, or leave the Store File empty for ${SQLITE_FILE_NAME} in the n8n folder.`,
		);
	}

	private applicationId(): number {
		return Number((this.database.prepare('PRAGMA application_id').get() as Row).application_id);
	}

	private async migrate(): Promise<void> {
		const known = latestVersion(SQLITE_MIGRATIONS);
		// A quick read first: once migrated and marked, nobody needs the write lock just to open the store.
		if (await this.read(() => this.userVersion() === known && this.applicationId() === STORE_APPLICATION_ID)) return;
		await this.transaction(() => {
			// Again under the write lock: another process may have written in between.
			this.assertOurs();
			const current = this.userVersion();
			if (current > known) throw new SyncStoreError('schema-too-new', schemaTooNewMessage(this.location, current, known));
			for (const migration of SQLITE_MIGRATIONS) {
				if (migration.version > current) this.database.exec(migration.sql);
			}
			this.database.exec(`PRAGMA user_version = ${known}`);
			this.database.exec(`PRAGMA application_id = ${STORE_APPLICATION_ID}`);
		});
	}

	private userVersion(): number {
		return Number((this.database.prepare('PRAGMA user_version').get() as Row).user_version);
	}

	private get database(): DatabaseSync {
		if (!this.db) throw new SyncStoreError('failed', `The sync store ${this.location} was closed`);
		return this.db;
	}

	private statement(sql: string): StatementSync {
		let statement = this.statements.get(sql);
		if (!statement) {
			statement = this.database.prepare(sql);
			this.statements.set(sql, statement);
		}
		return statement;
	}

	/**
	 * Runs `work` in one immediate (write-locking) transaction; any SQLite failure becomes a clear error.
	 * While another process holds the lock it waits without blocking the event loop (see `patiently`).
	 */
	private transaction<T>(work: () => T): Promise<T> {
		return this.patiently(() => {
			const db = this.database;
			try {
				db.exec('BEGIN IMMEDIATE');
			} catch (error) {
				throw fromSqliteError(error, this.location);
			}
			try {
				const result = work();
				db.exec('COMMIT');
				return result;
			} catch (error) {
				if (db.isTransaction) db.exec('ROLLBACK');
				throw fromSqliteError(error, this.location);
			}
		});
	}

	private read<T>(work: () => T): Promise<T> {
		return this.patiently(() => {
			try {
				return work();
			} catch (error) {
				throw fromSqliteError(error, this.location);
			}
		});
	}

	/**
	 * node:sqlite waits for a lock by sleeping inside the call, which stops n8n's whole event loop. So
	 * SQLite itself waits only a moment (BLOCKING_BUSY_MS); then we retry after asynchronous pauses
	 * (growing, with jitter) until the busy timeout has passed in all. `attempt` must leave nothing
	 * behind when it fails (a transaction is rolled back), so it can simply run again.
	 */
	private async patiently<T>(attempt: () => T): Promise<T> {
		const deadline = performance.now() + this.busyTimeoutMs;
		for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
			try {
				return attempt();
			} catch (error) {
				const busy = (error instanceof SyncStoreError ? error.code : fromSqliteError(error, this.location).code) === 'busy';
				const left = deadline - performance.now();
				if (!busy || left <= 0) throw fromSqliteError(error, this.location);
				await sleep(Math.min(pause * (0.5 + Math.random()), left));
			}
		}
	}

	// ---- leases and runs -------------------------------------------------------------------------

	async acquire(request: AcquireRequest): Promise<AcquireResult> {
		assertName('lock name', request.lockName);
		assertName('lease holder', request.holder);
		assertTtl(request.ttlMs);
		const ownerToken = newOwnerToken(request.holder);
		const tokenHash = hashToken(ownerToken);
		const runId = newRunId();
		const audienceId = request.audienceId || request.lockName;
		const triggerKind = request.triggerKind || 'unknown';

		return this.transaction((): AcquireResult => {
			const now = this.now();
			const current = this.leaseRow(request.lockName);
			if (current && current.expires_at > now) {
				this.insertRun(runId, request.lockName, audienceId, triggerKind, request.holder, null, now, now, 'busy');
				return { acquired: false, heldBy: toLease(current), busyRunId: runId };
			}
			if (current) this.expireRun(current);
			const expiresAt = now + Math.round(request.ttlMs);
			this.statement(
				`INSERT INTO hub_sync_lease (lock_name, token_hash, holder, run_id, acquired_at, expires_at, ttl_ms)
				 VALUES (?, ?, ?, ?, ?, ?, ?)
				 ON CONFLICT (lock_name) DO UPDATE SET token_hash = excluded.token_hash, holder = excluded.holder,
				   run_id = excluded.run_id, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at,
				   ttl_ms = excluded.ttl_ms`,
			).run(request.lockName, tokenHash, request.holder, runId, now, expiresAt, Math.round(request.ttlMs));
			this.insertRun(runId, request.lockName, audienceId, triggerKind, request.holder, tokenHash, now, null, 'running');
			return {
				acquired: true,
				lease: {
					lockName: request.lockName,
					holder: request.holder,
					runId,
					acquiredAt: new Date(now),
					expiresAt: new Date(expiresAt),
					ownerToken,
				},
			};
		});
	}

	async renew(ownerToken: string, ttlMs?: number): Promise<RenewResult> {
		assertToken(ownerToken);
		if (ttlMs !== undefined) assertTtl(ttlMs);
		const tokenHash = hashToken(ownerToken);
		return this.transaction((): RenewResult => {
			const now = this.now();
			const lease = this.statement('SELECT * FROM hub_sync_lease WHERE token_hash = ?').get(tokenHash) as LeaseRow | undefined;
			if (!lease || lease.expires_at <= now) return { renewed: false, ...this.refusal(tokenHash, lease) };
			const ttl = ttlMs === undefined ? Number(lease.ttl_ms) : Math.round(ttlMs);
			const expiresAt = now + ttl;
			this.statement('UPDATE hub_sync_lease SET expires_at = ?, ttl_ms = ? WHERE token_hash = ?').run(expiresAt, ttl, tokenHash);
			return { renewed: true, lease: toLease({ ...lease, expires_at: expiresAt }) };
		});
	}

	async release(ownerToken: string, summary: RunSummary): Promise<ReleaseResult> {
		assertToken(ownerToken);
		const counts = cleanCounts(summary.counts);
		const tokenHash = hashToken(ownerToken);
		return this.transaction((): ReleaseResult => {
			const now = this.now();
			const lease = this.statement('SELECT * FROM hub_sync_lease WHERE token_hash = ?').get(tokenHash) as LeaseRow | undefined;
			if (!lease || lease.expires_at <= now) return { released: false, ...this.refusal(tokenHash, lease) };
			this.statement('DELETE FROM hub_sync_lease WHERE token_hash = ?').run(tokenHash);
			this.statement(
				`UPDATE hub_sync_run SET finished_at = ?, outcome = ?, counts = ?, error_summary = ? WHERE id = ?`,
			).run(now, summary.outcome, JSON.stringify(counts), clipSummary(summary.errorSummary), lease.run_id);
			return { released: true, run: this.runById(lease.run_id)! };
		});
	}

	async forceRelease(lockName: string, reason?: string): Promise<ForceReleaseResult> {
		assertName('lock name', lockName);
		return this.transaction((): ForceReleaseResult => {
			const now = this.now();
			const lease = this.leaseRow(lockName);
			if (!lease) return { released: false, previous: null, run: null };
			this.statement('DELETE FROM hub_sync_lease WHERE lock_name = ?').run(lockName);
			this.statement(
				`UPDATE hub_sync_run SET finished_at = ?, outcome = 'forced', forced_release = 1, error_summary = ?
				 WHERE id = ? AND outcome = 'running'`,
			).run(now, clipSummary(reason ?? 'Released by force'), lease.run_id);
			return { released: true, previous: toLease(lease), run: this.runById(lease.run_id) };
		});
	}

	async status(lockName: string, runLimit?: number, options: StatusOptions = {}): Promise<LockStatus> {
		assertName('lock name', lockName);
		const limit = clampRunLimit(runLimit);
		let lease = await this.read(() => this.leaseRow(lockName));
		if (lease && lease.expires_at <= this.now()) {
			// Sweep the lapsed lease so its run shows as expired rather than forever running.
			lease = await this.transaction(() => {
				const again = this.leaseRow(lockName);
				if (again && again.expires_at <= this.now()) {
					this.expireRun(again);
					this.statement('DELETE FROM hub_sync_lease WHERE lock_name = ?').run(lockName);
					return undefined;
				}
				return again;
			});
		}
		const runs = await this.read(() =>
			(
				this.statement(
					`SELECT ${RUN_COLUMNS} FROM hub_sync_run WHERE lock_name = ? AND (? OR outcome <> 'busy') ORDER BY seq DESC LIMIT ?`,
				).all(lockName, options.includeBusy === false ? 0 : 1, limit) as Row[]
			).map(toRun),
		);
		return { lockName, holder: lease ? toLease(lease) : null, runs };
	}

	async getRun(runId: string): Promise<RunRecord | null> {
		assertName('run id', runId);
		return this.read(() => this.runById(runId));
	}

	private leaseRow(lockName: string): LeaseRow | undefined {
		return this.statement('SELECT * FROM hub_sync_lease WHERE lock_name = ?').get(lockName) as LeaseRow | undefined;
	}

	private runById(runId: string): RunRecord | null {
		const row = this.statement(`SELECT ${RUN_COLUMNS} FROM hub_sync_run WHERE id = ?`).get(runId) as Row | undefined;
		return row ? toRun(row) : null;
	}

	/** The lease of a crashed or overrunning holder lapsed: its run ends as expired, at its expiry time. */
	private expireRun(lease: LeaseRow): void {
		this.statement(
			`UPDATE hub_sync_run SET finished_at = ?, outcome = 'expired' WHERE id = ? AND outcome = 'running'`,
		).run(lease.expires_at, lease.run_id);
	}

	private insertRun(
		id: string,
		lockName: string,
		audienceId: string,
		triggerKind: string,
		holder: string,
		tokenHash: string | null,
		startedAt: number,
		finishedAt: number | null,
		outcome: RunOutcome,
	): void {
		this.statement(
			`INSERT INTO hub_sync_run (id, lock_name, audience_id, trigger_kind, holder, token_hash, started_at, finished_at, outcome)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		).run(id, lockName, audienceId, triggerKind, holder, tokenHash, startedAt, finishedAt, outcome);
	}

	/**
	 * Inside a write transaction: the fence's token must hold its lock's current, unexpired lease.
	 * BEGIN IMMEDIATE holds the write lock, so no acquire can take the lock between this check and the
	 * write that follows it.
	 */
	private checkFence(fence: LeaseFence | undefined): void {
		if (!fence) return;
		const tokenHash = hashToken(fence.ownerToken);
		const lease = this.statement('SELECT * FROM hub_sync_lease WHERE token_hash = ?').get(tokenHash) as LeaseRow | undefined;
		if (lease && lease.expires_at > this.now()) return;
		const { reason, run } = this.refusal(tokenHash, lease);
		const current = run ? this.leaseRow(run.lockName) : undefined;
		const holder = current && current.token_hash !== tokenHash && current.expires_at > this.now() ? toLease(current) : null;
		throw new LeaseLostError(reason, run, holder);
	}

	/** Why a token got nowhere, told from its run record (the lease row may be gone). */
	private refusal(tokenHash: string, lease: LeaseRow | undefined): { reason: LeaseRefusal; run: RunRecord | null } {
		const row = this.statement(`SELECT ${RUN_COLUMNS} FROM hub_sync_run WHERE token_hash = ?`).get(tokenHash) as
			| Row
			| undefined;
		const run = row ? toRun(row) : null;
		return { reason: refusalReason(run, lease !== undefined), run };
	}

	// ---- ledger ----------------------------------------------------------------------------------

	async readLedger(syncName: string): Promise<LedgerEntry[]> {
		assertName('sync name', syncName);
		const entries: LedgerEntry[] = [];
		// In slices along the key, with a yield between: a daily run reads every member's entry, and its
		// first Mailchimp request should not wait behind all of them. Each entry is read as committed;
		// nothing needs two entries to agree. Rows as arrays: an object per row was half the time.
		for (let after = ['', '']; ; ) {
			const rows = await this.read(() => {
				const statement = this.statement(
					`SELECT audience_id, member_key, content_hash, hub_contact_id, phone, synced_at FROM hub_sync_ledger
					 WHERE sync_name = ? AND (audience_id, member_key) > (?, ?) ORDER BY audience_id, member_key LIMIT ${LEDGER_SLICE}`,
				);
				statement.setReturnArrays(true);
				return statement.all(syncName, after[0], after[1]) as unknown as unknown[][];
			});
			for (const [audienceId, memberKey, contentHash, hubContactId, phone, syncedAt] of rows) {
				entries.push({
					syncName,
					audienceId: audienceId as string,
					memberKey: memberKey as string,
					contentHash: contentHash as string,
					hubContactId: (hubContactId as string | null) ?? null,
					phone: (phone as string | null) ?? null,
					syncedAt: new Date(Number(syncedAt)),
				});
			}
			if (rows.length < LEDGER_SLICE) return entries;
			after = [rows[rows.length - 1][0] as string, rows[rows.length - 1][1] as string];
			await yieldToEventLoop();
		}
	}

	async getLedgerEntry(syncName: string, audienceId: string, memberKey: string): Promise<LedgerEntry | null> {
		assertName('sync name', syncName);
		assertName('audience id', audienceId);
		const row = await this.read(
			() =>
				this.statement(
					'SELECT content_hash, hub_contact_id, phone, synced_at FROM hub_sync_ledger WHERE sync_name = ? AND audience_id = ? AND member_key = ?',
				).get(syncName, audienceId, memberKey) as Record<string, unknown> | undefined,
		);
		return row ? toLedgerEntry(syncName, audienceId, memberKey, { ...row, synced_at: new Date(Number(row.synced_at)) }) : null;
	}

	async countLedger(syncName: string): Promise<number> {
		assertName('sync name', syncName);
		return this.read(() => Number((this.statement('SELECT count(*) AS n FROM hub_sync_ledger WHERE sync_name = ?').get(syncName) as { n: number }).n));
	}

	async upsertLedger(entries: LedgerEntry[], fence?: LeaseFence): Promise<void> {
		if (fence) assertToken(fence.ownerToken);
		const unique = dedupeLedger(entries);
		for (const slice of chunks(unique, LEDGER_SLICE)) {
			await this.transaction(() => {
				this.checkFence(fence);
				const upsert = this.statement(
					`INSERT INTO hub_sync_ledger (sync_name, audience_id, member_key, content_hash, hub_contact_id, phone, synced_at)
					 VALUES (?, ?, ?, ?, ?, ?, ?)
					 ON CONFLICT (sync_name, audience_id, member_key) DO UPDATE SET content_hash = excluded.content_hash,
					   hub_contact_id = excluded.hub_contact_id, phone = excluded.phone, synced_at = excluded.synced_at`,
				);
				for (const e of slice) {
					upsert.run(e.syncName, e.audienceId, e.memberKey, e.contentHash, e.hubContactId, e.phone, e.syncedAt.getTime());
				}
			});
			await yieldToEventLoop();
		}
	}

	async deleteLedger(syncName: string, audienceId: string, memberKeys: string[], fence?: LeaseFence): Promise<number> {
		assertName('sync name', syncName);
		assertName('audience id', audienceId);
		if (fence) assertToken(fence.ownerToken);
		let deleted = 0;
		for (const slice of chunks([...new Set(memberKeys)], LEDGER_SLICE)) {
			deleted += await this.transaction(() => {
				this.checkFence(fence);
				const remove = this.statement('DELETE FROM hub_sync_ledger WHERE sync_name = ? AND audience_id = ? AND member_key = ?');
				let n = 0;
				for (const key of slice) n += Number(remove.run(syncName, audienceId, key).changes);
				return n;
			});
			await yieldToEventLoop();
		}
		return deleted;
	}

	// ---- consent ---------------------------------------------------------------------------------

	async getConsent(audienceId: string, phone: string): Promise<ConsentRecord | null> {
		assertName('audience id', audienceId);
		assertName('phone number', phone);
		return this.read(() => {
			const row = this.statement('SELECT * FROM hub_sync_consent WHERE audience_id = ? AND phone = ?').get(
				audienceId,
				phone,
			) as Row | undefined;
			return row ? toConsent(row) : null;
		});
	}

	async readConsent(audienceId: string): Promise<ConsentRecord[]> {
		assertName('audience id', audienceId);
		return this.read(() =>
			(this.statement('SELECT * FROM hub_sync_consent WHERE audience_id = ?').all(audienceId) as Row[]).map(toConsent),
		);
	}

	async findConsentByMessageId(messageId: string): Promise<ConsentRecord | null> {
		assertName('message id', messageId);
		return this.read(() => {
			const row = this.statement('SELECT * FROM hub_sync_consent WHERE message_id = ? LIMIT 1').get(messageId) as
				| Row
				| undefined;
			return row ? toConsent(row) : null;
		});
	}

	async claimConsentAsk(audienceId: string, phone: string): Promise<boolean> {
		return (await this.claimConsentAsks(audienceId, [phone])).length === 1;
	}

	async claimConsentAsks(audienceId: string, phones: string[]): Promise<string[]> {
		assertName('audience id', audienceId);
		const unique = uniquePhones(phones);
		return this.transaction(() => {
			const now = this.now();
			// DO NOTHING on any existing record: a number asked, answered or opted out is never claimed again.
			const claim = this.statement(
				`INSERT INTO hub_sync_consent (audience_id, phone, state, asked_at, updated_at) VALUES (?, ?, 'claimed', ?, ?)
				 ON CONFLICT (audience_id, phone) DO NOTHING`,
			);
			return unique.filter((phone) => Number(claim.run(audienceId, phone, now, now).changes) === 1);
		});
	}

	async markConsentAsked(audienceId: string, phone: string, messageId: string, askedAt?: Date): Promise<void> {
		assertName('audience id', audienceId);
		assertName('phone number', phone);
		assertName('message id', messageId);
		await this.transaction(() => {
			const now = this.now();
			const changed = this.statement(
				`UPDATE hub_sync_consent SET state = 'asked', message_id = ?, asked_at = ?, updated_at = ?
				 WHERE audience_id = ? AND phone = ? AND state = 'claimed'`,
			).run(messageId, askedAt?.getTime() ?? now, now, audienceId, phone);
			if (Number(changed.changes) !== 1) throw notClaimed(phone);
		});
	}

	async reclaimConsentAsks(audienceId: string, phones: string[], askedBefore: Date): Promise<string[]> {
		assertName('audience id', audienceId);
		const unique = uniquePhones(phones);
		return this.transaction(() => {
			const reclaim = this.statement(
				`UPDATE hub_sync_consent SET state = 'claimed', updated_at = ?
				 WHERE audience_id = ? AND phone = ? AND state = 'asked' AND asked_at < ?`,
			);
			const now = this.now();
			return unique.filter((phone) => Number(reclaim.run(now, audienceId, phone, askedBefore.getTime()).changes) === 1);
		});
	}

	async releaseConsentClaim(audienceId: string, phone: string): Promise<boolean> {
		assertName('audience id', audienceId);
		assertName('phone number', phone);
		return this.transaction(() => {
			// A first claim has no request yet; a re-claim keeps the earlier one and goes back to asked.
			const removed = this.statement(
				`DELETE FROM hub_sync_consent WHERE audience_id = ? AND phone = ? AND state = 'claimed' AND message_id IS NULL`,
			).run(audienceId, phone);
			const restored = this.statement(
				`UPDATE hub_sync_consent SET state = 'asked', updated_at = ? WHERE audience_id = ? AND phone = ? AND state = 'claimed' AND message_id IS NOT NULL`,
			).run(this.now(), audienceId, phone);
			return Number(removed.changes) + Number(restored.changes) === 1;
		});
	}

	async recordConsentAnswer(
		audienceId: string,
		phone: string,
		state: ConsentAnswerState,
		answer: string,
		answeredAt?: Date,
	): Promise<ConsentRecord> {
		assertName('audience id', audienceId);
		assertName('phone number', phone);
		return this.transaction(() => {
			const now = this.now();
			const at = answeredAt?.getTime() ?? now;
			this.statement(
				`INSERT INTO hub_sync_consent (audience_id, phone, state, answered_at, answer, updated_at) VALUES (?, ?, ?, ?, ?, ?)
				 ON CONFLICT (audience_id, phone) DO UPDATE SET state = excluded.state, answered_at = excluded.answered_at,
				   answer = excluded.answer, updated_at = excluded.updated_at`,
			).run(audienceId, phone, state, at, answer, now);
			return toConsent(
				this.statement('SELECT * FROM hub_sync_consent WHERE audience_id = ? AND phone = ?').get(audienceId, phone) as Row,
			);
		});
	}

	// ---- opt-outs ---------------------------------------------------------------------------------

	async recordOptOuts(records: OptOutRecord[]): Promise<void> {
		const unique = cleanOptOuts(records);
		for (const slice of chunks(unique, LEDGER_SLICE)) {
			await this.transaction(() => {
				const now = this.now();
				// DO NOTHING: the first record of a number (when and where it first opted out) is kept.
				const record = this.statement(
					`INSERT INTO hub_sync_opt_out (phone, source, audience_id, recorded_at) VALUES (?, ?, ?, ?)
					 ON CONFLICT (phone) DO NOTHING`,
				);
				for (const r of slice) record.run(r.phone, r.source, r.audienceId ?? null, now);
			});
			await yieldToEventLoop();
		}
	}

	async readOptOuts(phones: string[]): Promise<Set<string>> {
		const unique = uniquePhones(phones);
		const found = new Set<string>();
		for (const slice of chunks(unique, LEDGER_SLICE)) {
			await this.read(() => {
				const rows = this.statement(
					'SELECT phone FROM hub_sync_opt_out WHERE phone IN (SELECT value FROM json_each(?))',
				).all(JSON.stringify(slice)) as Row[];
				for (const row of rows) found.add(row.phone as string);
			});
			await yieldToEventLoop();
		}
		return found;
	}

	async getOptOut(phone: string): Promise<StoredOptOut | null> {
		assertName('phone number', phone);
		const row = await this.read(
			() => this.statement('SELECT * FROM hub_sync_opt_out WHERE phone = ?').get(phone) as Row | undefined,
		);
		return row ? toOptOut({ ...row, recorded_at: new Date(Number(row.recorded_at)) }) : null;
	}

	async close(): Promise<void> {
		this.closeSync();
	}

	/** Also used at process exit, where nothing asynchronous runs any more. */
	closeSync(): void {
		const db = this.db;
		this.db = undefined;
		this.statements.clear();
		if (db?.isOpen) db.close();
		if (db) this.onClose?.();
	}
}

function toLease(row: LeaseRow): LeaseInfo {
	return {
		lockName: row.lock_name,
		holder: row.holder,
		runId: row.run_id,
		acquiredAt: new Date(Number(row.acquired_at)),
		expiresAt: new Date(Number(row.expires_at)),
	};
}

function toRun(row: Row): RunRecord {
	return {
		id: row.id as string,
		lockName: row.lock_name as string,
		audienceId: row.audience_id as string,
		triggerKind: row.trigger_kind as string,
		holder: row.holder as string,
		startedAt: new Date(Number(row.started_at)),
		finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)),
		outcome: row.outcome as RunOutcome,
		counts: JSON.parse(row.counts as string) as Record<string, number>,
		errorSummary: (row.error_summary as string | null) ?? null,
		forcedRelease: Number(row.forced_release) === 1,
	};
}

function toConsent(row: Row): ConsentRecord {
	const date = (value: unknown) => (value === null || value === undefined ? null : new Date(Number(value)));
	return {
		audienceId: row.audience_id as string,
		phone: row.phone as string,
		state: row.state as ConsentState,
		askedAt: date(row.asked_at),
		messageId: (row.message_id as string | null) ?? null,
		answeredAt: date(row.answered_at),
		answer: (row.answer as string | null) ?? null,
	};
}

/**
 * Creates a missing store file readable and writable by the n8n user only; SQLite gives its WAL and
 * shared-memory files the same mode. An existing file keeps the mode its owner gave it.
 */
function createPrivately(path: string): void {
	try {
		closeSync(openSync(path, 'wx', 0o600));
	} catch {
		// It exists already, or cannot be created: SQLite's open then names the problem.
	}
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function yieldToEventLoop(): Promise<void> {
	return new Promise((resolve) => setImmediate(resolve));
}
