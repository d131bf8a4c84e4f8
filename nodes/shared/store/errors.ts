/**
 * One error type for everything the store can go wrong with, each with a message that names the
 * problem and says what to do. Nodes turn it into a NodeOperationError as it is.
 */
import type { LeaseInfo, LeaseRefusal, RunRecord } from './types';

export type SyncStoreErrorCode =
	| 'invalid-input'
	| 'unreachable'
	| 'auth'
	| 'not-found'
	| 'permission'
	| 'read-only'
	| 'corrupt'
	| 'busy'
	| 'schema-too-new'
	| 'lease-lost'
	| 'not-ours'
	| 'failed';

export class SyncStoreError extends Error {
	constructor(
		readonly code: SyncStoreErrorCode,
		message: string,
		readonly cause?: unknown,
	) {
		super(message);
		this.name = 'SyncStoreError';
	}
}

/**
 * A fenced write (or a lease check) found that the run no longer holds its lease: it lapsed, was
 * released, or another run took the lock. Nothing was written.
 */
export class LeaseLostError extends SyncStoreError {
	constructor(
		readonly reason: LeaseRefusal,
		/** The run the token belonged to, when the store still knows it. */
		readonly run: RunRecord | null,
		/** Who holds the lock now, if anyone. */
		readonly currentHolder: LeaseInfo | null,
	) {
		super('lease-lost', leaseLostMessage(reason, run, currentHolder));
		this.name = 'LeaseLostError';
	}
}

function leaseLostMessage(reason: LeaseRefusal, run: RunRecord | null, holder: LeaseInfo | null): string {
	const lock = run ? ` on lock "${run.lockName}"` : '';
	const what: Record<LeaseRefusal, string> = {
		expired: `The lease of this run${lock} lapsed${run?.finishedAt ? ` at ${run.finishedAt.toISOString()}` : ''}`,
		'force-released': `The lease of this run${lock} was released by force`,
		'already-released': `The lease of this run${lock} was already released (the run was recorded as ended)`,
		'unknown-token': 'This run\'s lease token is not known to this sync store (a different store, or a token from elsewhere)',
	};
	const taken = holder
		? ` and run ${holder.holder} took the lock over at ${holder.acquiredAt.toISOString()}`
		: '';
	return (
		`${what[reason]}${taken}. This run stopped writing, so it cannot race the lock's next holder; nothing more was written. ` +
		'If runs take longer than the lease, raise the lease time (TTL) in Sync Lock: Acquire; ' +
		"otherwise check who took the lock (Sync Lock: Status) and whether someone released it by force."
	);
}

export function invalidInput(message: string): SyncStoreError {
	return new SyncStoreError('invalid-input', message);
}

export function assertTtl(ttlMs: number): void {
	if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
		throw invalidInput(`The lease time to live must be a positive duration; got ${ttlMs} ms`);
	}
}

export function assertToken(token: unknown): asserts token is string {
	if (typeof token !== 'string' || token.trim() === '') {
		throw invalidInput('The owner token is missing: pass the token that Acquire returned for this run');
	}
}

export function assertName(what: string, value: unknown): asserts value is string {
	if (typeof value !== 'string' || value.trim() === '') {
		throw invalidInput(`The ${what} is missing`);
	}
}

/** node:sqlite reports SQLite's primary result code as `errcode` (extended codes carry it in the low byte). */
export function fromSqliteError(error: unknown, path: string): SyncStoreError {
	if (error instanceof SyncStoreError) return error;
	const errcode = (error as { errcode?: number })?.errcode;
	const detail = (error as Error)?.message ?? String(error);
	switch (typeof errcode === 'number' ? errcode & 0xff : undefined) {
		case 5: // SQLITE_BUSY
		case 6: // SQLITE_LOCKED
			return new SyncStoreError(
				'busy',
				`The sync store ${path} stayed locked by another process longer than the busy timeout; try again, or raise the timeout if many syncs share it`,
				error,
			);
		case 8: // SQLITE_READONLY
			return new SyncStoreError(
				'read-only',
				`The sync store ${path} is read-only; give the n8n user write access to the file and its folder, or choose another store path`,
				error,
			);
		case 3: // SQLITE_PERM
		case 23: // SQLITE_AUTH
			return new SyncStoreError(
				'permission',
				`The sync store ${path} may not be accessed (${detail}); give the n8n user read and write access, or choose another store path`,
				error,
			);
		case 14: // SQLITE_CANTOPEN
			return new SyncStoreError(
				'permission',
				`Cannot open the sync store ${path}: check that its folder exists and that the n8n user may read and write there, or choose another store path`,
				error,
			);
		case 11: // SQLITE_CORRUPT
		case 26: // SQLITE_NOTADB
			return new SyncStoreError(
				'corrupt',
				`The sync store ${path} is not a valid SQLite database (corrupt or another kind of file). It was left untouched: move it aside and the next run starts a fresh store, or choose another store path`,
				error,
			);
		case 13: // SQLITE_FULL
			return new SyncStoreError('failed', `The disk holding the sync store ${path} is full; free some space`, error);
		default:
			return new SyncStoreError('failed', `The sync store ${path} failed: ${detail}`, error);
	}
}

/** Maps what `pg` throws (socket errors and server error codes) to messages a user can act on. */
export function fromPostgresError(error: unknown, location: string, user: string): SyncStoreError {
	if (error instanceof SyncStoreError) return error;
	const code = (error as { code?: string })?.code;
	const detail = (error as Error)?.message ?? String(error);
	switch (code) {
		case 'ECONNREFUSED':
		case 'ENOTFOUND':
		case 'EAI_AGAIN':
		case 'EHOSTUNREACH':
		case 'ENETUNREACH':
		case 'ETIMEDOUT':
		case 'ECONNRESET':
		case '57P01': // admin_shutdown
		case '57P03': // cannot_connect_now
			return new SyncStoreError(
				'unreachable',
				`Cannot reach the PostgreSQL sync store at ${location} (${code}); check host and port in the credential and that the server is running`,
				error,
			);
		case '28P01': // invalid_password
			return new SyncStoreError(
				'auth',
				`PostgreSQL at ${location} rejected the password for user "${user}"; correct the password in the Sync Store (Postgres) credential`,
				error,
			);
		case '28000': // invalid_authorization_specification (unknown role, no pg_hba entry)
			return new SyncStoreError(
				'auth',
				`PostgreSQL at ${location} refused user "${user}": ${detail}. Check the user and the server's access rules (pg_hba.conf, SSL)`,
				error,
			);
		case '3D000': // invalid_catalog_name
			return new SyncStoreError(
				'not-found',
				`The database in the Sync Store (Postgres) credential does not exist at ${location}; create it or correct the name`,
				error,
			);
		case '42501': // insufficient_privilege
			return new SyncStoreError(
				'permission',
				`User "${user}" may not create or use the sync store tables at ${location} (${detail}); grant the rights or choose another schema`,
				error,
			);
		case '3F000': // invalid_schema_name
			return new SyncStoreError('not-found', `The schema for the sync store does not exist at ${location}: ${detail}`, error);
	}
	if (/does not support SSL/i.test(detail) || /self[- ]signed|certificate/i.test(detail)) {
		return new SyncStoreError(
			'unreachable',
			`SSL to the PostgreSQL sync store at ${location} failed (${detail}); adjust the SSL setting of the credential`,
			error,
		);
	}
	return new SyncStoreError('failed', `The PostgreSQL sync store at ${location} failed: ${detail}`, error);
}
