import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { hubSyncStorePostgresTest, storeCredentials, storeProperties } from '../shared/store/node';
import { operationProperties, router } from './actions/router';

/**
 * One sync at a time per audience, and a record of every run: a lease with a time to live in the
 * sync store (embedded SQLite or PostgreSQL), taken at the start of a sync and released at its end.
 */
export class SyncLock implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Sync Lock',
		name: 'syncLock',
		icon: 'file:syncLock.svg',
		group: ['transform'],
		version: 1,
		// The operation in words; the lock name is usually an audience ID, which says nothing on the canvas.
		subtitle:
			'={{ ({ acquire: "Take the lock for this run", release: "Release the lock, record the run", renew: "Renew the lease", forceRelease: "Force release the lock", status: "Lock status and last runs" })[$parameter["operation"]] }}',
		description: 'Let one sync per audience run at a time, and keep its status and counts',
		defaults: { name: 'Sync Lock' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		// Acquire branches into Acquired and Busy; every other operation has one output.
		outputs: `={{ $parameter.operation === "acquire" ? [{ "type": "${NodeConnectionTypes.Main}", "displayName": "Acquired" }, { "type": "${NodeConnectionTypes.Main}", "displayName": "Busy" }] : [{ "type": "${NodeConnectionTypes.Main}" }] }}`,
		credentials: storeCredentials,
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Acquire',
						value: 'acquire',
						action: 'Acquire the lock',
						description: 'Take the lock for this run, or learn who holds it',
					},
					{
						name: 'Force Release',
						value: 'forceRelease',
						action: 'Force release the lock',
						description: 'End whatever lease the lock has, for an operator; recorded as forced',
					},
					{
						name: 'Release',
						value: 'release',
						action: 'Release the lock',
						description: "End this run's lease and record its outcome and counts",
					},
					{
						name: 'Renew',
						value: 'renew',
						action: 'Renew the lease',
						description: "Extend this run's lease during a long sync",
					},
					{
						name: 'Status',
						value: 'status',
						action: 'Get the sync status',
						description: 'Who runs now, and how the last runs went',
					},
				],
				default: 'acquire',
			},
			...storeProperties,
			...operationProperties,
		],
	};

	methods = {
		credentialTest: { hubSyncStorePostgresTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
