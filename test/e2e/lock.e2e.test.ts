/**
 * Sync Lock in the real n8n: two `n8n execute` runs of the same lock-holding workflow, started together,
 * share the default embedded store in the n8n user folder. One goes through Acquired (and holds the lock
 * long enough for the other to ask), the other through Busy, told who holds it. A Status workflow
 * afterwards shows both runs as they happened.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { localTime } from '../../nodes/shared/words';
import { N8nSuite, type ExecutionResult, type WorkflowFixture } from './harness';

const LOCK_TYPE = 'n8n-nodes-mailchimp-hub-sync.syncLock';
const LOCK = 'e2e-audience';
/** Long enough for the second n8n process to start and ask while the first still holds the lock. */
const HOLD_SECONDS = 25;

const trigger = { id: 'trigger', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };

const holder: WorkflowFixture = {
	id: 'e2eLockHolder0001',
	name: 'Sync Lock: hold the lock',
	nodes: [
		trigger,
		{
			id: 'acquire',
			name: 'Acquire Lock',
			type: LOCK_TYPE,
			typeVersion: 1,
			position: [220, 0],
			parameters: { operation: 'acquire', lockName: LOCK, leaseMinutes: 10 },
		},
		{
			id: 'work',
			name: 'Simulated Sync',
			type: 'n8n-nodes-base.wait',
			typeVersion: 1.1,
			position: [440, -100],
			parameters: { resume: 'timeInterval', amount: HOLD_SECONDS, unit: 'seconds' },
		},
		{
			id: 'members',
			name: 'Synced Members',
			type: 'n8n-nodes-base.set',
			typeVersion: 3.4,
			position: [660, -100],
			parameters: {
				mode: 'raw',
				jsonOutput: '{ "members": [{ "sync": { "change": "new", "result": "created" } }, { "sync": { "change": "new", "result": "created" } }, { "sync": { "change": "changed", "result": "updated" } }] }',
				options: {},
			},
		},
		{
			id: 'split',
			name: 'One Item per Member',
			type: 'n8n-nodes-base.splitOut',
			typeVersion: 1,
			position: [770, -100],
			parameters: { fieldToSplitOut: 'members', options: {} },
		},
		{
			id: 'release',
			name: 'Release Lock',
			type: LOCK_TYPE,
			typeVersion: 1,
			position: [990, -100],
			parameters: { operation: 'release', token: "={{ $('Acquire Lock').first().json.token }}", outcome: 'auto' },
		},
		{
			id: 'busy',
			name: 'Already Running',
			type: 'n8n-nodes-base.noOp',
			typeVersion: 1,
			position: [440, 100],
			parameters: {},
		},
	],
	connections: {
		Start: { main: [[{ node: 'Acquire Lock', type: 'main', index: 0 }]] },
		'Acquire Lock': {
			main: [[{ node: 'Simulated Sync', type: 'main', index: 0 }], [{ node: 'Already Running', type: 'main', index: 0 }]],
		},
		'Simulated Sync': { main: [[{ node: 'Synced Members', type: 'main', index: 0 }]] },
		'Synced Members': { main: [[{ node: 'One Item per Member', type: 'main', index: 0 }]] },
		'One Item per Member': { main: [[{ node: 'Release Lock', type: 'main', index: 0 }]] },
	},
};

const status: WorkflowFixture = {
	id: 'e2eLockStatus0001',
	name: 'Sync Lock: status',
	nodes: [
		trigger,
		{
			id: 'status',
			name: 'Sync Status',
			type: LOCK_TYPE,
			typeVersion: 1,
			position: [220, 0],
			parameters: { operation: 'status', lockName: LOCK, runLimit: 10, includeBusy: true },
		},
	],
	connections: { Start: { main: [[{ node: 'Sync Status', type: 'main', index: 0 }]] } },
};

describe('Sync Lock in the real n8n', () => {
	let n8n: N8nSuite;

	beforeAll(async () => {
		n8n = await N8nSuite.create({ name: 'lock' });
		await n8n.importWorkflows([holder, status]);
	}, 600_000);

	afterAll(async () => {
		await n8n?.dispose();
	});

	it('lets one of two simultaneous runs through Acquired and sends the other to Busy; Status shows both', async () => {
		const [a, b] = [n8n.startExecution(holder.id!), n8n.startExecution(holder.id!)];
		const results = await Promise.all([a.result, b.result]);
		for (const result of results) expect(explain(result)).toEqual({ ok: true });

		const outcome = (result: ExecutionResult) => ({
			acquired: result.itemsOf('Acquire Lock', 0),
			busy: result.itemsOf('Acquire Lock', 1),
		});
		const [first, second] = results.map(outcome);
		const winnerIndex = first.acquired.length === 1 ? 0 : 1;
		const winner = results[winnerIndex];
		const loser = results[1 - winnerIndex];
		const won = outcome(winner);
		const lost = outcome(loser);
		expect([first.acquired.length + second.acquired.length, first.busy.length + second.busy.length]).toEqual([1, 1]);

		const lease = won.acquired[0];
		expect(lease).toMatchObject({ lockName: LOCK, acquired: true, token: expect.any(String), runId: expect.any(String) });
		const released = winner.itemsOf('Release Lock')[0];
		expect(released).toMatchObject({
			released: true,
			runId: lease.runId,
			outcome: 'success',
			counts: { created: 2, updated: 1 },
			trigger: 'cli',
		});
		expect(() => loser.itemsOf('Simulated Sync')).toThrow(/did not run/);

		const refused = lost.busy[0];
		expect(refused).toMatchObject({
			lockName: LOCK,
			acquired: false,
			holder: lease.holder,
			runId: lease.runId,
			since: lease.acquiredAt,
			expiresAt: lease.expiresAt,
			// In the workflow's time zone (the harness runs n8n with GENERIC_TIMEZONE=UTC); since/expiresAt stay ISO.
			message: expect.stringContaining(`A sync of "${LOCK}" is already running since ${localTime(new Date(String(lease.acquiredAt)), 'UTC')}`),
		});
		expect(JSON.stringify(refused)).not.toContain(String(lease.token));
		expect(loser.itemsOf('Already Running')).toHaveLength(1);

		// The store is the default file in the n8n user folder.
		expect(existsSync(path.join(n8n.userFolder, '.n8n', 'mailchimp-hub-sync.sqlite'))).toBe(true);

		const report = (await n8n.execute(status.id!)).itemsOf('Sync Status')[0];
		expect(report).toMatchObject({
			lockName: LOCK,
			running: false,
			holder: null,
			message: expect.stringMatching(/^Idle; last run success at .* \(created 2, updated 1\)$/),
			lastRun: { runId: lease.runId, outcome: 'success', counts: { created: 2, updated: 1 } },
		});
		const runs = report.runs as Array<Record<string, unknown>>;
		expect(runs).toHaveLength(2);
		// Newest first: the refused attempt came while the winner held the lock.
		expect(runs[0]).toMatchObject({ outcome: 'busy', trigger: 'cli', counts: {} });
		expect(runs[0].holder).not.toBe(lease.holder);
		expect(runs[1]).toMatchObject({
			runId: lease.runId,
			outcome: 'success',
			holder: lease.holder,
			trigger: 'cli',
			startedAt: lease.acquiredAt,
			finishedAt: released.finishedAt,
			forcedRelease: false,
		});
		expect(Date.parse(String(runs[0].startedAt))).toBeGreaterThanOrEqual(Date.parse(String(lease.acquiredAt)));
		expect(Date.parse(String(runs[0].startedAt))).toBeLessThanOrEqual(Date.parse(String(released.finishedAt)));
	}, 600_000);
});

/** `{ ok: true }`, or what went wrong, so a failure shows n8n's own message. */
function explain(result: ExecutionResult): object {
	if (result.ok) return { ok: true };
	return { ok: false, exitCode: result.exitCode, signal: result.signal, status: result.run?.status, error: result.error?.message, tail: (result.stdout + result.stderr).slice(-2000) };
}
