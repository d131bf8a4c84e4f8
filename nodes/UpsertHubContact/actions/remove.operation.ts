/**
 * Remove: members who left the selection (Fetch Tagged Members' Removed output) are taken out of the
 * list (default), unsubscribed, deleted, or kept. Only contacts in the ledger are looked at, and each
 * is checked to still carry this member's Mailchimp ID before anything is done to it: a contact the
 * sync did not create or link is never touched. The ledger entry goes once the Hub accepted.
 */
import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import pLimit from 'p-limit';

import { openStoreForNode } from '../../shared/store/node';
import {
	HubNotFoundError,
	createHubClient,
	type HubContact,
	type HubContactInput,
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
import { planUnsubscribe, smsHolder, subscriptionOf } from '../helpers/plan';
import { readRunSettings } from './common';

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
	kind: 'unsubscribe' | 'delete';
	channels?: HubContactInput['channels'];
}

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[], outcomes: Outcomes): Promise<void> {
	const inputs = uniqueInputs(items, readRemoveItem, outcomes, (input) => `Member ${input.memberKey} appears more than once in the input`);
	if (inputs.length === 0) return;

	const action = this.getNodeParameter('removeAction', 0, 'removeFromList') as RemoveAction;
	const ledger = new LedgerBatches(() => openStoreForNode(this, 0));
	const finish = (input: RemoveInput, hub: Omit<HubOutcome, 'action'> & { action?: HubAction }) => {
		outcomes.succeed(input.index, { action: ACTION_DONE[action], ...hub });
		ledger.forget(input.syncName, input.audienceId, input.memberKey);
	};

	if (action === 'keep') {
		for (const input of inputs) finish(input, { contactId: input.hubContactId, subscription: null, changedFields: [] });
		await ledger.flush();
		return;
	}

	const { listName, concurrency } = readRunSettings(this);
	const client = await createHubClient(this);
	const identity = await findIdentity(client, listName);
	const limit = pLimit(concurrency);
	const byId = await contactsById(client, inputs.flatMap((i) => (i.hubContactId ? [i.hubContactId] : [])), limit);
	// A ledger entry without a contact id (not written by this version) is looked up by its number.
	const phones = inputs.filter((i) => !i.hubContactId && i.phone).map((i) => i.phone!);
	const byPhone = phones.length > 0 ? (await lookupNumbers(client, phones, limit, false)).byPhone : new Map<string, HubContact[]>();

	const toRemoveFromList: Array<{ input: RemoveInput; contact: HubContact }> = [];
	const jobs: Job[] = [];
	for (const input of inputs) {
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
		// Taking a ledger contact out of our own list is safe unless another member now holds it;
		// unsubscribing or deleting needs the contact to carry this very member's Mailchimp ID.
		const mayTouch = owner === input.memberKey || (action === 'removeFromList' && owner === undefined);
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
		if (action === 'removeFromList') {
			if (identity.list && inList(contact, identity.list.id)) toRemoveFromList.push({ input, contact });
			else finish(input, { contactId: contact.id, subscription: subscriptionOf(contact, input.phone), changedFields: [], note: `Not in the list "${listName}"` });
		} else if (action === 'unsubscribe') {
			const plan = planUnsubscribe(contact, input.phone);
			if (!plan.ok) outcomes.fail(input.index, { error: plan.reason });
			else if (!plan.channels) finish(input, { contactId: contact.id, subscription: subscriptionOf(contact, input.phone), changedFields: [] });
			else jobs.push({ input, contact, kind: 'unsubscribe', channels: plan.channels });
		} else jobs.push({ input, contact, kind: 'delete' });
	}

	await runHubJobs(
		jobs,
		limit,
		outcomes,
		(job) => job.input.index,
		async (job) => {
			const { input, contact } = job;
			try {
				if (job.kind === 'delete') {
					await client.deleteContact(contact.id);
					finish(input, { contactId: contact.id, subscription: null, changedFields: ['contact'] });
				} else {
					// Read again just before the whole channel array goes back (see planUnsubscribe).
					const fresh = await client.getContact(contact.id);
					const plan = planUnsubscribe(fresh, input.phone);
					if (!plan.ok) return outcomes.fail(input.index, { error: plan.reason });
					if (!plan.channels) {
						finish(input, { contactId: contact.id, subscription: subscriptionOf(fresh, input.phone), changedFields: [] });
						return;
					}
					const updated = await client.updateContact(contact.id, { channels: plan.channels });
					finish(input, { contactId: contact.id, subscription: subscriptionOf(updated, input.phone), changedFields: ['subscription'] });
				}
			} catch (error) {
				// Already gone counts as done.
				if (!(error instanceof HubNotFoundError)) throw error;
				finish(input, { contactId: contact.id, subscription: null, changedFields: [], note: 'The contact no longer exists in the Hub' });
			}
		},
		() => ledger.flush(),
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
	});
	await ledger.flush();
}
