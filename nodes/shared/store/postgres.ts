/**
 * The PostgreSQL backend, for n8n in queue mode or several instances sharing one store.
 *
 * Lease times use the database clock, so hosts with drifting clocks still agree on expiry. Acquire is
 * one short transaction: insert the lease if the lock is free, otherwise lock the lease row and take it
 * over only if it has lapsed. Row locks and the primary key make it atomic across any number of clients.
 */
import { createHash } from 'crypto';
import { Client, Pool, type ClientConfig, type PoolClient } from 'pg';

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
import { assertName, assertToken, assertTtl, fromPostgresError, invalidInput, LeaseLostError, SyncStoreError } from './errors';
import { latestVersion, POSTGRES_MIGRATIONS, schemaTooNewMessage } from './migrations';
import type {
	AcquireRequest,
	AcquireResult,
	ConsentAnswerState,
	ConsentRecord,
	ConsentState,
	ForceReleaseResult,
	LeaseFence,
	LeaseInfo,
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

export type PostgresSslMode = 'disable' | 'allow' | 'require';

export interface PostgresStoreOptions {
	host: string;
	port: number;
	database: string;
	user: string;
	password?: string;
	ssl?: PostgresSslMode;
	/** With SSL: refuse servers whose certificate does not verify (default true). */
	rejectUnauthorized?: boolean;
	/** Tables go into this schema (created if missing); default: the server's search_path, usually public. */
	schema?: string;
	connectTimeoutMs?: number;
	/** Connections in this process's pool. */
	maxConnections?: number;
}

type Row = Record<string, unknown>;

const RUN_COLUMNS =
	'id, lock_name, audience_id, trigger_kind, holder, started_at, finished_at, outcome, counts, error_summary, forced_release';
const LEDGER_SLICE = 5_000;
/**
 * Only names PostgreSQL keeps as written: unquoted identifiers are folded to lower case, so "MySchema"
 * would be created as myschema and then not be found by its own name on the next start.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The server address for messages and cache keys; never includes the password. */
export function postgresLocation(options: PostgresStoreOptions): string {
	return `${options.host}:${options.port}/${options.database}${options.schema ? ` (schema ${options.schema})` : ''}`;
}

/** One pool per distinct server, user, schema and password; the password enters the key only hashed. */
export function postgresCacheKey(options: PostgresStoreOptions): string {
	const secret = createHash('sha256')
		.update(options.password ?? '')
		.digest('hex')
		.slice(0, 16);
	return `postgres:${options.user}@${postgresLocation(options)}|ssl=${options.ssl ?? 'disable'}:${
		options.rejectUnauthorized !== false
	}|${secret}`;
}

export function validatePostgresOptions(options: PostgresStoreOptions): void {
	assertName('PostgreSQL host', options.host);
	assertName('PostgreSQL database', options.database);
	assertName('PostgreSQL user', options.user);
	if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
		throw invalidInput(`The PostgreSQL port must be a number from 1 to 65535; got ${options.port}`);
	}
	if (options.schema !== undefined && options.schema !== '') {
		const schema = options.schema;
		const suggestion = schema.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_').replace(/^pg_/, 'sync_').slice(0, 63);
		if (!SCHEMA_NAME.test(schema) || schema.startsWith('pg_')) {
			throw invalidInput(
				`The schema name "${schema}" cannot be used: it must be lower-case letters, digits and underscores, start with a ` +
					`letter or underscore, be at most 63 characters and not start with pg_ (PostgreSQL keeps those for itself, and ` +
					`folds other capitals to lower case). Use e.g. "${suggestion}" in the Sync Store (Postgres) credential.`,
			);
		}
	}
}

function clientConfig(options: PostgresStoreOptions, ssl: boolean): ClientConfig {
	return {
		host: options.host,
		port: options.port,
		database: options.database,
		user: options.user,
		password: options.password ?? '',
		ssl: ssl ? { rejectUnauthorized: options.rejectUnauthorized !== false } : false,
		connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
		application_name: 'n8n-nodes-mailchimp-hub-sync',
		// Store statements take milliseconds; these bound a server that hangs, instead of hanging the sync.
		statement_timeout: 60_000,
		lock_timeout: 30_000,
		keepAlive: true,
		options: options.schema ? `-c search_path=${options.schema}` : undefined,
	};
}

/**
 * "allow" takes SSL when the server offers it and plain TCP when it does not (libpq calls this
 * "prefer"): better than plain, and it connects wherever plain would.
 */
async function decideSsl(options: PostgresStoreOptions): Promise<boolean> {
	const mode = options.ssl ?? 'disable';
	if (mode !== 'allow') return mode === 'require';
	const probe = new Client(clientConfig(options, true));
	try {
		await probe.connect();
		return true;
	} catch (error) {
		if (/does not support SSL/i.test((error as Error).message)) return false;
		throw error;
	} finally {
		await probe.end().catch(() => undefined);
	}
}

/** Opens one connection, runs `SELECT 1` and closes it: the credential test. */
export async function testPostgresConnection(options: PostgresStoreOptions): Promise<string> {
	validatePostgresOptions(options);
	const location = postgresLocation(options);
	try {
		const client = new Client(clientConfig(options, await decideSsl(options)));
		try {
			await client.connect();
			const result = await client.query('SELECT version() AS version');
			return String((result.rows[0] as Row).version).split(' on ')[0];
		} finally {
			await client.end().catch(() => undefined);
		}
	} catch (error) {
		throw fromPostgresError(error, location, options.user);
	}
}

export class PostgresSyncStore implements SyncStore {
	readonly kind = 'postgres' as const;
	readonly location: string;
	private pool: Pool | undefined;

	private constructor(
		pool: Pool,
		private readonly options: PostgresStoreOptions,
		private readonly onClose?: () => void,
	) {
		this.pool = pool;
		this.location = postgresLocation(options);
	}

	static async open(options: PostgresStoreOptions, onClose?: () => void): Promise<PostgresSyncStore> {
		validatePostgresOptions(options);
		let pool: Pool | undefined;
		try {
			pool = new Pool({
				...clientConfig(options, await decideSsl(options)),
				max: options.maxConnections ?? 4,
				idleTimeoutMillis: 30_000,
				// An idle pool must not keep `n8n execute` (or a test) alive.
				allowExitOnIdle: true,
			});
			// A dropped idle connection is not an error of any operation; the pool replaces it.
			pool.on('error', () => undefined);
			const store = new PostgresSyncStore(pool, options, onClose);
			await store.migrate();
			return store;
		} catch (error) {
			await pool?.end().catch(() => undefined);
			throw fromPostgresError(error, postgresLocation(options), options.user);
		}
	}

	private async migrate(): Promise<void> {
		const known = latestVersion(POSTGRES_MIGRATIONS);
		await this.transaction(async (db) => {
			// Serialises concurrent first uses (several workers starting at once) per schema.
			await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`mailchimp-hub-sync:${this.options.schema ?? ''}`]);
			if (this.options.schema) {
				// Look first: CREATE SCHEMA checks the right to create before IF NOT EXISTS, and a user
				// given an existing schema need not have that right.
				const exists = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.options.schema]);
				if (exists.rowCount === 0) await db.query(`CREATE SCHEMA ${this.options.schema}`);
			}
			await db.query(
				'CREATE TABLE IF NOT EXISTS hub_sync_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
			);
			const found = await db.query('SELECT coalesce(max(version), 0) AS version FROM hub_sync_migrations');
			const current = Number((found.rows[0] as Row).version);
			if (current > known) throw new SyncStoreError('schema-too-new', schemaTooNewMessage(this.location, current, known));
			for (const migration of POSTGRES_MIGRATIONS) {
				if (migration.version <= current) continue;
				await db.query(migration.sql);
				await db.query('INSERT INTO hub_sync_migrations (version, description) VALUES ($1, $2)', [
					migration.version,
					migration.description,
				]);
			}
		});
	}

	private get connections(): Pool {
		if (!this.pool) throw new SyncStoreError('failed', `The sync store ${this.location} was closed`);
		return this.pool;
	}

	private async transaction<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
		let db: PoolClient;
		try {
			db = await this.connections.connect();
		} catch (error) {
			throw fromPostgresError(error, this.location, this.options.user);
		}
		let broken: Error | undefined;
		try {
			await db.query('BEGIN');
			const result = await work(db);
			await db.query('COMMIT');
			return result;
		} catch (error) {
			try {
				await db.query('ROLLBACK');
			} catch (rollbackError) {
				// The connection itself is gone; do not hand it back to the pool.
				broken = rollbackError as Error;
			}
			throw fromPostgresError(error, this.location, this.options.user);
		} finally {
			db.release(broken);
		}
	}

	private async query(sql: string, params: unknown[] = []): Promise<Row[]> {
		try {
			return (await this.connections.query(sql, params)).rows as Row[];
		} catch (error) {
			throw fromPostgresError(error, this.location, this.options.user);
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
		const ttlMs = Math.round(request.ttlMs);

		return this.transaction(async (db): Promise<AcquireResult> => {
			const insertRun = (outcome: RunOutcome, hash: string | null) =>
				db.query(
					`INSERT INTO hub_sync_run (id, lock_name, audience_id, trigger_kind, holder, token_hash, started_at, finished_at, outcome)
					 VALUES ($1, $2, $3, $4, $5, $6, now(), CASE WHEN $7 = 'running' THEN NULL ELSE now() END, $7)`,
					[runId, request.lockName, audienceId, triggerKind, request.holder, hash, outcome],
				);
			const won = (row: Row): AcquireResult => ({
				acquired: true,
				lease: { ...toLease(row), ownerToken },
			});

			// Two tries: the holder may release between our insert conflicting and our row lock.
			for (let attempt = 0; attempt < 2; attempt++) {
				const inserted = await db.query(
					`INSERT INTO hub_sync_lease (lock_name, token_hash, holder, run_id, acquired_at, expires_at, ttl_ms)
					 VALUES ($1, $2, $3, $4, now(), now() + $5 * interval '1 millisecond', $5)
					 ON CONFLICT (lock_name) DO NOTHING
					 RETURNING lock_name, holder, run_id, acquired_at, expires_at`,
					[request.lockName, tokenHash, request.holder, runId, ttlMs],
				);
				if (inserted.rowCount === 1) {
					await insertRun('running', tokenHash);
					return won(inserted.rows[0] as Row);
				}
				const locked = await db.query(
					`SELECT lock_name, holder, run_id, acquired_at, expires_at, expires_at <= now() AS lapsed
					 FROM hub_sync_lease WHERE lock_name = $1 FOR UPDATE`,
					[request.lockName],
				);
				if (locked.rowCount === 0) continue;
				const current = locked.rows[0] as Row;
				if (!current.lapsed) {
					await insertRun('busy', null);
					return { acquired: false, heldBy: toLease(current), busyRunId: runId };
				}
				await expireRun(db, current.run_id as string);
				const taken = await db.query(
					`UPDATE hub_sync_lease SET token_hash = $2, holder = $3, run_id = $4, acquired_at = now(),
					   expires_at = now() + $5 * interval '1 millisecond', ttl_ms = $5
					 WHERE lock_name = $1
					 RETURNING lock_name, holder, run_id, acquired_at, expires_at`,
					[request.lockName, tokenHash, request.holder, runId, ttlMs],
				);
				await insertRun('running', tokenHash);
				return won(taken.rows[0] as Row);
			}
			await insertRun('busy', null);
			return { acquired: false, heldBy: null, busyRunId: runId };
		});
	}

	async renew(ownerToken: string, ttlMs?: number): Promise<RenewResult> {
		assertToken(ownerToken);
		if (ttlMs !== undefined) assertTtl(ttlMs);
		const tokenHash = hashToken(ownerToken);
		return this.transaction(async (db): Promise<RenewResult> => {
			// No TTL given: the lease's own. A given one becomes the lease's own from now on.
			const renewed = await db.query(
				`UPDATE hub_sync_lease SET ttl_ms = coalesce($2::bigint, ttl_ms),
				   expires_at = now() + coalesce($2::bigint, ttl_ms) * interval '1 millisecond'
				 WHERE token_hash = $1 AND expires_at > now()
				 RETURNING lock_name, holder, run_id, acquired_at, expires_at`,
				[tokenHash, ttlMs === undefined ? null : Math.round(ttlMs)],
			);
			if (renewed.rowCount === 1) return { renewed: true, lease: toLease(renewed.rows[0] as Row) };
			return { renewed: false, ...(await this.refusal(db, tokenHash)) };
		});
	}

	async release(ownerToken: string, summary: RunSummary): Promise<ReleaseResult> {
		assertToken(ownerToken);
		const counts = cleanCounts(summary.counts);
		const tokenHash = hashToken(ownerToken);
		return this.transaction(async (db): Promise<ReleaseResult> => {
			const deleted = await db.query(
				'DELETE FROM hub_sync_lease WHERE token_hash = $1 AND expires_at > now() RETURNING run_id',
				[tokenHash],
			);
			if (deleted.rowCount !== 1) return { released: false, ...(await this.refusal(db, tokenHash)) };
			const run = await db.query(
				`UPDATE hub_sync_run SET finished_at = now(), outcome = $2, counts = $3::jsonb, error_summary = $4
				 WHERE id = $1 RETURNING ${RUN_COLUMNS}`,
				[(deleted.rows[0] as Row).run_id, summary.outcome, JSON.stringify(counts), clipSummary(summary.errorSummary)],
			);
			return { released: true, run: toRun(run.rows[0] as Row) };
		});
	}

	async forceRelease(lockName: string, reason?: string): Promise<ForceReleaseResult> {
		assertName('lock name', lockName);
		return this.transaction(async (db): Promise<ForceReleaseResult> => {
			const deleted = await db.query(
				'DELETE FROM hub_sync_lease WHERE lock_name = $1 RETURNING lock_name, holder, run_id, acquired_at, expires_at',
				[lockName],
			);
			if (deleted.rowCount !== 1) return { released: false, previous: null, run: null };
			const previous = toLease(deleted.rows[0] as Row);
			await db.query(
				`UPDATE hub_sync_run SET finished_at = now(), outcome = 'forced', forced_release = true, error_summary = $2
				 WHERE id = $1 AND outcome = 'running'`,
				[previous.runId, clipSummary(reason ?? 'Released by force')],
			);
			const run = await db.query(`SELECT ${RUN_COLUMNS} FROM hub_sync_run WHERE id = $1`, [previous.runId]);
			return { released: true, previous, run: run.rowCount === 1 ? toRun(run.rows[0] as Row) : null };
		});
	}

	async status(lockName: string, runLimit?: number, options: StatusOptions = {}): Promise<LockStatus> {
		assertName('lock name', lockName);
		const limit = clampRunLimit(runLimit);
		const lapsed = await this.query('SELECT 1 FROM hub_sync_lease WHERE lock_name = $1 AND expires_at <= now()', [lockName]);
		if (lapsed.length > 0) {
			// Sweep the lapsed lease so its run shows as expired rather than forever running.
			await this.transaction(async (db) => {
				const gone = await db.query(
					'DELETE FROM hub_sync_lease WHERE lock_name = $1 AND expires_at <= now() RETURNING run_id',
					[lockName],
				);
				if (gone.rowCount === 1) await expireRun(db, (gone.rows[0] as Row).run_id as string);
			});
		}
		const lease = await this.query(
			'SELECT lock_name, holder, run_id, acquired_at, expires_at FROM hub_sync_lease WHERE lock_name = $1 AND expires_at > now()',
			[lockName],
		);
		const runs = await this.query(
			`SELECT ${RUN_COLUMNS} FROM hub_sync_run WHERE lock_name = $1 AND ($3 OR outcome <> 'busy') ORDER BY seq DESC LIMIT $2`,
			[lockName, limit, options.includeBusy !== false],
		);
		return { lockName, holder: lease.length ? toLease(lease[0]) : null, runs: runs.map(toRun) };
	}

	async getRun(runId: string): Promise<RunRecord | null> {
		assertName('run id', runId);
		const rows = await this.query(`SELECT ${RUN_COLUMNS} FROM hub_sync_run WHERE id = $1`, [runId]);
		return rows.length ? toRun(rows[0]) : null;
	}

	private async refusal(db: PoolClient, tokenHash: string) {
		const lease = await db.query('SELECT 1 FROM hub_sync_lease WHERE token_hash = $1', [tokenHash]);
		const run = await db.query(`SELECT ${RUN_COLUMNS} FROM hub_sync_run WHERE token_hash = $1`, [tokenHash]);
		const record = run.rowCount === 1 ? toRun(run.rows[0] as Row) : null;
		return { reason: refusalReason(record, lease.rowCount === 1), run: record };
	}

	/**
	 * Inside a write transaction: the fence's token must hold its lock's current, unexpired lease. The
	 * row is locked FOR SHARE until commit, so an acquire that would take the lapsed lock over (it locks
	 * the row FOR UPDATE) or a forced release waits until this write is committed: no fenced row is
	 * ever written after another run got the lock.
	 */
	private async checkFence(db: PoolClient, fence: LeaseFence | undefined): Promise<void> {
		if (!fence) return;
		const tokenHash = hashToken(fence.ownerToken);
		const held = await db.query('SELECT 1 FROM hub_sync_lease WHERE token_hash = $1 AND expires_at > now() FOR SHARE', [tokenHash]);
		if (held.rowCount === 1) return;
		const { reason, run } = await this.refusal(db, tokenHash);
		let holder: LeaseInfo | null = null;
		if (run) {
			const current = await db.query(
				`SELECT lock_name, holder, run_id, acquired_at, expires_at FROM hub_sync_lease
				 WHERE lock_name = $1 AND token_hash <> $2 AND expires_at > now()`,
				[run.lockName, tokenHash],
			);
			if (current.rowCount === 1) holder = toLease(current.rows[0] as Row);
		}
		throw new LeaseLostError(reason, run, holder);
	}

	// ---- ledger ----------------------------------------------------------------------------------

	async readLedger(syncName: string): Promise<LedgerEntry[]> {
		assertName('sync name', syncName);
		const rows = await this.query(
			'SELECT audience_id, member_key, content_hash, hub_contact_id, phone, synced_at FROM hub_sync_ledger WHERE sync_name = $1',
			[syncName],
		);
		return rows.map((row) => toLedgerEntry(syncName, row.audience_id as string, row.member_key as string, row));
	}

	async getLedgerEntry(syncName: string, audienceId: string, memberKey: string): Promise<LedgerEntry | null> {
		assertName('sync name', syncName);
		assertName('audience id', audienceId);
		const [row] = await this.query(
			'SELECT content_hash, hub_contact_id, phone, synced_at FROM hub_sync_ledger WHERE sync_name = $1 AND audience_id = $2 AND member_key = $3',
			[syncName, audienceId, memberKey],
		);
		return row ? toLedgerEntry(syncName, audienceId, memberKey, row) : null;
	}

	async countLedger(syncName: string): Promise<number> {
		assertName('sync name', syncName);
		const [row] = await this.query('SELECT count(*)::int AS n FROM hub_sync_ledger WHERE sync_name = $1', [syncName]);
		return row.n as number;
	}

	async upsertLedger(entries: LedgerEntry[], fence?: LeaseFence): Promise<void> {
		if (fence) assertToken(fence.ownerToken);
		const unique = dedupeLedger(entries);
		for (const slice of chunks(unique, LEDGER_SLICE)) {
			// One statement per slice: arrays in, unnest into rows, so 100,000 rows take 20 round trips.
			await this.fenced(fence, (db) =>
				db.query(
					`INSERT INTO hub_sync_ledger (sync_name, audience_id, member_key, content_hash, hub_contact_id, phone, synced_at)
					 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
					 ON CONFLICT (sync_name, audience_id, member_key) DO UPDATE SET content_hash = excluded.content_hash,
					   hub_contact_id = excluded.hub_contact_id, phone = excluded.phone, synced_at = excluded.synced_at`,
					[
						slice.map((e) => e.syncName),
						slice.map((e) => e.audienceId),
						slice.map((e) => e.memberKey),
						slice.map((e) => e.contentHash),
						slice.map((e) => e.hubContactId),
						slice.map((e) => e.phone),
						slice.map((e) => e.syncedAt.toISOString()),
					],
				),
			);
		}
	}

	async deleteLedger(syncName: string, audienceId: string, memberKeys: string[], fence?: LeaseFence): Promise<number> {
		assertName('sync name', syncName);
		assertName('audience id', audienceId);
		if (fence) assertToken(fence.ownerToken);
		let deleted = 0;
		for (const slice of chunks([...new Set(memberKeys)], LEDGER_SLICE)) {
			const result = await this.fenced(fence, (db) =>
				db.query(
					'DELETE FROM hub_sync_ledger WHERE sync_name = $1 AND audience_id = $2 AND member_key = ANY($3::text[]) RETURNING 1',
					[syncName, audienceId, slice],
				),
			);
			deleted += result.rowCount ?? 0;
		}
		return deleted;
	}

	/** One write: unfenced, a single statement; fenced, the lease check and the write in one transaction. */
	private async fenced<T>(fence: LeaseFence | undefined, write: (db: PoolClient | Pool) => Promise<T>): Promise<T> {
		if (!fence) {
			try {
				return await write(this.connections);
			} catch (error) {
				throw fromPostgresError(error, this.location, this.options.user);
			}
		}
		return this.transaction(async (db) => {
			await this.checkFence(db, fence);
			return write(db);
		});
	}

	// ---- consent ---------------------------------------------------------------------------------

	async getConsent(audienceId: string, phone: string): Promise<ConsentRecord | null> {
		assertName('audience id', audienceId);
		assertName('phone number', phone);
		const rows = await this.query('SELECT * FROM hub_sync_consent WHERE audience_id = $1 AND phone = $2', [
			audienceId,
			phone,
		]);
		return rows.length ? toConsent(rows[0]) : null;
	}

	async readConsent(audienceId: string): Promise<ConsentRecord[]> {
		assertName('audience id', audienceId);
		return (await this.query('SELECT * FROM hub_sync_consent WHERE audience_id = $1', [audienceId])).map(toConsent);
	}

	async findConsentByMessageId(messageId: string): Promise<ConsentRecord | null> {
		assertName('message id', messageId);
		const rows = await this.query('SELECT * FROM hub_sync_consent WHERE message_id = $1 LIMIT 1', [messageId]);
		return rows.length ? toConsent(rows[0]) : null;
	}

	async claimConsentAsk(audienceId: string, phone: string): Promise<boolean> {
		return (await this.claimConsentAsks(audienceId, [phone])).length === 1;
	}

	async claimConsentAsks(audienceId: string, phones: string[]): Promise<string[]> {
		assertName('audience id', audienceId);
		const unique = uniquePhones(phones);
		if (unique.length === 0) return [];
		// DO NOTHING on any existing record: a number asked, answered or opted out is never claimed again.
		const rows = await this.query(
			`INSERT INTO hub_sync_consent (audience_id, phone, state, asked_at, updated_at)
			 SELECT $1, phone, 'claimed', now(), now() FROM unnest($2::text[]) AS phone
			 ON CONFLICT (audience_id, phone) DO NOTHING
			 RETURNING phone`,
			[audienceId, unique],
		);
		const claimed = new Set(rows.map((row) => row.phone as string));
		return unique.filter((phone) => claimed.has(phone));
	}

	async markConsentAsked(audienceId: string, phone: string, messageId: string, askedAt?: Date): Promise<void> {
		assertName('audience id', audienceId);
		assertName('phone number', phone);
		assertName('message id', messageId);
		const rows = await this.query(
			`UPDATE hub_sync_consent SET state = 'asked', message_id = $3, asked_at = coalesce($4::timestamptz, now()), updated_at = now()
			 WHERE audience_id = $1 AND phone = $2 AND state = 'claimed' RETURNING 1`,
			[audienceId, phone, messageId, askedAt?.toISOString() ?? null],
		);
		if (rows.length !== 1) throw notClaimed(phone);
	}

	async reclaimConsentAsks(audienceId: string, phones: string[], askedBefore: Date): Promise<string[]> {
		assertName('audience id', audienceId);
		const unique = uniquePhones(phones);
		if (unique.length === 0) return [];
		const rows = await this.query(
			`UPDATE hub_sync_consent SET state = 'claimed', updated_at = now()
			 WHERE audience_id = $1 AND phone = ANY($2::text[]) AND state = 'asked' AND asked_at < $3::timestamptz
			 RETURNING phone`,
			[audienceId, unique, askedBefore.toISOString()],
		);
		const claimed = new Set(rows.map((row) => row.phone as string));
		return unique.filter((phone) => claimed.has(phone));
	}

	async releaseConsentClaim(audienceId: string, phone: string): Promise<boolean> {
		assertName('audience id', audienceId);
		assertName('phone number', phone);
		// A first claim has no request yet; a re-claim keeps the earlier one and goes back to asked.
		const rows = await this.query(
			`WITH removed AS (
				DELETE FROM hub_sync_consent WHERE audience_id = $1 AND phone = $2 AND state = 'claimed' AND message_id IS NULL RETURNING 1
			 ), restored AS (
				UPDATE hub_sync_consent SET state = 'asked', updated_at = now()
				WHERE audience_id = $1 AND phone = $2 AND state = 'claimed' AND message_id IS NOT NULL RETURNING 1
			 )
			 SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM restored) AS n`,
			[audienceId, phone],
		);
		return Number(rows[0]?.n) === 1;
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
		const rows = await this.query(
			`INSERT INTO hub_sync_consent (audience_id, phone, state, answered_at, answer, updated_at)
			 VALUES ($1, $2, $3, coalesce($5::timestamptz, now()), $4, now())
			 ON CONFLICT (audience_id, phone) DO UPDATE SET state = excluded.state, answered_at = excluded.answered_at,
			   answer = excluded.answer, updated_at = excluded.updated_at
			 RETURNING *`,
			[audienceId, phone, state, answer, answeredAt?.toISOString() ?? null],
		);
		return toConsent(rows[0]);
	}

	// ---- opt-outs ---------------------------------------------------------------------------------

	async recordOptOuts(records: OptOutRecord[]): Promise<void> {
		const unique = cleanOptOuts(records);
		for (const slice of chunks(unique, LEDGER_SLICE)) {
			// DO NOTHING: the first record of a number (when and where it first opted out) is kept.
			await this.query(
				`INSERT INTO hub_sync_opt_out (phone, source, audience_id, recorded_at)
				 SELECT phone, source, audience_id, now() FROM unnest($1::text[], $2::text[], $3::text[]) AS r (phone, source, audience_id)
				 ON CONFLICT (phone) DO NOTHING`,
				[slice.map((r) => r.phone), slice.map((r) => r.source), slice.map((r) => r.audienceId ?? null)],
			);
		}
	}

	async readOptOuts(phones: string[]): Promise<Set<string>> {
		const unique = uniquePhones(phones);
		const found = new Set<string>();
		for (const slice of chunks(unique, LEDGER_SLICE)) {
			const rows = await this.query('SELECT phone FROM hub_sync_opt_out WHERE phone = ANY($1::text[])', [slice]);
			for (const row of rows) found.add(row.phone as string);
		}
		return found;
	}

	async getOptOut(phone: string): Promise<StoredOptOut | null> {
		assertName('phone number', phone);
		const rows = await this.query('SELECT * FROM hub_sync_opt_out WHERE phone = $1', [phone]);
		return rows.length ? toOptOut(rows[0]) : null;
	}

	async close(): Promise<void> {
		const pool = this.pool;
		this.pool = undefined;
		if (!pool) return;
		this.onClose?.();
		await pool.end();
	}
}

async function expireRun(db: PoolClient, runId: string): Promise<void> {
	// The run ends at its lease's expiry, which is the last moment it was protected.
	await db.query(
		`UPDATE hub_sync_run SET outcome = 'expired',
		   finished_at = coalesce((SELECT expires_at FROM hub_sync_lease WHERE run_id = $1), now())
		 WHERE id = $1 AND outcome = 'running'`,
		[runId],
	);
}

function toLease(row: Row): LeaseInfo {
	return {
		lockName: row.lock_name as string,
		holder: row.holder as string,
		runId: row.run_id as string,
		acquiredAt: row.acquired_at as Date,
		expiresAt: row.expires_at as Date,
	};
}

function toRun(row: Row): RunRecord {
	return {
		id: row.id as string,
		lockName: row.lock_name as string,
		audienceId: row.audience_id as string,
		triggerKind: row.trigger_kind as string,
		holder: row.holder as string,
		startedAt: row.started_at as Date,
		finishedAt: (row.finished_at as Date | null) ?? null,
		outcome: row.outcome as RunOutcome,
		counts: (row.counts as Record<string, number>) ?? {},
		errorSummary: (row.error_summary as string | null) ?? null,
		forcedRelease: row.forced_release === true,
	};
}

function toConsent(row: Row): ConsentRecord {
	return {
		audienceId: row.audience_id as string,
		phone: row.phone as string,
		state: row.state as ConsentState,
		askedAt: (row.asked_at as Date | null) ?? null,
		messageId: (row.message_id as string | null) ?? null,
		answeredAt: (row.answered_at as Date | null) ?? null,
		answer: (row.answer as string | null) ?? null,
	};
}
