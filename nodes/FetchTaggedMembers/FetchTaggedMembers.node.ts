import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { audienceLocator, mailchimpAuthentication, mailchimpCredentials } from '../shared/descriptions';
import {
	createMailchimpClient,
	getTags,
	mailchimpCredentialTest,
	searchAudiences,
} from '../shared/methods/mailchimp';
import { DEFAULT_CONCURRENCY, MAX_CONCURRENCY, type MemberStatus } from '../shared/transport/mailchimp';
import { SelectionError, fetchTaggedMembers, resolveTags, type TagMatch } from './members';

export class FetchTaggedMembers implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Fetch Tagged Members',
		name: 'fetchTaggedMembers',
		icon: 'file:fetchTaggedMembers.svg',
		group: ['input'],
		version: 1,
		subtitle: '={{"Audience " + $parameter["audience"].value}}',
		description: 'Read the members of selected Mailchimp tags, once each',
		defaults: { name: 'Fetch Tagged Members' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: mailchimpCredentials,
		properties: [
			mailchimpAuthentication,
			audienceLocator,
			{
				displayName: 'Tag Names or IDs',
				name: 'tags',
				type: 'multiOptions',
				typeOptions: { loadOptionsMethod: 'getTags', loadOptionsDependsOn: ['audience.value'] },
				default: [],
				required: true,
				hint: 'Only members with these tags are synced. An expression may also give tag names.',
				description:
					'Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>',
			},
			{
				displayName: 'Match',
				name: 'match',
				type: 'options',
				options: [
					{ name: 'Any Selected Tag', value: 'any', description: 'Members with at least one of the tags' },
					{ name: 'All Selected Tags', value: 'all', description: 'Only members with every one of the tags' },
				],
				default: 'any',
			},
			{
				displayName: 'Statuses',
				name: 'statuses',
				type: 'multiOptions',
				options: [
					{ name: 'Cleaned', value: 'cleaned' },
					{ name: 'Subscribed', value: 'subscribed' },
					{ name: 'Transactional', value: 'transactional' },
					{ name: 'Unsubscribed', value: 'unsubscribed' },
				],
				default: ['subscribed'],
				description: 'Which email statuses to include. Archived members are never listed by Mailchimp for a tag.',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add Option',
				default: {},
				options: [
					{
						displayName: 'Concurrency',
						name: 'concurrency',
						type: 'number',
						typeOptions: { minValue: 1, maxValue: MAX_CONCURRENCY },
						default: DEFAULT_CONCURRENCY,
						description:
							'How many requests to Mailchimp may run at once. Mailchimp allows 10 per account, shared with your other integrations.',
					},
				],
			},
		],
	};

	methods = {
		listSearch: { searchAudiences },
		loadOptions: { getTags },
		credentialTest: { mailchimpCredentialTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const { concurrency } = this.getNodeParameter('options', 0, {}) as { concurrency?: number };
		const client = await createMailchimpClient(this, { concurrency });
		const out: INodeExecutionData[] = [];

		for (let i = 0; i < items.length; i++) {
			try {
				const audienceId = (this.getNodeParameter('audience', i, '', { extractValue: true }) as string).trim();
				const match = this.getNodeParameter('match', i) as TagMatch;
				const statuses = new Set(this.getNodeParameter('statuses', i, ['subscribed']) as MemberStatus[]);
				if (!audienceId) throw new NodeOperationError(this.getNode(), 'No audience selected', { itemIndex: i });
				if (statuses.size === 0) {
					throw new NodeOperationError(this.getNode(), 'No status selected', {
						itemIndex: i,
						description: 'Select at least one status, usually Subscribed.',
					});
				}
				const tags = resolveTags(await client.getTags(audienceId), tagSelection(this.getNodeParameter('tags', i)));
				const members = await fetchTaggedMembers(client, audienceId, tags, match, statuses);
				for (const member of members) {
					out.push({
						json: { ...member, sync: { audienceId, memberKey: member.contactId ?? member.memberId } } as unknown as IDataObject,
						pairedItem: { item: i },
					});
				}
			} catch (error) {
				const failure =
					error instanceof SelectionError
						? new NodeOperationError(this.getNode(), error.message, { itemIndex: i, description: error.description })
						: error;
				if (this.continueOnFail()) {
					out.push({ json: { error: (failure as Error).message }, pairedItem: { item: i } });
					continue;
				}
				if (failure instanceof NodeOperationError) throw failure;
				if ((failure as { context?: IDataObject }).context) {
					(failure as { context: IDataObject }).context.itemIndex = i;
				}
				throw failure;
			}
		}
		return [out];
	}
}

/** The dropdown gives an array; an expression may give an array, or a comma-separated string. */
function tagSelection(value: unknown): string[] {
	if (Array.isArray(value)) return value.map(String);
	if (typeof value === 'string') return value.split(',');
	if (typeof value === 'number') return [String(value)];
	return [];
}
