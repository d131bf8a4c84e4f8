import { NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';

import type { FinishedOutcome } from '../../shared/store';
import { isPreviewRun } from '../../shared/preview';
import { openStoreForNode } from '../../shared/store/node';
import { describeCounts, refusalMessage, runJson, summariseItems } from '../helpers';
import { asNodeError, itemsByToken, missingToken, tokenProperty } from './common';

const show = { operation: ['release'] };

/** "Customers" (a1b2c3d4e5) when Acquire was given the audience's name, else the lock name alone. */
function nameOf(lockName: string, items: INodeExecutionData[]): string {
	const named = items.find((item) => typeof item.json.audienceName === 'string' && item.json.lockName === lockName);
	return named ? `"${String(named.json.audienceName)}" (${lockName})` : `"${lockName}"`;
}

/** The run was released and recorded as failed: the execution ends as failed too. */
class SyncFailedError extends NodeOperationError {}

export const description: INodeProperties[] = [
	tokenProperty(['release']),
	{
		displayName: 'Outcome',
		name: 'outcome',
		type: 'options',
		options: [
			{ name: 'Cancelled', value: 'cancelled' },
			{ name: 'Failed', value: 'failed' },
			{
				name: 'From Items',
				value: 'auto',
				description: 'Success if no item carries an error, partial if some do, failed if all do or one says the run must fail (fatal)',
			},
			{ name: 'Partial', value: 'partial' },
			{ name: 'Success', value: 'success' },
		],
		default: 'auto',
		description: 'How the run went, as Status will show it',
		displayOptions: { show },
	},
	{
		displayName: 'Options',
		name: 'releaseOptions',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show },
		options: [
			{
				displayName: 'Count Items By',
				name: 'countBy',
				type: 'string',
				default: 'sync.result',
				description: 'The field whose values are counted, e.g. sync.result gives counts of created, updated, unchanged, removed and invalid members',
			},
			{
				displayName: 'Fail the Execution When the Sync Failed',
				name: 'failExecution',
				type: 'boolean',
				default: true,
				description:
					"Whether to end the n8n execution as failed, after releasing the lock and recording the run, when the run's outcome is failed: n8n's executions list and error workflow then see it",
			},
			{
				displayName: 'Error Summary',
				name: 'errorSummary',
				type: 'string',
				default: '',
				description: 'Recorded on the run; by default the first error messages of the items',
			},
		],
	},
];

/**
 * Releases once per distinct token, with the counts of all items that carry it; usually every item of
 * the run carries the same token, so one lease is released and one summary item comes out.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const out: INodeExecutionData[] = [];
	for (const [token, indices] of itemsByToken(this, items.length)) {
		const first = indices[0];
		const pairedItem = indices.map((item) => ({ item }));
		try {
			if (!token) throw missingToken(this, first);
			const options = this.getNodeParameter('releaseOptions', first, {}) as IDataObject;
			const summary = summariseItems(
				indices.map((i) => items[i]),
				String(options.countBy ?? 'sync.result').trim(),
				this.getNodeParameter('outcome', first, 'auto') as FinishedOutcome | 'auto',
				String(options.errorSummary ?? ''),
			);
			const store = await openStoreForNode(this, first);
			const result = await store.release(token, summary);
			const json: IDataObject = result.released
				? {
						lockName: result.run.lockName,
						released: true,
						...runJson(result.run),
						message: isPreviewRun(result.run)
							? `Preview of ${nameOf(result.run.lockName, indices.map((i) => items[i]))}, nothing written: ${result.run.outcome} (${describeCounts(result.run.counts)})`
							: `Released ${nameOf(result.run.lockName, indices.map((i) => items[i]))}: ${result.run.outcome} (${describeCounts(result.run.counts)})`,
					}
				: {
						lockName: result.run?.lockName ?? null,
						released: false,
						reason: result.reason,
						runId: result.run?.id ?? null,
						message: refusalMessage('released', result.reason, result.run),
					};
			out.push({ json, pairedItem });
			// The lock is free and the run recorded; now the execution itself must say the sync failed.
			if (result.released && result.run.outcome === 'failed' && options.failExecution !== false) {
				const failure = new SyncFailedError(this.getNode(), `The sync of ${nameOf(result.run.lockName, indices.map((i) => items[i]))} failed: ${result.run.errorSummary ?? 'see the items before this node'}`, {
					itemIndex: first,
					description:
						'The lock is released and the run is recorded as failed. The items that reached this node say what went wrong (a wrong key, an unknown audience, the Hub or Mailchimp not answering); fix it and run again.',
				});
				// The recorded run, as the item would have had it: n8n keeps an error's context with the execution.
				failure.context.run = json;
				throw failure;
			}
		} catch (error) {
			if (error instanceof SyncFailedError) {
				if (!this.continueOnFail()) throw error;
				continue; // with "continue on fail", the released run's item above says it failed
			}
			const failure = asNodeError(this, error, first);
			if (!this.continueOnFail()) throw failure;
			out.push({ json: { released: false, error: failure.message }, pairedItem });
		}
	}
	return [out];
}
