import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { openStoreForNode } from '../../shared/store/node';
import { busyMessage, leaseJson } from '../helpers';
import { asNodeError, leaseMinutesProperty, leaseMs, lockName, lockNameProperty } from './common';

const show = { operation: ['acquire'] };

export const description: INodeProperties[] = [
	lockNameProperty(['acquire']),
	leaseMinutesProperty(['acquire']),
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
	for (let i = 0; i < items.length; i++) {
		try {
			const name = lockName(this, i);
			const ttlMs = leaseMs(this, i);
			const options = this.getNodeParameter('acquireOptions', i, {}) as IDataObject;
			const store = await openStoreForNode(this, i);
			const result = await store.acquire({
				lockName: name,
				holder,
				ttlMs,
				audienceId: String(options.audienceId ?? '').trim() || name,
				triggerKind: String(options.triggerKind ?? '').trim() || this.getMode(),
			});
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
					},
					pairedItem: { item: i },
				});
			} else {
				busy.push({
					json: {
						lockName: name,
						acquired: false,
						...(result.heldBy ? leaseJson(result.heldBy) : { holder: null, since: null, expiresAt: null, runId: null }),
						message: busyMessage(name, result.heldBy),
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
