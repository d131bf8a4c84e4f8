import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';

import { openStoreForNode } from '../../shared/store/node';
import { leaseJson, refusalMessage } from '../helpers';
import { asNodeError, leaseMinutesProperty, leaseMs, itemsByToken, missingToken, tokenProperty } from './common';

export const description: INodeProperties[] = [tokenProperty(['renew']), leaseMinutesProperty(['renew'])];

/**
 * Extends the lease to now + duration, once per distinct token. A lease that cannot be renewed is an
 * error: the run is no longer protected, and another sync may already be running.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const out: INodeExecutionData[] = [];
	for (const [token, indices] of itemsByToken(this, items.length)) {
		const first = indices[0];
		const pairedItem = indices.map((item) => ({ item }));
		try {
			if (!token) throw missingToken(this, first);
			const ttlMs = leaseMs(this, first);
			const store = await openStoreForNode(this, first);
			const result = await store.renew(token, ttlMs);
			if (!result.renewed) {
				throw new NodeOperationError(this.getNode(), refusalMessage('renewed', result.reason, result.run), {
					itemIndex: first,
					description: 'Stop this run, or acquire the lock again before going on',
				});
			}
			out.push({ json: { lockName: result.lease.lockName, renewed: true, ...leaseJson(result.lease) }, pairedItem });
		} catch (error) {
			const failure = asNodeError(this, error, first);
			if (!this.continueOnFail()) throw failure;
			out.push({ json: { renewed: false, error: failure.message }, pairedItem });
		}
	}
	return [out];
}
