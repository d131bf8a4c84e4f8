/**
 * Apply Consent in a preview (dry run): the same members are messaged, kept back by the budget or
 * passed over for an opt-out as in the real run, but no message is sent, no number is claimed and
 * no opt-out or ledger row is recorded. Each preview is followed by the real run, which must match it.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import type { HubEmulator } from '../../emulators/hub';
import { useHubAndStore } from '../helpers/hubAndStore';
import { AUDIENCE, HUB_KEY, SYNC, consentOf, keyOf, memberItem, runNode, upsertedItem, type MemberSpec, type StoreDir } from './harness';

let hub: HubEmulator;
let store: StoreDir;
useHubAndStore({ accounts: [HUB_KEY] }, (h, s) => {
	hub = h;
	store = s;
});

const preview = (item: INodeExecutionData): INodeExecutionData => ({ json: { ...item.json, sync: { ...(item.json.sync as object), preview: true } } });
const messages = () => hub.account(HUB_KEY.accountId).messages.size;
const writes = () => [...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) /.test(route)).length;
const statuses = (items: INodeExecutionData[]) => Object.fromEntries(items.map((item) => [keyOf(item), consentOf(item).status]));

const MEMBERS: MemberSpec[] = [
	{ key: 'ana', phone: '+61491570156' },
	{ key: 'ben', phone: '+61491570110' },
	{ key: 'cat', phone: '+61491570111' },
	{ key: 'dan', phone: '+61491570112', sms: 'unsubscribed' },
];

/** Apply Consent before Upsert, then after it as Upsert's Done output would carry the members. */
async function confirmation(items: INodeExecutionData[], creditBudget: number) {
	const before = await runNode(hub, store.path, items, { mode: 'confirmation', creditBudget });
	return await runNode(hub, store.path, before.continued.map((item) => upsertedItem(item, { action: 'created' })), { position: 'after' });
}

describe('Apply Consent in a preview', () => {
	it('confirmation: the same members would be messaged or kept back by the budget, with the credits, and nothing is sent or recorded', async () => {
		const items = MEMBERS.map(memberItem);
		const previewed = await confirmation(items.map(preview), 2);
		expect(statuses(previewed.continued)).toEqual({ ana: 'would-send', ben: 'would-send', dan: 'opted-out' });
		expect(statuses(previewed.skipped)).toEqual({ cat: 'skipped' });
		expect(previewed.continued.filter((item) => consentOf(item).status === 'would-send').map((item) => [consentOf(item).credits, consentOf(item).messageId])).toEqual([
			[1, null],
			[1, null],
		]);
		expect(messages()).toBe(0);
		expect(writes()).toBe(0);
		const kept = await store.open();
		expect(await kept.readConsent(AUDIENCE)).toEqual([]);
		expect(await kept.readOptOuts(['+61491570112'])).toEqual(new Set());
		expect(await kept.readLedger(SYNC)).toEqual([]);

		const real = await confirmation(items, 2);
		expect(statuses(real.continued)).toEqual({ ana: 'sent', ben: 'sent', dan: 'opted-out' });
		expect(statuses(real.skipped)).toEqual({ cat: 'skipped' });
		expect(messages()).toBe(2);
	});

	it('double opt-in: the same numbers would be asked, none that was asked before, and nothing is sent or claimed', async () => {
		await runNode(hub, store.path, [memberItem(MEMBERS[0])], { mode: 'doubleOptIn' });
		hub.counters.clear();
		const items = MEMBERS.map(memberItem);
		const previewed = await runNode(hub, store.path, items.map(preview), { mode: 'doubleOptIn' });
		expect(statuses(previewed.awaiting)).toEqual({ ana: 'awaiting-reply', ben: 'would-send', cat: 'would-send' });
		expect(statuses(previewed.skipped)).toEqual({ dan: 'opted-out' });
		expect(previewed.awaiting.map((item) => (item.json.sync as { result?: string }).result)).toEqual(['awaiting-reply', 'awaiting-reply', 'awaiting-reply']);
		expect(messages()).toBe(1);
		expect(writes()).toBe(0);
		expect((await (await store.open()).readConsent(AUDIENCE)).map((r) => r.phone)).toEqual([MEMBERS[0].phone]);

		const real = await runNode(hub, store.path, items, { mode: 'doubleOptIn' });
		expect(statuses(real.awaiting)).toEqual({ ana: 'awaiting-reply', ben: 'sent', cat: 'sent' });
		expect(messages()).toBe(3);
	});
});
