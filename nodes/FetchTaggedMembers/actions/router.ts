import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import * as fetch from './fetch.operation';

/** Fetch Tagged Members has one operation; the router keeps the node's shape the same as the others'. */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return fetch.execute.call(this, this.getInputData());
}

export const operationProperties = fetch.description;
