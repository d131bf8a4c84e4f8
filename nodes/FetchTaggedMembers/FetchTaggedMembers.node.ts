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
import { withDisplayOptions } from '../shared/descriptions';
import { hubSyncStorePostgresTest, openStoreForNode, storeCredentials, storeProperties } from '../shared/store/node';
import { DEFAULT_CONCURRENCY, MAX_CONCURRENCY, type MemberStatus } from '../shared/transport/mailchimp';
import { REMOVAL_TEXT, confirmRemovals, diffAgainstLedger, memberKeyOf } from './changes';
import { SelectionError, fetchTaggedMembers, resolveTags, type TagMatch, type TaggedMember } from './members';

type OutputMode = 'changes' | 'all';

const showForChanges = { output: ['changes'] };

// Built outside the description: n8n's lint rules cannot read a spread inside it.
const credentials = [...mailchimpCredentials, ...withDisplayOptions(storeCredentials, showForChanges)];

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
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Members', 'Removed'],
		credentials,
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
				displayName: 'Output',
				name: 'output',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'New and Changed Since the Last Sync',
						value: 'changes',
						description:
							'Compare with what the last sync wrote to the Hub: new and changed members on Members, members who left on Removed',
					},
					{ name: 'All Selected Members', value: 'all', description: 'Every selected member, with no comparison' },
				],
				default: 'changes',
			},
			...withDisplayOptions(storeProperties, showForChanges),
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add Option',
				default: {},
				options: [
					{
						displayName: 'Full Resync',
						name: 'fullResync',
						type: 'boolean',
						default: false,
						description:
							'Whether to send every selected member again, as if nothing had been synced (e.g. after changing the field mapping). Removals are still detected.',
						displayOptions: { show: { '/output': ['changes'] } },
					},
					{
						displayName: 'Sync Name',
						name: 'syncName',
						type: 'string',
						default: '',
						placeholder: 'e.g. customers-to-hub',
						description:
							"Whose ledger to compare with. Empty: this workflow's own (by its ID). Give a name to keep the ledger when the workflow is copied or replaced; two syncs must never share one.",
						displayOptions: { show: { '/output': ['changes'] } },
					},
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
		// n8n looks a credential's test up in the first node that lists the credential: each node needs both.
		credentialTest: { mailchimpCredentialTest, hubSyncStorePostgresTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const options = this.getNodeParameter('options', 0, {}) as { concurrency?: number; fullResync?: boolean; syncName?: string };
		const client = await createMailchimpClient(this, { concurrency: options.concurrency });
		const members: INodeExecutionData[] = [];
		const removed: INodeExecutionData[] = [];

		for (let i = 0; i < items.length; i++) {
			try {
				const audienceId = (this.getNodeParameter('audience', i, '', { extractValue: true }) as string).trim();
				const match = this.getNodeParameter('match', i) as TagMatch;
				const statuses = new Set(this.getNodeParameter('statuses', i, ['subscribed']) as MemberStatus[]);
				const output = this.getNodeParameter('output', i, 'changes') as OutputMode;
				if (!audienceId) throw new NodeOperationError(this.getNode(), 'No audience selected', { itemIndex: i });
				if (statuses.size === 0) {
					throw new NodeOperationError(this.getNode(), 'No status selected', {
						itemIndex: i,
						description: 'Select at least one status, usually Subscribed.',
					});
				}
				const tags = resolveTags(await client.getTags(audienceId), tagSelection(this.getNodeParameter('tags', i)));
				const pairedItem = { item: i };

				if (output === 'all') {
					const { selected } = await fetchTaggedMembers(client, audienceId, tags, match, statuses);
					for (const member of selected) {
						members.push({ json: memberJson(member, { audienceId, memberKey: memberKeyOf(member) }), pairedItem });
					}
					continue;
				}

				const syncName = options.syncName?.trim() || this.getWorkflow().id;
				if (!syncName) {
					throw new NodeOperationError(this.getNode(), 'This sync has no name for its ledger yet', {
						itemIndex: i,
						description: "Save the workflow (its ID names the sync's ledger), or give a Sync Name in the options.",
					});
				}
				// Read the ledger first: a Hub write that lands while we read Mailchimp then only
				// makes a member look changed once more, never unchanged when it is not.
				const store = await openStoreForNode(this, i);
				const ledger = await store.readLedger(syncName);
				const { selected, others } = await fetchTaggedMembers(client, audienceId, tags, match, statuses, {
					withOtherStatuses: true,
				});
				// What the sync wrote for another audience has left the selection whatever Mailchimp says now.
				const otherAudiences = ledger.filter((e) => e.audienceId !== audienceId);
				const diff = diffAgainstLedger(
					selected,
					others,
					ledger.filter((e) => e.audienceId === audienceId),
					options.fullResync === true,
				);
				const confirmed = await confirmRemovals(
					client,
					audienceId,
					diff.absent,
					tags.map((t) => t.name),
					match,
					statuses,
				);
				for (const { member, change, contentHash, previous } of diff.changes) {
					const sync = {
						syncName,
						audienceId,
						memberKey: memberKeyOf(member),
						change,
						contentHash,
						hubContactId: previous?.hubContactId ?? null,
						previousPhone: previous?.phone ?? null,
					};
					members.push({ json: memberJson(member, sync), pairedItem });
				}
				const audienceChanged = otherAudiences.map((entry) => ({ entry, reason: 'audience-changed' as const, member: undefined }));
				for (const { entry, reason, member } of [...diff.leftByStatus, ...confirmed.removals, ...audienceChanged]) {
					const sync = {
						syncName,
						audienceId: entry.audienceId,
						memberKey: entry.memberKey,
						change: 'removed',
						reason,
						hubContactId: entry.hubContactId,
						phone: entry.phone,
					};
					removed.push({
						json: { memberKey: entry.memberKey, email: member?.email ?? null, reason: REMOVAL_TEXT[reason], sync },
						pairedItem,
					});
				}
			} catch (error) {
				const failure =
					error instanceof SelectionError
						? new NodeOperationError(this.getNode(), error.message, { itemIndex: i, description: error.description })
						: error;
				if (this.continueOnFail()) {
					members.push({ json: { error: (failure as Error).message }, pairedItem: { item: i } });
					continue;
				}
				if ((failure as { context?: IDataObject }).context) {
					(failure as { context: IDataObject }).context.itemIndex = i;
				}
				throw failure;
			}
		}
		return [members, removed];
	}
}

function memberJson(member: TaggedMember, sync: IDataObject): IDataObject {
	return { ...member, sync } as unknown as IDataObject;
}

/** The dropdown gives an array; an expression may give an array, or a comma-separated string. */
function tagSelection(value: unknown): string[] {
	if (Array.isArray(value)) return value.map(String);
	if (typeof value === 'string') return value.split(',');
	if (typeof value === 'number') return [String(value)];
	return [];
}
