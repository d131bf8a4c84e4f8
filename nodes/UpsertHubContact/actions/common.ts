/** Parameters both operations use: the list that marks the sync's contacts, and how many writes run at once. */
import { NodeOperationError, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

import { DEFAULT_LIST_NAME } from '../helpers/identity';

/**
 * The Hub documents no rate limit, and a 429 is backed off and retried: 32 writes in flight took a first
 * sync of 10,000 members from 67 s (8 in flight) to 27 s against the emulator at 60 ms.
 */
export const DEFAULT_CONCURRENCY = 32;
export const MAX_CONCURRENCY = 32;
export const DEFAULT_MAX_REMOVAL_SHARE = 20;

export const commonProperties: INodeProperties[] = [
	{
		displayName: 'List Name',
		name: 'listName',
		type: 'string',
		default: DEFAULT_LIST_NAME,
		required: true,
		description:
			'The Hub list that holds the synced contacts. Upsert creates it on the first run; Remove takes contacts out of it.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Concurrency',
				name: 'concurrency',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: MAX_CONCURRENCY },
				default: DEFAULT_CONCURRENCY,
				description: 'How many contacts are written to the Hub at once',
			},
			{
				displayName: 'Max Removal Share',
				name: 'maxRemovalShare',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100 },
				default: DEFAULT_MAX_REMOVAL_SHARE,
				description:
					"The largest share (in percent) of the sync's members one run may take out of the Hub. A run that would remove more removes nothing and is recorded as failed, since a wrong tag or audience looks just like members leaving. A run that removes one member is always let through. 0 switches the guard off.",
				displayOptions: { show: { '/operation': ['remove'] } },
			},
		],
	},
];

export function readRunSettings(ctx: IExecuteFunctions): { listName: string; concurrency: number } {
	const listName = String(ctx.getNodeParameter('listName', 0, DEFAULT_LIST_NAME) ?? '').trim();
	if (!listName) {
		throw new NodeOperationError(ctx.getNode(), 'The list name is empty', {
			description: `Enter the name of the Hub list for synced contacts, e.g. ${DEFAULT_LIST_NAME}.`,
		});
	}
	const options = ctx.getNodeParameter('options', 0, {}) as { concurrency?: number };
	const concurrency = Math.min(MAX_CONCURRENCY, Math.max(1, Math.floor(Number(options.concurrency ?? DEFAULT_CONCURRENCY)) || DEFAULT_CONCURRENCY));
	return { listName, concurrency };
}

export function readRemoveSettings(ctx: IExecuteFunctions): { maxRemovalShare: number } {
	const options = ctx.getNodeParameter('options', 0, {}) as { maxRemovalShare?: number };
	const raw = Number(options.maxRemovalShare ?? DEFAULT_MAX_REMOVAL_SHARE);
	if (!Number.isFinite(raw) || raw < 0 || raw > 100) {
		throw new NodeOperationError(ctx.getNode(), `Max Removal Share must be a percentage from 0 to 100, not ${String(options.maxRemovalShare)}`, {
			description: 'Enter e.g. 20 (the default); 0 switches the removal guard off.',
		});
	}
	return { maxRemovalShare: raw };
}
