import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import type { FinishedOutcome } from '../../shared/store';
import { openStoreForNode } from '../../shared/store/node';
import { describeCounts, refusalMessage, runJson, summariseItems } from '../helpers';
import { asNodeError, itemsByToken, missingToken, tokenProperty } from './common';

const show = { operation: ['release'] };

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
						message: `Released "${result.run.lockName}": ${result.run.outcome} (${describeCounts(result.run.counts)})`,
					}
				: {
						lockName: result.run?.lockName ?? null,
						released: false,
						reason: result.reason,
						runId: result.run?.id ?? null,
						message: refusalMessage('released', result.reason, result.run),
					};
			out.push({ json, pairedItem });
		} catch (error) {
			const failure = asNodeError(this, error, first);
			if (!this.continueOnFail()) throw failure;
			out.push({ json: { released: false, error: failure.message }, pairedItem });
		}
	}
	return [out];
}
