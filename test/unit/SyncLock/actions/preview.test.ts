/**
 * A preview (dry run) and the lock: it holds the lock like a run, is recorded as a preview, never as
 * the last sync, and gives way to a real sync; a real sync never gives way to it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INodeExecutionData } from 'n8n-workflow';

import { SyncLock } from '../../../../nodes/SyncLock/SyncLock.node';
import { closeAllSyncStores } from '../../../../nodes/shared/store';
import { fakeExecuteContext } from '../../helpers/fakeExecuteContext';

const node = new SyncLock();
let dir: string;
let storePath: string;

function run(parameters: Record<string, unknown>, items: INodeExecutionData[] = [{ json: {} }], execution = 'exec-1') {
	const context = fakeExecuteContext({
		parameters: { store: 'sqlite', storePath, lockName: 'aud-1', leaseMinutes: 120, ...parameters },
		items,
		node: { name: 'Sync Lock', type: 'n8n-nodes-mailchimp-hub-sync.syncLock' },
		overrides: { getExecutionId: () => execution, getMode: () => 'manual' },
	});
	return node.execute.call(context);
}

const acquire = async (preview: boolean, execution: string) => (await run({ operation: 'acquire', preview }, [{ json: {} }], execution));
const status = async () => (await run({ operation: 'status' }))[0][0].json as Record<string, unknown> & { runs: Array<Record<string, unknown>> };

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'hub-sync-preview-lock-'));
	storePath = join(dir, 'store.sqlite');
});
afterEach(async () => {
	await closeAllSyncStores();
	rmSync(dir, { recursive: true, force: true });
});

describe('a preview and the Sync Lock', () => {
	it('is recorded as a preview with its counts, and Status keeps showing the last real sync', async () => {
		const [real] = await acquire(false, 'exec-1');
		await run({ operation: 'release', token: real[0].json.token, outcome: 'auto' }, [{ json: { sync: { memberKey: 'a', result: 'created' } } }]);
		const [acquired] = await acquire(true, 'exec-2');
		expect(acquired[0].json).toMatchObject({ acquired: true, preview: true });
		expect(String(acquired[0].json.note)).toContain('Preview (dry run)');
		const during = await status();
		expect(during).toMatchObject({ running: false, previewRunning: true });
		expect(String(during.message)).toContain('A preview (dry run, writes nothing) is running since');

		const members = [
			{ json: { sync: { memberKey: 'a', result: 'would-create', preview: true }, consent: { status: 'would-send', credits: 2 } } },
			{ json: { sync: { memberKey: 'b', result: 'would-create', preview: true }, consent: { status: 'would-send', credits: 2 } } },
			{ json: { sync: { memberKey: 'c', result: 'invalid', preview: true } } },
		];
		const [[released]] = await run({ operation: 'release', token: acquired[0].json.token, outcome: 'auto' }, [acquired[0], ...members]);
		expect(released.json).toMatchObject({ released: true, preview: true, trigger: 'preview (manual)', outcome: 'success', counts: { 'would-create': 2, invalid: 1, messages: 2, credits: 4 } });
		expect(String(released.json.message)).toMatch(/^Preview of "aud-1", nothing written: success \(would-create 2, invalid 1, messages 2, credits 4\)$/);

		const after = await status();
		expect(after).toMatchObject({ running: false, previewRunning: false, lastRun: { counts: { created: 1 } }, lastPreview: { preview: true, counts: { 'would-create': 2 } } });
		expect(after.runs.map((r) => r.trigger)).toEqual(['manual']);
		expect(String(after.message)).toContain('last run success');
		expect((await run({ operation: 'status', includePreviews: true }))[0][0].json.runs).toHaveLength(2);
	});

	it('a preview gets Busy while a sync runs; a sync takes the lock over from a preview', async () => {
		const [real] = await acquire(false, 'exec-1');
		const [blocked, busy] = await acquire(true, 'exec-2');
		expect(blocked).toEqual([]);
		expect(busy[0].json).toMatchObject({ acquired: false, holder: 'exec-1' });
		await run({ operation: 'release', token: real[0].json.token, outcome: 'success' });

		const [previewing] = await acquire(true, 'exec-3');
		const [sync] = await acquire(false, 'exec-4');
		expect(sync[0].json).toMatchObject({ acquired: true, holder: 'exec-4' });
		// The preview has lost its lease: its Release changes nothing.
		const [[late]] = await run({ operation: 'release', token: previewing[0].json.token, outcome: 'success' });
		expect(late.json).toMatchObject({ released: false, reason: 'force-released' });
		const runs = (await run({ operation: 'status', includePreviews: true }))[0][0].json.runs as Array<Record<string, unknown>>;
		expect(runs.find((r) => r.holder === 'exec-3')).toMatchObject({ outcome: 'forced', preview: true, errorSummary: expect.stringContaining('a preview held it') });
	});
});
