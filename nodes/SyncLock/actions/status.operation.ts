import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { openStoreForNode } from '../../shared/store/node';
import { leaseJson, runJson, statusMessage } from '../helpers';
import { asNodeError, lockName, lockNameProperty } from './common';

const show = { operation: ['status'] };

export const description: INodeProperties[] = [
	lockNameProperty(['status']),
	{
		displayName: 'Runs to Show',
		name: 'runLimit',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 1000 },
		default: 10,
		description: 'How many of the latest runs to list, newest first',
		displayOptions: { show },
	},
	{
		displayName: 'Include Refused Attempts',
		name: 'includeBusy',
		type: 'boolean',
		default: true,
		description: 'Whether to list the attempts that found the lock busy (outcome "busy") among the runs',
		displayOptions: { show },
	},
];

/** The user's "sync status": who runs now, and how the last runs went. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const out: INodeExecutionData[] = [];
	for (let i = 0; i < items.length; i++) {
		try {
			const name = lockName(this, i);
			const limit = Number(this.getNodeParameter('runLimit', i, 10));
			const includeBusy = this.getNodeParameter('includeBusy', i, true) as boolean;
			const store = await openStoreForNode(this, i);
			const status = await store.status(name, limit, { includeBusy });
			const lastRun = status.runs.find((run) => run.outcome !== 'busy');
			out.push({
				json: {
					lockName: name,
					running: status.holder !== null,
					holder: status.holder ? leaseJson(status.holder) : null,
					message: statusMessage(name, status.holder, status.runs, this.getTimezone()),
					lastRun: lastRun ? runJson(lastRun) : null,
					runs: status.runs.map(runJson) as IDataObject[],
				},
				pairedItem: { item: i },
			});
		} catch (error) {
			const failure = asNodeError(this, error, i);
			if (!this.continueOnFail()) throw failure;
			out.push({ json: { error: failure.message }, pairedItem: { item: i } });
		}
	}
	return [out];
}
