import { NodeConnectionTypes, type IExecuteFunctions, type INodeCredentialDescription, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';

import { mailchimpCredentials, withHideOptions } from '../shared/descriptions';
import { getTags, mailchimpCredentialTest, searchAudiences } from '../shared/methods/mailchimp';
import { hubSyncStorePostgresTest, storeCredentials, storeProperties } from '../shared/store/node';
import { HUB_CREDENTIAL_TYPE } from '../shared/transport/hub';
import { hints } from './actions/apply.operation';
import { getSegmentCount } from './methods/segments';
import { operationProperties, outputsExpression, router } from './actions/router';

// Built outside the description: n8n's lint rules cannot read a spread inside it.
// Handle Reply reads the confirming member back from Mailchimp.
const credentials: INodeCredentialDescription[] = [
	// A display condition of its own keeps the Hub slot offering the Hub credential: without one, the editor
	// fills every slot with the Authentication parameter's (Mailchimp) types (issue 8, #1).
	{ name: HUB_CREDENTIAL_TYPE, required: true, displayOptions: { show: { '@version': [1] } } },
	...storeCredentials,
	// `hide`, not `show`: the editor hides any parameter a credential's `show` names, Operation included (issue 8, #3).
	...withHideOptions(mailchimpCredentials, { operation: ['apply'] }),
];

/**
 * How members consent to SMS before (or as) they become Hub contacts: the Hub integration's three
 * modes (confirmation notification, double opt-in, none), at most one paid message per number and
 * audience, and an opt-out that always wins.
 */
export class ApplyConsent implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Apply Consent',
		name: 'applyConsent',
		icon: 'file:applyConsent.svg',
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["operation"] === "handleReply" ? "Handle reply" : "Apply to members" }}',
		description: 'Ask members for SMS consent, confirm their subscription, or handle their replies',
		defaults: { name: 'Apply Consent' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: outputsExpression,
		credentials,
		hints,
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Apply to Members',
						value: 'apply',
						action: 'Apply consent to members',
						description: 'Send the confirmation or the double opt-in request the consent mode asks for',
					},
					{
						name: 'Handle Reply',
						value: 'handleReply',
						action: 'Handle a reply',
						description: "Confirm, opt out or record a member's reply to a consent request",
					},
				],
				default: 'apply',
			},
			...operationProperties,
			...storeProperties,
		],
	};

	methods = {
		listSearch: { searchAudiences },
		loadOptions: { getTags, getSegmentCount },
		// n8n looks a credential's test up in the first node that lists the credential: each node needs both.
		credentialTest: { hubSyncStorePostgresTest, mailchimpCredentialTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
