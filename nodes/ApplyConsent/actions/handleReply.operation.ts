/**
 * Handle Reply: a handset's answer to a consent request (from the Hub Reply Trigger or its polling
 * variant, `json.reply`) confirms, opts out, or is only recorded.
 *
 * - Matched to its request by the metadata the Hub echoes (or the message id), else by the number in
 *   the audience chosen here.
 * - Y/YES: only from a number asked and never opted out anywhere (our store, the Hub's blacklist, an
 *   UNSUBSCRIBED Hub channel, Mailchimp's SMS status). The member is read back from Mailchimp and must
 *   still be in the selected tags with a selected status; then consent is confirmed and the member goes
 *   out on Confirmed exactly as Fetch Tagged Members would emit it (member fields and `json.sync` with
 *   the sync's ledger knowledge), for Map Fields and Upsert Hub Contact to write it and its ledger entry.
 * - STOP family (or the Hub's own OPT_OUT_SMS): the opt-out is recorded, consent closed, the number's
 *   Hub contacts unsubscribed if they exist; never asked again, whatever the mode.
 * - Anything else: goes to Done as received; nothing changes.
 */
import {
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
} from 'n8n-workflow';

import { planUnsubscribe } from '../../shared/channels';
import { consentReplyOf, consentRequestOf, type ConsentReply, type ConsentRequestRef } from '../../shared/consent/replies';
import { audienceLocator, mailchimpAuthentication, memberSelection, withDisplayOptions, withHideOptions } from '../../shared/descriptions';
import { memberKeyOf, type SyncInfo, type TaggedMember } from '../../shared/items';
import { contentHash, toTaggedMember } from '../../shared/members';
import { createMailchimpClient } from '../../shared/methods/mailchimp';
import { openStoreForNode } from '../../shared/store/node';
import type { ConsentRecord, SyncStore } from '../../shared/store';
import { createHubClient, type HubClient } from '../../shared/transport/hub';
import type { MailchimpClient, MailchimpMember } from '../../shared/transport/mailchimp';

/** The outputs of this operation, in order (Not Handled, not Error: n8n adds its own Error output, see apply). */
export const outputNames = ['Confirmed', 'Done', 'Not Handled'];

const show = { operation: ['handleReply'] };

/** Authentication goes by `hide`, not `show`: the editor hides any parameter it (a credential's condition) names with `show` (issue 8, #3). */
const authentication: INodeProperties[] = withHideOptions([mailchimpAuthentication], { operation: ['apply'] });

const shown = withDisplayOptions<INodeProperties>(
	[
		{
			displayName:
				'Connect the Hub Reply Trigger (or its poll variant) before this node, and Map Fields and Upsert Hub Contact with the daily sync\'s settings after Confirmed.',
			name: 'handleReplyNotice',
			type: 'notice',
			default: '',
		},
		{
			...audienceLocator,
			description: 'The audience the consent requests were sent for; a reply whose message names its audience uses that one',
		},
		...memberSelection({
			tagsHint: 'The tags the sync selects: a YES from a member no longer in them creates nothing',
			statusesDescription: 'The Mailchimp statuses the sync selects: a YES from a member with another status creates nothing',
		}),
		{
			displayName: 'Sync Name',
			name: 'replySyncName',
			type: 'string',
			default: '',
			placeholder: 'e.g. mailchimp-hub',
			description: "The sync's ledger name, for replies whose message does not carry it (requests sent by this package carry it)",
		},
	],
	show,
);

/** The notice first, then Authentication, then the rest, as the panel shows them. */
export const description: INodeProperties[] = [shown[0], ...authentication, ...shown.slice(1)];

/** What Handle Reply did with one reply (`json.consent` on Confirmed and Done). */
export interface ReplyOutcome extends IDataObject {
	phone: string;
	answer: string;
	meaning: ConsentReply['meaning'];
	matchedBy: 'message' | 'metadata' | 'number' | 'none';
	audienceId: string | null;
	result: 'confirmed' | 'opted-out' | 'ignored' | 'recorded';
	note?: string;
}

export interface ReplySettings {
	audienceId: string;
	tags: string[];
	match: 'any' | 'all';
	statuses: string[];
	syncName: string;
}

interface Services {
	store: SyncStore;
	hub: () => Promise<HubClient>;
	mailchimp: () => Promise<MailchimpClient>;
}

type Handled =
	| { output: 'confirmed'; json: IDataObject }
	| { output: 'done'; json: IDataObject }
	| { output: 'error'; json: IDataObject };

/** The request a reply answers: by the message id we stored, by the echoed metadata, else by number. */
async function matchRequest(
	store: SyncStore,
	reply: ConsentReply,
	settings: ReplySettings,
): Promise<{ record: ConsentRecord | null; ref: ConsentRequestRef | null; audienceId: string | null; matchedBy: ReplyOutcome['matchedBy'] }> {
	const ref = consentRequestOf(reply.metadata);
	if (reply.messageId) {
		const record = await store.findConsentByMessageId(reply.messageId);
		// Only a reply from the number the request went to answers it: one naming another number's request
		// is not understood, and must not confirm (or close) that request. It is matched by its own number.
		if (record && record.phone === reply.from) return { record, ref, audienceId: record.audienceId, matchedBy: 'message' };
	}
	if (ref) return { record: await store.getConsent(ref.audienceId, reply.from), ref, audienceId: ref.audienceId, matchedBy: 'metadata' };
	if (settings.audienceId) {
		const record = await store.getConsent(settings.audienceId, reply.from);
		return { record, ref: null, audienceId: settings.audienceId, matchedBy: record ? 'number' : 'none' };
	}
	return { record: null, ref: null, audienceId: null, matchedBy: 'none' };
}

/**
 * Whether the member's Mailchimp record still holds the number that replied: some phone-like value
 * (the SMS phone or any merge field) ends in the same last 8 digits. Which field Map Fields maps is its
 * own setting; a member whose number changed since the request must not be subscribed on a YES the new
 * number never gave, so a mismatch creates nothing (the sync asks the new number itself).
 */
function holdsNumber(member: MailchimpMember, phone: string): boolean {
	const tail = phone.replace(/\D/g, '').slice(-8);
	const values = [member.sms_phone_number, ...Object.values(member.merge_fields ?? {})];
	return values.some((v) => typeof v === 'string' && v.replace(/\D/g, '').endsWith(tail));
}

export async function handleOne(reply: ConsentReply, settings: ReplySettings, services: Services): Promise<Handled> {
	const { store } = services;
	const matched = await matchRequest(store, reply, settings);
	const outcome: ReplyOutcome = {
		phone: reply.from,
		answer: reply.content,
		meaning: reply.meaning,
		matchedBy: matched.matchedBy,
		audienceId: matched.audienceId,
		result: 'recorded',
	};
	const done = (result: ReplyOutcome['result'], note?: string): Handled => ({
		output: 'done',
		json: { reply: { ...reply }, consent: { ...outcome, result, ...(note ? { note } : {}) } },
	});

	if (reply.meaning === 'opt-out') {
		// Opt-out wins whatever was asked: remembered for every audience and mode, then the Hub follows.
		await store.recordOptOuts([{ phone: reply.from, source: 'reply-stop', ...(matched.audienceId ? { audienceId: matched.audienceId } : {}) }]);
		if (matched.audienceId) await store.recordConsentAnswer(matched.audienceId, reply.from, 'opted-out', reply.content);
		const hub = await services.hub();
		const holders = (await hub.findContactsByPhone([reply.from])).get(reply.from) ?? [];
		const unsubscribed: string[] = [];
		for (const contact of holders) {
			const plan = planUnsubscribe(contact, reply.from);
			if (!plan.ok) {
				return { output: 'error', json: { reply: { ...reply }, consent: { ...outcome, result: 'opted-out' }, error: `The opt-out is recorded, but ${plan.reason}` } };
			}
			if (plan.channels) {
				await hub.updateContact(contact.id, { channels: plan.channels });
				unsubscribed.push(contact.id);
			}
		}
		const note =
			holders.length === 0
				? 'no Hub contact has this number; it will never be asked or subscribed'
				: unsubscribed.length > 0
					? `Hub contact ${unsubscribed.join(', ')} unsubscribed`
					: 'the Hub contact was already unsubscribed';
		return done('opted-out', note);
	}

	if (reply.meaning === 'other') return done('recorded', 'not a consent answer; nothing changed');

	// Y / YES.
	const { record } = matched;
	if (!record || !matched.audienceId) return done('ignored', 'no consent request was sent to this number; nothing created');
	if (record.state === 'opted-out' || record.state === 'declined') return done('ignored', `this number answered ${record.state} before; a later YES is not consent`);
	if ((await store.readOptOuts([reply.from])).size > 0) return done('ignored', 'this number opted out before; a YES never subscribes it again');
	const hub = await services.hub();
	const authorised = (await hub.checkAuthorised([reply.from])).get(reply.from);
	if (authorised === false) {
		await store.recordOptOuts([{ phone: reply.from, source: 'hub-blacklist', audienceId: matched.audienceId }]);
		return done('ignored', "the number is on the Hub's blacklist; a YES never subscribes it again");
	}
	const holders = (await hub.findContactsByPhone([reply.from])).get(reply.from) ?? [];
	const unsubscribedIn = holders.find((c) => c.channels.some((ch) => ch.type === 'SMS' && ch.channelId === reply.from && ch.subscriptionState === 'UNSUBSCRIBED'));
	if (unsubscribedIn) {
		await store.recordOptOuts([{ phone: reply.from, source: 'hub-unsubscribed', audienceId: matched.audienceId }]);
		return done('ignored', `Hub contact ${unsubscribedIn.id} is UNSUBSCRIBED for this number; a YES never subscribes it again`);
	}

	const ref = matched.ref && matched.ref.audienceId === matched.audienceId ? matched.ref : null;
	// The member key is Mailchimp's contact id (or member id), both of which Mailchimp reads a member by.
	const memberLookup = ref?.memberKey;
	const syncName = ref?.syncName || settings.syncName;
	if (!memberLookup) {
		await store.recordConsentAnswer(matched.audienceId, reply.from, 'confirmed', reply.content);
		return done('confirmed', 'consent confirmed, but the request did not say which member it was for: the member is written by the next sync');
	}
	if (!syncName) {
		throw new Error('The reply does not name its sync and the Sync Name parameter is empty: set Sync Name to the ledger name of the daily sync.');
	}
	const mailchimp = await services.mailchimp();
	const found = await mailchimp.findMember(matched.audienceId, memberLookup);
	if (!found) return done('ignored', `Mailchimp no longer has member ${memberLookup} in audience ${matched.audienceId}; nothing created`);
	if (!settings.statuses.includes(found.status)) return done('ignored', `the member is now '${found.status}' in Mailchimp; nothing created`);
	if (found.sms_subscription_status === 'unsubscribed') {
		await store.recordOptOuts([{ phone: reply.from, source: 'mailchimp-sms-unsubscribed', audienceId: matched.audienceId }]);
		return done('ignored', 'the member unsubscribed from SMS in Mailchimp; nothing created');
	}
	if (!holdsNumber(found, reply.from)) {
		return done('ignored', 'the member no longer has the number that replied in Mailchimp; nothing created (the new number was never asked)');
	}
	const memberTags = await mailchimp.getMemberTags(matched.audienceId, found.id);
	const wanted = settings.tags.map((t) => t.trim().toLowerCase()).filter(Boolean);
	const has = (w: string) => memberTags.find((t) => t.id.toLowerCase() === w || t.name.toLowerCase() === w);
	const inTags = wanted.filter((w) => has(w));
	if (inTags.length === 0 || (settings.match === 'all' && inTags.length < wanted.length)) {
		return done('ignored', 'the member is no longer in the selected tags; nothing created');
	}

	await store.recordConsentAnswer(matched.audienceId, reply.from, 'confirmed', reply.content);
	const member: TaggedMember = toTaggedMember(found, inTags.map((w) => has(w)!.name), matched.audienceId);
	const memberKey = memberKeyOf(member);
	const previous = await store.getLedgerEntry(syncName, matched.audienceId, memberKey);
	const sync: SyncInfo = {
		syncName,
		audienceId: matched.audienceId,
		memberKey,
		change: previous ? 'changed' : 'new',
		contentHash: contentHash(member),
		hubContactId: previous?.hubContactId ?? null,
		previousPhone: previous?.phone ?? null,
	};
	return {
		output: 'confirmed',
		json: { ...member, sync, consent: { ...outcome, result: 'confirmed' } } as unknown as IDataObject,
	};
}

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const outputs: INodeExecutionData[][] = [[], [], []];
	const index = { confirmed: 0, done: 1, error: 2 } as const;
	let hub: HubClient | undefined;
	let mailchimp: MailchimpClient | undefined;
	for (let i = 0; i < items.length; i++) {
		try {
			const reply = consentReplyOf(items[i].json.reply);
			if (typeof reply === 'string') {
				throw new NodeOperationError(this.getNode(), `Item ${i} carries no Hub reply (json.reply): ${reply}`, {
					itemIndex: i,
					description: 'Connect the Hub Reply Trigger or the Hub Reply Poll Trigger to this node.',
				});
			}
			const settings: ReplySettings = {
				audienceId: this.getNodeParameter('audience', i, '', { extractValue: true }) as string,
				tags: toList(this.getNodeParameter('tags', i, [])),
				match: this.getNodeParameter('match', i, 'any') as 'any' | 'all',
				statuses: this.getNodeParameter('statuses', i, ['subscribed']) as string[],
				syncName: (this.getNodeParameter('replySyncName', i, '') as string).trim(),
			};
			const store = await openStoreForNode(this, i);
			const handled = await handleOne(reply, settings, {
				store,
				hub: async () => (hub ??= await createHubClient(this)),
				mailchimp: async () => (mailchimp ??= await createMailchimpClient(this)),
			});
			outputs[index[handled.output]].push({ json: handled.json, pairedItem: { item: i } });
		} catch (error) {
			if (!this.continueOnFail()) {
				if (error instanceof NodeOperationError) throw error;
				throw new NodeOperationError(this.getNode(), error as Error, { itemIndex: i });
			}
			outputs[index.error].push({ json: { ...items[i].json, error: (error as Error).message }, pairedItem: { item: i } });
		}
	}
	return outputs;
}

/** The dropdown gives an array; an expression may give an array or a comma-separated string. */
function toList(value: unknown): string[] {
	if (Array.isArray(value)) return value.map(String);
	if (typeof value === 'string') return value.split(',');
	return [];
}
