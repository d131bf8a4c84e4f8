/**
 * The store's schema, as numbered steps per dialect. A step is never edited once released: changes
 * are new steps. Each backend applies the missing steps on first use, serialised across processes
 * (SQLite: one immediate transaction and `user_version`; PostgreSQL: an advisory transaction lock
 * and the `hub_sync_migrations` table).
 *
 * Times are epoch milliseconds on SQLite and timestamptz on PostgreSQL. Lease rows keep only a hash of
 * the owner token; run rows keep it too, so a late release can be told what happened to its lease.
 */

export interface Migration {
	version: number;
	description: string;
	sql: string;
}

export const SQLITE_MIGRATIONS: Migration[] = [
	{
		version: 1,
		description: 'leases, runs, ledger, consent',
		sql: `
			CREATE TABLE hub_sync_lease (
				lock_name   TEXT PRIMARY KEY,
				token_hash  TEXT NOT NULL UNIQUE,
				holder      TEXT NOT NULL,
				run_id      TEXT NOT NULL,
				acquired_at INTEGER NOT NULL,
				expires_at  INTEGER NOT NULL
			);
			CREATE TABLE hub_sync_run (
				seq            INTEGER PRIMARY KEY AUTOINCREMENT,
				id             TEXT NOT NULL UNIQUE,
				lock_name      TEXT NOT NULL,
				audience_id    TEXT NOT NULL,
				trigger_kind   TEXT NOT NULL,
				holder         TEXT NOT NULL,
				token_hash     TEXT UNIQUE,
				started_at     INTEGER NOT NULL,
				finished_at    INTEGER,
				outcome        TEXT NOT NULL,
				counts         TEXT NOT NULL DEFAULT '{}',
				error_summary  TEXT,
				forced_release INTEGER NOT NULL DEFAULT 0
			);
			CREATE INDEX hub_sync_run_by_lock ON hub_sync_run (lock_name, seq);
			CREATE TABLE hub_sync_ledger (
				sync_name      TEXT NOT NULL,
				audience_id    TEXT NOT NULL,
				member_key     TEXT NOT NULL,
				content_hash   TEXT NOT NULL,
				hub_contact_id TEXT,
				phone          TEXT,
				synced_at      INTEGER NOT NULL,
				PRIMARY KEY (sync_name, audience_id, member_key)
			) WITHOUT ROWID;
			CREATE TABLE hub_sync_consent (
				audience_id TEXT NOT NULL,
				phone       TEXT NOT NULL,
				state       TEXT NOT NULL,
				asked_at    INTEGER,
				message_id  TEXT,
				answered_at INTEGER,
				answer      TEXT,
				updated_at  INTEGER NOT NULL,
				PRIMARY KEY (audience_id, phone)
			) WITHOUT ROWID;
			CREATE INDEX hub_sync_consent_by_message ON hub_sync_consent (message_id);
		`,
	},
	{
		version: 2,
		description: 'each lease keeps its time to live, so a renewal without one extends by the same length',
		// Leases taken before this step get the length they were last given (acquire or renew).
		sql: `
			ALTER TABLE hub_sync_lease ADD COLUMN ttl_ms INTEGER NOT NULL DEFAULT 0;
			UPDATE hub_sync_lease SET ttl_ms = max(expires_at - acquired_at, 1);
		`,
	},
	{
		version: 3,
		description: 'opt-outs the sync saw',
		sql: `
			CREATE TABLE hub_sync_opt_out (
				phone       TEXT PRIMARY KEY,
				source      TEXT NOT NULL,
				audience_id TEXT,
				recorded_at INTEGER NOT NULL
			) WITHOUT ROWID;
		`,
	},
];

export const POSTGRES_MIGRATIONS: Migration[] = [
	{
		version: 1,
		description: 'leases, runs, ledger, consent',
		sql: `
			CREATE TABLE hub_sync_lease (
				lock_name   text PRIMARY KEY,
				token_hash  text NOT NULL UNIQUE,
				holder      text NOT NULL,
				run_id      text NOT NULL,
				acquired_at timestamptz NOT NULL,
				expires_at  timestamptz NOT NULL
			);
			CREATE TABLE hub_sync_run (
				seq            bigserial PRIMARY KEY,
				id             text NOT NULL UNIQUE,
				lock_name      text NOT NULL,
				audience_id    text NOT NULL,
				trigger_kind   text NOT NULL,
				holder         text NOT NULL,
				token_hash     text UNIQUE,
				started_at     timestamptz NOT NULL,
				finished_at    timestamptz,
				outcome        text NOT NULL,
				counts         jsonb NOT NULL DEFAULT '{}'::jsonb,
				error_summary  text,
				forced_release boolean NOT NULL DEFAULT false
			);
			CREATE INDEX hub_sync_run_by_lock ON hub_sync_run (lock_name, seq);
			CREATE TABLE hub_sync_ledger (
				sync_name      text NOT NULL,
				audience_id    text NOT NULL,
				member_key     text NOT NULL,
				content_hash   text NOT NULL,
				hub_contact_id text,
				phone          text,
				synced_at      timestamptz NOT NULL,
				PRIMARY KEY (sync_name, audience_id, member_key)
			);
			CREATE TABLE hub_sync_consent (
				audience_id text NOT NULL,
				phone       text NOT NULL,
				state       text NOT NULL,
				asked_at    timestamptz,
				message_id  text,
				answered_at timestamptz,
				answer      text,
				updated_at  timestamptz NOT NULL,
				PRIMARY KEY (audience_id, phone)
			);
			CREATE INDEX hub_sync_consent_by_message ON hub_sync_consent (message_id);
		`,
	},
	{
		version: 2,
		description: 'each lease keeps its time to live, so a renewal without one extends by the same length',
		sql: `
			ALTER TABLE hub_sync_lease ADD COLUMN ttl_ms bigint;
			UPDATE hub_sync_lease SET ttl_ms = greatest(1, (extract(epoch FROM expires_at - acquired_at) * 1000)::bigint);
			ALTER TABLE hub_sync_lease ALTER COLUMN ttl_ms SET NOT NULL;
		`,
	},
	{
		version: 3,
		description: 'opt-outs the sync saw',
		sql: `
			CREATE TABLE hub_sync_opt_out (
				phone       text PRIMARY KEY,
				source      text NOT NULL,
				audience_id text,
				recorded_at timestamptz NOT NULL
			);
		`,
	},
];

export function latestVersion(migrations: Migration[]): number {
	return migrations.reduce((max, m) => Math.max(max, m.version), 0);
}

export function schemaTooNewMessage(location: string, found: number, known: number): string {
	return `The sync store at ${location} has schema version ${found}, newer than this package knows (${known}); update n8n-nodes-mailchimp-hub-sync on every n8n instance that shares the store`;
}
