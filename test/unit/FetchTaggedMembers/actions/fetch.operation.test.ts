/**
 * Fetch Tagged Members as n8n runs it (a fake execution context, the Mailchimp emulator, a temp
 * SQLite store): whose ledger it reads, that every parameter is read per item, that the run's lease
 * travels on every item, and that a garbled Mailchimp answer stops the node instead of removing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { MailchimpHubSyncApi } from '../../../../credentials/MailchimpHubSyncApi.credentials';
import { FetchTaggedMembers } from '../../../../nodes/FetchTaggedMembers/FetchTaggedMembers.node';
import { closeAllSyncStores, openSyncStore, type LedgerEntry } from '../../../../nodes/shared/store';
import { NO_FAULTS } from '../../../emulators/common';
import { startMailchimpEmulator, type MailchimpDataset, type MailchimpEmulator } from '../../../emulators/mailchimp';
import { fakeExecuteContext } from '../../helpers/fakeExecuteContext';

const AUDIENCE = 'f1e2d3c4b5';
const API_KEY = `${'0123456789abcdef'.repeat(2)}-us6`;

function dataset(): MailchimpDataset {
	const member = (i: number, tags: string[]) => ({
		email_address: `member${i}@example.com`,
		status: 'subscribed' as const,
		merge_fields: { FNAME: `First${i}`, PHONE: `+6149157${String(1000 + i)}` },
		tags,
	});
	return {
		accounts: [
			{
				id: 'acct-fetch',
				name: 'Fetch Test',
				dc: 'us6',
				apiKeys: [API_KEY],
				lists: [
					{
						id: AUDIENCE,
						name: 'Customers',
						merge_fields: [{ tag: 'FNAME', name: 'First Name', type: 'text' }],
						segments: [
							{ name: 'VIP', type: 'static' },
							{ name: 'Newsletter', type: 'static' },
						],
						members: [...Array.from({ length: 4 }, (_, i) => member(i, ['VIP'])), ...Array.from({ length: 3 }, (_, i) => member(10 + i, ['Newsletter']))],
					},
				],
			},
		],
	};
}

let mailchimp: MailchimpEmulator;
let dir: string;
let storePath: string;

beforeAll(async () => {
	mailchimp = await startMailchimpEmulator({ dataset: dataset() });
});
beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'hub-sync-fetch-'));
	storePath = join(dir, 'store.sqlite');
	Object.assign(mailchimp.faults, NO_FAULTS);
});
afterEach(async () => {
	await closeAllSyncStores();
	rmSync(dir, { recursive: true, force: true });
});
afterAll(() => mailchimp.close());

const baseParameters = (): Record<string, unknown> => ({
	authentication: 'apiKey',
	audience: { __rl: true, mode: 'id', value: AUDIENCE },
	tags: ['VIP'],
	match: 'any',
	statuses: ['subscribed'],
	output: 'changes',
	store: 'sqlite',
	storePath,
	options: {},
});

/** Runs the node; `perItem` gives parameters that differ by item (as expressions would). */
function runFetch({
	parameters = {},
	perItem,
	items = [{ json: {} }],
	nodeId = 'node-a',
	workflowId = 'wf-1',
	continueOnFail = false,
	childNodes,
}: {
	parameters?: Record<string, unknown>;
	perItem?: Array<Record<string, unknown>>;
	items?: INodeExecutionData[];
	nodeId?: string;
	workflowId?: string;
	continueOnFail?: boolean;
	childNodes?: Array<{ name: string; type: string; disabled?: boolean }>;
} = {}) {
	const all = { ...baseParameters(), ...parameters };
	const ctx = fakeExecuteContext({
		credentials: { mailchimpHubSyncApi: { type: new MailchimpHubSyncApi(), data: { apiKey: API_KEY, apiBaseUrl: mailchimp.url } } },
		parameters: all,
		items,
		node: { id: nodeId, name: 'Fetch Tagged Members' },
		continueOnFail,
		childNodes,
		overrides: { getWorkflow: () => ({ id: workflowId, name: 'Sync', active: false }) },
	});
	const read = ctx.getNodeParameter.bind(ctx) as (name: string, i: number, fallback?: unknown, opts?: object) => unknown;
	(ctx as unknown as IDataObject).getNodeParameter = (name: string, i: number, fallback?: unknown, opts?: { extractValue?: boolean }) => {
		const own = perItem?.[i]?.[name];
		return own !== undefined ? own : read(name, i, fallback, opts);
	};
	return new FetchTaggedMembers().execute.call(ctx);
}

const syncOf = (item: INodeExecutionData) => item.json.sync as IDataObject;

/** What Upsert writes after the Hub accepted the members: their ledger rows. */
async function writeLedger(items: INodeExecutionData[]) {
	const store = await openSyncStore({ kind: 'sqlite', path: storePath });
	const entries: LedgerEntry[] = items.map((item) => {
		const sync = syncOf(item);
		return {
			syncName: String(sync.syncName),
			audienceId: String(sync.audienceId),
			memberKey: String(sync.memberKey),
			contentHash: String(sync.contentHash),
			hubContactId: `hub-${String(sync.memberKey)}`,
			phone: '+61491570156',
			syncedAt: new Date(),
		};
	});
	await store.upsertLedger(entries);
}

describe('merge fields for Map Fields', () => {
	const reads = () => mailchimp.counters.get('GET /3.0/lists/{list_id}/merge-fields') ?? 0;

	it('are read while the pages load only when a Map Fields node follows (and is not disabled)', async () => {
		let before = reads();
		await runFetch({ parameters: { output: 'all' } });
		await runFetch({ parameters: { output: 'all' }, childNodes: [{ name: 'Map Fields', type: 'n8n-nodes-mailchimp-hub-sync.mapFields', disabled: true }] });
		expect(reads() - before).toBe(0);
		before = reads();
		await runFetch({ parameters: { output: 'all' }, childNodes: [{ name: 'Map Fields', type: 'n8n-nodes-mailchimp-hub-sync.mapFields' }] });
		await new Promise((resolve) => setTimeout(resolve, 50));
		expect(reads() - before).toBe(1);
	});
});

describe("whose ledger: by default the workflow's and the node's", () => {
	it('two Fetch nodes in one workflow keep their own ledgers and never remove each other\'s members', async () => {
		const [vip] = await runFetch({ nodeId: 'node-vip', parameters: { tags: ['VIP'] } });
		expect(vip).toHaveLength(4);
		await writeLedger(vip);

		const [news, removedByNews] = await runFetch({ nodeId: 'node-news', parameters: { tags: ['Newsletter'] } });
		expect(removedByNews).toEqual([]);
		expect(news.map((m) => syncOf(m).change)).toEqual(['new', 'new', 'new']);
		await writeLedger(news);

		// Each node sees its own ledger: nothing new, nothing removed.
		const [again, removedAgain] = await runFetch({ nodeId: 'node-vip', parameters: { tags: ['VIP'] } });
		expect([again, removedAgain]).toEqual([[], []]);
		expect(new Set(vip.map((m) => syncOf(m).syncName))).toEqual(new Set(['wf-1/node-vip']));
	});

	it('a Sync Name still names the ledger, whatever the node', async () => {
		const [members] = await runFetch({ nodeId: 'node-x', parameters: { options: { syncName: '  customers-to-hub ' } } });
		await writeLedger(members);
		const [again] = await runFetch({ nodeId: 'node-y', parameters: { options: { syncName: 'customers-to-hub' } } });
		expect(again).toEqual([]);
	});

	it('stops with what to do when the workflow has no ID and no Sync Name is given', async () => {
		await expect(runFetch({ workflowId: '' })).rejects.toThrow('This sync has no name for its ledger yet');
	});
});

describe('every parameter per item', () => {
	it('reads the options of each item, not only of the first', async () => {
		const [members] = await runFetch({
			items: [{ json: {} }, { json: {} }],
			perItem: [{ options: { syncName: 'first' } }, { options: { syncName: 'second' }, tags: ['Newsletter'] }],
		});
		const byItem = (i: number) => members.filter((m) => (m.pairedItem as { item: number }).item === i);
		expect(new Set(byItem(0).map((m) => syncOf(m).syncName))).toEqual(new Set(['first']));
		expect(new Set(byItem(1).map((m) => syncOf(m).syncName))).toEqual(new Set(['second']));
		expect(byItem(1)).toHaveLength(3);
	});
});

describe("the run's lease travels on both outputs (CONTRACT §1)", () => {
	async function withOneRemoval() {
		const [members] = await runFetch();
		await writeLedger(members);
		// A member the ledger knows and Mailchimp no longer has: it goes to Removed.
		const gone = members[0];
		mailchimp.state.deletePermanently(AUDIENCE, String(gone.json.email));
		return gone;
	}

	it("stamps the input item's token as sync.lease on Members and Removed", async () => {
		await withOneRemoval();
		mailchimp.state.addMembers(AUDIENCE, [{ email_address: 'late@example.com', status: 'subscribed', merge_fields: { FNAME: 'Late' }, tags: ['VIP'] }]);
		const [members, removed] = await runFetch({ items: [{ json: { token: 'lease-token-1', acquired: true } }] });
		expect(members).toHaveLength(1);
		expect(removed).toHaveLength(1);
		for (const item of [...members, ...removed]) expect(syncOf(item).lease).toBe('lease-token-1');
		const [all] = await runFetch({ parameters: { output: 'all' }, items: [{ json: { token: 'lease-token-1' } }] });
		for (const item of all) expect(syncOf(item).lease).toBe('lease-token-1');
	});

	it('without a token (Fetch used without Sync Lock) there is no lease key', async () => {
		await withOneRemoval();
		const [members, removed] = await runFetch({ parameters: { options: { fullResync: true } }, items: [{ json: { token: 42 } }] });
		expect(members.length).toBeGreaterThan(0);
		expect(removed).toHaveLength(1);
		for (const item of [...members, ...removed]) expect(syncOf(item)).not.toHaveProperty('lease');
	});
});

describe('a garbled Mailchimp answer stops the node; it never removes', () => {
	it.each([
		['an HTML page', { rateHtml200: 1 }],
		['{}', { rateEmpty200: 1 }],
		['a malformed answer', { rateMalformed200: 1 }],
	] as const)('on the tag pages (%s): an error naming the endpoint, no Removed item', async (_name, fault) => {
		const [members] = await runFetch();
		await writeLedger(members);
		Object.assign(mailchimp.faults, { ...fault, routeFilter: 'segments/\\{segment_id\\}/members', seed: 4 });
		await expect(runFetch()).rejects.toThrow(/^Mailchimp gave an unexpected answer to GET \/lists\/f1e2d3c4b5\/segments\/\d+\/members: /);
	});

	it('with "continue on fail", the failure is an error item (only `error`, so n8n routes it to the error output), and nothing is removed', async () => {
		const [members] = await runFetch();
		await writeLedger(members);
		Object.assign(mailchimp.faults, { rateHtml200: 1, routeFilter: 'segments/\\{segment_id\\}/members', seed: 4 });
		const [out, removed] = await runFetch({ continueOnFail: true });
		expect(removed).toEqual([]);
		expect(out).toHaveLength(1);
		expect(out[0].json).toEqual({ error: expect.stringMatching(/^Mailchimp gave an unexpected answer to GET /) });
	});

	it.each([
		['an HTML page', { rateHtml200: 1 }],
		['{}', { rateEmpty200: 1 }],
		['a malformed member', { rateMalformed200: 1 }],
	] as const)('on the member lookups that confirm a removal (%s): an error, no Removed item', async (_name, fault) => {
		const [members] = await runFetch();
		await writeLedger(members);
		// One member left the tag: the node looks it up before calling it removed.
		mailchimp.state.tagMember(AUDIENCE, String(members[0].json.email), { remove: ['VIP'] });
		Object.assign(mailchimp.faults, { ...fault, routeFilter: 'members/\\{subscriber_hash\\}$', seed: 4 });
		await expect(runFetch()).rejects.toThrow(/^Mailchimp gave an unexpected answer to GET \/lists\/f1e2d3c4b5\/members\/[^:]+: /);
		// Once Mailchimp answers properly, the member is removed, for the right reason.
		Object.assign(mailchimp.faults, NO_FAULTS);
		const [, removed] = await runFetch();
		expect(removed.map((r) => r.json.reason)).toEqual(['No longer has the selected tags']);
		mailchimp.state.tagMember(AUDIENCE, String(members[0].json.email), { add: ['VIP'] });
	});
});

describe('Only These Members (a webhook names a member)', () => {
	it('emits only the named member, against the same ledger, and removes nobody else; in "all" mode only the named selected ones', async () => {
		const [first] = await runFetch();
		await writeLedger(first);
		const [a, b] = first.map((item) => String(item.json.email));
		// Changes Mailchimp has for others (never named) stay for the daily run.
		mailchimp.state.updateMember(AUDIENCE, b, { merge_fields: { FNAME: 'Other' } });
		mailchimp.state.deletePermanently(AUDIENCE, String(first[2].json.email));

		const unchanged = await runFetch({ parameters: { options: { onlyMembers: a } } });
		expect(unchanged.map((out) => out.length)).toEqual([0, 0]);

		mailchimp.state.updateMember(AUDIENCE, a, { merge_fields: { FNAME: 'Renamed' } });
		const [changed, none] = await runFetch({ parameters: { options: { onlyMembers: [a] } }, items: [{ json: { token: 'lease-1' } }] });
		expect(changed.map((item) => [item.json.email, syncOf(item).change, syncOf(item).lease])).toEqual([[a, 'changed', 'lease-1']]);
		expect(syncOf(changed[0]).hubContactId).toBe(`hub-${String(syncOf(first[0]).memberKey)}`);
		expect(none).toEqual([]);

		mailchimp.state.setStatus(AUDIENCE, a, 'unsubscribed');
		const [, removed] = await runFetch({ parameters: { options: { onlyMembers: `${a}, ${b}` } } });
		expect(removed.map((item) => [item.json.email, syncOf(item).reason])).toEqual([[a, 'unsubscribed']]);

		const [all] = await runFetch({ parameters: { output: 'all', options: { onlyMembers: [a, b, 'nobody@example.com'] } } });
		expect(all.map((item) => item.json.email)).toEqual([b]);
	});

	it('refuses a value that is not emails or member IDs, and reads everyone when it is empty', async () => {
		await expect(runFetch({ parameters: { options: { onlyMembers: { email: 'x' } } } })).rejects.toThrow('Only These Members must be email addresses or member IDs');
		mailchimp.state.addMembers(AUDIENCE, [{ email_address: 'another@example.com', status: 'subscribed', merge_fields: { FNAME: 'Another' }, tags: ['VIP'] }]);
		const [everyone] = await runFetch({ parameters: { options: { onlyMembers: '' } } });
		const [selected] = await runFetch({ parameters: { output: 'all' } });
		expect(everyone.length).toBeGreaterThan(0);
		expect(everyone.map((item) => item.json.email)).toEqual(selected.map((item) => item.json.email));
	});
});
