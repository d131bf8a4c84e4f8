import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

import { isLeaseLost } from '../../shared/lease';
import { isPreview, markPreview } from '../../shared/preview';
import { Outcomes } from '../helpers/items';
import { commonProperties } from './common';
import * as remove from './remove.operation';
import * as upsert from './upsert.operation';

const operations = { upsert, remove };

/**
 * Runs the chosen operation over all items at once (it batches its Hub calls). Per-member failures
 * are on the Not Synced output already; a node-level failure (credential, Hub down during setup, store)
 * throws, or with "continue on fail" puts every item still without a result on Not Synced.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0, 'upsert') as keyof typeof operations;
	const handler = operations[operation];
	if (!handler) throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`);
	const outcomes = new Outcomes(items);
	try {
		await handler.execute.call(this, items, outcomes);
	} catch (error) {
		if (!this.continueOnFail()) throw error;
		const failure = { error: (error as Error).message, description: (error as { description?: string }).description ?? undefined };
		// A run that lost its lease saved no ledger entry for what it did since: every item goes to Error,
		// marked fatal so the run is recorded failed (CONTRACT §4); the next run redoes them.
		if (isLeaseLost(error)) outcomes.failAll({ ...failure, fatal: true });
		// The node as a whole failed (a rejected key, the Hub down during setup, the store): the run failed.
		else outcomes.failRest({ ...failure, fatal: true });
	}
	return isPreview(items) ? markPreview(outcomes.outputs()) : outcomes.outputs();
}

export const operationProperties = [...commonProperties, ...upsert.description, ...remove.description];
