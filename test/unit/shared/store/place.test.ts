/**
 * The embedded store stays in its place: never n8n's own database or another program's SQLite file,
 * never out of the n8n folder by a relative path, n8n's file access rules elsewhere, files 0600.
 */
import { DatabaseSync } from 'node:sqlite';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IExecuteFunctions } from 'n8n-workflow';

import { closeAllSyncStores, openSyncStore, resolveSqlitePath } from '../../../../nodes/shared/store';
import { openStoreForNode } from '../../../../nodes/shared/store/node';
import { assertSqliteAllowed, STORE_APPLICATION_ID } from '../../../../nodes/shared/store/place';

const HOUR = 3_600_000;

describe('embedded SQLite store: its place', () => {
	let home: string;
	let n8nFolder: string;
	let outside: string;
	const saved = { ...process.env };

	beforeEach(() => {
		home = mkdtempSync(join(tmpdir(), 'hub-sync-place-'));
		n8nFolder = join(home, '.n8n');
		outside = join(home, 'elsewhere');
		mkdirSync(n8nFolder);
		mkdirSync(outside);
		process.env.N8N_USER_FOLDER = home;
		delete process.env.DB_SQLITE_DATABASE;
	});

	afterEach(async () => {
		await closeAllSyncStores();
		process.env = { ...saved };
		rmSync(home, { recursive: true, force: true });
	});

	/** A stand-in for n8n's database: WAL, n8n's tables, no application_id. */
	function n8nDatabase(path: string): Buffer {
		const db = new DatabaseSync(path);
		db.exec('PRAGMA journal_mode = WAL');
		db.exec('CREATE TABLE workflow_entity (id TEXT PRIMARY KEY, name TEXT); CREATE TABLE credentials_entity (id TEXT PRIMARY KEY)');
		db.exec("INSERT INTO workflow_entity VALUES ('w1', 'My workflow')");
		db.close();
		return readFileSync(path);
	}

	it('refuses a relative path that leads out of the n8n folder, before touching anything', async () => {
		for (const path of ['../elsewhere/x.sqlite', 'stores/../../x.sqlite', '..']) {
			expect(() => resolveSqlitePath(path)).toThrow(/leads out of the n8n folder.*must stay inside it/s);
			await expect(openSyncStore({ kind: 'sqlite', path })).rejects.toMatchObject({ code: 'invalid-input' });
		}
		expect(resolveSqlitePath('../.n8n/back-in.sqlite')).toBe(join(n8nFolder, 'back-in.sqlite'));
	});

	it("refuses n8n's own database by name, by absolute path, through a link and as DB_SQLITE_DATABASE, leaving it byte for byte", async () => {
		const database = join(n8nFolder, 'database.sqlite');
		const before = n8nDatabase(database);
		symlinkSync(database, join(outside, 'link.sqlite'));
		for (const path of ['database.sqlite', database, join(outside, 'link.sqlite'), `${database}-wal`]) {
			await expect(openSyncStore({ kind: 'sqlite', path })).rejects.toMatchObject({
				code: 'not-ours',
				message: expect.stringMatching(/is n8n's own database.*never writes into it/),
			});
		}
		expect(readFileSync(database).equals(before)).toBe(true);

		process.env.DB_SQLITE_DATABASE = join(outside, 'n8n.db');
		n8nDatabase(join(outside, 'n8n.db'));
		await expect(openSyncStore({ kind: 'sqlite', path: join(outside, 'n8n.db') })).rejects.toMatchObject({ code: 'not-ours' });
	});

	it("refuses another program's SQLite file (its tables, or another application_id) and leaves it untouched", async () => {
		const theirs = join(outside, 'app.sqlite');
		const before = n8nDatabase(theirs);
		await expect(openSyncStore({ kind: 'sqlite', path: theirs })).rejects.toMatchObject({
			code: 'not-ours',
			message: expect.stringMatching(/another program \(application_id 0; its tables include credentials_entity, workflow_entity\).*left untouched/),
		});
		expect(readFileSync(theirs).equals(before)).toBe(true);

		const marked = join(outside, 'marked.sqlite');
		const db = new DatabaseSync(marked);
		db.exec('PRAGMA application_id = 1234');
		db.close();
		const markedBefore = readFileSync(marked);
		await expect(openSyncStore({ kind: 'sqlite', path: marked })).rejects.toMatchObject({
			code: 'not-ours',
			message: expect.stringContaining('application_id 1234'),
		});
		expect(readFileSync(marked).equals(markedBefore)).toBe(true);
	});

	it('refuses a file of n8n\'s folder that is not a .sqlite file (an empty one would become a store)', async () => {
		writeFileSync(join(n8nFolder, 'crash.journal'), '');
		await expect(openSyncStore({ kind: 'sqlite', path: 'crash.journal' })).rejects.toMatchObject({
			code: 'not-ours',
			message: expect.stringMatching(/does not end in \.sqlite/),
		});
		expect(readFileSync(join(n8nFolder, 'crash.journal')).length).toBe(0);
	});

	it('marks a new store as ours and creates its files readable by the n8n user only', async () => {
		const store = await openSyncStore({ kind: 'sqlite', path: '' });
		await store.acquire({ lockName: 'x', holder: 'h', ttlMs: HOUR });
		const path = join(n8nFolder, 'mailchimp-hub-sync.sqlite');
		for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(statSync(file).mode & 0o777).toBe(0o600);
		const deeper = join(outside, 'new-folder', 'store.sqlite');
		await openSyncStore({ kind: 'sqlite', path: deeper });
		expect(statSync(join(outside, 'new-folder')).mode & 0o777).toBe(0o700);
		await closeAllSyncStores();
		const db = new DatabaseSync(path, { readOnly: true });
		expect((db.prepare('PRAGMA application_id').get() as { application_id: number }).application_id).toBe(STORE_APPLICATION_ID);
		db.close();
	});

	it('adopts a store made before stores were marked (only our tables) and keeps its rows', async () => {
		const path = join(outside, 'old.sqlite');
		const first = await openSyncStore({ kind: 'sqlite', path });
		await first.acquire({ lockName: 'kept', holder: 'owner', ttlMs: HOUR });
		await closeAllSyncStores();
		const unmark = new DatabaseSync(path);
		unmark.exec('PRAGMA application_id = 0');
		unmark.close();
		const store = await openSyncStore({ kind: 'sqlite', path });
		expect((await store.status('kept')).holder?.holder).toBe('owner');
		await closeAllSyncStores();
		const db = new DatabaseSync(path, { readOnly: true });
		expect((db.prepare('PRAGMA application_id').get() as { application_id: number }).application_id).toBe(STORE_APPLICATION_ID);
		db.close();
	});

	describe("n8n's file access rules, as a node opens the store", () => {
		const asked: string[] = [];
		const context = (storePath: string, blocked: boolean) =>
			({
				getNodeParameter: (name: string) => (name === 'store' ? 'sqlite' : storePath),
				helpers: {
					isFilePathBlocked: (path: string) => {
						asked.push(path);
						return blocked;
					},
				},
			}) as unknown as IExecuteFunctions;

		beforeEach(() => asked.splice(0));

		it('refuses a file outside the n8n folder that n8n blocks for its file nodes', async () => {
			const path = join(outside, 'store.sqlite');
			await expect(openStoreForNode(context(path, true), 0)).rejects.toMatchObject({
				code: 'permission',
				message: expect.stringMatching(/n8n does not allow access to the store file .*N8N_RESTRICT_FILE_ACCESS_TO/),
			});
			expect(asked).toEqual([path]);
			const allowed = await openStoreForNode(context(path, false), 0);
			expect((await allowed.acquire({ lockName: 'a', holder: 'h', ttlMs: HOUR })).acquired).toBe(true);
		});

		it("keeps the default store in the n8n folder, which n8n's rules close to file nodes as a whole", async () => {
			const store = await openStoreForNode(context('', true), 0);
			expect(store.location).toBe(join(n8nFolder, 'mailchimp-hub-sync.sqlite'));
			expect(asked).toEqual([]);
		});
	});
});

describe('embedded SQLite store in queue mode', () => {
	const saved = process.env.EXECUTIONS_MODE;

	afterEach(async () => {
		if (saved === undefined) delete process.env.EXECUTIONS_MODE;
		else process.env.EXECUTIONS_MODE = saved;
		await closeAllSyncStores();
	});

	it('is refused with an error that says to choose PostgreSQL, also for a store opened before', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'hub-sync-queue-'));
		try {
			const path = join(dir, 'store.sqlite');
			await openSyncStore({ kind: 'sqlite', path });
			process.env.EXECUTIONS_MODE = 'queue';
			await expect(openSyncStore({ kind: 'sqlite', path })).rejects.toMatchObject({
				code: 'invalid-input',
				message: expect.stringMatching(/cannot be used when n8n runs in queue mode.*own lock and ledger.*Choose PostgreSQL/s),
			});
			process.env.EXECUTIONS_MODE = 'regular';
			await expect(openSyncStore({ kind: 'sqlite', path })).resolves.toBeDefined();
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it('knows an n8n worker process is in queue mode whatever the environment says', () => {
		expect(() => assertSqliteAllowed({}, ['/usr/bin/node', '/usr/lib/node_modules/n8n/bin/n8n', 'worker'])).toThrow(/queue mode/);
		expect(() => assertSqliteAllowed({}, ['/usr/bin/node', '/usr/lib/node_modules/n8n/bin/n8n', 'start'])).not.toThrow();
		expect(() => assertSqliteAllowed({ EXECUTIONS_MODE: 'Queue ' }, [])).toThrow(/queue mode/);
	});
});
