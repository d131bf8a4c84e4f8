/**
 * Entry point of the sync store: pick a backend from a config and get the process's one open store
 * for it. Stores are cached per database (file path, or server + user + schema + hashed password),
 * so every execution in this process shares one SQLite connection or one PostgreSQL pool.
 */
import { homedir } from 'os';
import { isAbsolute, join, resolve } from 'path';

import { invalidInput } from './errors';
import { PostgresSyncStore, postgresCacheKey, type PostgresStoreOptions } from './postgres';
import { SqliteSyncStore } from './sqlite';
import type { SyncStore } from './types';

export * from './types';
export { LeaseLostError, SyncStoreError, type SyncStoreErrorCode } from './errors';
export { testPostgresConnection, type PostgresSslMode, type PostgresStoreOptions } from './postgres';

export const SQLITE_FILE_NAME = 'mailchimp-hub-sync.sqlite';

export type StoreConfig =
	| { kind: 'sqlite'; path?: string; busyTimeoutMs?: number }
	| ({ kind: 'postgres' } & PostgresStoreOptions);

/** n8n keeps its own data in `<N8N_USER_FOLDER or home>/.n8n`; the store file sits beside it. */
export function n8nDataFolder(env: NodeJS.ProcessEnv = process.env): string {
	return join(env.N8N_USER_FOLDER || homedir(), '.n8n');
}

/** Empty → the default file; `~/…` → under home; relative → under the n8n data folder. */
export function resolveSqlitePath(path: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
	const given = (path ?? '').trim();
	if (given === '') return join(n8nDataFolder(env), SQLITE_FILE_NAME);
	if (given === '~' || given.startsWith('~/')) return join(homedir(), given.slice(1));
	return isAbsolute(given) ? resolve(given) : resolve(n8nDataFolder(env), given);
}

const open = new Map<string, Promise<SyncStore>>();
/** Opened SQLite stores, kept apart so they can be closed synchronously at exit. */
const openSqlite = new Set<SqliteSyncStore>();

function cacheKey(config: StoreConfig): string {
	return config.kind === 'sqlite' ? `sqlite:${resolveSqlitePath(config.path)}` : postgresCacheKey(config);
}

/** The process's store for this config, opened and migrated on first use. A failed open is not cached. */
export function openSyncStore(config: StoreConfig): Promise<SyncStore> {
	if (config.kind !== 'sqlite' && config.kind !== 'postgres') {
		throw invalidInput(`Unknown sync store "${(config as { kind: unknown }).kind}"; choose sqlite or postgres`);
	}
	const key = cacheKey(config);
	let store = open.get(key);
	if (!store) {
		store = openUncached(config, () => open.delete(key));
		open.set(key, store);
		store.catch(() => open.delete(key));
	}
	return store;
}

/** `forget` runs when the store is closed, so the next open gets a fresh connection, not a closed one. */
async function openUncached(config: StoreConfig, forget: () => void): Promise<SyncStore> {
	if (config.kind === 'postgres') return PostgresSyncStore.open(config, forget);
	const store = SqliteSyncStore.open({ path: resolveSqlitePath(config.path), busyTimeoutMs: config.busyTimeoutMs }, () => {
		forget();
		openSqlite.delete(store);
	});
	openSqlite.add(store);
	return store;
}

/** Closes every store this process opened (tests, shutdown). */
export async function closeAllSyncStores(): Promise<void> {
	const stores = [...open.values()];
	open.clear();
	await Promise.all(stores.map(async (pending) => (await pending.catch(() => undefined))?.close()));
}

// SQLite files are closed at exit so the WAL is checkpointed; pools close themselves when idle.
process.once('exit', () => {
	for (const store of openSqlite) store.closeSync();
});
