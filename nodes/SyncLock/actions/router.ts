import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

import * as acquire from './acquire.operation';
import * as forceRelease from './forceRelease.operation';
import * as release from './release.operation';
import * as renew from './renew.operation';
import * as status from './status.operation';

const operations = { acquire, release, renew, status, forceRelease };

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0) as keyof typeof operations;
	const handler = operations[operation];
	if (!handler) throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`);
	return handler.execute.call(this, items);
}

export const operationProperties = [
	...acquire.description,
	...release.description,
	...renew.description,
	...status.description,
	...forceRelease.description,
];
