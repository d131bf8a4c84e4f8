import { NodeConnectionTypes, NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

import * as apply from './apply.operation';
import * as handleReply from './handleReply.operation';

const operations = { apply, handleReply };

/** The node's outputs for each operation, as the expression n8n evaluates in the editor and at run time. */
export const outputsExpression: `={{${string}}}` = `={{ $parameter.operation === "handleReply" ? ${outputsOf(handleReply.outputNames)} : ${outputsOf(apply.outputNames)} }}`;

function outputsOf(names: string[]): string {
	return JSON.stringify(names.map((displayName) => ({ type: NodeConnectionTypes.Main, displayName })));
}

/** Runs the chosen operation over all items at once; it returns one list of items per output. */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0, 'apply') as keyof typeof operations;
	const handler = operations[operation];
	if (!handler) throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`);
	return await handler.execute.call(this, items);
}

export const operationProperties = [...apply.description, ...handleReply.description];
