/**
 * The two backends as the tests see them: each test file gets a fresh SQLite file or a fresh
 * PostgreSQL schema (in the `test` database of the local server), removed again afterwards, so
 * parallel test files and repeated runs never see each other's rows.
 *
 * PostgreSQL settings come from PGHOST / PGPORT / PGUSER / PGPASSWORD / PGDATABASE, defaulting to the
 * machines' trust-auth server at 127.0.0.1:5432, user postgres, database test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

import type { PostgresStoreOptions } from '../../../../nodes/shared/store';

export function postgresServer(): Omit<PostgresStoreOptions, 'schema'> {
	return {
		host: process.env.PGHOST ?? '127.0.0.1',
		port: Number(process.env.PGPORT ?? 5432),
		user: process.env.PGUSER ?? 'postgres',
		password: process.env.PGPASSWORD ?? '',
		database: process.env.PGDATABASE ?? 'test',
	};
}

export type PostgresConfig = { kind: 'postgres' } & PostgresStoreOptions;

export interface BackendFixture {
	name: 'sqlite' | 'postgres';
	/** Store config for `openSyncStore` (and for child processes, as JSON). */
	config: { kind: 'sqlite'; path: string } | PostgresConfig;
	cleanup(): Promise<void>;
}

export async function sqliteFixture(): Promise<BackendFixture> {
	const dir = mkdtempSync(join(tmpdir(), 'hub-sync-store-'));
	return {
		name: 'sqlite',
		config: { kind: 'sqlite', path: join(dir, 'store.sqlite') },
		async cleanup() {
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

export async function postgresFixture(): Promise<BackendFixture> {
	const server = postgresServer();
	const schema = `hub_sync_test_${process.pid}_${randomBytes(4).toString('hex')}`;
	return {
		name: 'postgres',
		config: { kind: 'postgres', ...server, schema },
		async cleanup() {
			const admin = new Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database });
			await admin.connect();
			try {
				await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
			} finally {
				await admin.end();
			}
		},
	};
}

export const FIXTURES: Array<[string, () => Promise<BackendFixture>]> = [
	['sqlite', sqliteFixture],
	['postgres', postgresFixture],
];

export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
