/** Pieces the Sync Lock operations share. */
import { NodeOperationError, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

import { SyncStoreError } from '../../shared/store';
import { MINUTE } from '../helpers';

export const lockNameProperty = (operations: string[]): INodeProperties => ({
	displayName: 'Lock Name',
	name: 'lockName',
	type: 'string',
	default: '',
	required: true,
	placeholder: 'e.g. 1a2b3c4d5e',
	description:
		'Usually the Mailchimp audience ID: each audience then syncs once at a time, and different audiences in parallel',
	displayOptions: { show: { operation: operations } },
});

export const tokenProperty = (operations: string[]): INodeProperties => ({
	displayName: 'Owner Token',
	name: 'token',
	type: 'string',
	typeOptions: { password: true },
	default: '',
	required: true,
	placeholder: "e.g. {{ $('Acquire Lock').first().json.token }}",
	description: 'The token that Acquire returned for this run; only it can release or renew the lease',
	displayOptions: { show: { operation: operations } },
});

export const leaseMinutesProperty = (operations: string[]): INodeProperties => ({
	displayName: 'Lease Duration (Minutes)',
	name: 'leaseMinutes',
	type: 'number',
	typeOptions: { minValue: 1 },
	default: 120,
	description:
		'If a run crashes, its lock frees itself after this long. Choose more than your longest sync, or renew during long runs.',
	displayOptions: { show: { operation: operations } },
});

export function lockName(context: IExecuteFunctions, itemIndex: number): string {
	const name = String(context.getNodeParameter('lockName', itemIndex, '') ?? '').trim();
	if (!name) {
		throw new NodeOperationError(context.getNode(), 'The lock name is empty', {
			itemIndex,
			description: 'Set Lock Name, usually to the Mailchimp audience ID of this sync',
		});
	}
	return name;
}

export function leaseMs(context: IExecuteFunctions, itemIndex: number): number {
	const minutes = Number(context.getNodeParameter('leaseMinutes', itemIndex, 120));
	if (!Number.isFinite(minutes) || minutes <= 0) {
		throw new NodeOperationError(context.getNode(), `The lease duration must be more than 0 minutes; got ${minutes}`, {
			itemIndex,
			description: 'A lease of 0 or less would never protect the run. The default is 120 minutes.',
		});
	}
	return Math.round(minutes * MINUTE);
}

export function ownerToken(context: IExecuteFunctions, itemIndex: number): string {
	return String(context.getNodeParameter('token', itemIndex, '') ?? '').trim();
}

/**
 * What in an expression reads the item it is evaluated for (or may: `$node["X"]` and `$item()` pair by
 * index). An expression without any of these gives every item the same value.
 */
const READS_ITS_ITEM = /\$json|\$binary|\$itemIndex|\$node\b|\$item\b|\$data\b|\.item\b|itemMatching/;

/** Whether the token parameter can differ from item to item: an expression that reads its item. */
export function tokenPerItem(context: IExecuteFunctions): boolean {
	const raw = context.getNode().parameters.token;
	return typeof raw === 'string' && raw.startsWith('=') && READS_ITS_ITEM.test(raw);
}

/**
 * The item indexes per owner token, in first-seen order. Release and Renew act once per lease; a
 * run's Release usually gets every member of the run (100,000 items), so this stays linear. A token
 * that is the same for every item (a fixed value, or an expression such as the template's
 * `$('Acquire Sync Lock').first().json.token`) is evaluated once: each evaluation goes through n8n's
 * expression sandbox, which took 43–66 s for the items of a first sync of 100,000 members.
 */
export function itemsByToken(context: IExecuteFunctions, count: number): Map<string, number[]> {
	const groups = new Map<string, number[]>();
	if (count > 0 && !tokenPerItem(context)) {
		groups.set(ownerToken(context, 0), Array.from({ length: count }, (_, i) => i));
		return groups;
	}
	for (let i = 0; i < count; i++) {
		const token = ownerToken(context, i);
		const indices = groups.get(token);
		if (indices) indices.push(i);
		else groups.set(token, [i]);
	}
	return groups;
}

export function missingToken(context: IExecuteFunctions, itemIndex: number): NodeOperationError {
	return new NodeOperationError(context.getNode(), 'The owner token is missing', {
		itemIndex,
		description:
			"Map the token from the Sync Lock node that acquired the lease, e.g. {{ $('Acquire Lock').first().json.token }}",
	});
}

/** Store failures already say what to do; they keep their message and say which store. */
export function asNodeError(context: IExecuteFunctions, error: unknown, itemIndex: number): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	if (error instanceof SyncStoreError) {
		const failure = new NodeOperationError(context.getNode(), error.message, {
			itemIndex,
			description: `Sync store problem: ${error.code}`,
		});
		// n8n swaps any message that mentions a system error code (ECONNREFUSED, EEXIST, …) for a generic
		// sentence; ours already says which store failed and what to do, so it is kept.
		failure.message = error.message;
		return failure;
	}
	return new NodeOperationError(context.getNode(), error as Error, { itemIndex });
}
