/**
 * Apply to Members against the Hub emulator (which counts credits) and a real SQLite store: the three
 * modes, one paid message per number and audience, the credit budget, and opt-out always winning.
 */
import { NodeOperationError } from 'n8n-workflow';

import { consentRequestOf } from '../../../../nodes/shared/consent/replies';
import type { HubEmulator } from '../../../emulators/hub';
import { useHubAndStore } from '../../helpers/hubAndStore';
import type { HubAccount, StoredMessage } from '../../../emulators/hub-state';
import {
	AUDIENCE,
	HUB_KEY,
	SYNC,
	confirmAfterUpsert,
	consentOf,
	keyOf,
	memberItem,
	runNode,
	upsertedItem,
	type MemberSpec,
	type StoreDir,
} from '../harness';

let hub: HubEmulator;
let store: StoreDir;
useHubAndStore({ accounts: [HUB_KEY] }, (h, s) => {
	hub = h;
	store = s;
});
// Faults a test set stay with the emulator (reset() keeps them): clear them for the next test.
afterEach(async () => {
	await fetch(`${hub.url}/_control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
});

const account = (): HubAccount => hub.account(HUB_KEY.accountId);
const messages = (): StoredMessage[] => [...account().messages.values()];
const sentTo = () => messages().map((m) => m.destination_number).sort();
const credits = () => account().creditsUsed;
const faults = async (config: object) =>
	await fetch(`${hub.url}/_control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });

const member = (n: number, extra: Partial<MemberSpec> = {}): MemberSpec => ({ key: `m${n}`, phone: `+614915${String(70000 + n).padStart(5, '0')}`, ...extra });
const members = (count: number, from = 0) => Array.from({ length: count }, (_, i) => member(from + i));
const created = () => ({ action: 'created' });

describe('None (inferred consent)', () => {
	it('passes every member on, before and after Upsert, and sends nothing', async () => {
		const before = await runNode(hub, store.path, members(3).map(memberItem), { mode: 'none' });
		expect(before.continued.map(keyOf)).toEqual(['m0', 'm1', 'm2']);
		const after = await runNode(hub, store.path, before.continued.map((item) => upsertedItem(item, created())), { position: 'after' });
		expect(after.continued).toHaveLength(3);
		expect(messages()).toHaveLength(0);
		expect(hub.counters.size).toBe(0);
	});
});

describe('Confirmation notification', () => {
	it('sends the Hub text, once, to each contact the Hub created, with audience, member and request metadata', async () => {
		const run = await confirmAfterUpsert(hub, store.path, members(3), created);
		expect(run.continued.map((i) => consentOf(i).status)).toEqual(['sent', 'sent', 'sent']);
		expect(sentTo()).toEqual(members(3).map((m) => m.phone).sort());
		expect(new Set(messages().map((m) => m.content))).toEqual(new Set(['You are subscribed to receive messages from Acme Coffee. Reply STOP to cancel.']));
		for (const item of run.continued) {
			const message = account().messages.get(String(consentOf(item).messageId))!;
			expect(message.metadata).toEqual({ audience: AUDIENCE, member: keyOf(item), request: consentOf(item).requestId, kind: 'consent-confirmation', sync: SYNC });
			expect(consentOf(item).credits).toBe(1);
		}
		expect(credits()).toBe(3);
		const records = await (await store.open()).readConsent(AUDIENCE);
		expect(records.map((r) => r.state)).toEqual(['asked', 'asked', 'asked']);
	});

	it('sends nothing on a later run, a rename, or when the same number is created again', async () => {
		await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(messages()).toHaveLength(2);
		await confirmAfterUpsert(hub, store.path, members(2).map((m) => ({ ...m, change: 'changed' as const })), () => ({ action: 'unchanged' }));
		await confirmAfterUpsert(hub, store.path, members(2).map((m) => ({ ...m, change: 'changed' as const, firstName: 'Renamed' })), () => ({ action: 'updated' }));
		// Left the tags and came back: the Hub creates the contact anew, the number was messaged already.
		const again = await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(again.continued.map((i) => consentOf(i).status)).toEqual(['already-asked', 'already-asked']);
		expect(messages()).toHaveLength(2);
		expect(credits()).toBe(2);
	});

	it('never messages a contact the upsert did not leave SUBSCRIBED, nor an item that did not come from Done', async () => {
		const run = await confirmAfterUpsert(hub, store.path, [member(0)], () => ({ action: 'created', subscription: 'UNSUBSCRIBED' }));
		expect(consentOf(run.continued[0]).status).toBe('not-needed');
		const before = await runNode(hub, store.path, [memberItem(member(1))], { mode: 'confirmation' });
		// An Error-output item of Upsert (no json.hub) wired here by mistake.
		const failed = { json: { ...before.continued[0].json, error: 'The Hub refused the contact' } };
		const after = await runNode(hub, store.path, [failed], { position: 'after' });
		expect(after.errors).toHaveLength(1);
		expect(after.errors[0].json.error).toMatch(/no Hub outcome/);
		expect(messages()).toHaveLength(0);
	});

	it('opt-out wins: SMS-unsubscribed in Mailchimp, blacklisted, UNSUBSCRIBED in the Hub or recorded in the store get nothing', async () => {
		const [mc, black, hubUnsub, stored, fine] = members(5);
		hub.seed(HUB_KEY.accountId, {
			blacklist: [black.phone],
			contacts: [{ firstName: 'Old', channels: [{ channelId: hubUnsub.phone, subscriptionState: 'UNSUBSCRIBED' }] }],
		});
		await (await store.open()).recordOptOuts([{ phone: stored.phone, source: 'reply-stop' }]);
		const run = await confirmAfterUpsert(hub, store.path, [{ ...mc, sms: 'unsubscribed' }, black, hubUnsub, stored, fine], created);
		expect(run.continued.map((i) => [keyOf(i), consentOf(i).status])).toEqual([
			['m0', 'opted-out'],
			['m1', 'opted-out'],
			['m2', 'opted-out'],
			['m3', 'opted-out'],
			['m4', 'sent'],
		]);
		expect(consentOf(run.continued[1]).reason).toMatch(/blacklist/);
		expect(sentTo()).toEqual([fine.phone]);
		// What the Hub and Mailchimp said is remembered, so it wins even if they forget.
		expect(await (await store.open()).readOptOuts([mc.phone, black.phone, hubUnsub.phone])).toEqual(new Set([mc.phone, black.phone, hubUnsub.phone]));
	});

	it('a member value never gets into the text', async () => {
		await confirmAfterUpsert(hub, store.path, [member(0, { firstName: '{Company Name}' }), member(1, { firstName: 'Bob' })], created, {
			textPreset: 'custom',
			confirmationText: 'Hi from {Company Name}. Reply STOP to cancel.',
		});
		expect(new Set(messages().map((m) => m.content))).toEqual(new Set(['Hi from Acme Coffee. Reply STOP to cancel.']));
	});

	it("a new member joins the ledger only once their confirmation is settled, so a run stopped after Upsert brings them back", async () => {
		const [ana, ben, cat] = members(3);
		const before = await runNode(hub, store.path, [ana, ben, { ...cat, change: 'changed' as const }].map(memberItem), { mode: 'confirmation', creditBudget: 1 });
		// Upsert writes no ledger entry for new members (no content hash on sync); a changed one is as before.
		expect(before.continued.map((i) => (i.json.sync as { contentHash?: string }).contentHash)).toEqual([undefined, undefined, 'hash-m2']);
		const db = await store.open();
		expect(await db.readLedger(SYNC)).toEqual([]);
		const after = await runNode(hub, store.path, before.continued.map((i) => upsertedItem(i, created())), { position: 'after' });
		expect(after.continued.map((i) => [keyOf(i), consentOf(i).status])).toEqual([['m0', 'sent']]);
		expect(after.skipped.map(keyOf)).toEqual(['m1', 'm2']);
		// Sent (ana) joins the ledger with the hash Fetch computed; kept back by the budget (ben) does not.
		expect((await db.readLedger(SYNC)).map((e) => [e.memberKey, e.contentHash, e.hubContactId, e.phone])).toEqual([['m0', 'hash-m0', 'contact-m0', ana.phone]]);
	});

	it('sends in requests of at most 100 messages', async () => {
		await confirmAfterUpsert(hub, store.path, members(250), created);
		expect(hub.counters.get('POST /v1/messages')).toBe(3);
		expect(messages()).toHaveLength(250);
	});

	it('a credit budget of 10 on 25 new members: 10 messages, 15 Skipped with the reason, the rest on the next run', async () => {
		const all = members(25);
		const db = await store.open();
		await db.upsertLedger(all.map((m) => ({ syncName: SYNC, audienceId: AUDIENCE, memberKey: m.key, contentHash: `hash-${m.key}`, hubContactId: `c-${m.key}`, phone: m.phone, syncedAt: new Date() })));
		const first = await confirmAfterUpsert(hub, store.path, all, created, { creditBudget: 10 });
		expect(messages()).toHaveLength(10);
		expect(credits()).toBe(10);
		expect(first.skipped).toHaveLength(15);
		expect(consentOf(first.skipped[0]).reason).toMatch(/credit budget of 10 credits \(1 per message\)/);
		// Skipped members leave the ledger, so the next run carries them again as new.
		const ledger = new Set((await db.readLedger(SYNC)).map((e) => e.memberKey));
		expect(all.filter((m) => ledger.has(m.key)).map((m) => m.key)).toEqual(all.slice(0, 10).map((m) => m.key));
		// Next run: Upsert finds their contacts (unchanged), they are new to the ledger.
		const second = await confirmAfterUpsert(hub, store.path, all.slice(10), () => ({ action: 'unchanged' }), { creditBudget: 10 });
		expect(second.continued).toHaveLength(10);
		const third = await confirmAfterUpsert(hub, store.path, all.slice(20), () => ({ action: 'unchanged' }), { creditBudget: 10 });
		expect(third.skipped).toHaveLength(0);
		expect(sentTo()).toEqual(all.map((m) => m.phone).sort());
		expect(credits()).toBe(25);
	});

	it('a send whose answer was lost is never resent: the claim stays, also on the next run', async () => {
		await faults({ rateAppliedThen500: 1, routeFilter: '^POST /v1/messages$' });
		const run = await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(messages()).toHaveLength(2);
		expect(hub.counters.get('POST /v1/messages')).toBe(1);
		expect(run.continued.map((i) => consentOf(i).status)).toEqual(['claimed-unknown', 'claimed-unknown']);
		expect(String(consentOf(run.continued[0]).note)).toMatch(/not sent again/);
		const records = await (await store.open()).readConsent(AUDIENCE);
		expect(records.map((r) => r.state)).toEqual(['claimed', 'claimed']);
		await faults({});
		const rerun = await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(rerun.continued.map((i) => consentOf(i).status)).toEqual(['claimed-unknown', 'claimed-unknown']);
		expect(messages()).toHaveLength(2);
	});

	it('a send answered with a page we cannot read (HTML 200) is never resent: the claim stays, also on the next run', async () => {
		await faults({ rateHtml200: 1, routeFilter: '^POST /v1/messages$' });
		const run = await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(run.continued.map((i) => consentOf(i).status)).toEqual(['claimed-unknown', 'claimed-unknown']);
		expect(String(consentOf(run.continued[0]).note)).toMatch(/POST \/v1\/messages was not what the API documents.*not sent again/);
		expect((await (await store.open()).readConsent(AUDIENCE)).map((r) => r.state)).toEqual(['claimed', 'claimed']);
		await faults({});
		const rerun = await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(rerun.continued.map((i) => consentOf(i).status)).toEqual(['claimed-unknown', 'claimed-unknown']);
		expect(messages()).toHaveLength(0);
	});

	it('a send the Hub certainly refused gives the claim back: Error now, sent on the next run', async () => {
		// The retry policy waits between its attempts at the 429s (several seconds in all).
		await faults({ rate429: 1, routeFilter: '^POST /v1/messages$' });
		const run = await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(run.errors).toHaveLength(2);
		expect(messages()).toHaveLength(0);
		await faults({});
		const rerun = await confirmAfterUpsert(hub, store.path, members(2), created);
		expect(rerun.continued.map((i) => consentOf(i).status)).toEqual(['sent', 'sent']);
		expect(messages()).toHaveLength(2);
	}, 60_000);

	it('warns about an alphanumeric sender and counts the segments of the text', async () => {
		const run = await confirmAfterUpsert(hub, store.path, [member(0)], created, { sender: 'AcmeCoffee', textPreset: 'custom', confirmationText: 'x'.repeat(170) });
		const before = await runNode(hub, store.path, [memberItem(member(1))], { sender: 'AcmeCoffee', textPreset: 'custom', confirmationText: 'x'.repeat(170) });
		expect(before.hints.map((h) => [h.type, h.message])).toEqual([
			['warning', expect.stringMatching(/takes 2 SMS segments, 2 credits per message \(170 GSM-7 characters\)/)],
			['warning', expect.stringMatching(/alphanumeric sender ID: contacts cannot reply STOP/)],
		]);
		expect(consentOf(run.continued[0]).credits).toBe(2);
		expect(credits()).toBe(2);
		expect(messages()[0]).toMatchObject({ source_number: 'AcmeCoffee', source_number_type: 'ALPHANUMERIC' });
	});

	it('writes nothing under a lease that was taken over', async () => {
		const locks = await store.open();
		const first = await locks.acquire({ lockName: AUDIENCE, holder: 'one', ttlMs: 60_000 });
		if (!first.acquired) throw new Error('no lease');
		await locks.forceRelease(AUDIENCE, 'test: taken over');
		const before = await runNode(hub, store.path, [memberItem(member(0, { lease: first.lease.ownerToken }))], { mode: 'confirmation' });
		await expect(runNode(hub, store.path, before.continued.map((i) => upsertedItem(i, created())), { position: 'after' })).rejects.toThrow(/lease/i);
		expect(messages()).toHaveLength(0);
	});
});

describe('Double opt-in', () => {
	it('asks each new number once and holds it back on Awaiting Reply; confirmed numbers go on to Upsert', async () => {
		const [ana, ben, cat] = members(3);
		await (await store.open()).recordConsentAnswer(AUDIENCE, cat.phone, 'confirmed', 'YES');
		const run = await runNode(hub, store.path, [ana, ben, cat].map(memberItem), { mode: 'doubleOptIn' });
		expect(run.awaiting.map(keyOf)).toEqual(['m0', 'm1']);
		expect(run.continued.map(keyOf)).toEqual(['m2']);
		expect(new Set(messages().map((m) => m.content))).toEqual(new Set(['Reply Y or Yes to confirm that you want to receive SMS messages from Acme Coffee.']));
		expect(sentTo()).toEqual([ana.phone, ben.phone].sort());
		expect(messages()[0].metadata?.kind).toBe('consent-request');
		// What Handle Reply reads back from the reply: audience, member and the sync's ledger name.
		expect(consentRequestOf(messages()[0].metadata)).toMatchObject({ audienceId: AUDIENCE, memberKey: expect.stringMatching(/^m[01]$/), syncName: SYNC });
		const again = await runNode(hub, store.path, [ana, ben].map(memberItem), { mode: 'doubleOptIn' });
		expect(again.awaiting.map((i) => consentOf(i).status)).toEqual(['awaiting-reply', 'awaiting-reply']);
		expect(messages()).toHaveLength(2);
	});

	it('never asks, and never passes on, a number that opted out', async () => {
		const [black, stopped] = members(2);
		hub.seed(HUB_KEY.accountId, { blacklist: [black.phone] });
		await (await store.open()).recordConsentAnswer(AUDIENCE, stopped.phone, 'opted-out', 'STOP');
		const run = await runNode(hub, store.path, [black, stopped].map(memberItem), { mode: 'doubleOptIn' });
		expect(run.skipped.map((i) => consentOf(i).status)).toEqual(['opted-out', 'opted-out']);
		expect(run.continued).toHaveLength(0);
		expect(messages()).toHaveLength(0);
	});

	it('asks once more after the re-ask period only those who never answered; never a number that said STOP', async () => {
		const [stale, recent, stopped] = members(3);
		const db = await store.open();
		const longAgo = new Date(Date.now() - 40 * 86_400_000);
		for (const m of [stale, recent, stopped]) await db.claimConsentAsk(AUDIENCE, m.phone);
		await db.markConsentAsked(AUDIENCE, stale.phone, 'msg-old', longAgo);
		await db.markConsentAsked(AUDIENCE, recent.phone, 'msg-recent', new Date(Date.now() - 5 * 86_400_000));
		await db.markConsentAsked(AUDIENCE, stopped.phone, 'msg-stopped', longAgo);
		await db.recordConsentAnswer(AUDIENCE, stopped.phone, 'opted-out', 'STOP');
		const items = [stale, recent, stopped].map(memberItem);
		// Default: never ask again.
		await runNode(hub, store.path, items, { mode: 'doubleOptIn' });
		expect(messages()).toHaveLength(0);
		const run = await runNode(hub, store.path, items, { mode: 'doubleOptIn', reaskAfterDays: 30 });
		expect(sentTo()).toEqual([stale.phone]);
		expect(run.awaiting.map((i) => [keyOf(i), consentOf(i).status])).toEqual([
			['m0', 'sent'],
			['m1', 'awaiting-reply'],
		]);
		expect(run.skipped.map(keyOf)).toEqual(['m2']);
		expect((await db.getConsent(AUDIENCE, stale.phone))?.state).toBe('asked');
		// Asked just now: not again on the next run.
		await runNode(hub, store.path, items, { mode: 'doubleOptIn', reaskAfterDays: 30 });
		expect(messages()).toHaveLength(1);
	});

	it('refuses an alphanumeric sender: it cannot receive the Y or YES', async () => {
		await expect(runNode(hub, store.path, [memberItem(member(0))], { mode: 'doubleOptIn', sender: 'AcmeCoffee' })).rejects.toThrow(NodeOperationError);
		expect(messages()).toHaveLength(0);
	});

	it('a budget holds the rest back on Skipped, unasked', async () => {
		const run = await runNode(hub, store.path, members(5).map(memberItem), { mode: 'doubleOptIn', creditBudget: 2 });
		expect(run.awaiting).toHaveLength(2);
		expect(run.skipped.map((i) => consentOf(i).status)).toEqual(['skipped', 'skipped', 'skipped']);
		expect(credits()).toBe(2);
	});
});
