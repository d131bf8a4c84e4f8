import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import * as map from './map.operation';

/**
 * Map Fields has one operation, so the node has no Operation parameter; a second operation joins
 * here with one, the way Sync Lock's and Upsert's do.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	try {
		return await map.execute.call(this, this.getInputData());
	} catch (error) {
		// Under "continue" n8n would pass the members on to Valid unchanged when a node throws; one item that
		// carries only the error goes to n8n's error output instead, and Release records the run as failed.
		if (!this.continueOnFail()) throw error;
		return [[{ json: { error: (error as Error).message }, pairedItem: { item: 0 } }], []];
	}
}

export const operationProperties = [...map.description];
