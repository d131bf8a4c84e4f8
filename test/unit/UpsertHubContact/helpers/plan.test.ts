/**
 * The pure planning of Upsert Hub Contact, for the contacts the emulator cannot hold: channels the API
 * can read but not write (GBM, Instagram, …), several SMS numbers on one contact.
 */
import type { HubContact, HubCustomField, HubList } from '../../../../nodes/shared/transport/hub';
import type { SyncIdentity } from '../../../../nodes/UpsertHubContact/helpers/identity';
import { planUnsubscribe } from '../../../../nodes/shared/channels';
import { planUpdate, type MemberIntent } from '../../../../nodes/UpsertHubContact/helpers/plan';

const field = (id: string, label: string, mergeTag: string) => ({ id, label, mergeTag, type: 'TEXT', maxLength: 100 }) as HubCustomField;
const identity: SyncIdentity = {
	list: { id: 'list-1', name: 'MAILCHIMP' } as HubList,
	source: field('f-source', 'Source', 'source'),
	memberId: field('f-member', 'Mailchimp ID', 'mailchimp_id'),
};

function contact(channels: HubContact['channels'], extra: Partial<HubContact> = {}): HubContact {
	return {
		id: 'c-1',
		firstName: 'Ana',
		lastName: '',
		country: '',
		channels,
		customFields: [
			{ id: 'f-source', mergeTag: 'source', value: 'MAILCHIMP', type: 'TEXT' },
			{ id: 'f-member', mergeTag: 'mailchimp_id', value: 'ana', type: 'TEXT' },
		],
		lists: [{ id: 'list-1', name: 'MAILCHIMP' }],
		...extra,
	} as HubContact;
}

const intent = (phone: string, patch: Partial<MemberIntent> = {}): MemberIntent => ({
	memberKey: 'ana',
	contact: { phone, firstName: 'Ana', customFields: [] },
	optOut: false,
	previousPhone: null,
	...patch,
});

const GBM = { channelId: 'gbm-1', type: 'GBM' as const };

describe('planUpdate', () => {
	it('plans nothing for a contact already in line, whatever channels it has', () => {
		const plan = planUpdate(contact([{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' }, GBM]), intent('+61491570156'), identity);
		expect(plan).toEqual({ ok: true, patch: null, changed: [] });
	});

	it('leaves a contact alone rather than drop channels the API cannot write back', () => {
		const withGbm = contact([{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' }, GBM]);
		for (const plan of [planUpdate(withGbm, intent('+61491570157'), identity), planUpdate(withGbm, intent('+61491570156', { optOut: true }), identity)]) {
			expect(plan.ok).toBe(false);
			expect(!plan.ok && plan.reason).toContain('also has GBM channels');
		}
	});

	it('replaces the number the ledger knows and keeps a second SMS number', () => {
		const two = contact([
			{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' },
			{ channelId: '+61491570999', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
		]);
		const plan = planUpdate(two, intent('+61491570157', { previousPhone: '+61491570156' }), identity);
		expect(plan).toEqual({
			ok: true,
			changed: ['phone'],
			patch: {
				channels: [
					{ channelId: '+61491570999', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
					{ channelId: '+61491570157', type: 'SMS' },
				],
			},
		});
	});

	it('never plans SUBSCRIBED for the member number, and lets a mapping not override the Mailchimp ID', () => {
		const unsubscribed = contact([{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }]);
		const plan = planUpdate(unsubscribed, intent('+61491570156', { contact: { phone: '+61491570156', firstName: 'Ana', customFields: [{ id: 'f-member', value: 'forged' }] } }), identity);
		expect(plan).toEqual({ ok: true, patch: null, changed: [] });
	});
});

describe('planUnsubscribe', () => {
	it("unsubscribes only the member's number when the contact has several", () => {
		const two = contact([
			{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' },
			{ channelId: '+61491570999', type: 'SMS', subscriptionState: 'SUBSCRIBED' },
			{ channelId: '+61491570999', type: 'WHATSAPP', subscriptionState: 'SUBSCRIBED' },
		]);
		expect(planUnsubscribe(two, '+61491570156')).toEqual({
			ok: true,
			channels: [
				{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
				// Sent back without a state: the Hub keeps its own, so a STOP since our read is not undone.
				{ channelId: '+61491570999', type: 'SMS' },
				{ channelId: '+61491570999', type: 'WHATSAPP' },
			],
		});
		expect(planUnsubscribe(two, null).ok && planUnsubscribe(two, null)).toEqual({
			ok: true,
			channels: [
				{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
				{ channelId: '+61491570999', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
				{ channelId: '+61491570999', type: 'WHATSAPP' },
			],
		});
	});

	it('never sends SUBSCRIBED for a channel a patch only sends back', () => {
		const patch = planUnsubscribe(
			contact([
				{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' },
				{ channelId: '+61491570999', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' },
				{ channelId: '+61491570998', type: 'WHATSAPP', subscriptionState: 'SUBSCRIBED' },
			]),
			'+61491570156',
		);
		expect(JSON.stringify(patch)).not.toContain('"SUBSCRIBED"');
		expect(patch.ok && patch.channels![1]).toEqual({ channelId: '+61491570999', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' });
	});

	it('plans nothing when already unsubscribed, and refuses to drop unwritable channels', () => {
		expect(planUnsubscribe(contact([{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }, GBM]), '+61491570156')).toEqual({ ok: true, channels: null });
		expect(planUnsubscribe(contact([{ channelId: '+61491570156', type: 'SMS', subscriptionState: 'SUBSCRIBED' }, GBM]), '+61491570156').ok).toBe(false);
	});
});
