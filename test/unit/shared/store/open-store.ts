/**
 * Opens the SQLite store at argv[2] and tries to acquire a lock, printing one JSON line with the
 * outcome. The bad-input tests run it as an unprivileged user, where file permissions really bite
 * (root ignores them).
 */
import { openSyncStore, SyncStoreError } from '../../../../nodes/shared/store';

async function main(): Promise<void> {
	try {
		const store = await openSyncStore({ kind: 'sqlite', path: process.argv[2] });
		const result = await store.acquire({ lockName: 'perm', holder: 'intruder', ttlMs: 60_000 });
		console.log(JSON.stringify({ ok: true, acquired: result.acquired }));
	} catch (error) {
		const code = error instanceof SyncStoreError ? error.code : 'unexpected';
		console.log(JSON.stringify({ ok: false, code, message: (error as Error).message }));
	}
}

void main();
