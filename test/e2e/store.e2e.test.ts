/**
 * The embedded store stays in its place, in the real n8n: a Store File that names n8n's own database
 * or leads out of the n8n folder is refused, and a file elsewhere obeys n8n's own file access rules
 * (N8N_RESTRICT_FILE_ACCESS_TO), asked of n8n through the node's helpers.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { N8nSuite, type ExecutionResult, type WorkflowFixture } from './harness';

const LOCK_TYPE = 'n8n-nodes-mailchimp-hub-sync.syncLock';
const trigger = { id: 'trigger', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };

function statusIn(id: string, storePath: string): WorkflowFixture {
	return {
		id,
		name: `Sync Lock status in ${storePath}`,
		nodes: [
			trigger,
			{
				id: 'status',
				name: 'Sync Status',
				type: LOCK_TYPE,
				typeVersion: 1,
				position: [220, 0],
				parameters: { operation: 'status', lockName: 'place', store: 'sqlite', storePath },
			},
		],
		connections: { Start: { main: [[{ node: 'Sync Status', type: 'main', index: 0 }]] } },
	};
}

function failure(result: ExecutionResult): string {
	expect(result.ok).toBe(false);
	return result.error?.message ?? '';
}

describe('the embedded store in the real n8n stays in its place', () => {
	let n8n: N8nSuite;
	let allowed: string;
	let outside: string;
	const ids = { database: 'e2eStorePlace0001', escape: 'e2eStorePlace0002', blocked: 'e2eStorePlace0003', allowed: 'e2eStorePlace0004' };

	beforeAll(async () => {
		n8n = await N8nSuite.create({ name: 'store-place' });
		allowed = path.join(n8n.userFolder, 'allowed');
		outside = path.join(n8n.userFolder, 'outside');
		mkdirSync(allowed);
		mkdirSync(outside);
		await n8n.importWorkflows([
			statusIn(ids.database, 'database.sqlite'),
			statusIn(ids.escape, '../escape.sqlite'),
			statusIn(ids.blocked, path.join(outside, 'store.sqlite')),
			statusIn(ids.allowed, path.join(allowed, 'store.sqlite')),
		]);
	}, 600_000);

	afterAll(async () => {
		await n8n?.dispose();
	});

	it("refuses n8n's own database and a path out of the n8n folder, and n8n keeps working", async () => {
		expect(failure(await n8n.tryExecute(ids.database))).toMatch(/is n8n's own database.*never writes into it/);
		expect(failure(await n8n.tryExecute(ids.escape))).toMatch(/leads out of the n8n folder/);
		expect(existsSync(path.join(n8n.userFolder, 'escape.sqlite'))).toBe(false);
	}, 300_000);

	it("applies n8n's N8N_RESTRICT_FILE_ACCESS_TO to a store file elsewhere, and creates an allowed one 0600", async () => {
		const env = { N8N_RESTRICT_FILE_ACCESS_TO: allowed };
		expect(failure(await n8n.tryExecute(ids.blocked, { env }))).toMatch(/n8n does not allow access to the store file/);
		expect(existsSync(path.join(outside, 'store.sqlite'))).toBe(false);

		const ok = await n8n.execute(ids.allowed, { env });
		expect(ok.itemsOf('Sync Status')[0]).toMatchObject({ lockName: 'place', running: false });
		expect(statSync(path.join(allowed, 'store.sqlite')).mode & 0o777).toBe(0o600);
	}, 300_000);
});
