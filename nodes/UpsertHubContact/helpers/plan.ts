/**
 * What one member means for its Hub contact, apart from I/O: the body that creates it, or the patch
 * that brings an existing contact in line (nothing at all when it already is). Pure: no n8n, no HTTP.
 *
 * Two rules shape it:
 * - Opt-out wins. The sync never sends SUBSCRIBED, not even for a channel it only sends back. A number that is opted out (Mailchimp SMS
 *   unsubscribed, or on the Hub blacklist) is sent UNSUBSCRIBED; a clean number is sent without a
 *   state, so the Hub applies its own default (subscribed) or the preference it kept for that number,
 *   even after the contact was deleted (re-importing is not a resubscribe).
 * - The Hub may replace the arrays it is given on PATCH (unverified), so a patch that touches
 *   `customFields` or `channels` sends the complete array: the contact's other values are kept.
 */
import type { HubContact, HubContactInput } from '../../shared/transport/hub';
import { SOURCE_VALUE, type SyncIdentity } from './identity';
import type { HubContactFields } from '../../shared/items';
import { WRITABLE_CHANNELS, echoChannel, type ChannelInput } from '../../shared/channels';

/** Map Fields' `json.contact`. */
export type DesiredContact = HubContactFields;

export interface MemberIntent {
	memberKey: string;
	contact: DesiredContact;
	/** Mailchimp SMS unsubscribed, or the number is blacklisted in the Hub. */
	optOut: boolean;
	/** The number the ledger says the contact had (to replace when the phone changed). */
	previousPhone: string | null;
}

const TEXT_FIELDS = ['firstName', 'lastName', 'country'] as const;
/** The only channel types the API accepts on create/update (CreateContactChannelRequest). */


/** Custom field id → wanted value; null = should have none. Our identity fields win over a mapping. */
function wantedCustomFields(intent: MemberIntent, identity: SyncIdentity): Map<string, string | null> {
	const wanted = new Map<string, string | null>();
	const ours = new Set([identity.source.id, identity.memberId.id, identity.email?.id]);
	for (const { id, value } of intent.contact.customFields ?? []) {
		if (!ours.has(id)) wanted.set(id, value === '' ? null : value);
	}
	if (identity.email && intent.contact.email !== undefined) wanted.set(identity.email.id, intent.contact.email || null);
	wanted.set(identity.source.id, SOURCE_VALUE);
	wanted.set(identity.memberId.id, intent.memberKey);
	return wanted;
}

/** Names for `changedFields`: standard fields by name, custom fields by their merge tag. */
function fieldName(id: string, identity: SyncIdentity, tags: ReadonlyMap<string, string>): string {
	for (const field of [identity.source, identity.memberId, identity.email]) if (field?.id === id) return field.mergeTag;
	return tags.get(id) ?? id;
}

function smsChannel(phone: string, optOut: boolean): ChannelInput {
	return optOut ? { channelId: phone, type: 'SMS', subscriptionState: 'UNSUBSCRIBED' } : { channelId: phone, type: 'SMS' };
}

/** One POST: fields, the SMS channel, the list, Source and the Mailchimp ID. */
export function createBody(intent: MemberIntent, identity: SyncIdentity): { body: HubContactInput; fields: string[] } {
	const body: HubContactInput = { channels: [smsChannel(intent.contact.phone, intent.optOut)] };
	const fields: string[] = ['phone'];
	for (const name of TEXT_FIELDS) {
		const value = intent.contact[name];
		if (value) {
			body[name] = value;
			fields.push(name);
		}
	}
	if (intent.contact.dateOfBirth) {
		body.dateOfBirth = intent.contact.dateOfBirth;
		fields.push('dateOfBirth');
	}
	const customFields: Array<{ id: string; value: string }> = [];
	for (const [id, value] of wantedCustomFields(intent, identity)) {
		if (value === null) continue;
		customFields.push({ id, value });
		fields.push(fieldName(id, identity, new Map()));
	}
	body.customFields = customFields;
	body.lists = [{ id: identity.list.id }];
	fields.push('list');
	return { body, fields };
}

export type UpdatePlan =
	| { ok: true; patch: HubContactInput | null; changed: string[] }
	/** The contact cannot be brought in line without losing something; left alone. */
	| { ok: false; reason: string };

/**
 * Compares field by field with the contact as the Hub has it and patches only what differs.
 */
export function planUpdate(
	contact: HubContact,
	intent: MemberIntent,
	identity: SyncIdentity,
): UpdatePlan {
	const patch: HubContactInput = {};
	const changed: string[] = [];
	const desired = intent.contact;

	for (const name of TEXT_FIELDS) {
		if (desired[name] === undefined) continue;
		const want = desired[name] ?? '';
		if (want !== (contact[name] ?? '')) {
			patch[name] = want;
			changed.push(name);
		}
	}
	// The API has no way to clear a date of birth ('' is not a date), so an emptied one is left.
	if (desired.dateOfBirth && desired.dateOfBirth !== contact.dateOfBirth) {
		patch.dateOfBirth = desired.dateOfBirth;
		changed.push('dateOfBirth');
	}

	const have = new Map((contact.customFields ?? []).map((f) => [f.id, f.value]));
	const wanted = wantedCustomFields(intent, identity);
	const customChanged: string[] = [];
	for (const [id, value] of wanted) {
		const current = have.get(id) || null;
		if (current !== value) customChanged.push(id);
	}
	if (customChanged.length > 0) {
		const merged: Array<{ id: string; value: string }> = [];
		for (const field of contact.customFields ?? []) {
			const value = wanted.has(field.id) ? wanted.get(field.id) : field.value;
			if (value !== null && value !== undefined) merged.push({ id: field.id, value });
		}
		for (const [id, value] of wanted) if (value !== null && !have.has(id)) merged.push({ id, value });
		patch.customFields = merged;
		const names = new Map((contact.customFields ?? []).map((f): [string, string] => [f.id, f.mergeTag]));
		changed.push(...customChanged.map((id) => fieldName(id, identity, names)));
	}

	const channels = planChannels(contact, intent);
	if (channels.changed.length > 0) {
		const unwritable = contact.channels.filter((c) => !WRITABLE_CHANNELS.has(c.type));
		if (unwritable.length > 0) {
			return {
				ok: false,
				reason: `Hub contact ${contact.id} also has ${unwritable.map((c) => c.type).join(', ')} channels, which the Hub API cannot write back, so its SMS channel was not changed (${channels.changed.join(', ')}). Change it in the Hub.`,
			};
		}
		patch.channels = channels.channels;
		changed.push(...channels.changed);
	}
	return { ok: true, patch: changed.length > 0 ? patch : null, changed };
}

/** The complete channel array when the SMS channel must change, and what changed. */
function planChannels(contact: HubContact, intent: MemberIntent): { channels: ChannelInput[]; changed: string[] } {
	const phone = intent.contact.phone;
	const current = contact.channels.find((c) => c.type === 'SMS' && c.channelId === phone);
	if (current) {
		if (!intent.optOut || current.subscriptionState === 'UNSUBSCRIBED') return { channels: [], changed: [] };
		return {
			channels: contact.channels.map((c) => (c === current ? smsChannel(phone, true) : echoChannel(c))),
			changed: ['subscription'],
		};
	}
	// The phone changed: the number the sync wrote last time gives way to the new one. When the
	// ledger does not know it, the contact's only SMS number is taken to be the member's.
	const sms = contact.channels.filter((c) => c.type === 'SMS');
	const replaced = sms.find((c) => c.channelId === intent.previousPhone) ?? (sms.length === 1 ? sms[0] : undefined);
	return {
		channels: [...contact.channels.filter((c) => c !== replaced).map(echoChannel), smsChannel(phone, intent.optOut)],
		changed: ['phone'],
	};
}

