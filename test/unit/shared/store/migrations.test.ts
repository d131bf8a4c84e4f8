/**
 * Upgrading a store that is in use: a lease taken under schema version 1 (which did not keep the
 * lease's time to live) is renewed after the upgrade by the length it was taken for.
 */
import { DatabaseSync } from 'node:sqlite';
import { Client } from 'pg';

import { closeAllSyncStores, openSyncStore } from '../../../../nodes/shared/store';
import { hashToken } from '../../../../nodes/shared/store/common';
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from '../../../../nodes/shared/store/migrations';
import { postgresFixture, sqliteFixture, type BackendFixture } from './backends';

const HOUR = 3_600_000;
const TOKEN = 'exec-old.0123456789abcdef0123456789abcdef';

function version1(migrations: typeof SQLITE_MIGRATIONS): string {
	return migrations.find((m) => m.version === 1)!.sql;
}

async function seedVersion1(fixture: BackendFixture, acquiredAt: Date, expiresAt: Date): Promise<void> {
	const lease = ['old-lock', hashToken(TOKEN), 'exec-old', 'run-old'];
	if (fixture.config.kind === 'sqlite') {
		const db = new DatabaseSync(fixture.config.path);
		db.exec(version1(SQLITE_MIGRATIONS));
		db.exec('PRAGMA user_version = 1');
		db.prepare('INSERT INTO hub_sync_lease VALUES (?, ?, ?, ?, ?, ?)').run(...lease, acquiredAt.getTime(), expiresAt.getTime());
		db.close();
		return;
	}
	const { schema, host, port, user, password, database } = fixture.config;
	const db = new Client({ host, port, user, password, database });
	await db.connect();
	try {
		await db.query(`CREATE SCHEMA ${schema}`);
		await db.query(`SET search_path = ${schema}`);
		await db.query(version1(POSTGRES_MIGRATIONS));
		await db.query(
			'CREATE TABLE hub_sync_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
		);
		await db.query(`INSERT INTO hub_sync_migrations (version, description) VALUES (1, 'v1')`);
		await db.query('INSERT INTO hub_sync_lease VALUES ($1, $2, $3, $4, $5, $6)', [...lease, acquiredAt, expiresAt]);
	} finally {
		await db.end();
	}
}

describe.each([
	['sqlite', sqliteFixture],
	['postgres', postgresFixture],
])('store upgrade from version 1: %s', (_name, makeFixture) => {
	let fixture: BackendFixture;

	beforeAll(async () => {
		fixture = await makeFixture();
	});

	afterAll(async () => {
		await closeAllSyncStores();
		await fixture.cleanup();
	});

	it('keeps a held lease and renews it without a TTL by the length it was taken for', async () => {
		const now = Date.now();
		await seedVersion1(fixture, new Date(now - 10 * 60_000), new Date(now + 50 * 60_000));
		const store = await openSyncStore(fixture.config);
		expect((await store.status('old-lock')).holder?.holder).toBe('exec-old');
		const renewed = await store.renew(TOKEN);
		if (!renewed.renewed) throw new Error('expected a renewal');
		const left = renewed.lease.expiresAt.getTime() - Date.now();
		expect(left).toBeGreaterThan(HOUR - 5_000);
		expect(left).toBeLessThanOrEqual(HOUR);
	});
});
