import { NodeConnectionTypes, type IExecuteFunctions, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';

import { mailchimpCredentials, withHideOptions } from '../shared/descriptions';
import { storeCredentials } from '../shared/store/node';
import { hideForAllMembers } from './actions/fetch.operation';
import { operationProperties, router } from './actions/router';
import { methods } from './methods';

// Built outside the description: n8n's lint rules cannot read a spread inside it.
const credentials = [...mailchimpCredentials, ...withHideOptions(storeCredentials, hideForAllMembers)];

/** Reads the members of selected Mailchimp tags, once each; with the ledger, only what changed and who left. */
export class FetchTaggedMembers implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Fetch Tagged Members',
		name: 'fetchTaggedMembers',
		icon: 'file:fetchTaggedMembers.svg',
		group: ['input'],
		version: 1,
		// In words: the editor resolves an audience to its bare ID in subtitles (never its name).
		subtitle: '={{ $parameter["output"] === "all" ? "All selected members" : "New, changed and removed members" }}',
		description: 'Read the members of selected Mailchimp tags, once each',
		defaults: { name: 'Fetch Tagged Members' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Members', 'Removed'],
		credentials,
		properties: operationProperties,
	};

	methods = methods;

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
