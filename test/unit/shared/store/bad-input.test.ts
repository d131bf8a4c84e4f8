/**
 * Bad input and a broken environment: each gives an error that names the problem and says what to
 * do, and no state is lost (files are left byte for byte, leases stay with their holders).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { Client } from 'pg';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildSync } from 'esbuild';

import { closeAllSyncStores, openSyncStore, resolveSqlitePath, type SyncStore } from '../../../../nodes/shared/store';
import { postgresFixture, postgresServer, type BackendFixture, type PostgresConfig } from './backends';

const HOUR = 3_600_000;

/**
 * A temporary folder every user can enter: the system's, unless it sits inside a folder others
 * cannot enter (a private TMPDIR), then /tmp.
 */
function sharedTmp(): string {
	const reachable = (path: string): boolean =>
		path === dirname(path) || ((statSync(path).mode & 0o001) !== 0 && reachable(dirname(path)));
	return reachable(tmpdir()) ? tmpdir() : '/tmp';
}

/**
 * What the unprivileged child needs, in a folder it can reach wherever this checkout lives (a clone
 * may sit in a home or temp folder only its owner can enter): open-store.ts bundled with the store
 * code and its modules into one file, and the node binary (hard-linked, or copied if it is on another
 * file system), since ours may sit in the checkout's node_modules too.
 */
function prepareChild(): { dir: string; node: string; script: string } {
	const dir = mkdtempSync(join(sharedTmp(), 'hub-sync-child-'));
	chmodSync(dir, 0o755);
	const script = join(dir, 'open-store.js');
	buildSync({
		entryPoints: [join(__dirname, 'open-store.ts')],
		outfile: script,
		bundle: true,
		platform: 'node',
		format: 'cjs',
		// pg loads its optional native binding only when asked to.
		external: ['pg-native'],
		logLevel: 'silent',
	});
	chmodSync(script, 0o644);
	const node = join(dir, 'node');
	try {
		linkSync(process.execPath, node);
	} catch {
		copyFileSync(process.execPath, node);
	}
	chmodSync(node, 0o755);
	return { dir, node, script };
}

let child: ReturnType<typeof prepareChild> | undefined;

/** Runs open-store.ts as an unprivileged user when we are root, so file permissions apply. */
function openAsUnprivileged(path: string): { ok: boolean; code?: string; message?: string } {
	child ??= prepareChild();
	const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
	const run = spawnSync(child.node, [child.script, path], {
		...asNobody,
		cwd: child.dir,
		env: { ...process.env, HOME: child.dir },
		encoding: 'utf8',
		timeout: 60_000,
	});
	const line = run.stdout?.split('\n').find((l) => l.startsWith('{'));
	if (!line) throw new Error(`open-store.ts printed nothing: ${run.stderr ?? run.error}`);
	return JSON.parse(line);
}

afterAll(() => {
	if (child) rmSync(child.dir, { recursive: true, force: true });
});

describe('embedded SQLite store: bad paths and files', () => {
	let dir: string;

	beforeEach(() => {
		dir = mkdtempSync(join(sharedTmp(), 'hub-sync-bad-'));
		chmodSync(dir, 0o755);
	});

	afterEach(async () => {
		await closeAllSyncStores();
		chmodSync(dir, 0o755);
		rmSync(dir, { recursive: true, force: true });
	});

	it('names a store path whose folder cannot be created', async () => {
		writeFileSync(join(dir, 'a-file'), 'not a folder');
		const path = join(dir, 'a-file', 'store.sqlite');
		await expect(openSyncStore({ kind: 'sqlite', path })).rejects.toMatchObject({
			code: 'permission',
			message: expect.stringContaining(`Cannot create the folder for the sync store ${path}`),
		});
	});

	it('names an unreadable store file and leaves it as it was', async () => {
		const path = join(dir, 'store.sqlite');
		const seeded = await openSyncStore({ kind: 'sqlite', path });
		await seeded.acquire({ lockName: 'perm', holder: 'owner', ttlMs: HOUR });
		await seeded.close();
		const before = readFileSync(path);
		chmodSync(path, 0o000);

		const result = openAsUnprivileged(path);
		expect(result).toMatchObject({ ok: false, code: 'permission' });
		expect(result.message).toContain(`Cannot open the sync store ${path}`);
		expect(result.message).toMatch(/may read and write/);

		chmodSync(path, 0o644);
		expect(readFileSync(path).equals(before)).toBe(true);
		const store = await openSyncStore({ kind: 'sqlite', path });
		expect((await store.status('perm')).holder?.holder).toBe('owner');
	}, 60_000);

	it('names a read-only store and keeps the lease with its holder', async () => {
		const path = join(dir, 'store.sqlite');
		const seeded = await openSyncStore({ kind: 'sqlite', path });
		await seeded.acquire({ lockName: 'other', holder: 'owner', ttlMs: HOUR });
		await seeded.close();
		chmodSync(path, 0o444);
		chmodSync(dir, 0o555);

		const result = openAsUnprivileged(path);
		expect(result.ok).toBe(false);
		// Depending on whether SQLite gets as far as the write, it is "read-only" or "cannot open"; both name the file.
		expect(['read-only', 'permission']).toContain(result.code);
		expect(result.message).toContain(path);
		expect(result.message).toMatch(/write access|may read and write/);

		chmodSync(dir, 0o755);
		chmodSync(path, 0o644);
		const store = await openSyncStore({ kind: 'sqlite', path });
		const status = await store.status('other');
		expect(status.holder?.holder).toBe('owner');
		expect((await store.status('perm')).runs).toEqual([]);
	}, 60_000);

	it('refuses a file that is not a SQLite database and leaves it untouched', async () => {
		const path = join(dir, 'notes.sqlite');
		const content = Buffer.from('these are my notes, not a database\n'.repeat(300));
		writeFileSync(path, content);
		await expect(openSyncStore({ kind: 'sqlite', path })).rejects.toMatchObject({
			code: 'corrupt',
			message: expect.stringMatching(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a valid SQLite database.*left untouched`)),
		});
		expect(readFileSync(path).equals(content)).toBe(true);
	});

	it('refuses a store whose pages are damaged and leaves the file as it was', async () => {
		const path = join(dir, 'store.sqlite');
		const store = await openSyncStore({ kind: 'sqlite', path });
		const syncedAt = new Date();
		await store.upsertLedger(
			Array.from({ length: 3_000 }, (_, i) => ({
				syncName: 's',
				audienceId: 'a',
				memberKey: `m${i}`,
				contentHash: 'h'.repeat(40),
				hubContactId: null,
				phone: null,
				syncedAt,
			})),
		);
		await store.close();
		const damaged = readFileSync(path);
		damaged.fill(0x5a, 8192);
		writeFileSync(path, damaged);

		const reading = openSyncStore({ kind: 'sqlite', path }).then((s) => s.readLedger('s'));
		await expect(reading).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining(path) });
		expect(readFileSync(path).equals(damaged)).toBe(true);
	});

	it('puts the default store in the n8n user folder', () => {
		expect(resolveSqlitePath('', { N8N_USER_FOLDER: '/srv/n8n' })).toBe('/srv/n8n/.n8n/mailchimp-hub-sync.sqlite');
		expect(resolveSqlitePath('stores/a.sqlite', { N8N_USER_FOLDER: '/srv/n8n' })).toBe('/srv/n8n/.n8n/stores/a.sqlite');
		expect(resolveSqlitePath('/var/lib/x.sqlite', {})).toBe('/var/lib/x.sqlite');
	});

	it('creates a missing folder for a new store', async () => {
		const path = join(dir, 'deeper', 'still', 'store.sqlite');
		const store = await openSyncStore({ kind: 'sqlite', path });
		expect((await store.acquire({ lockName: 'x', holder: 'h', ttlMs: HOUR })).acquired).toBe(true);
	});
});

/** A PostgreSQL look-alike that asks for a password and rejects it the way the real server does. */
function startPasswordRejectingServer(): Promise<{ server: Server; port: number }> {
	const server = createServer((socket) => {
		let stage: 'startup' | 'password' = 'startup';
		socket.on('data', () => {
			if (stage === 'startup') {
				stage = 'password';
				// AuthenticationCleartextPassword
				socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
				return;
			}
			const fields = ['SFATAL', 'VFATAL', 'C28P01', 'Mpassword authentication failed for user "sync"'];
			const body = Buffer.concat([...fields.map((f) => Buffer.from(`${f}\0`)), Buffer.from([0])]);
			const header = Buffer.alloc(5);
			header.write('E');
			header.writeInt32BE(body.length + 4, 1);
			socket.end(Buffer.concat([header, body]));
		});
		socket.on('error', () => undefined);
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

/** A port on loopback with nothing listening. */
async function closedPort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise((resolve) => server.close(resolve));
	return port;
}

describe('PostgreSQL store: unreachable server, bad credentials', () => {
	let fixture: BackendFixture;
	let pg: PostgresConfig;
	let good: SyncStore;

	beforeAll(async () => {
		fixture = await postgresFixture();
		pg = fixture.config as PostgresConfig;
		good = await openSyncStore(pg);
		await good.acquire({ lockName: 'kept', holder: 'owner', ttlMs: HOUR });
	});

	afterAll(async () => {
		await closeAllSyncStores();
		await fixture.cleanup();
	});

	afterEach(async () => {
		// Whatever failed, the store that works still has its lease.
		expect((await good.status('kept')).holder?.holder).toBe('owner');
	});

	it('names the address when nothing listens there (server down or wrong port)', async () => {
		const port = await closedPort();
		await expect(openSyncStore({ ...pg, port })).rejects.toMatchObject({
			code: 'unreachable',
			message: expect.stringContaining(`Cannot reach the PostgreSQL sync store at 127.0.0.1:${port}/`),
		});
	});

	it('says the password was rejected, without repeating it', async () => {
		const { server, port } = await startPasswordRejectingServer();
		try {
			const attempt = openSyncStore({ ...pg, port, user: 'sync', password: 'hunter2-secret' });
			await expect(attempt).rejects.toMatchObject({
				code: 'auth',
				message: expect.stringMatching(/rejected the password for user "sync"; correct the password/),
			});
			await expect(attempt).rejects.not.toMatchObject({ message: expect.stringContaining('hunter2') });
		} finally {
			server.close();
		}
	});

	it('names an unknown user', async () => {
		await expect(openSyncStore({ ...pg, user: 'no_such_sync_user' })).rejects.toMatchObject({
			code: 'auth',
			message: expect.stringContaining('refused user "no_such_sync_user"'),
		});
	});

	it('names a missing database', async () => {
		await expect(
			openSyncStore({ ...pg, database: 'no_such_sync_database' }),
		).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/database .* does not exist/) });
	});

	it('names missing rights, and needs none beyond its own schema when that schema exists', async () => {
		const role = `hub_sync_limited_${process.pid}`;
		const schema = `${role}_own`;
		const admin = new Client({ ...postgresServer(), ssl: false });
		await admin.connect();
		try {
			await admin.query(`CREATE ROLE ${role} LOGIN`);
			await admin.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
			const limited = { ...pg, user: role, password: '' };
			// Creating a schema needs the CREATE right on the database, which PUBLIC does not have by default.
			await expect(openSyncStore({ ...limited, schema: `${role}_missing` })).rejects.toMatchObject({
				code: 'permission',
				message: expect.stringMatching(new RegExp(`User "${role}" may not create or use the sync store tables .*grant the rights or choose another schema`)),
			});
			const own = await openSyncStore({ ...limited, schema });
			expect((await own.acquire({ lockName: 'a', holder: 'h', ttlMs: HOUR })).acquired).toBe(true);
			await own.close();
		} finally {
			await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
			await admin.query(`DROP ROLE IF EXISTS ${role}`);
			await admin.end();
		}
	});

	it('rejects a port or schema name that cannot be right before connecting', async () => {
		await expect(openSyncStore({ ...postgresServer(), kind: 'postgres', port: 0 })).rejects.toMatchObject({
			code: 'invalid-input',
			message: expect.stringContaining('port must be a number from 1 to 65535'),
		});
		await expect(openSyncStore({ ...postgresServer(), kind: 'postgres', schema: 'x; drop table y' })).rejects.toMatchObject({
			code: 'invalid-input',
		});
	});

	it('accepts only schema names PostgreSQL keeps as written, saying which name to use, and reopens those after a restart', async () => {
		const cases: Array<[string, string]> = [
			['MySchema', 'myschema'],
			['sync-store', 'sync_store'],
			['pg_sync', 'sync_sync'],
			['1st', '_1st'],
			['Sync Store', 'sync_store'],
		];
		for (const [schema, suggestion] of cases) {
			await expect(openSyncStore({ ...pg, schema })).rejects.toMatchObject({
				code: 'invalid-input',
				message: expect.stringContaining(`The schema name "${schema}" cannot be used: it must be lower-case letters`),
			});
			await expect(openSyncStore({ ...pg, schema })).rejects.toMatchObject({
				message: expect.stringContaining(`Use e.g. "${suggestion}"`),
			});
		}
		await expect(openSyncStore({ ...pg, schema: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'invalid-input' });

		const schema = `${pg.schema}_lower_2`;
		const admin = new Client({ ...postgresServer(), ssl: false });
		await admin.connect();
		try {
			for (let start = 0; start < 2; start++) {
				const store = await openSyncStore({ ...pg, schema });
				expect((await store.status('restart')).lockName).toBe('restart');
				await store.close();
			}
		} finally {
			await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
			await admin.end();
		}
	});
});

// A TTL of 0 or below and a missing token are part of the contract suite (contract.test.ts), on both backends.
