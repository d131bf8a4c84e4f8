/**
 * A Mailchimp member as the sync carries it (the item contract's TaggedMember) and the hash of its
 * synced content: shared by Fetch Tagged Members and Apply Consent's Handle Reply, so a member
 * confirmed by reply is written exactly as the daily sync would write it, and the ledger agrees.
 */
import { hash } from 'node:crypto';

import type { TaggedMember } from './items';
import type { MailchimpMember } from './transport/mailchimp';

/**
 * Stable JSON: object keys sorted, so the same content always hashes the same. Written with loops and
 * one string instead of arrays mapped and joined: a daily run writes every member's merge fields
 * through it while their pages arrive.
 */
export function canonical(value: unknown): string {
	if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
	let text: string;
	if (Array.isArray(value)) {
		text = '[';
		for (let i = 0; i < value.length; i++) text += (i ? ',' : '') + canonical(value[i]);
		return `${text}]`;
	}
	const keys = Object.keys(value).sort();
	text = '{';
	for (let i = 0; i < keys.length; i++) text += `${i ? ',' : ''}${JSON.stringify(keys[i])}:${canonical((value as Record<string, unknown>)[keys[i]])}`;
	return `${text}}`;
}

/**
 * The hash of everything a sync may carry to the Hub. The selected tags and `last_changed` are left
 * out: a tag added or a timestamp moved changes nothing in the contact.
 *
 * It is the canonical JSON of { email, fullName, mergeFields, smsPhone, smsSubscriptionStatus, status }
 * with those keys written out in their sorted order rather than built and sorted for every member (a
 * daily run hashes every member it already synced); the ledger's hashes depend on this text staying the same.
 */
export function contentHash(member: TaggedMember): string {
	const text =
		`{"email":${canonical(member.email)},"fullName":${canonical(member.fullName)},` +
		`"mergeFields":${canonical(member.mergeFields)},"smsPhone":${canonical(member.smsPhone)},` +
		`"smsSubscriptionStatus":${canonical(member.smsSubscriptionStatus)},"status":${canonical(member.status)}}`;
	return hash('sha256', text, 'base64url').slice(0, 32);
}

/** `tags`: the selected tags the member has, in the order they were selected. */
export function toTaggedMember(member: MailchimpMember, tags: string[], audienceId: string): TaggedMember {
	return {
		memberId: member.id,
		contactId: member.contact_id ?? null,
		email: member.email_address,
		status: member.status,
		fullName: member.full_name ?? '',
		mergeFields: member.merge_fields ?? {},
		smsPhone: member.sms_phone_number || null,
		smsSubscriptionStatus: member.sms_subscription_status || null,
		tags,
		lastChanged: member.last_changed ?? null,
		audienceId: member.list_id ?? audienceId,
	};
}
