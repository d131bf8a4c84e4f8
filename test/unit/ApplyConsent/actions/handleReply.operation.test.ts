import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { handleOne, type ReplySettings } from '../../../../nodes/ApplyConsent/actions/handleReply.operation';
import { consentReplyFrom, consentRequestMetadata, type ConsentReply } from '../../../../nodes/shared/consent/replies';
import { contentHash, toTaggedMember } from '../../../../nodes/shared/members';
import { closeAllSyncStores, openSyncStore, type SyncStore } from '../../../../nodes/shared/store';
import type { HubClient, HubContact } from '../../../../nodes/shared/transport/hub';
import type { MailchimpClient, MailchimpMember } from '../../../../nodes/shared/transport/mailchimp';

const AUDIENCE = 'aud1';
const PHONE = '+61491570156';
const MEMBER: MailchimpMember = {
	id: 'hash-ann',
	contact_id: 'contact-ann',
	email_address: 'ann@example.com',
	full_name: 'Ann Lee',
	status: 'subscribed',
	merge_fields: { FNAME: 'Ann', LNAME: 'Lee', PHONE: '0491 570 156' },
	sms_phone_number: '',
	sms_subscription_status: '',
	last_changed: '2026-11-01T00:00:00Z',
	list_id: AUDIENCE,
};
const SETTINGS: ReplySettings = { audienceId: AUDIENCE, tags: ['11'], match: 'any', statuses: ['subscribed'], syncName: '' };

function contact(id: string, state: 'SUBSCRIBED' | 'UNSUBSCRIBED'): HubContact {
	return {
		id,
		channels: [{ channelId: PHONE, type: 'SMS', subscriptionState: state }],
		lists: [],
		customFields: [],
	} as unknown as HubContact;
}

function reply(content: string, extra: Partial<Record<string, unknown>> = {}): ConsentReply {
	const r = consentReplyFrom({
		reply_id: 'r-' + Math.random().toString(36).slice(2),
		message_id: 'msg-1',
		source_number: PHONE,
		destination_number: '+61400000000',
		content,
		date_received: '2026-11-30T10:00:00Z',
		metadata: consentRequestMetadata({ audienceId: AUDIENCE, memberKey: 'contact-ann', syncName: 'daily' }),
		...extra,
	});
	if (typeof r === 'string') throw new Error(r);
	return r;
}

describe('Handle Reply', () => {
	let dir: string;
	let store: SyncStore;
	let hubContacts: HubContact[];
	let blacklisted: boolean;
	let member: MailchimpMember | null;
	let memberTags: Array<{ id: string; name: string }>;
	let updates: Array<{ id: string; channels: unknown }>;
	let mailchimpCalls: number;

	const hub = {
		findContactsByPhone: async (numbers: string[]) => new Map(numbers.map((n) => [n, hubContacts]).filter(([, c]) => (c as HubContact[]).length > 0) as Array<[string, HubContact[]]>),
		checkAuthorised: async (numbers: string[]) => new Map(numbers.map((n) => [n, !blacklisted])),
		updateContact: async (id: string, input: { channels: unknown }) => {
			updates.push({ id, channels: input.channels });
			const c = hubContacts.find((x) => x.id === id)!;
			c.channels = input.channels as HubContact['channels'];
			return c;
		},
	} as unknown as HubClient;
	const mailchimp = {
		findMember: async () => {
			mailchimpCalls++;
			return member;
		},
		getMemberTags: async () => memberTags,
	} as unknown as MailchimpClient;
	const services = () => ({ store, hub: async () => hub, mailchimp: async () => mailchimp });

	beforeEach(async () => {
		dir = mkdtempSync(join(tmpdir(), 'handle-reply-'));
		store = await openSyncStore({ kind: 'sqlite', path: join(dir, 'store.sqlite') });
		hubContacts = [];
		blacklisted = false;
		member = { ...MEMBER };
		memberTags = [{ id: '11', name: 'SMS' }];
		updates = [];
		mailchimpCalls = 0;
		expect(await store.claimConsentAsk(AUDIENCE, PHONE)).toBe(true);
		await store.markConsentAsked(AUDIENCE, PHONE, 'msg-1');
	});
	afterEach(async () => {
		await closeAllSyncStores();
		rmSync(dir, { recursive: true, force: true });
	});

	it('YES: consent confirmed and the member emitted on Confirmed exactly as Fetch emits a new member', async () => {
		const handled = await handleOne(reply(' Yes please'), SETTINGS, services());
		expect(handled.output).toBe('confirmed');
		const expected = toTaggedMember(MEMBER, ['SMS'], AUDIENCE);
		expect(handled.json).toMatchObject({
			...expected,
			sync: { syncName: 'daily', audienceId: AUDIENCE, memberKey: 'contact-ann', change: 'new', contentHash: contentHash(expected), hubContactId: null, previousPhone: null },
			consent: { result: 'confirmed', matchedBy: 'message', phone: PHONE },
		});
		expect((await store.getConsent(AUDIENCE, PHONE))?.state).toBe('confirmed');
	});

	it('YES whose message id is unknown is matched by the echoed metadata, and a ledger entry makes it a change of that contact', async () => {
		await store.upsertLedger([{ syncName: 'daily', audienceId: AUDIENCE, memberKey: 'contact-ann', contentHash: 'old', hubContactId: 'hc-1', phone: PHONE, syncedAt: new Date() }]);
		const handled = await handleOne(reply('YES', { message_id: 'unknown' }), SETTINGS, services());
		expect(handled.output).toBe('confirmed');
		expect(handled.json).toMatchObject({ sync: { change: 'changed', hubContactId: 'hc-1', previousPhone: PHONE }, consent: { matchedBy: 'metadata' } });
	});

	it('YES without metadata is matched by number in the chosen audience: consent confirmed, the member left to the next sync (no member named)', async () => {
		const bare = reply('y', { message_id: undefined, metadata: {} });
		await expect(handleOne(bare, SETTINGS, services())).resolves.toMatchObject({ output: 'done', json: { consent: { matchedBy: 'number', result: 'confirmed' } } });
	});

	it("YES from another number that names this number's request (by message id) confirms neither number", async () => {
		const other = '+61491570157';
		const bare = reply('YES', { source_number: other, metadata: {} });
		const handled = await handleOne(bare, SETTINGS, services());
		expect(handled).toMatchObject({ output: 'done', json: { consent: { result: 'ignored', matchedBy: 'none', phone: other } } });
		expect((await store.getConsent(AUDIENCE, PHONE))?.state).toBe('asked');
		expect(await store.getConsent(AUDIENCE, other)).toBeNull();
		// With the request's metadata it is no different: the member read back never held the other number.
		const named = await handleOne(reply('YES', { source_number: other }), SETTINGS, services());
		expect(named).toMatchObject({ output: 'done', json: { consent: { result: 'ignored' } } });
		expect((await store.getConsent(AUDIENCE, PHONE))?.state).toBe('asked');
		expect(await store.getConsent(AUDIENCE, other)).toBeNull();
	});

	it.each([
		['left the selected tags', () => (memberTags = [{ id: '12', name: 'Other' }])],
		['unsubscribed in Mailchimp', () => (member = { ...MEMBER, status: 'unsubscribed' })],
		['SMS-unsubscribed in Mailchimp', () => (member = { ...MEMBER, sms_subscription_status: 'unsubscribed' })],
		['deleted from Mailchimp', () => (member = null)],
		['changed their phone in Mailchimp', () => (member = { ...MEMBER, merge_fields: { ...MEMBER.merge_fields, PHONE: '0491 570 999' } })],
	])('YES from a member who meanwhile %s creates nothing and confirms nothing', async (_why, change) => {
		change();
		const handled = await handleOne(reply('YES'), SETTINGS, services());
		expect(handled.output).toBe('done');
		expect(handled.json).toMatchObject({ consent: { result: 'ignored' } });
		expect((await store.getConsent(AUDIENCE, PHONE))?.state).toBe('asked');
	});

	it('YES from a blacklisted number or one UNSUBSCRIBED in the Hub creates nothing and is remembered as an opt-out', async () => {
		blacklisted = true;
		expect(await handleOne(reply('YES'), SETTINGS, services())).toMatchObject({ output: 'done', json: { consent: { result: 'ignored' } } });
		expect((await store.getOptOut(PHONE))?.source).toBe('hub-blacklist');
		expect(mailchimpCalls).toBe(0);
	});

	it('YES from a Hub contact UNSUBSCRIBED for the number creates nothing', async () => {
		hubContacts = [contact('hc-1', 'UNSUBSCRIBED')];
		expect(await handleOne(reply('YES'), SETTINGS, services())).toMatchObject({ output: 'done', json: { consent: { result: 'ignored' } } });
		expect((await store.getOptOut(PHONE))?.source).toBe('hub-unsubscribed');
	});

	it('YES from a number never asked creates nothing', async () => {
		const other = reply('YES', { source_number: '+61491570157', message_id: 'msg-x', metadata: {} });
		expect(await handleOne(other, SETTINGS, services())).toMatchObject({ output: 'done', json: { consent: { result: 'ignored', matchedBy: 'none' } } });
		expect(mailchimpCalls).toBe(0);
	});

	it('STOP: opt-out recorded, consent closed, the Hub contact unsubscribed; a later YES never subscribes it', async () => {
		hubContacts = [contact('hc-1', 'SUBSCRIBED')];
		const handled = await handleOne(reply('  Stop! '), SETTINGS, services());
		expect(handled).toMatchObject({ output: 'done', json: { consent: { result: 'opted-out' } } });
		expect(updates).toEqual([{ id: 'hc-1', channels: [{ channelId: PHONE, type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }] }]);
		expect((await store.getConsent(AUDIENCE, PHONE))?.state).toBe('opted-out');
		expect((await store.getOptOut(PHONE))?.source).toBe('reply-stop');
		expect(await store.claimConsentAsk(AUDIENCE, PHONE)).toBe(false);

		const later = await handleOne(reply('YES'), SETTINGS, services());
		expect(later).toMatchObject({ output: 'done', json: { consent: { result: 'ignored' } } });
		expect(mailchimpCalls).toBe(0);
	});

	it("the Hub's OPT_OUT_SMS notification opts out whatever its words, and a repeat changes nothing more", async () => {
		hubContacts = [contact('hc-1', 'SUBSCRIBED')];
		const notice = consentReplyFrom({ notification_id: 'n-1', source_number: PHONE, content: 'Arrêt', metadata: {} });
		if (typeof notice === 'string') throw new Error(notice);
		expect(await handleOne(notice, SETTINGS, services())).toMatchObject({ output: 'done', json: { consent: { result: 'opted-out' } } });
		expect(await handleOne(notice, SETTINGS, services())).toMatchObject({ json: { consent: { note: 'the Hub contact was already unsubscribed' } } });
		expect(updates).toHaveLength(1);
	});

	it('anything else is passed on as received and changes nothing', async () => {
		hubContacts = [contact('hc-1', 'SUBSCRIBED')];
		for (const text of ['stopping by', 'yesterday', 'who is this?']) {
			expect(await handleOne(reply(text), SETTINGS, services())).toMatchObject({ output: 'done', json: { consent: { result: 'recorded' } } });
		}
		expect((await store.getConsent(AUDIENCE, PHONE))?.state).toBe('asked');
		expect(await store.getOptOut(PHONE)).toBeNull();
		expect(updates).toEqual([]);
		expect(mailchimpCalls).toBe(0);
	});
});
