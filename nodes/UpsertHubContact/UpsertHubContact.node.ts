import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeCredentialDescription,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { hubSyncStorePostgresTest, storeCredentials, storeProperties } from '../shared/store/node';
import { HUB_CREDENTIAL_TYPE } from '../shared/transport/hub';
import { operationProperties, router } from './actions/router';

// Built outside the description: n8n's lint rules cannot read a spread inside it.
const credentials: INodeCredentialDescription[] = [{ name: HUB_CREDENTIAL_TYPE, required: true }, ...storeCredentials];

/**
 * Mailchimp members become Hub contacts marked as the sync's (the MAILCHIMP list, Source and the
 * Mailchimp ID), written only where something changed; members who left are taken out again. Opted-out
 * numbers are never subscribed. Each member's result is kept in the ledger of the sync store.
 */
export class UpsertHubContact implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Upsert Hub Contact',
		name: 'upsertHubContact',
		icon: 'file:upsertHubContact.svg',
		group: ['output'],
		version: 1,
		// In words, as the Remove action's options read.
		subtitle:
			'={{ $parameter["operation"] === "remove" ? ({ removeFromList: "Take out of " + $parameter["listName"], unsubscribe: "Unsubscribe", delete: "Delete the contact", keep: "Keep the contact" })[$parameter["removeAction"]] : "Create or update in " + $parameter["listName"] }}',
		description: 'Create or update Sinch MessageMedia Hub contacts from Mailchimp members, or remove members who left',
		defaults: { name: 'Upsert Hub Contact' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		// "Not Synced", not "Error": with "On Error: continue (using error output)" n8n adds its own output
		// called Error (the node failed as a whole), and the canvas showed "Done / Error / Error".
		outputNames: ['Done', 'Not Synced'],
		credentials,
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Create or Update',
						value: 'upsert',
						action: 'Create or update contacts',
						description: 'Create a new record, or update the current one if it already exists (upsert)',
					},
					{
						name: 'Remove',
						value: 'remove',
						action: 'Remove members who left',
						description: 'For the Removed output of Fetch Tagged Members: take their contacts out of the list, or unsubscribe, delete or keep them',
					},
				],
				default: 'upsert',
			},
			...operationProperties,
			...storeProperties,
		],
	};

	methods = {
		credentialTest: { hubSyncStorePostgresTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
