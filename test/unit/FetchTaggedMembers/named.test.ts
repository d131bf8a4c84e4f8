import type { INode } from 'n8n-workflow';

import { memberList } from '../../../nodes/FetchTaggedMembers/actions/fetch.operation';
import { diffNamedMembers } from '../../../nodes/FetchTaggedMembers/changes';
import { fetchTaggedMembers } from '../../../nodes/FetchTaggedMembers/members';
import { memberKeyOf } from '../../../nodes/shared/items';
import { contentHash } from '../../../nodes/shared/members';
import type { LedgerEntry } from '../../../nodes/shared/store';
import { MailchimpClient, resolveMailchimpAuth, type Tag } from '../../../nodes/shared/transport/mailchimp';
import { credentialsOf, largeAudience } from '../../emulators/datasets';
import { startMailchimpEmulator, type MailchimpEmulator } from '../../emulators/mailchimp';

const node = { id: 'n', name: 'Fetch', type: 't', typeVersion: 1, position: [0, 0], parameters: {} } as INode;
const SUBSCRIBED = new Set(['subscribed'] as const);

describe('Only These Members (diffNamedMembers, against the Mailchimp emulator)', () => {
	let emulator: MailchimpEmulator;
	let client: MailchimpClient;
	let audienceId: string;
	let ledger: LedgerEntry[];
	let vip: Tag[];

	beforeEach(async () => {
		const dataset = largeAudience({ members: 40, tags: [{ name: 'VIP', share: 1 }], seed: 3 });
		emulator = await startMailchimpEmulator({ dataset });
		const [account] = credentialsOf(dataset);
		audienceId = account.lists[0].id;
		client = new MailchimpClient(await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: emulator.url }, node), node);
		// The ledger a full run leaves: every selected member with the hash it computed.
		vip = (await client.getTags(audienceId)).filter((t) => t.name === 'VIP');
		expect(vip).toHaveLength(1);
		const { selected } = await fetchTaggedMembers(client, audienceId, vip, 'any', SUBSCRIBED);
		ledger = selected.map((m) => ({
			syncName: 's',
			audienceId,
			memberKey: memberKeyOf(m),
			contentHash: contentHash(m),
			hubContactId: `hub-${m.memberId}`,
			phone: null,
			syncedAt: new Date(),
		}));
		expect(ledger.length).toBeGreaterThan(10);
	});
	afterEach(async () => emulator.close());

	const members = () => [...emulator.state.accounts[0].audiences.get(audienceId)!.members.values()].filter((m) => m.status === 'subscribed');
	const diff = (keys: string[]) => diffNamedMembers(client, audienceId, keys, ['VIP'], 'any', SUBSCRIBED, ledger, false);

	it('an unchanged member gives nothing, and nobody else is removed', async () => {
		const [m] = members();
		expect(await diff([m.email])).toEqual({ changes: [], removals: [], unchanged: 1 });
	});

	it('a profile change is a change with the hash a full run computes; by email, id or contact id alike', async () => {
		const [m] = members();
		emulator.state.updateMember(audienceId, m.email, { merge_fields: { FNAME: 'Renamed' } });
		const { selected } = await fetchTaggedMembers(client, audienceId, vip, 'any', SUBSCRIBED);
		const full = selected.find((s) => s.memberId === m.hash)!;
		for (const key of [m.email, m.hash, m.contactId]) {
			const named = await diff([key]);
			expect(named.removals).toEqual([]);
			expect(named.changes.map((c) => [c.change, c.contentHash, c.previous?.hubContactId])).toEqual([
				['changed', contentHash(full), `hub-${m.hash}`],
			]);
			expect(named.changes[0].member).toEqual(full);
		}
		// Two keys of one member: read once each, emitted once.
		expect((await diff([m.email, m.hash])).changes).toHaveLength(1);
	});

	it('unsubscribed, cleaned, untagged and deleted members are removed with their reason; an unknown one is not', async () => {
		const [a, b, c, d] = members();
		emulator.state.setStatus(audienceId, a.email, 'unsubscribed');
		emulator.state.setStatus(audienceId, b.email, 'cleaned');
		emulator.state.tagMember(audienceId, c.email, { remove: ['VIP'] });
		const deletedKey = d.contactId;
		emulator.state.deletePermanently(audienceId, d.email);
		const named = await diff([a.hash, b.email, c.contactId, deletedKey, 'nobody@example.com']);
		expect(named.changes).toEqual([]);
		expect(named.removals.map((r) => [r.entry.memberKey, r.reason])).toEqual([
			[a.contactId, 'unsubscribed'],
			[b.contactId, 'cleaned'],
			[c.contactId, 'left-tags'],
			[deletedKey, 'deleted'],
		]);
	});

	it('a member new to the selection is new; one outside it and not in the ledger is left alone', async () => {
		const [a, b] = members();
		ledger = ledger.filter((e) => e.memberKey !== a.contactId);
		emulator.state.tagMember(audienceId, b.email, { remove: ['VIP'] });
		ledger = ledger.filter((e) => e.memberKey !== b.contactId);
		const named = await diff([a.email, b.email]);
		expect(named.changes.map((c) => [memberKeyOf(c.member), c.change])).toEqual([[a.contactId, 'new']]);
		expect(named.removals).toEqual([]);
	});

	it('an answer that is not understood is an error, never a removal', async () => {
		const [m] = members();
		await fetch(`${emulator.url}/_control/faults`, {
			method: 'PUT',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ rateHtml200: 1 }),
		});
		await expect(diff([m.contactId])).rejects.toThrow(/HTML/);
	});
});

describe('memberList', () => {
	it('reads a list or a comma-separated text; empty means everyone; other values are refused', () => {
		expect(memberList(undefined)).toBeUndefined();
		expect(memberList('')).toBeUndefined();
		expect(memberList([])).toBeUndefined();
		expect(memberList(' a@x.com, b ,a@x.com')).toEqual(['a@x.com', 'b']);
		expect(memberList(['a', ' b '])).toEqual(['a', 'b']);
		expect(() => memberList({ email: 'a' })).toThrow(/email addresses or member IDs/);
		expect(() => memberList([1])).toThrow(/email addresses or member IDs/);
	});
});
