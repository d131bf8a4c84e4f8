/**
 * Upsert: Mailchimp members (Map Fields' Valid output) become Hub contacts marked as the sync's.
 *
 * Once per run: the list and custom fields are found (created on the first run), all numbers are
 * looked up by phone and checked against the blacklist in batches of 100, and contacts known only by
 * the ledger's contact id are read in batches of 100. Then, per member, at most one write: a POST that
 * creates the contact with everything, or a PATCH of exactly what differs, or nothing. Contacts not yet
 * in the list are added in bulk at the end. The ledger entry follows the Hub's acceptance.
 */
import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import pLimit from 'p-limit';

import { RunLease } from '../../shared/lease';
import { hubClientFor, storeFor } from '../../shared/preview';
import type { OptOutRecord, SyncStore } from '../../shared/store';
import { openStoreForNode } from '../../shared/store/node';
import {
	HubConflictError,
	HubNotFoundError,
	type HubClient,
	type HubContact,
} from '../../shared/transport/hub';
import { contactsById, lookupNumbers } from '../helpers/hub';
import { changeListInBatches, runHubJobs, uniqueInputs } from '../helpers/jobs';
import { SOURCE_VALUE, ensureIdentity, inList, memberKeyOn, settledInOrder, type SyncIdentity } from '../helpers/identity';
import {
	MemberProblem,
	Outcomes,
	readUpsertItem,
	type HubOutcome,
	type UpsertInput,
} from '../helpers/items';
import { LedgerBatches } from '../helpers/ledger';
import { smsHolder, subscriptionOf } from '../../shared/channels';
import { createBody, planUpdate, type MemberIntent } from '../helpers/plan';
import { readRunSettings } from './common';

export const description: INodeProperties[] = [];

interface Task {
	input: UpsertInput;
	intent: MemberIntent;
	/** The existing contact to bring in line; none = create. */
	target?: HubContact;
	/** Other contacts of this member holding its number that are certainly the sync's: merged into the target. */
	copies: HubContact[];
	/** Said on the item: copies that may not be the sync's, left alone. */
	note?: string;
}

interface Upserted {
	contact: HubContact;
	action: 'created' | 'updated' | 'unchanged';
	changedFields: string[];
	/** Ids of the duplicate contacts deleted. */
	merged: string[];
}

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[], outcomes: Outcomes): Promise<void> {
	const inputs = uniqueInputs(items, readUpsertItem, outcomes, (_input, first) =>
		`Member ${first.memberKey} appears more than once in the input; it was synced from item ${first.index}`,
	);
	if (inputs.length === 0) return;

	const { listName, concurrency } = readRunSettings(this);
	const store = storeFor(items, await openStoreForNode(this, 0));
	// The run's lease (CONTRACT §1): checked before each batch of Hub writes, fencing every ledger write.
	const lease = new RunLease(store, RunLease.tokenOf(items, this.getNode()), this.getNode());
	const client = await hubClientFor(this, items);
	await lease.check();
	const limit = pLimit(concurrency);
	// A member whose phone changed since the last sync is found by the contact id the ledger kept, not by
	// its new number: those contacts are read now rather than after the number lookups.
	const movedIds = new Set(inputs.filter((i) => i.hubContactId && i.previousPhone !== i.contact.phone).map((i) => i.hubContactId!));
	// The list and fields, the numbers' contacts and blacklist, and the moved contacts need nothing of
	// each other: read side by side.
	const [identity, { byPhone, authorised }, movedById] = await settledInOrder([
		ensureIdentity(
			client,
			this.getNode(),
			listName,
			inputs.some((input) => input.contact.email !== undefined),
		),
		lookupNumbers(
			client,
			inputs.map((input) => input.contact.phone),
			limit,
		),
		contactsById(client, [...movedIds], limit),
	] as const);
	const ours = (key: string) => (contact: HubContact) => memberKeyOn(contact, identity.memberId) === key;
	// Every opt-out seen is remembered; a number that ever opted out is written UNSUBSCRIBED even if
	// the Hub forgot it (CONTRACT §2).
	const optedOut = await rememberOptOuts(store, inputs, byPhone, authorised);

	// Two members with one number: one contact, one winner; the others are reported.
	const winners: Task[] = [];
	const byNumber = new Map<string, UpsertInput[]>();
	for (const input of inputs) {
		const group = byNumber.get(input.contact.phone);
		if (group) group.push(input);
		else byNumber.set(input.contact.phone, [input]);
	}
	for (const [phone, group] of byNumber) {
		const owner = memberKeyOn(smsHolder(byPhone.get(phone), phone) ?? ({ customFields: [] } as unknown as HubContact), identity.memberId);
		const [winner, ...losers] = [...group].sort(duplicateOrder(owner));
		for (const loser of losers) {
			outcomes.fail(loser.index, {
				error: `Member ${winner.memberKey}${winner.email ? ` (${winner.email})` : ''} has the same phone number ${phone}; one Hub contact holds one number, so this member was not synced`,
				description: 'Give one of the members another phone number in Mailchimp, or leave it as is: the other member keeps the contact.',
			});
		}
		winners.push({
			copies: [],
			input: winner,
			intent: {
				memberKey: winner.memberKey,
				contact: winner.contact,
				// Opt-out wins for the number: any member holding it who opted out of SMS, or the blacklist.
				optOut: group.some((m) => m.smsUnsubscribed) || authorised.get(phone) === false || optedOut.has(phone),
				previousPhone: winner.previousPhone,
			},
		});
	}

	// Find each member's contact: by phone, else by the contact id the ledger kept (the phone changed).
	const storedIds = winners
		.filter((t) => !smsHolder(byPhone.get(t.input.contact.phone), t.input.contact.phone) && t.input.hubContactId)
		.map((t) => t.input.hubContactId!);
	const unread = storedIds.filter((id) => !movedIds.has(id));
	const byId = unread.length > 0 ? new Map([...movedById, ...(await contactsById(client, unread, limit))]) : movedById;
	const claimed = new Map<string, string>();
	const tasks: Task[] = [];
	for (const task of winners) {
		const { input } = task;
		// The contact the ledger knows wins over another copy of the member (see findCopies).
		const candidates = byPhone.get(input.contact.phone);
		const holder =
			smsHolder(candidates?.filter((c) => c.id === input.hubContactId && ours(input.memberKey)(c)), input.contact.phone) ??
			smsHolder(candidates, input.contact.phone, ours(input.memberKey));
		if (holder) {
			const owner = memberKeyOn(holder, identity.memberId);
			// A contact another member left (Remove took it out of our list) is free for the member who
			// has the number now; one still in the list belongs to its member.
			if (owner && owner !== input.memberKey && inList(holder, identity.list.id)) {
				outcomes.fail(input.index, belongsToAnother(holder, owner, input.contact.phone));
				continue;
			}
			task.target = holder;
		} else if (input.hubContactId) {
			const stored = byId.get(input.hubContactId);
			const owner = stored ? memberKeyOn(stored, identity.memberId) : undefined;
			// Gone from the Hub, or now marked as another member's: the member gets a new contact.
			if (stored && (!owner || owner === input.memberKey)) task.target = stored;
		}
		if (task.target) {
			findCopies(task, byPhone.get(input.contact.phone) ?? [], identity);
			const other = claimed.get(task.target.id);
			if (other !== undefined) {
				outcomes.fail(input.index, { error: `Hub contact ${task.target.id} is already synced from member ${other} in this run` });
				continue;
			}
			claimed.set(task.target.id, input.memberKey);
		}
		tasks.push(task);
	}

	const ledger = new LedgerBatches(async () => store, lease.fence, this.getNode());
	const record = (input: UpsertInput, contact: HubContact) => {
		if (input.contentHash === null || input.syncName === null) return;
		ledger.write({
			syncName: input.syncName,
			audienceId: input.audienceId,
			memberKey: input.memberKey,
			contentHash: input.contentHash,
			hubContactId: contact.id,
			phone: input.contact.phone,
			syncedAt: new Date(),
		});
	};
	const outcome = (task: Task, result: Upserted, extra: string[] = []): HubOutcome => {
		const changedFields = [...result.changedFields, ...(result.merged.length > 0 ? ['duplicates'] : []), ...extra];
		const notes = [
			...(result.merged.length > 0
				? [`Merged ${result.merged.length} duplicate Hub contact(s) of this member into this one and deleted them: ${result.merged.join(', ')}`]
				: []),
			...(task.note ? [task.note] : []),
		];
		return {
			contactId: result.contact.id,
			action: changedFields.length > 0 && result.action === 'unchanged' ? 'updated' : result.action,
			subscription: subscriptionOf(result.contact, task.input.contact.phone),
			changedFields,
			...(notes.length > 0 ? { note: notes.join(' ') } : {}),
		};
	};

	const notInList: Array<{ task: Task; result: Upserted }> = [];
	await runHubJobs(
		tasks,
		limit,
		outcomes,
		(task) => task.input.index,
		async (task) => {
			const result = await upsertOne(client, identity, task);
			if (inList(result.contact, identity.list.id)) {
				outcomes.succeed(task.input.index, outcome(task, result));
				record(task.input, result.contact);
			} else notInList.push({ task, result });
		},
		() => ledger.flush(),
		() => lease.check(),
	);

	// List membership in bulk; the ledger waits for it, so a failure here is redone next run.
	notInList.sort((a, b) => a.task.input.index - b.task.input.index);
	await changeListInBatches(client, identity.list.id, 'add', notInList, (entry) => entry.result.contact.id, {
		failed: (batch, failure) => {
			for (const { task, result } of batch) {
				outcomes.fail(task.input.index, {
					...failure,
					error: `Hub contact ${result.contact.id} was ${result.action}, but could not be put in the list "${identity.list.name}": ${failure.error}`,
				});
			}
		},
		done: (batch, unknown) => {
			for (const { task, result } of batch) {
				if (unknown.has(result.contact.id)) {
					outcomes.fail(task.input.index, {
						error: `Hub contact ${result.contact.id} was deleted in the Hub while this run synced it; the next run creates it again`,
					});
					continue;
				}
				outcomes.succeed(task.input.index, outcome(task, result, ['list']));
				record(task.input, result.contact);
			}
		},
		beforeThrow: () => ledger.flush(),
		beforeBatch: () => lease.check(),
	});
	await ledger.flush();
}

/**
 * Records the opt-outs this run sees (Mailchimp SMS unsubscribed, the Hub's blacklist, an
 * UNSUBSCRIBED SMS channel) and resolves with every number of the run that ever opted out.
 */
async function rememberOptOuts(
	store: SyncStore,
	inputs: UpsertInput[],
	byPhone: Map<string, HubContact[]>,
	authorised: Map<string, boolean>,
): Promise<Set<string>> {
	const seen: OptOutRecord[] = [];
	for (const input of inputs) {
		const { phone } = input.contact;
		const at = { phone, audienceId: input.audienceId };
		if (input.smsUnsubscribed) seen.push({ ...at, source: 'mailchimp-sms-unsubscribed' });
		if (authorised.get(phone) === false) seen.push({ ...at, source: 'hub-blacklist' });
		if ((byPhone.get(phone) ?? []).some((c) => subscriptionOf(c, phone) === 'UNSUBSCRIBED')) seen.push({ ...at, source: 'hub-unsubscribed' });
	}
	if (seen.length > 0) await store.recordOptOuts(seen);
	return await store.readOptOuts([...new Set(inputs.map((i) => i.contact.phone))]);
}

/** Winner first: the member the Hub contact already carries, then Mailchimp SMS-subscribed, then the lowest key. */
function duplicateOrder(owner: string | undefined) {
	return (a: UpsertInput, b: UpsertInput): number => {
		const rank = (m: UpsertInput) => (m.memberKey === owner ? 0 : 2) + (m.smsSubscribed ? 0 : 1);
		return rank(a) - rank(b) || (a.memberKey < b.memberKey ? -1 : a.memberKey > b.memberKey ? 1 : 0);
	};
}

function belongsToAnother(contact: HubContact, owner: string, phone: string) {
	return {
		error: `The phone number ${phone} belongs to Hub contact ${contact.id}, which the sync linked to another Mailchimp member (${owner}); it was left alone`,
		description:
			'One Hub contact holds one number. If that member no longer uses the number, change it in Mailchimp; the next run then moves the number.',
	};
}

/**
 * Other contacts holding the member's number and carrying its Mailchimp ID (a create whose answer was
 * lost, on a Hub that accepts a number twice). Those that also carry Source = MAILCHIMP are certainly
 * the sync's and are merged; others are only reported. An opt-out on any copy is kept.
 */
function findCopies(task: Task, holders: HubContact[], identity: SyncIdentity): void {
	const { input, target } = task;
	const phone = input.contact.phone;
	const copies = holders.filter(
		(c) =>
			c.id !== target!.id &&
			memberKeyOn(c, identity.memberId) === input.memberKey &&
			c.channels.some((ch) => ch.type === 'SMS' && ch.channelId === phone),
	);
	const sourceOf = (c: HubContact) => c.customFields?.find((f) => f.id === identity.source.id)?.value;
	task.copies = copies.filter((c) => sourceOf(c) === SOURCE_VALUE);
	const foreign = copies.filter((c) => sourceOf(c) !== SOURCE_VALUE);
	if (foreign.length > 0) {
		task.note = `Hub contact(s) ${foreign.map((c) => c.id).join(', ')} also hold ${phone} and carry this member's Mailchimp ID, but not Source ${SOURCE_VALUE}, so they were left alone; merge or delete them in the Hub.`;
	}
	if (task.copies.some((c) => subscriptionOf(c, phone) === 'UNSUBSCRIBED')) task.intent = { ...task.intent, optOut: true };
}

/** The member's contact brought in line, then its certain copies deleted. */
async function upsertOne(client: HubClient, identity: SyncIdentity, task: Task): Promise<Upserted> {
	const result = await writeOne(client, identity, task);
	for (const copy of task.copies) {
		try {
			await client.deleteContact(copy.id);
		} catch (error) {
			if (!(error instanceof HubNotFoundError)) throw error;
		}
		result.merged.push(copy.id);
	}
	return result;
}

/** At most one write for the member: create, or patch what differs, or nothing. */
async function writeOne(client: HubClient, identity: SyncIdentity, task: Task): Promise<Upserted> {
	const { intent } = task;
	let target = task.target;
	if (!target) {
		const { body, fields } = createBody(intent, identity);
		try {
			// A lost answer is looked up by the number and this member's Mailchimp ID before any resend.
			const created = await client.createContact(body, (found) => memberKeyOn(found, identity.memberId) === intent.memberKey);
			// Mapped custom fields are named by their merge tag, as in updates.
			const tags = new Map((created.customFields ?? []).map((f): [string, string] => [f.id, f.mergeTag]));
			return { contact: created, action: 'created', changedFields: fields.map((f) => tags.get(f) ?? f), merged: [] };
		} catch (error) {
			// The number is taken after all (a lookup that raced a create, or a lost answer to our own POST).
			if (!(error instanceof HubConflictError)) throw error;
			const found = await client.findContactsByPhone([intent.contact.phone]);
			target = smsHolder(found.get(intent.contact.phone), intent.contact.phone);
			if (!target) throw error;
			const owner = memberKeyOn(target, identity.memberId);
			if (owner && owner !== intent.memberKey) {
				const problem = belongsToAnother(target, owner, intent.contact.phone);
				throw new MemberProblem(problem.error, problem.description);
			}
		}
	}
	try {
		let plan = planUpdate(target, intent, identity);
		if (plan.ok && plan.patch?.channels) {
			// The channels array is sent whole: read the contact again just before, so a STOP (or any
			// other change) since the run's lookup is what the patch builds on, not what we saw then.
			target = await client.getContact(target.id);
			plan = planUpdate(target, intent, identity);
		}
		if (!plan.ok) throw new MemberProblem(plan.reason);
		if (!plan.patch) return { contact: target, action: 'unchanged', changedFields: [], merged: [] };
		return { contact: await client.updateContact(target.id, plan.patch), action: 'updated', changedFields: plan.changed, merged: [] };
	} catch (error) {
		// Deleted in the Hub between our read and our write: the member gets a new contact.
		if (!(error instanceof HubNotFoundError) || !task.target) throw error;
		return await writeOne(client, identity, { ...task, target: undefined });
	}
}
