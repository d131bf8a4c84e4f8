/**
 * A failed sync ends the n8n execution as failed (issue 8, #9), after the lock is released and the run
 * recorded, so n8n's executions list and error workflow see it. Partial and successful runs do not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INodeExecutionData } from 'n8n-workflow';

import { SyncLock } from '../../../../nodes/SyncLock/SyncLock.node';
import { closeAllSyncStores, openSyncStore } from '../../../../nodes/shared/store';
import { fakeExecuteContext } from '../../helpers/fakeExecuteContext';

const node = new SyncLock();
let dir: string;
let storePath: string;

function run(parameters: Record<string, unknown>, items: INodeExecutionData[] = [{ json: {} }], continueOnFail = false) {
	const context = fakeExecuteContext({
		parameters: { store: 'sqlite', storePath, ...parameters },
		items,
		continueOnFail,
		node: { name: 'Release Sync Lock', type: 'n8n-nodes-mailchimp-hub-sync.syncLock' },
		overrides: { getExecutionId: () => 'exec-1', getMode: () => 'trigger' },
	});
	return node.execute.call(context);
}

async function acquire(): Promise<string> {
	const [acquired] = await run({ operation: 'acquire', lockName: 'aud-1', leaseMinutes: 120 });
	return String(acquired[0].json.token);
}

const hubDown: INodeExecutionData = { json: { error: 'The Hub did not answer (POST /v1/contacts): connection refused', fatal: true } };
const created: INodeExecutionData = { json: { sync: { result: 'created' } } };

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'hub-sync-release-'));
	storePath = join(dir, 'store.sqlite');
});
afterEach(async () => {
	await closeAllSyncStores();
	rmSync(dir, { recursive: true, force: true });
});

describe('Release of a failed sync', () => {
	it('fails the execution, naming the lock and the reason, after releasing the lock and recording the run', async () => {
		const token = await acquire();
		await expect(run({ operation: 'release', token, outcome: 'auto' }, [created, hubDown])).rejects.toThrow(
			'The sync of "aud-1" failed: The run failed: The Hub did not answer',
		);
		const error = await run({ operation: 'release', token: await acquire(), outcome: 'auto' }, [hubDown]).catch((e: { context: Record<string, unknown> }) => e);
		expect((error as { context: Record<string, unknown> }).context.run).toMatchObject({ released: true, outcome: 'failed', counts: { errors: 1 } });
		const store = await openSyncStore({ kind: 'sqlite', path: storePath });
		const status = await store.status('aud-1');
		expect(status.holder).toBeNull();
		expect(status.runs[1]).toMatchObject({ outcome: 'failed', counts: { created: 1, errors: 1 } });
	});

	it('with "continue on fail", puts out the released run instead (its outcome says failed)', async () => {
		const token = await acquire();
		const [out] = await run({ operation: 'release', token, outcome: 'auto' }, [hubDown], true);
		expect(out).toHaveLength(1);
		expect(out[0].json).toMatchObject({ released: true, outcome: 'failed' });
	});

	it('leaves the execution green for a partial or successful run, and when the option is off', async () => {
		const failedItem: INodeExecutionData = { json: { error: 'The Hub rejected the phone number', sync: { memberKey: 'm2' } } };
		await expect(run({ operation: 'release', token: await acquire(), outcome: 'auto' }, [created, failedItem])).resolves.toBeDefined();
		await expect(run({ operation: 'release', token: await acquire(), outcome: 'auto' }, [created])).resolves.toBeDefined();
		const [out] = await run({ operation: 'release', token: await acquire(), outcome: 'auto', releaseOptions: { failExecution: false } }, [hubDown]);
		expect(out[0].json).toMatchObject({ released: true, outcome: 'failed' });
	});
});

describe('Release names the audience (issue 8, #8)', () => {
	it('by the name Acquire was given, with the lock name, in its message and in the failure', async () => {
		const [acquired] = await run({ operation: 'acquire', lockName: 'aud-1', leaseMinutes: 120, acquireOptions: { audienceName: 'Customers' } });
		const lease = acquired[0];
		expect(lease.json.audienceName).toBe('Customers');
		const [out] = await run({ operation: 'release', token: lease.json.token, outcome: 'auto' }, [lease, created]);
		expect(out[0].json.message).toBe('Released "Customers" (aud-1): success (created 1)');

		const [again] = await run({ operation: 'acquire', lockName: 'aud-1', leaseMinutes: 120, acquireOptions: { audienceName: 'Customers' } });
		await expect(run({ operation: 'release', token: again[0].json.token, outcome: 'auto' }, [again[0], hubDown])).rejects.toThrow('The sync of "Customers" (aud-1) failed');
	});

	it('by the lock name when Acquire was given no name', async () => {
		const [acquired] = await run({ operation: 'acquire', lockName: 'aud-1', leaseMinutes: 120 });
		const [out] = await run({ operation: 'release', token: acquired[0].json.token, outcome: 'auto' }, [acquired[0], created]);
		expect(out[0].json.message).toBe('Released "aud-1": success (created 1)');
	});
});
