/**
 * Handle Reply: a member's answer to a consent request (from the Hub reply trigger or its polling
 * variant) confirms, opts out, or is only recorded. Not built yet: this operation belongs to the
 * reply handling (issue 9 "Receiving replies").
 */
import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';

/** The outputs of this operation, in order. */
export const outputNames = ['Confirmed', 'Done', 'Error'];

export const description: INodeProperties[] = [];

export async function execute(this: IExecuteFunctions, _items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	throw new NodeOperationError(this.getNode(), 'Handle Reply is not available yet', {
		description: 'This version of Apply Consent cannot handle replies yet; use Apply to Members.',
	});
}
