/**
 * The Sync Lock node through a fake execution context, against real stores (a temp SQLite file, and a
 * fresh PostgreSQL schema through the credential).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
	NodeOperationError,
	type ICredentialDataDecryptedObject,
	type ICredentialTestFunctions,
	type INodeExecutionData,
} from 'n8n-workflow';

import { HubSyncStorePostgres } from '../../../credentials/HubSyncStorePostgres.credentials';
import { SyncLock } from '../../../nodes/SyncLock/SyncLock.node';
import { closeAllSyncStores, openSyncStore } from '../../../nodes/shared/store';
import { postgresFixture, type BackendFixture } from '../shared/store/backends';
import { fakeExecuteContext } from '../helpers/fakeExecuteContext';

const node = new SyncLock();
let dir: string;
let storePath: string;

function run(
	parameters: Record<string, unknown>,
	options: { items?: INodeExecutionData[]; executionId?: string; continueOnFail?: boolean; credentials?: object } = {},
) {
	const context = fakeExecuteContext({
		parameters: { store: 'sqlite', storePath, ...parameters },
		items: options.items ?? [{ json: {} }],
		continueOnFail: options.continueOnFail,
		credentials: options.credentials as never,
		node: { name: 'Sync Lock', type: 'n8n-nodes-mailchimp-hub-sync.syncLock' },
		overrides: { getExecutionId: () => options.executionId ?? 'exec-1' },
	});
	return node.execute.call(context);
}

async function acquire(lockName: string, executionId: string, extra: Record<string, unknown> = {}) {
	const [acquired, busy] = await run({ operation: 'acquire', lockName, leaseMinutes: 120, ...extra }, { executionId });
	return { acquired, busy };
}

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'hub-sync-node-'));
	storePath = join(dir, 'store.sqlite');
});

afterEach(async () => {
	await closeAllSyncStores();
	rmSync(dir, { recursive: true, force: true });
});

describe('Sync Lock: Acquire', () => {
	it('sends the first run out of Acquired with its token, and the second out of Busy with the holder', async () => {
		const first = await acquire('aud-1', 'exec-1');
		expect(first.busy).toEqual([]);
		expect(first.acquired).toHaveLength(1);
		const lease = first.acquired[0];
		expect(lease.pairedItem).toEqual({ item: 0 });
		expect(lease.json).toMatchObject({ lockName: 'aud-1', acquired: true, holder: 'exec-1', runId: expect.any(String) });
		expect(String(lease.json.token)).toMatch(/^exec-1\./);
		expect(Date.parse(String(lease.json.expiresAt)) - Date.parse(String(lease.json.acquiredAt))).toBe(120 * 60_000);

		const second = await acquire('aud-1', 'exec-2');
		expect(second.acquired).toEqual([]);
		expect(second.busy).toEqual([
			{
				json: {
					lockName: 'aud-1',
					acquired: false,
					holder: 'exec-1',
					since: lease.json.acquiredAt,
					expiresAt: lease.json.expiresAt,
					runId: lease.json.runId,
					message: `A sync of "aud-1" is already running since ${lease.json.acquiredAt} (execution exec-1); its lease ends at ${lease.json.expiresAt} at the latest`,
				},
				pairedItem: { item: 0 },
			},
		]);
		expect(JSON.stringify(second)).not.toContain(String(lease.json.token));
	});

	it('lets different audiences run at the same time', async () => {
		expect((await acquire('aud-1', 'exec-1')).acquired).toHaveLength(1);
		expect((await acquire('aud-2', 'exec-2')).acquired).toHaveLength(1);
	});

	it('refuses a lease of 0 or fewer minutes, naming the problem', async () => {
		for (const leaseMinutes of [0, -10]) {
			await expect(acquire('aud-1', 'exec-1', { leaseMinutes })).rejects.toThrow(
				`The lease duration must be more than 0 minutes; got ${leaseMinutes}`,
			);
		}
		expect((await acquire('aud-1', 'exec-1')).acquired).toHaveLength(1);
	});

	it('never sends a failure out of Acquired, even with Continue On Fail', async () => {
		const [acquired, busy] = await run({ operation: 'acquire', lockName: 'aud-1', leaseMinutes: 0 }, { continueOnFail: true });
		expect(acquired).toEqual([]);
		expect(busy).toEqual([
			{ json: { acquired: false, error: 'The lease duration must be more than 0 minutes; got 0' }, pairedItem: { item: 0 } },
		]);
	});

	it('asks for a lock name when it is empty', async () => {
		await expect(acquire('  ', 'exec-1')).rejects.toThrow('The lock name is empty');
	});

	it('names an unusable store file', async () => {
		const blocker = join(dir, 'blocker');
		writeFileSync(blocker, 'a file where a folder should be');
		storePath = join(blocker, 'store.sqlite');
		await expect(acquire('aud-1', 'exec-1')).rejects.toThrow(`Cannot create the folder for the sync store ${storePath}`);
	});
});

describe('Sync Lock: Release', () => {
	it('releases once for all items of the run and records the counts of what was done (sync.result by default)', async () => {
		const { acquired } = await acquire('aud-1', 'exec-1');
		const token = acquired[0].json.token;
		const items: INodeExecutionData[] = [
			{ json: { sync: { change: 'new', result: 'created' } } },
			{ json: { sync: { change: 'new', result: 'created' } } },
			{ json: { sync: { change: 'changed', result: 'updated' } } },
			{ json: { sync: { change: 'removed', result: 'removed-from-list' } } },
			{ json: { sync: { change: 'new' }, error: 'The Hub rejected the phone number' } },
		];
		const [out] = await run({ operation: 'release', token, outcome: 'auto', releaseOptions: {} }, { items });
		expect(out).toHaveLength(1);
		expect(out[0].pairedItem).toEqual(items.map((_, item) => ({ item })));
		expect(out[0].json).toMatchObject({
			lockName: 'aud-1',
			released: true,
			outcome: 'partial',
			counts: { created: 2, updated: 1, 'removed-from-list': 1, errors: 1 },
			errorSummary: '1 item failed: The Hub rejected the phone number',
			message: 'Released "aud-1": partial (created 2, updated 1, removed-from-list 1, errors 1)',
		});
		expect((await acquire('aud-1', 'exec-2')).acquired).toHaveLength(1);
	});

	it('records the run failed when one item says it must fail (fatal), however many succeeded', async () => {
		const { acquired } = await acquire('aud-1', 'exec-1');
		const items: INodeExecutionData[] = [
			{ json: { sync: { change: 'new', result: 'created' } } },
			{ json: { sync: { change: 'removed' }, error: 'Removal guard: 30 of 100 members would be removed', fatal: true } },
		];
		const [out] = await run({ operation: 'release', token: acquired[0].json.token, outcome: 'auto', releaseOptions: {} }, { items });
		expect(out[0].json).toMatchObject({ released: true, outcome: 'failed', counts: { created: 1, errors: 1 } });
		expect(String(out[0].json.errorSummary)).toMatch(/^The run failed: Removal guard/);
	});

	it("shows the consent messages claimed but never marked sent (a run stopped between the Hub's answer and the store), for the operator", async () => {
		const store = await openSyncStore({ kind: 'sqlite', path: storePath });
		await store.claimConsentAsks('aud-1', ['+61491570156', '+61491570110']);
		await store.markConsentAsked('aud-1', '+61491570110', 'msg-1');
		const [status] = await run({ operation: 'status', lockName: 'aud-1', runLimit: 5, includeBusy: true });
		expect(status[0].json.consentClaimedUnknown).toEqual(['+61491570156']);
		expect(String(status[0].json.message)).toMatch(/1 consent message may have gone out .*never resent/);
	});

	it('changes nothing for a wrong token and says so', async () => {
		const { acquired } = await acquire('aud-1', 'exec-1');
		const [out] = await run({ operation: 'release', token: 'exec-1.0000', outcome: 'auto' });
		expect(out[0].json).toMatchObject({ released: false, reason: 'unknown-token', message: expect.stringMatching(/^Nothing released: this token never held a lease/) });
		const [status] = await run({ operation: 'status', lockName: 'aud-1', runLimit: 5, includeBusy: true });
		expect(status[0].json).toMatchObject({ running: true, holder: { runId: acquired[0].json.runId } });
	});

	it('says a second release found the run already released', async () => {
		const { acquired } = await acquire('aud-1', 'exec-1');
		const token = acquired[0].json.token;
		await run({ operation: 'release', token, outcome: 'success' });
		const [again] = await run({ operation: 'release', token, outcome: 'failed' });
		expect(again[0].json).toMatchObject({ released: false, reason: 'already-released', message: expect.stringContaining('already released its lease (success') });
	});

	it('asks for the token when it is missing; with Continue On Fail the item says so', async () => {
		await expect(run({ operation: 'release', token: '', outcome: 'auto' })).rejects.toThrow('The owner token is missing');
		const [out] = await run({ operation: 'release', token: '', outcome: 'auto' }, { continueOnFail: true });
		expect(out).toEqual([{ json: { released: false, error: 'The owner token is missing' }, pairedItem: [{ item: 0 }] }]);
	});

	it('takes an explicit outcome and error summary', async () => {
		const { acquired } = await acquire('aud-1', 'exec-1');
		const [out] = await run({
			operation: 'release',
			token: acquired[0].json.token,
			outcome: 'failed',
			releaseOptions: { errorSummary: 'Mailchimp was down' },
		});
		expect(out[0].json).toMatchObject({ outcome: 'failed', errorSummary: 'Mailchimp was down', counts: {} });
	});
});

describe('Sync Lock: Renew, Status, Force Release', () => {
	it('renews the lease; a released lease cannot be renewed', async () => {
		const { acquired } = await acquire('aud-1', 'exec-1');
		const token = acquired[0].json.token;
		const [renewed] = await run({ operation: 'renew', token, leaseMinutes: 240 });
		expect(renewed[0].json).toMatchObject({ lockName: 'aud-1', renewed: true, runId: acquired[0].json.runId });
		expect(Date.parse(String(renewed[0].json.expiresAt))).toBeGreaterThan(Date.parse(String(acquired[0].json.expiresAt)));
		await run({ operation: 'release', token, outcome: 'success' });
		await expect(run({ operation: 'renew', token, leaseMinutes: 240 })).rejects.toThrow(/^Nothing renewed: this run already released its lease/);
	});

	it('shows who runs now, then the last runs with outcome and counts', async () => {
		const { acquired } = await acquire('aud-1', 'exec-1');
		await acquire('aud-1', 'exec-2');
		const [during] = await run({ operation: 'status', lockName: 'aud-1', runLimit: 10, includeBusy: true });
		expect(during[0].json).toMatchObject({
			lockName: 'aud-1',
			running: true,
			holder: { holder: 'exec-1', runId: acquired[0].json.runId },
			message: expect.stringMatching(/^Running since .* \(execution exec-1\)/),
		});
		expect((during[0].json.runs as Array<{ outcome: string }>).map((r) => r.outcome)).toEqual(['busy', 'running']);

		await run(
			{ operation: 'release', token: acquired[0].json.token, outcome: 'auto' },
			{ items: [{ json: { sync: { change: 'new', result: 'created' } } }] },
		);
		const [after] = await run({ operation: 'status', lockName: 'aud-1', runLimit: 10, includeBusy: false });
		expect(after[0].json).toMatchObject({
			running: false,
			holder: null,
			message: expect.stringMatching(/^Idle; last run success at .* \(created 1\)$/),
			lastRun: { outcome: 'success', trigger: 'manual', holder: 'exec-1', counts: { created: 1 } },
		});
		expect(after[0].json.runs).toHaveLength(1);
		expect(after[0].pairedItem).toEqual({ item: 0 });
	});

	it('force-releases for an operator, and Status shows it as forced', async () => {
		await acquire('aud-1', 'stuck-exec');
		const [forced] = await run({ operation: 'forceRelease', lockName: 'aud-1', reason: 'stuck since Monday' });
		expect(forced[0].json).toMatchObject({ released: true, previous: { holder: 'stuck-exec' } });
		const [status] = await run({ operation: 'status', lockName: 'aud-1', runLimit: 1, includeBusy: true });
		expect(status[0].json.lastRun).toMatchObject({ outcome: 'forced', forcedRelease: true, errorSummary: 'stuck since Monday' });
		const [nothing] = await run({ operation: 'forceRelease', lockName: 'aud-1', reason: '' });
		expect(nothing[0].json).toMatchObject({ released: false, message: '"aud-1" was not locked; nothing to release' });
	});
});

describe('Sync Lock on PostgreSQL, through the credential', () => {
	let fixture: BackendFixture;
	let credentials: object;

	beforeAll(async () => {
		fixture = await postgresFixture();
		const config = fixture.config as { host: string; port: number; database: string; user: string; password: string; schema: string };
		credentials = {
			hubSyncStorePostgres: {
				type: new HubSyncStorePostgres(),
				data: { ...config, ssl: 'disable', allowUnauthorizedCerts: false },
			},
		};
	});

	afterAll(async () => {
		await closeAllSyncStores();
		await fixture.cleanup();
	});

	it('acquires, refuses a second run and releases', async () => {
		const params = { store: 'postgres', operation: 'acquire', lockName: 'aud-pg', leaseMinutes: 120 };
		const [acquired] = await run(params, { credentials, executionId: 'pg-1' });
		const [, busy] = await run(params, { credentials, executionId: 'pg-2' });
		expect(busy[0].json).toMatchObject({ holder: 'pg-1' });
		const [released] = await run(
			{ store: 'postgres', operation: 'release', token: acquired[0].json.token, outcome: 'auto' },
			{ credentials, items: [{ json: { sync: { change: 'changed', result: 'updated' } } }] },
		);
		expect(released[0].json).toMatchObject({ released: true, outcome: 'success', counts: { updated: 1 } });
	});

	it('tests the credential with a real connection', async () => {
		const data = (credentials as { hubSyncStorePostgres: { data: ICredentialDataDecryptedObject } }).hubSyncStorePostgres.data;
		const test = node.methods.credentialTest.hubSyncStorePostgresTest;
		const ok = await test.call({} as ICredentialTestFunctions, { id: '1', name: 'pg', type: 'hubSyncStorePostgres', data });
		expect(ok).toEqual({ status: 'OK', message: expect.stringMatching(/^Connected \(PostgreSQL \d+/) });
		const down = await test.call({} as ICredentialTestFunctions, {
			id: '1',
			name: 'pg',
			type: 'hubSyncStorePostgres',
			data: { ...data, port: 1, password: 'do-not-echo' },
		});
		expect(down.status).toBe('Error');
		expect(down.message).toContain('Cannot reach the PostgreSQL sync store at');
		expect(down.message).not.toContain('do-not-echo');
	});

	it('turns store failures into node errors that say what to do', async () => {
		const broken = {
			hubSyncStorePostgres: {
				type: new HubSyncStorePostgres(),
				data: { host: '127.0.0.1', port: 1, database: 'x', user: 'postgres', password: '', ssl: 'disable' },
			},
		};
		const attempt = run({ store: 'postgres', operation: 'status', lockName: 'x' }, { credentials: broken });
		await expect(attempt).rejects.toBeInstanceOf(NodeOperationError);
		await expect(attempt).rejects.toThrow(/check host and port in the credential/);
	});
});
