import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import * as map from './map.operation';

/**
 * Map Fields has one operation, so the node has no Operation parameter; a second operation joins
 * here with one, the way Sync Lock's and Upsert's do.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await map.execute.call(this, this.getInputData());
}

export const operationProperties = [...map.description];
