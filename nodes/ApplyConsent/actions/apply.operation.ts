/**
 * Apply to Members: the consent mode the sync runs in (confirmation notification, double opt-in or
 * none) applied to the members on their way into the Hub.
 */
import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';

/** The outputs of this operation, in order. */
export const outputNames = ['Continue', 'Awaiting Reply', 'Skipped', 'Error'];

export const description: INodeProperties[] = [];

export async function execute(this: IExecuteFunctions, _items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	throw new NodeOperationError(this.getNode(), 'Apply to Members is being built');
}
