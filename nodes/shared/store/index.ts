/**
 * Entry point of the sync store: pick a backend from a config and get the process's one open store
 * for it. Stores are cached per database (file path, or server + user + schema + hashed password),
 * so every execution in this process shares one SQLite connection or one PostgreSQL pool.
 */
import { invalidInput } from './errors';
import { assertSqliteAllowed, checkStorePlace, resolveSqlitePath } from './place';
import { PostgresSyncStore, postgresCacheKey, type PostgresStoreOptions } from './postgres';
import { SqliteSyncStore } from './sqlite';
import type { SyncStore } from './types';

export * from './types';
export { LeaseLostError, SyncStoreError, type SyncStoreErrorCode } from './errors';
export { testPostgresConnection, type PostgresSslMode, type PostgresStoreOptions } from './postgres';

export { n8nDataFolder, resolveSqlitePath, SQLITE_FILE_NAME } from './place';

export type StoreConfig =
	| { kind: 'sqlite'; path?: string; busyTimeoutMs?: number }
	| ({ kind: 'postgres' } & PostgresStoreOptions);

const open = new Map<string, Promise<SyncStore>>();
/** Opened SQLite stores, kept apart so they can be closed synchronously at exit. */
const openSqlite = new Set<SqliteSyncStore>();

function cacheKey(config: StoreConfig): string {
	return config.kind === 'sqlite' ? `sqlite:${resolveSqlitePath(config.path)}` : postgresCacheKey(config);
}

/** The process's store for this config, opened and migrated on first use. A failed open is not cached. */
export function openSyncStore(config: StoreConfig): Promise<SyncStore> {
	let key: string;
	try {
		if (config.kind !== 'sqlite' && config.kind !== 'postgres') {
			throw invalidInput(`Unknown sync store "${(config as { kind: unknown }).kind}"; choose sqlite or postgres`);
		}
		if (config.kind === 'sqlite') assertSqliteAllowed();
		key = cacheKey(config);
	} catch (error) {
		return Promise.reject(error);
	}
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
	const path = resolveSqlitePath(config.path);
	checkStorePlace(path);
	const store = await SqliteSyncStore.open({ path, busyTimeoutMs: config.busyTimeoutMs }, () => {
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
