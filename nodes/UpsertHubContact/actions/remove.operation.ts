/**
 * Remove: members who left the selection (Fetch Tagged Members' Removed output) are taken out of the
 * list (default), unsubscribed, deleted, or kept. Only contacts in the ledger are looked at, and each
 * is checked to still carry this member's Mailchimp ID before anything is done to it: a contact the
 * sync did not create or link is never touched. The ledger entry goes once the Hub accepted.
 */
import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import pLimit from 'p-limit';

import { RunLease } from '../../shared/lease';
import { hubClientFor, storeFor } from '../../shared/preview';
import type { SyncStore } from '../../shared/store';
import { openStoreForNode } from '../../shared/store/node';
import {
	HubNotFoundError,
	type HubContact,
} from '../../shared/transport/hub';
import { contactsById, lookupNumbers } from '../helpers/hub';
import { changeListInBatches, runHubJobs, uniqueInputs } from '../helpers/jobs';
import { findIdentity, inList, memberKeyOn } from '../helpers/identity';
import {
	Outcomes,
	readRemoveItem,
	type HubAction,
	type HubOutcome,
	type RemoveInput,
} from '../helpers/items';
import { LedgerBatches } from '../helpers/ledger';
import { planUnsubscribe, smsHolder, subscriptionOf } from '../../shared/channels';
import { readRemoveSettings, readRunSettings } from './common';

type RemoveAction = 'removeFromList' | 'unsubscribe' | 'delete' | 'keep';

const ACTION_DONE: Record<RemoveAction, HubAction> = {
	removeFromList: 'removed-from-list',
	unsubscribe: 'unsubscribed',
	delete: 'deleted',
	keep: 'kept',
};

export const description: INodeProperties[] = [
	{
		displayName: 'Action',
		name: 'removeAction',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Delete the Contact',
				value: 'delete',
				description: "Delete the contact from the Hub (the Hub still keeps the number's subscription preference)",
			},
			{
				name: 'Keep the Contact',
				value: 'keep',
				description: 'Change nothing in the Hub; the sync only stops tracking the member',
			},
			{
				name: 'Remove From the List',
				value: 'removeFromList',
				description: 'Take the contact out of the list; it stays in the Hub',
			},
			{
				name: 'Unsubscribe',
				value: 'unsubscribe',
				description: "Set the contact's SMS channel to unsubscribed; it stays in the Hub and the list",
			},
		],
		default: 'removeFromList',
		description:
			'What happens in the Hub to members who left the selected tags, or were unsubscribed, cleaned, archived or deleted in Mailchimp. Only contacts the sync created or linked are touched.',
		displayOptions: { show: { operation: ['remove'] } },
	},
];

interface Job {
	input: RemoveInput;
	contact: HubContact;
	/** Unsubscribe first (the action, or an invalid row of a member who opted out), then delete if the action says so. */
	unsubscribe: boolean;
	remove: 'delete' | 'removeFromList' | null;
}

/** Why an invalid row's contact is let go, in words. */
const INVALID_TEXT: Record<string, string> = {
	'phone-missing': "The member's phone number is now empty in Mailchimp",
	'phone-invalid': "The member's phone number in Mailchimp is no longer a valid mobile",
	other: 'The member can no longer be synced',
};

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[], outcomes: Outcomes): Promise<void> {
	const inputs = uniqueInputs(items, readRemoveItem, outcomes, (input) => `Member ${input.memberKey} appears more than once in the input`);
	if (inputs.length === 0) return;

	const action = this.getNodeParameter('removeAction', 0, 'removeFromList') as RemoveAction;
	const store = storeFor(items, await openStoreForNode(this, 0));
	// The run's lease (CONTRACT §1): checked before each batch of Hub writes, fencing every ledger write.
	const lease = new RunLease(store, RunLease.tokenOf(items, this.getNode()), this.getNode());
	const ledger = new LedgerBatches(async () => store, lease.fence, this.getNode());
	const finish = (input: RemoveInput, hub: Omit<HubOutcome, 'action'> & { action?: HubAction }) => {
		const why = input.change === 'invalid' ? (INVALID_TEXT[input.invalidReason ?? 'other'] ?? INVALID_TEXT.other) : undefined;
		const note = [why, hub.note].filter(Boolean).join('. ');
		outcomes.succeed(input.index, { ...hub, action: hub.action ?? ACTION_DONE[action], ...(note ? { note } : {}) });
		ledger.forget(input.syncName, input.audienceId, input.memberKey);
	};

	// An invalid row the sync never wrote has nothing in the Hub to take out.
	const toHub: RemoveInput[] = [];
	for (const input of inputs) {
		if (input.change === 'invalid' && !input.hubContactId) {
			outcomes.succeed(input.index, {
				contactId: null,
				action: 'kept',
				subscription: null,
				changedFields: [],
				note: 'Never synced; nothing to take out',
			});
		} else if (input.change === 'invalid' && input.invalidReason === 'other' && !input.smsUnsubscribed) {
			// A mapping that failed for a reason other than the phone (a broken expression, say) says nothing about
			// whether the member still wants messages: the contact stays as it was, and so does its ledger entry,
			// so the member is carried again once the mapping works.
			outcomes.succeed(input.index, {
				contactId: input.hubContactId,
				action: 'kept',
				subscription: null,
				changedFields: [],
				note: 'The member could not be mapped, but not because of the phone number; the contact stays as it was until the mapping works again',
			});
		} else toHub.push(input);
	}

	// An opted-out member's contact is unsubscribed whatever the action (opt-out wins).
	const mustUnsubscribe = (input: RemoveInput) => action === 'unsubscribe' || (input.change === 'invalid' && input.smsUnsubscribed);
	// A member who opted out of SMS in Mailchimp is remembered, whatever happens to the contact (CONTRACT §2).
	const optOuts = toHub.filter((input) => input.change === 'invalid' && input.smsUnsubscribed && input.phone);
	if (optOuts.length > 0) {
		await store.recordOptOuts(optOuts.map((input) => ({ phone: input.phone!, source: 'mailchimp-sms-unsubscribed' as const, audienceId: input.audienceId })));
	}
	const { maxRemovalShare } = readRemoveSettings(this);
	if (action !== 'keep' && (await guardRefuses(store, toHub, maxRemovalShare, outcomes))) {
		await ledger.flush();
		return;
	}
	const keepOnly = toHub.filter((input) => action === 'keep' && !mustUnsubscribe(input));
	for (const input of keepOnly) finish(input, { contactId: input.hubContactId, subscription: null, changedFields: [] });
	const work = toHub.filter((input) => !keepOnly.includes(input));
	if (work.length === 0) {
		await ledger.flush();
		return;
	}

	const { listName, concurrency } = readRunSettings(this);
	const client = await hubClientFor(this, items);
	const identity = await findIdentity(client, listName);
	const limit = pLimit(concurrency);
	const byId = await contactsById(client, work.flatMap((i) => (i.hubContactId ? [i.hubContactId] : [])), limit);
	// A ledger entry without a contact id (not written by this version) is looked up by its number.
	const phones = work.filter((i) => !i.hubContactId && i.phone).map((i) => i.phone!);
	const byPhone = phones.length > 0 ? (await lookupNumbers(client, phones, limit, false)).byPhone : new Map<string, HubContact[]>();

	const toRemoveFromList: Array<{ input: RemoveInput; contact: HubContact }> = [];
	const jobs: Job[] = [];
	for (const input of work) {
		const contact = input.hubContactId
			? byId.get(input.hubContactId)
			: input.phone
				? smsHolder(byPhone.get(input.phone), input.phone, (c) => memberKeyOn(c, identity.memberId) === input.memberKey)
				: undefined;
		if (!contact) {
			finish(input, { contactId: input.hubContactId, subscription: null, changedFields: [], note: 'The contact no longer exists in the Hub' });
			continue;
		}
		if (!input.hubContactId && memberKeyOn(contact, identity.memberId) !== input.memberKey) {
			// Found by number only: without this member's Mailchimp ID it is somebody else's contact.
			finish(input, {
				contactId: null,
				subscription: null,
				changedFields: [],
				note: `No Hub contact carrying this member's Mailchimp ID holds ${input.phone}; nothing was changed`,
			});
			continue;
		}
		const owner = memberKeyOn(contact, identity.memberId);
		const unsubscribe = mustUnsubscribe(input);
		// Taking a ledger contact out of our own list is safe unless another member now holds it;
		// unsubscribing or deleting needs the contact to carry this very member's Mailchimp ID.
		const mayTouch = owner === input.memberKey || (action === 'removeFromList' && !unsubscribe && owner === undefined);
		if (!mayTouch) {
			outcomes.succeed(input.index, {
				contactId: contact.id,
				action: 'kept',
				subscription: subscriptionOf(contact, input.phone),
				changedFields: [],
				note: owner
					? `Hub contact ${contact.id} now carries another Mailchimp member's ID (${owner}), so it was left alone`
					: `Hub contact ${contact.id} no longer carries this member's Mailchimp ID, so it was left alone`,
			});
			ledger.forget(input.syncName, input.audienceId, input.memberKey);
			continue;
		}
		const listed = identity.list !== undefined && inList(contact, identity.list.id);
		if (action === 'removeFromList' && !listed && !unsubscribe) {
			finish(input, { contactId: contact.id, subscription: subscriptionOf(contact, input.phone), changedFields: [], note: `Not in the list "${listName}"` });
			continue;
		}
		const remove = action === 'delete' ? 'delete' : action === 'removeFromList' && listed ? 'removeFromList' : null;
		if (remove === 'removeFromList' && !unsubscribe) toRemoveFromList.push({ input, contact });
		else jobs.push({ input, contact, unsubscribe, remove });
	}

	await runHubJobs(
		jobs,
		limit,
		outcomes,
		(job) => job.input.index,
		async (job) => {
			const { input, contact } = job;
			const changedFields: string[] = [];
			let current = contact;
			try {
				if (job.unsubscribe) {
					// Read again just before the whole channel array goes back (see planUnsubscribe).
					current = await client.getContact(contact.id);
					const plan = planUnsubscribe(current, input.phone);
					if (!plan.ok) return outcomes.fail(input.index, { error: plan.reason });
					if (plan.channels) {
						current = await client.updateContact(contact.id, { channels: plan.channels });
						changedFields.push('subscription');
					}
				}
				if (job.remove === 'delete') {
					await client.deleteContact(contact.id);
					changedFields.push('contact');
				} else if (job.remove === 'removeFromList') {
					await client.removeContactFromList(identity.list!.id, contact.id);
					changedFields.push('list');
				}
				finish(input, {
					contactId: contact.id,
					// What was done, when it was more than the action (an opted-out invalid row under Keep).
					action: job.remove === null && job.unsubscribe ? 'unsubscribed' : undefined,
					subscription: job.remove === 'delete' ? null : subscriptionOf(current, input.phone),
					changedFields,
				});
			} catch (error) {
				// Already gone counts as done.
				if (!(error instanceof HubNotFoundError)) throw error;
				finish(input, { contactId: contact.id, subscription: null, changedFields, note: 'The contact no longer exists in the Hub' });
			}
		},
		() => ledger.flush(),
		() => lease.check(),
	);

	await changeListInBatches(client, identity.list?.id ?? '', 'remove', toRemoveFromList, (entry) => entry.contact.id, {
		failed: (batch, failure) => {
			for (const { input } of batch) outcomes.fail(input.index, failure);
		},
		done: (batch, unknown) => {
			for (const { input, contact } of batch) {
				finish(input, {
					contactId: contact.id,
					subscription: unknown.has(contact.id) ? null : subscriptionOf(contact, input.phone),
					changedFields: unknown.has(contact.id) ? [] : ['list'],
					...(unknown.has(contact.id) ? { note: 'The contact no longer exists in the Hub' } : {}),
				});
			}
		},
		beforeThrow: () => ledger.flush(),
		beforeBatch: () => lease.check(),
	});
	await ledger.flush();
}

/**
 * The removal guard: a run that would take more than `maxShare` percent of the sync's ledger out
 * of the Hub (a garbled answer, a wrong tag, a wrong audience look exactly like mass departures)
 * removes nothing. Every removal goes to Error with the reason, marked fatal so the run is recorded
 * failed. Resolves whether it refused.
 */
async function guardRefuses(store: SyncStore, removals: RemoveInput[], maxShare: number, outcomes: Outcomes): Promise<boolean> {
	if (maxShare <= 0 || removals.length === 0) return false;
	let refused = false;
	const bySync = new Map<string, RemoveInput[]>();
	for (const input of removals) bySync.set(input.syncName, [...(bySync.get(input.syncName) ?? []), input]);
	for (const [syncName, group] of bySync) {
		const ledgerSize = await store.countLedger(syncName);
		const share = (group.length / Math.max(ledgerSize, 1)) * 100;
		// One member leaving is never refused: it cannot empty the list, and in a sync of a few members
		// (or a webhook's run for the member who just unsubscribed) it is always a large share.
		if (share <= maxShare || group.length === 1) continue;
		refused = true;
		const error = `Removal guard: this run would take ${group.length} of the ${ledgerSize} members the sync has written out of the Hub (${Math.round(share)} %), more than the Max Removal Share of ${maxShare} %; nothing was removed`;
		for (const input of group) {
			outcomes.fail(input.index, {
				error,
				description:
					"If these members really left the selection (a tag was renamed or emptied on purpose), raise Max Removal Share in Remove From Hub's options for one run, or set it to 0 to switch the guard off. Otherwise check the audience, the tags and the Mailchimp credential in Fetch Tagged Members.",
				fatal: true,
			});
		}
	}
	if (refused) {
		for (const input of removals) {
			if (!outcomes.has(input.index)) {
				outcomes.fail(input.index, { error: 'Not removed: the removal guard stopped every removal of this run', fatal: true });
			}
		}
	}
	return refused;
}
