/** Parameters both operations use: the list that marks the sync's contacts, and how many writes run at once. */
import { NodeOperationError, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

import { DEFAULT_LIST_NAME } from '../helpers/identity';

export const DEFAULT_CONCURRENCY = 8;
export const MAX_CONCURRENCY = 32;

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
