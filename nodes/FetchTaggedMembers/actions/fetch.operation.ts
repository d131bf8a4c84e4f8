/**
 * The one operation of Fetch Tagged Members: per input item, read the selected tags' members and,
 * with "New and Changed", compare them with the sync's ledger: new and changed members on Members,
 * members who left (each one confirmed with Mailchimp first) on Removed.
 */
import {
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
} from 'n8n-workflow';

import { audienceLocator, mailchimpAuthentication, memberSelection, withHideOptions } from '../../shared/descriptions';
import { createMailchimpClient } from '../../shared/methods/mailchimp';
import { openStoreForNode, storeProperties } from '../../shared/store/node';
import { DEFAULT_CONCURRENCY, MAX_CONCURRENCY, type MailchimpClient, type MemberStatus } from '../../shared/transport/mailchimp';
import { memberKeyOf, type TaggedMember } from '../../shared/items';
import {
	REMOVAL_TEXT,
	confirmRemovals,
	diffAgainstLedger,
	diffNamedMembers,
	splitLedger,
	unchangedSince,
	type MemberChange,
	type MemberRemoval,
} from '../changes';
import { SelectionError, fetchTaggedMembers, resolveTags, type TagMatch } from '../members';

type OutputMode = 'changes' | 'all';

/** The store (and its credential) matter only when Fetch compares with the ledger. */
export const hideForAllMembers = { output: ['all'] };

export const description: INodeProperties[] = [
		mailchimpAuthentication,
		audienceLocator,
		...memberSelection({
			tagsHint: 'Only members with these tags are synced. An expression may also give tag names.',
			statusesDescription: 'Which email statuses to include. Archived members are never listed by Mailchimp for a tag.',
		}),
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
		...withHideOptions(storeProperties, hideForAllMembers),
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
					displayName: 'Only These Members',
					name: 'onlyMembers',
					type: 'string',
					default: '',
					placeholder: 'e.g. {{ $json.members }}',
					description:
						"Email addresses or member IDs (a list, or comma-separated) to read instead of the whole selection, e.g. from a Mailchimp webhook. Each is read from Mailchimp (and compared with the same ledger); no one else is removed. Empty: everyone selected.",
				},
				{
					displayName: 'Sync Name',
					name: 'syncName',
					type: 'string',
					default: '',
					placeholder: 'e.g. customers-to-hub',
					description:
						"Whose ledger to compare with. Empty: this node's own (by the workflow's ID and this node's ID). Give a name to keep the ledger when the workflow is copied or replaced; two syncs must never share one.",
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
];

interface Settings {
	audienceId: string;
	tags: string[];
	match: TagMatch;
	statuses: Set<MemberStatus>;
	output: OutputMode;
	fullResync: boolean;
	syncName: string;
	concurrency: number;
	/** Undefined: everyone selected. */
	onlyMembers?: string[];
}

/** What one item asks for: every parameter is read for that item, expressions included. */
function settingsOf(ctx: IExecuteFunctions, i: number): Settings {
	const options = ctx.getNodeParameter('options', i, {}) as {
		concurrency?: number;
		fullResync?: boolean;
		syncName?: string;
		onlyMembers?: unknown;
	};
	const audienceId = (ctx.getNodeParameter('audience', i, '', { extractValue: true }) as string).trim();
	const statuses = new Set(ctx.getNodeParameter('statuses', i, ['subscribed']) as MemberStatus[]);
	if (!audienceId) throw new NodeOperationError(ctx.getNode(), 'No audience selected', { itemIndex: i });
	if (statuses.size === 0) {
		throw new NodeOperationError(ctx.getNode(), 'No status selected', {
			itemIndex: i,
			description: 'Select at least one status, usually Subscribed.',
		});
	}
	return {
		audienceId,
		tags: tagSelection(ctx.getNodeParameter('tags', i)),
		match: ctx.getNodeParameter('match', i) as TagMatch,
		statuses,
		output: ctx.getNodeParameter('output', i, 'changes') as OutputMode,
		fullResync: options.fullResync === true,
		syncName: options.syncName?.trim() ?? '',
		concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
		onlyMembers: memberList(options.onlyMembers),
	};
}

/**
 * Only These Members: a list or a comma-separated text of emails and member IDs. Empty (or an
 * expression that gives nothing) reads everyone; anything else that is not text is refused rather than guessed.
 */
export function memberList(value: unknown): string[] | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	const entries = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
	if (!entries || entries.some((e) => typeof e !== 'string')) {
		throw new SelectionError('Only These Members must be email addresses or member IDs', 'Give a list of texts, or one text with commas between them.');
	}
	const keys = [...new Set((entries as string[]).map((e) => e.trim()).filter(Boolean))];
	if (keys.length === 0) return undefined;
	return keys;
}

/**
 * The ledger's name: the Sync Name option, or by default the workflow's ID and this node's ID, so two
 * Fetch nodes in one workflow (two audiences, say) each keep their own and never remove each other's members.
 */
function ledgerName(ctx: IExecuteFunctions, settings: Settings, i: number): string {
	if (settings.syncName) return settings.syncName;
	const workflowId = ctx.getWorkflow().id;
	const nodeId = ctx.getNode().id;
	if (!workflowId || !nodeId) {
		throw new NodeOperationError(ctx.getNode(), 'This sync has no name for its ledger yet', {
			itemIndex: i,
			description: "Save the workflow (its ID and this node's name the sync's ledger), or give a Sync Name in the options.",
		});
	}
	return `${workflowId}/${nodeId}`;
}

/**
 * The lease of the run (CONTRACT §1): Sync Lock's owner token on the input item, carried on every item
 * emitted; and whether the run is a preview (Acquire's Preview), which the writing nodes honour.
 */
function leaseOf(item: INodeExecutionData): { lease?: string; preview?: true } {
	const token = item.json.token;
	return {
		...(typeof token === 'string' && token !== '' ? { lease: token } : {}),
		...(item.json.preview === true ? { preview: true as const } : {}),
	};
}

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const members: INodeExecutionData[] = [];
	const removed: INodeExecutionData[] = [];
	// One client per Concurrency setting; the account's connections are capped across all of them.
	const clients = new Map<number, Promise<MailchimpClient>>();
	const clientFor = (concurrency: number) => {
		let client = clients.get(concurrency);
		if (!client) {
			client = createMailchimpClient(this, { concurrency, runId: this.getExecutionId() });
			clients.set(concurrency, client);
		}
		return client;
	};

	const emit = (
		changes: MemberChange[],
		removals: MemberRemoval[],
		syncName: string,
		audienceId: string,
		lease: { lease?: string },
		pairedItem: { item: number },
	) => {
		for (const { member, change, contentHash, previous } of changes) {
			const sync = {
				syncName,
				audienceId,
				memberKey: memberKeyOf(member),
				change,
				contentHash,
				hubContactId: previous?.hubContactId ?? null,
				previousPhone: previous?.phone ?? null,
				...lease,
			};
			members.push({ json: memberJson(member, sync), pairedItem });
		}
		for (const { entry, reason, member } of removals) {
			const sync = {
				syncName,
				audienceId: entry.audienceId,
				memberKey: entry.memberKey,
				change: 'removed',
				reason,
				hubContactId: entry.hubContactId,
				phone: entry.phone,
				...lease,
			};
			removed.push({
				json: { memberKey: entry.memberKey, email: member?.email ?? null, reason: REMOVAL_TEXT[reason], sync },
				pairedItem,
			});
		}
	};

	const mapsFieldsLater = this.getChildNodes(this.getNode().name).some((n) => n.type.endsWith('.mapFields') && !n.disabled);
	for (let i = 0; i < items.length; i++) {
		const pairedItem = { item: i };
		try {
			const settings = settingsOf(this, i);
			const lease = leaseOf(items[i]);
			const client = await clientFor(settings.concurrency);
			const { audienceId, match, statuses } = settings;
			// The ledger is read while the tags are listed, and both before any member: a Hub write that
			// lands while we read Mailchimp then only makes a member look changed once more, never
			// unchanged when it is not.
			const syncName = settings.output === 'changes' ? ledgerName(this, settings, i) : '';
			const [available, ledger] = await Promise.all([
				client.getTags(audienceId),
				settings.output === 'changes' ? openStoreForNode(this, i).then((store) => store.readLedger(syncName)) : [],
			]);
			const tags = resolveTags(available, settings.tags);
			// Map Fields, further on, needs the audience's merge fields: they come while the pages load.
			if (mapsFieldsLater) void client.getMergeFields(audienceId).catch(() => undefined);

			if (settings.output === 'all') {
				// Only These Members: the named ones who are selected (compared with no ledger, all are "new").
				const selected = settings.onlyMembers
					? (await diffNamedMembers(client, audienceId, settings.onlyMembers, tags.map((t) => t.name), match, statuses, [], false)).changes.map((c) => c.member)
					: (await fetchTaggedMembers(client, audienceId, tags, match, statuses)).selected;
				for (const member of selected) {
					members.push({ json: memberJson(member, { audienceId, memberKey: memberKeyOf(member), ...lease }), pairedItem });
				}
				continue;
			}

			if (settings.onlyMembers) {
				const named = await diffNamedMembers(
					client,
					audienceId,
					settings.onlyMembers,
					tags.map((t) => t.name),
					match,
					statuses,
					ledger.filter((e) => e.audienceId === audienceId),
					settings.fullResync,
				);
				emit(named.changes, named.removals, syncName, audienceId, lease, pairedItem);
				continue;
			}
			// What the sync wrote for another audience has left the selection whatever Mailchimp says now.
			const { audience: audienceLedger, otherAudiences } = splitLedger(ledger, audienceId);
			const { selected, others, unchangedKeys } = await fetchTaggedMembers(client, audienceId, tags, match, statuses, {
				withOtherStatuses: true,
				...(settings.fullResync ? {} : { unchanged: unchangedSince(audienceLedger) }),
			});
			const diff = diffAgainstLedger(selected, others, audienceLedger, settings.fullResync, unchangedKeys);
			const confirmed = await confirmRemovals(
				client,
				audienceId,
				diff.absent,
				tags.map((t) => t.name),
				match,
				statuses,
			);
			const audienceChanged = otherAudiences.map((entry) => ({ entry, reason: 'audience-changed' as const, member: undefined }));
			emit(diff.changes, [...diff.leftByStatus, ...confirmed.removals, ...audienceChanged], syncName, audienceId, lease, pairedItem);
		} catch (error) {
			const failure =
				error instanceof SelectionError
					? new NodeOperationError(this.getNode(), error.message, { itemIndex: i, description: error.description })
					: error;
			if (this.continueOnFail()) {
				// Only `error` (n8n moves an item to the error output when its json has nothing else).
				members.push({ json: { error: (failure as Error).message }, pairedItem });
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
