/**
 * Where the embedded store may live. The store file is ours alone: it may sit in n8n's folder (that
 * is its default home), but never be n8n's own database, never another program's SQLite file, and a
 * relative path never leads out of the n8n folder. Paths outside the n8n folder are further checked
 * by n8n's own file-access rules when a node opens the store (see node.ts).
 */
import { existsSync, realpathSync } from 'fs';
import { homedir } from 'os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'path';

import { invalidInput, SyncStoreError } from './errors';

export const SQLITE_FILE_NAME = 'mailchimp-hub-sync.sqlite';

/** Marks a SQLite file as this package's store (PRAGMA application_id; "MCHB"). */
export const STORE_APPLICATION_ID = 0x4d434842;

/** n8n keeps its own data in `<N8N_USER_FOLDER or home>/.n8n`; the store file sits beside it. */
export function n8nDataFolder(env: NodeJS.ProcessEnv = process.env): string {
	return join(env.N8N_USER_FOLDER || homedir(), '.n8n');
}

/** True if `path` is `folder` itself or anywhere below it. */
export function isWithin(folder: string, path: string): boolean {
	const rel = relative(folder, path);
	return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Empty → the default file; `~/…` → under home; relative → under the n8n data folder, and it must
 * stay there (`../` out of it is refused).
 */
export function resolveSqlitePath(path: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
	const given = (path ?? '').trim();
	const folder = n8nDataFolder(env);
	if (given === '') return join(folder, SQLITE_FILE_NAME);
	if (given === '~' || given.startsWith('~/')) return join(homedir(), given.slice(1));
	if (isAbsolute(given)) return resolve(given);
	const resolved = resolve(folder, given);
	if (!isWithin(folder, resolved)) {
		throw invalidInput(
			`The store file "${given}" leads out of the n8n folder (${folder}): a relative path is taken from that folder and must stay inside it. ` +
				'Give a file name inside it, or an absolute path in a folder n8n may use.',
		);
	}
	return resolved;
}

/**
 * The path with every symbolic link resolved, also for a file (or folders) not created yet: the
 * deepest part that exists is resolved and the rest appended, the way n8n resolves file node paths.
 */
export function realPathOf(path: string): string {
	let existing = path;
	const rest: string[] = [];
	while (!existsSync(existing)) {
		const parent = dirname(existing);
		if (parent === existing) break;
		rest.unshift(basename(existing));
		existing = parent;
	}
	try {
		return join(realpathSync(existing), ...rest);
	} catch {
		return path;
	}
}

/** n8n's own database file: DB_SQLITE_DATABASE if set (relative to the n8n folder), else database.sqlite. */
export function n8nDatabasePath(env: NodeJS.ProcessEnv = process.env): string {
	return resolve(n8nDataFolder(env), env.DB_SQLITE_DATABASE || 'database.sqlite');
}

/**
 * Refuses a store path that is not the store's place; returns it with links resolved. Inside the n8n
 * folder only a `.sqlite` file that is not n8n's database is allowed (n8n keeps its settings, keys and
 * journals there, and an empty file of theirs would otherwise become a fresh store).
 */
export function checkStorePlace(path: string, env: NodeJS.ProcessEnv = process.env): string {
	const real = realPathOf(path);
	const n8nDatabase = realPathOf(n8nDatabasePath(env));
	const companions = ['', '-wal', '-shm', '-journal'].map((suffix) => `${n8nDatabase}${suffix}`);
	if (companions.includes(real)) {
		throw new SyncStoreError(
			'not-ours',
			`The store file ${path} is n8n's own database${real !== path ? ` (${real})` : ''}; the sync store never writes into it. ` +
				`Leave the Store File empty for ${SQLITE_FILE_NAME} in the n8n folder, or choose another file.`,
		);
	}
	const folder = realPathOf(n8nDataFolder(env));
	if (isWithin(folder, real) && !real.endsWith('.sqlite')) {
		throw new SyncStoreError(
			'not-ours',
			`The store file ${path} lies in the n8n folder (${folder}) but does not end in .sqlite; n8n keeps its own files there, ` +
				`so a store there must be a .sqlite file of its own. Leave the Store File empty for ${SQLITE_FILE_NAME}, or choose another name.`,
		);
	}
	return real;
}

/**
 * The embedded store keeps its lock in one host's file; n8n's queue mode spreads runs over workers.
 * Queue mode is EXECUTIONS_MODE=queue, or this process being `n8n worker` (which switches to queue
 * mode whatever the environment says).
 */
export function assertSqliteAllowed(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): void {
	const isWorker = basename(argv[1] ?? '') === 'n8n' && argv[2] === 'worker';
	if ((env.EXECUTIONS_MODE ?? '').trim().toLowerCase() === 'queue' || isWorker) {
		throw invalidInput(
			'The embedded SQLite store cannot be used when n8n runs in queue mode (EXECUTIONS_MODE=queue): each worker would ' +
				'keep its own file, so its own lock and ledger, and two workers could sync the same audience at once. ' +
				'Choose PostgreSQL as the Store and select a Sync Store (Postgres) credential in every node of this sync.',
		);
	}
}
