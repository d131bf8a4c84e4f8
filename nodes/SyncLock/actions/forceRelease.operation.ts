import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { openStoreForNode } from '../../shared/store/node';
import { leaseJson } from '../helpers';
import { asNodeError, lockName, lockNameProperty } from './common';

export const description: INodeProperties[] = [
	lockNameProperty(['forceRelease']),
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: 'Released by an operator',
		description: 'Recorded on the broken run, so Status shows why it ended',
		displayOptions: { show: { operation: ['forceRelease'] } },
	},
];

/** For an operator: ends whatever lease the lock has, without its token, and records the run as forced. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const out: INodeExecutionData[] = [];
	for (let i = 0; i < items.length; i++) {
		try {
			const name = lockName(this, i);
			const reason = String(this.getNodeParameter('reason', i, '') ?? '').trim() || 'Released by an operator';
			const store = await openStoreForNode(this, i);
			const result = await store.forceRelease(name, reason);
			out.push({
				json: {
					lockName: name,
					released: result.released,
					previous: result.previous ? leaseJson(result.previous) : null,
					message: result.previous
						? `Force-released "${name}", held by execution ${result.previous.holder} since ${result.previous.acquiredAt.toISOString()}`
						: `"${name}" was not locked; nothing to release`,
				},
				pairedItem: { item: i },
			});
		} catch (error) {
			const failure = asNodeError(this, error, i);
			if (!this.continueOnFail()) throw failure;
			out.push({ json: { released: false, error: failure.message }, pairedItem: { item: i } });
		}
	}
	return [out];
}
