/**
 * Acquire in a test step from the editor ("Execute step" on Acquire or a later node, issue 8 #4): nothing
 * after it releases the lock, so the lease is short and the next run takes it over instead of being
 * turned away for two hours. Whole runs keep their lease as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EDITOR_STEP, EDITOR_STEP_LEASE_MS } from '../../../../nodes/SyncLock/actions/acquire.operation';
import { SyncLock } from '../../../../nodes/SyncLock/SyncLock.node';
import { closeAllSyncStores, openSyncStore } from '../../../../nodes/shared/store';
import { fakeExecuteContext } from '../../helpers/fakeExecuteContext';

const node = new SyncLock();
let dir: string;
let storePath: string;

/** A run: `step` is what n8n records for "Execute step" (the node the run ends at). */
function acquire(executionId: string, run: { mode?: string; step?: boolean } = {}) {
	const context = fakeExecuteContext({
		parameters: { operation: 'acquire', lockName: 'aud-1', leaseMinutes: 120, store: 'sqlite', storePath },
		node: { name: 'Acquire Sync Lock', type: 'n8n-nodes-mailchimp-hub-sync.syncLock' },
		overrides: { getExecutionId: () => executionId, getMode: () => run.mode ?? 'manual' },
	});
	if (run.step) Object.assign(context, { runExecutionData: { startData: { destinationNode: { nodeName: 'Acquire Sync Lock', mode: 'inclusive' } } } });
	return node.execute.call(context).then(([acquired, busy]) => ({ acquired, busy }));
}

const leaseLength = (json: Record<string, unknown>) => Date.parse(String(json.expiresAt)) - Date.parse(String(json.acquiredAt));

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'hub-sync-acquire-'));
	storePath = join(dir, 'store.sqlite');
});
afterEach(async () => {
	await closeAllSyncStores();
	rmSync(dir, { recursive: true, force: true });
});

describe('Acquire in a test step from the editor', () => {
	it('holds the lock for at most 10 minutes, says so, and records the run as an editor step', async () => {
		const step = await acquire('exec-step', { step: true });
		expect(step.acquired).toHaveLength(1);
		expect(leaseLength(step.acquired[0].json)).toBe(EDITOR_STEP_LEASE_MS);
		expect(String(step.acquired[0].json.note)).toMatch(/test step from the editor/i);
		const store = await openSyncStore({ kind: 'sqlite', path: storePath });
		expect((await store.getRun(String(step.acquired[0].json.runId)))?.triggerKind).toBe(EDITOR_STEP);
	});

	it('does not turn the next run away: "Execute workflow" takes the lock over, and the step run is recorded as forced', async () => {
		const step = await acquire('exec-step', { step: true });
		const whole = await acquire('exec-whole');
		expect(whole.busy).toEqual([]);
		expect(whole.acquired).toHaveLength(1);
		expect(leaseLength(whole.acquired[0].json)).toBe(120 * 60_000);
		const store = await openSyncStore({ kind: 'sqlite', path: storePath });
		expect(await store.getRun(String(step.acquired[0].json.runId))).toMatchObject({ forcedRelease: true, errorSummary: expect.stringMatching(/test step from the editor/) });
	});

	it('leaves a whole run alone: a step, a scheduled run or a second whole run is turned away while it holds the lock', async () => {
		await acquire('exec-whole');
		expect((await acquire('exec-step', { step: true })).busy).toHaveLength(1);
		expect((await acquire('exec-scheduled', { mode: 'trigger' })).busy).toHaveLength(1);
		expect((await acquire('exec-second')).busy).toHaveLength(1);
	});

	it('is not a step outside the editor, even when n8n recorded a destination node', async () => {
		const scheduled = await acquire('exec-scheduled', { mode: 'trigger', step: true });
		expect(leaseLength(scheduled.acquired[0].json)).toBe(120 * 60_000);
		expect(scheduled.acquired[0].json.note).toBeUndefined();
	});
});
