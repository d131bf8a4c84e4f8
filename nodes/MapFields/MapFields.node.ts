import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeCredentialDescription,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { audienceLocator, mailchimpAuthentication, mailchimpCredentials } from '../shared/descriptions';
import { mailchimpCredentialTest, searchAudiences } from '../shared/methods/mailchimp';
import { HUB_CREDENTIAL_TYPE } from '../shared/transport/hub';
import { operationProperties, router } from './actions/router';
import { getMappingFields } from './methods/resourceMapping';

/**
 * Mailchimp for the members' fields, the Hub for its custom fields. The editor offers, in every credential
 * slot without display conditions of a node with an Authentication parameter, only that parameter's types
 * (Mailchimp's); a condition that does not name Authentication gives the Hub's slot its own type (list a
 * new node version here when there is one).
 */
const credentials: INodeCredentialDescription[] = [
	...mailchimpCredentials,
	{ name: HUB_CREDENTIAL_TYPE, required: true, displayOptions: { show: { '@version': [1] } } },
];

/**
 * Mailchimp member → Hub contact fields: each Hub field takes a Mailchimp field chosen from a
 * dropdown (or an expression), phones become E.164, and members who cannot become a contact leave
 * on the Invalid output with the reason.
 */
export class MapFields implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Map Fields',
		name: 'mapFields',
		icon: 'file:mapFields.svg',
		group: ['transform'],
		version: 1,
		subtitle: 'Mailchimp fields → Hub contact',
		description: 'Turn Mailchimp members into Hub contact fields, with phone numbers in E.164',
		defaults: { name: 'Map Fields' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Valid', 'Invalid'],
		credentials,
		properties: [
			mailchimpAuthentication,
			// Each member brings its audience from Fetch Tagged Members, so the run needs none here: this one only
			// says whose fields fill the dropdowns, and a dropdown shows its name (issue 8, #7).
			{
				...audienceLocator,
				required: false,
				description:
					"Whose fields fill the dropdowns below. Empty: your only audience. The run takes each member's own audience from Fetch Tagged Members.",
				hint: "Leave empty to use the incoming members' audience",
			},
			...operationProperties,
		],
	};

	methods = {
		listSearch: { searchAudiences },
		resourceMapping: { getMappingFields },
		credentialTest: { mailchimpCredentialTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
