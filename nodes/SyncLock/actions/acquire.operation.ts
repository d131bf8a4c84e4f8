import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import type { AcquireResult, SyncStore } from '../../shared/store';
import { isPreviewRun, previewTrigger } from '../../shared/preview';
import { openStoreForNode } from '../../shared/store/node';
import { MINUTE, busyMessage, leaseJson } from '../helpers';
import { asNodeError, leaseMinutesProperty, leaseMs, lockName, lockNameProperty } from './common';

/** How a run started by "Execute step" in the editor is recorded: the lease of such a run may be taken over. */
export const EDITOR_STEP = 'editor step';
/** The longest lease a test step from the editor holds. */
export const EDITOR_STEP_LEASE_MS = 10 * MINUTE;
const EDITOR_STEP_NOTE =
	'Test step from the editor: nothing after it releases the lock, so it is held for at most 10 minutes and the next run takes it over. "Execute workflow" keeps it until Release Sync Lock.';

/**
 * Whether this is a run the editor started up to one node ("Execute step" on this node or a later one):
 * Release Sync Lock will not run, and the user expects the next run to go ahead, not "already running".
 * n8n keeps the node a partial run ends at in the run's start data; that is not part of the node API,
 * so it is read with care, and anything unexpected counts as a whole run (the safe side: the full lease).
 */
export function isEditorStep(context: IExecuteFunctions): boolean {
	if (context.getMode() !== 'manual') return false;
	const runData = (context as unknown as { runExecutionData?: { startData?: { destinationNode?: unknown } } }).runExecutionData;
	const destination = runData?.startData?.destinationNode;
	return typeof destination === 'string' ? destination !== '' : typeof destination === 'object' && destination !== null;
}

const PREVIEW_NOTE =
	'Preview (dry run): the nodes decide as in a real run and write nothing to the Hub or the ledger; Release records it as a preview, not as the last sync.';

/**
 * Acquire; a lease held by an editor test step is ended (recorded as forced, with why) and the lock
 * taken. So is a preview's, by a real run: a preview writes nothing, so a sync need not wait for it
 * (the preview then stops, its lease lost). A preview takes over only an editor step, never a sync.
 */
async function acquireOrTakeOver(store: SyncStore, request: Parameters<SyncStore['acquire']>[0], preview: boolean): Promise<AcquireResult> {
	const first = await store.acquire(request);
	if (first.acquired || !first.heldBy) return first;
	const run = await store.getRun(first.heldBy.runId);
	if (!run) return first;
	const why = run.triggerKind === EDITOR_STEP ? 'a test step from the editor held it' : !preview && isPreviewRun(run) ? 'a preview held it' : undefined;
	if (!why) return first;
	await store.forceRelease(request.lockName, `taken over by execution ${request.holder}: ${why}`);
	return store.acquire(request);
}

const show = { operation: ['acquire'] };

export const description: INodeProperties[] = [
	lockNameProperty(['acquire']),
	leaseMinutesProperty(['acquire']),
	{
		displayName: 'Preview (Dry Run)',
		name: 'preview',
		type: 'boolean',
		default: false,
		description:
			'Whether this run only shows what it would do: every node reads Mailchimp and the Hub and decides as in a real run, but nothing is written to the Hub or the ledger and no message is sent; Release shows the counts (would create, would update, …, messages, credits)',
		displayOptions: { show },
	},
	{
		displayName: 'Options',
		name: 'acquireOptions',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show },
		options: [
			{
				displayName: 'Audience ID',
				name: 'audienceId',
				type: 'string',
				default: '',
				description: 'Recorded on the run; defaults to the lock name',
			},
			{
				displayName: 'Audience Name',
				name: 'audienceName',
				type: 'string',
				default: '',
				placeholder: 'e.g. Customers',
				description: "How Release's messages name the audience; the lock name (usually the audience ID) when empty",
			},
			{
				displayName: 'Trigger',
				name: 'triggerKind',
				type: 'string',
				default: '',
				placeholder: 'e.g. scheduled',
				description: 'How this run was started, as shown in Status; defaults to the n8n execution mode (manual, trigger, webhook, …)',
			},
		],
	},
];

/**
 * One acquire per item. Output 0 (Acquired) carries the token; output 1 (Busy) says who holds the lock.
 * A failure never comes out of Acquired, even with Continue On Fail: a sync must not run unlocked.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const acquired: INodeExecutionData[] = [];
	const busy: INodeExecutionData[] = [];
	const holder = this.getExecutionId() || 'unknown-execution';
	const step = isEditorStep(this);
	for (let i = 0; i < items.length; i++) {
		try {
			const name = lockName(this, i);
			const ttlMs = step ? Math.min(leaseMs(this, i), EDITOR_STEP_LEASE_MS) : leaseMs(this, i);
			const options = this.getNodeParameter('acquireOptions', i, {}) as IDataObject;
			const preview = this.getNodeParameter('preview', i, false) === true;
			const kind = step ? EDITOR_STEP : String(options.triggerKind ?? '').trim() || this.getMode();
			const store = await openStoreForNode(this, i);
			const result = await acquireOrTakeOver(
				store,
				{ lockName: name, holder, ttlMs, audienceId: String(options.audienceId ?? '').trim() || name, triggerKind: preview ? previewTrigger(kind) : kind },
				preview,
			);
			if (result.acquired) {
				const { lease } = result;
				acquired.push({
					json: {
						lockName: name,
						acquired: true,
						token: lease.ownerToken,
						runId: lease.runId,
						holder: lease.holder,
						acquiredAt: lease.acquiredAt.toISOString(),
						expiresAt: lease.expiresAt.toISOString(),
						...(String(options.audienceName ?? '').trim() ? { audienceName: String(options.audienceName).trim() } : {}),
						...(preview ? { preview: true } : {}),
						...(step || preview ? { note: [preview ? PREVIEW_NOTE : '', step ? EDITOR_STEP_NOTE : ''].filter(Boolean).join(' ') } : {}),
					},
					pairedItem: { item: i },
				});
			} else {
				busy.push({
					json: {
						lockName: name,
						acquired: false,
						...(result.heldBy ? leaseJson(result.heldBy) : { holder: null, since: null, expiresAt: null, runId: null }),
						message: busyMessage(name, result.heldBy, this.getTimezone()),
					},
					pairedItem: { item: i },
				});
			}
		} catch (error) {
			const failure = asNodeError(this, error, i);
			if (!this.continueOnFail()) throw failure;
			busy.push({ json: { acquired: false, error: failure.message }, pairedItem: { item: i } });
		}
	}
	return [acquired, busy];
}
