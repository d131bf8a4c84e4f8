/**
 * Preview (dry run) of Upsert Hub Contact and its Remove: the same decisions as a real run (create,
 * update, unchanged, remove, opt-out wins, the removal guard), read from the Hub, and not one write to
 * the Hub or the store. Each preview is followed by the real run it announces, which must match it.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { PreviewHubClient, previewStore } from '../../../nodes/shared/preview';
import { openSyncStore, type SyncStore } from '../../../nodes/shared/store';
import type { HubEmulator } from '../../emulators/hub';
import { useHubAndStore } from '../helpers/hubAndStore';
import { hubContext } from '../helpers/hubContext';
import { createHubClient } from '../../../nodes/shared/transport/hub';
import { AUDIENCE, HUB_KEY, hubOf, invalidItem, keyOf, ledgerOf, memberItem, removedItem, runNode, totalWrites, type StoreDir } from './harness';

let hub: HubEmulator;
let store: StoreDir;
useHubAndStore({ accounts: [HUB_KEY] }, (h, s) => {
	hub = h;
	store = s;
});

const syncStore = (): Promise<SyncStore> => openSyncStore({ kind: 'sqlite', path: store.path });
const preview = (item: INodeExecutionData): INodeExecutionData => ({ json: { ...item.json, sync: { ...(item.json.sync as object), preview: true } } });
const results = (items: INodeExecutionData[]) => Object.fromEntries(items.map((item) => [keyOf(item), (item.json.sync as { result?: string }).result]));

const MEMBERS = Array.from({ length: 6 }, (_, i) => ({ key: `m${i}`, phone: `+6149157${String(1000 + i)}` }));

describe('Upsert in a preview', () => {
	it('on an empty Hub says who would be created, writes nothing (not even the list), and the real run then creates exactly those', async () => {
		const items = MEMBERS.map((m) => memberItem(m));
		const previewed = await runNode(hub, store.path, items.map(preview));
		expect(previewed.errors).toEqual([]);
		expect(Object.values(results(previewed.done))).toEqual(MEMBERS.map(() => 'would-create'));
		expect(previewed.done.every((item) => (item.json.sync as { preview?: boolean }).preview === true)).toBe(true);
		expect(totalWrites(hub)).toBe(0);
		expect(hub.account(HUB_KEY.accountId).contacts.size).toBe(0);
		expect(hub.account(HUB_KEY.accountId).lists.size).toBe(0);
		expect((await ledgerOf(store.path)).size).toBe(0);

		const real = await runNode(hub, store.path, items);
		expect(Object.values(results(real.done))).toEqual(MEMBERS.map(() => 'created'));
		// Same subscription and fields as announced.
		expect(real.done.map((item) => hubOf(item).subscription)).toEqual(previewed.done.map((item) => hubOf(item).subscription));
		expect(real.done.map((item) => hubOf(item).changedFields)).toEqual(previewed.done.map((item) => hubOf(item).changedFields));
	});

	it('after changes says who would be updated (with the same fields) and who is unchanged, and keeps opt-outs unrecorded', async () => {
		await runNode(hub, store.path, MEMBERS.map((m) => memberItem(m)));
		const ledger = await ledgerOf(store.path);
		const next = MEMBERS.map((m, i) =>
			memberItem({ ...m, hubContactId: ledger.get(m.key)!.hubContactId, ...(i < 2 ? { firstName: `Renamed${i}` } : {}), ...(i === 2 ? { sms: 'unsubscribed' as const } : {}) }),
		);
		hub.counters.clear();
		const previewed = await runNode(hub, store.path, next.map(preview));
		expect(results(previewed.done)).toEqual({ m0: 'would-update', m1: 'would-update', m2: 'would-update', m3: 'unchanged', m4: 'unchanged', m5: 'unchanged' });
		expect(hubOf(previewed.done[2])).toMatchObject({ subscription: 'UNSUBSCRIBED', changedFields: ['subscription'] });
		expect(totalWrites(hub)).toBe(0);
		expect(await (await syncStore()).readOptOuts([MEMBERS[2].phone])).toEqual(new Set());
		expect(await ledgerOf(store.path)).toEqual(ledger);

		const real = await runNode(hub, store.path, next);
		expect(results(real.done)).toEqual({ m0: 'updated', m1: 'updated', m2: 'updated', m3: 'unchanged', m4: 'unchanged', m5: 'unchanged' });
		expect(real.done.map((item) => hubOf(item).changedFields)).toEqual(previewed.done.map((item) => hubOf(item).changedFields));
	});
});

describe('Remove in a preview', () => {
	it('says who would leave the list, writes nothing, and the real removal matches', async () => {
		await runNode(hub, store.path, MEMBERS.map((m) => memberItem(m)));
		const ledger = await ledgerOf(store.path);
		const gone = [removedItem('m0', ledger.get('m0')!.hubContactId, MEMBERS[0].phone), invalidItem('m1', ledger.get('m1')!.hubContactId, MEMBERS[1].phone), invalidItem('new', null, null)];
		hub.counters.clear();
		const previewed = await runNode(hub, store.path, gone.map(preview), { operation: 'remove', maxRemovalShare: 0 });
		// An invalid member stays counted as invalid; what happens to its contact is on json.hub, as in a real run.
		expect(results(previewed.done)).toEqual({ m0: 'would-remove-from-list', m1: 'invalid', new: 'invalid' });
		expect(previewed.done.map((item) => hubOf(item).action)).toEqual(['removed-from-list', 'removed-from-list', 'kept']);
		expect(totalWrites(hub)).toBe(0);
		expect(await ledgerOf(store.path)).toEqual(ledger);

		const real = await runNode(hub, store.path, gone, { operation: 'remove', maxRemovalShare: 0 });
		expect(results(real.done)).toEqual({ m0: 'removed-from-list', m1: 'invalid', new: 'invalid' });
		expect(real.done.map((item) => hubOf(item).action)).toEqual(['removed-from-list', 'removed-from-list', 'kept']);
		expect((await ledgerOf(store.path)).size).toBe(4);
	});

	it('is refused by the removal guard exactly as the real run would be', async () => {
		await runNode(hub, store.path, MEMBERS.map((m) => memberItem(m)));
		const ledger = await ledgerOf(store.path);
		const gone = MEMBERS.slice(0, 3).map((m) => removedItem(m.key, ledger.get(m.key)!.hubContactId, m.phone));
		hub.counters.clear();
		const previewed = await runNode(hub, store.path, gone.map(preview), { operation: 'remove' });
		const real = await runNode(hub, store.path, gone, { operation: 'remove' });
		expect(previewed.done).toEqual([]);
		expect(previewed.errors.map((item) => item.json.error)).toEqual(real.errors.map((item) => item.json.error));
		expect(previewed.errors).toHaveLength(3);
		expect(totalWrites(hub)).toBe(0);
	});
});

describe('the preview stand-ins', () => {
	it('the Hub client refuses any write it does not answer itself, without a request', async () => {
		const client = await createHubClient(hubContext(hub, HUB_KEY), {}, PreviewHubClient);
		await expect(client.addToBlacklist(['+61491570156'])).rejects.toThrow('Preview: POST /v1/number_authorisation/mt/blacklist would write to the Hub');
		await expect(client.sendMessages([{ content: 'Hi', destination_number: '+61491570156' }])).resolves.toMatchObject([{ destination_number: '+61491570156', status: 'preview' }]);
		expect(totalWrites(hub)).toBe(0);
	});

	it('the store claims each never-asked number once, in memory, and writes nothing', async () => {
		const real = await syncStore();
		await real.claimConsentAsks(AUDIENCE, ['+61491570001']);
		await real.markConsentAsked(AUDIENCE, '+61491570001', 'msg-1', new Date('2026-01-01T00:00:00Z'));
		const dry = previewStore(real);
		expect(await dry.claimConsentAsks(AUDIENCE, ['+61491570001', '+61491570002', '+61491570002'])).toEqual(['+61491570002']);
		expect(await dry.claimConsentAsks(AUDIENCE, ['+61491570002'])).toEqual([]);
		expect(await dry.reclaimConsentAsks(AUDIENCE, ['+61491570001'], new Date('2026-02-01T00:00:00Z'))).toEqual(['+61491570001']);
		await dry.recordOptOuts([{ phone: '+61491570003', source: 'reply-stop' }]);
		expect(await dry.readOptOuts(['+61491570003'])).toEqual(new Set(['+61491570003']));
		expect(await dry.getOptOut('+61491570003')).toMatchObject({ phone: '+61491570003', source: 'reply-stop', audienceId: null });
		expect(await dry.getOptOut('+61491570004')).toBeNull();
		await dry.upsertLedger([{ syncName: 's', audienceId: AUDIENCE, memberKey: 'k', contentHash: 'h', hubContactId: null, phone: null, syncedAt: new Date() }]);
		await expect(dry.recordConsentAnswer(AUDIENCE, '+61491570002', 'confirmed', 'YES')).rejects.toThrow('Preview');
		expect((await real.readConsent(AUDIENCE)).map((r) => [r.phone, r.state])).toEqual([['+61491570001', 'asked']]);
		expect(await real.readOptOuts(['+61491570003'])).toEqual(new Set());
		expect(await real.readLedger('s')).toEqual([]);
	});
});
