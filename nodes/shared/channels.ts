/**
 * A Hub contact's channels as the sync reads and writes them: Upsert Hub Contact and Apply Consent's
 * Handle Reply unsubscribe the same way. The Hub replaces the complete channel array on update, so
 * every write sends back the channels it does not change.
 */
import type { HubContact, HubContactInput, HubSubscriptionState } from './transport/hub';

/** The channel types the Hub API accepts on a write; a contact with others cannot be written back whole. */
export const WRITABLE_CHANNELS = new Set(['SMS', 'WHATSAPP']);

export type ChannelInput = NonNullable<HubContactInput['channels']>[number];

/**
 * A channel this write does not create, sent back so the complete array keeps it (only SMS and
 * WhatsApp reach here: see WRITABLE_CHANNELS). Its UNSUBSCRIBED is repeated, its SUBSCRIBED never:
 * without a state the Hub keeps the channel's own, so a STOP that arrived after our read still wins.
 */
export function echoChannel(c: HubContact['channels'][number]): ChannelInput {
	return {
		channelId: c.channelId,
		type: c.type as ChannelInput['type'],
		...(c.subscriptionState === 'UNSUBSCRIBED' ? { subscriptionState: 'UNSUBSCRIBED' as const } : {}),
	};
}

/** The state of the contact's SMS channel for this number, as the Hub reports it. */
export function subscriptionOf(contact: HubContact, phone: string | null): HubSubscriptionState | null {
	const sms = contact.channels.filter((c) => c.type === 'SMS');
	const channel = sms.find((c) => c.channelId === phone) ?? (phone === null ? sms[0] : undefined);
	return channel?.subscriptionState ?? null;
}

/** The contact holding this number as its SMS channel; one that the member's key marks wins. */
export function smsHolder(
	candidates: HubContact[] | undefined,
	phone: string,
	preferKey?: (contact: HubContact) => boolean,
): HubContact | undefined {
	const holders = (candidates ?? []).filter((c) => c.channels.some((ch) => ch.type === 'SMS' && ch.channelId === phone));
	return holders.find((c) => preferKey?.(c)) ?? holders[0];
}

/**
 * Removal by unsubscribing: the contact's SMS channel for the member's number (every SMS channel
 * when the number is not known or no longer on it) becomes UNSUBSCRIBED; the complete channel array
 * is sent, or nothing when it already is.
 */
export function planUnsubscribe(
	contact: HubContact,
	phone: string | null,
): { ok: true; channels: ChannelInput[] | null } | { ok: false; reason: string } {
	const sms = contact.channels.filter((c) => c.type === 'SMS');
	const member = sms.filter((c) => c.channelId === phone);
	const targets = new Set(member.length > 0 ? member : sms);
	if ([...targets].every((c) => c.subscriptionState === 'UNSUBSCRIBED')) return { ok: true, channels: null };
	const unwritable = contact.channels.filter((c) => !WRITABLE_CHANNELS.has(c.type));
	if (unwritable.length > 0) {
		return {
			ok: false,
			reason: `Hub contact ${contact.id} also has ${unwritable.map((c) => c.type).join(', ')} channels, which the Hub API cannot write back, so it was not unsubscribed. Unsubscribe it in the Hub.`,
		};
	}
	return {
		ok: true,
		channels: contact.channels.map((c) =>
			targets.has(c)
				? { channelId: c.channelId, type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }
				: echoChannel(c),
		),
	};
}
