import { createHash } from 'node:crypto';

import type { INode } from 'n8n-workflow';

import { BULK_CONFIRM_THRESHOLD, confirmRemovals, contentHash, diffAgainstLedger, splitLedger, unchangedSince } from '../../../nodes/FetchTaggedMembers/changes';
import type { TaggedMember } from '../../../nodes/shared/items';
import { canonical } from '../../../nodes/shared/members';
import type { LedgerEntry } from '../../../nodes/shared/store';
import { MailchimpClient, resolveMailchimpAuth } from '../../../nodes/shared/transport/mailchimp';
import { credentialsOf, demoDataset, largeAudience } from '../../emulators/datasets';
import { startMailchimpEmulator } from '../../emulators/mailchimp';

const member = (key: string, patch: Partial<TaggedMember> = {}): TaggedMember => ({
	memberId: `m-${key}`,
	contactId: key,
	email: `${key}@example.com`,
	status: 'subscribed',
	fullName: key,
	mergeFields: { FNAME: key, ADDRESS: { city: 'Perth', zip: '6000' } },
	smsPhone: null,
	smsSubscriptionStatus: null,
	tags: ['VIP'],
	lastChanged: '2026-01-01T00:00:00+00:00',
	audienceId: 'aud',
	...patch,
});

const entry = (m: TaggedMember, hash = contentHash(m)): LedgerEntry => ({
	syncName: 'sync',
	audienceId: 'aud',
	memberKey: m.contactId!,
	contentHash: hash,
	hubContactId: `hub-${m.contactId}`,
	phone: '+61491570156',
	syncedAt: new Date(),
});

describe('contentHash', () => {
	it('ignores key order, tags and last_changed, but not content', () => {
		const a = member('a');
		const reordered = member('a', { mergeFields: { ADDRESS: { zip: '6000', city: 'Perth' }, FNAME: 'a' } });
		expect(contentHash(reordered)).toBe(contentHash(a));
		expect(contentHash(member('a', { tags: ['Other'], lastChanged: 'later' }))).toBe(contentHash(a));
		expect(contentHash(member('a', { fullName: 'A. Person' }))).not.toBe(contentHash(a));
		expect(contentHash(member('a', { smsSubscriptionStatus: 'unsubscribed' }))).not.toBe(contentHash(a));
	});
});

describe('contentHash stays the ledger\'s hash', () => {
	// Written by the release before contentHash spelled its keys out; a different value would make every
	// member of every existing ledger look changed, and the next run would rewrite all their contacts.
	const zoe = member('zoe', {
		email: 'Zoë.Ngata@example.com',
		fullName: 'Zoë Ngata',
		mergeFields: { FNAME: 'Zoë', LNAME: 'Ngata', ADDRESS: { zip: '6000', addr1: '1 Hay St', city: 'Perth' }, BIRTHDAY: '', AGE: 42 },
		smsPhone: '+61491570156',
		smsSubscriptionStatus: 'subscribed',
	});

	it('gives the values the earlier release wrote', () => {
		expect(contentHash(zoe)).toBe('Ps3qB0K0v-2XTAUawMYd_SLW2BofwsYd');
		expect(contentHash({ ...zoe, smsPhone: null, smsSubscriptionStatus: null, mergeFields: {} })).toBe('KDZRF8zsFRNC0V-3WTGGYAdTABXJGEtR');
	});

	// The canonical JSON as first written (keys sorted, arrays and objects mapped and joined): the text the
	// ledger's hashes were taken of.
	const firstCanonical = (value: unknown): string => {
		if (Array.isArray(value)) return `[${value.map(firstCanonical).join(',')}]`;
		if (value && typeof value === 'object') {
			const keys = Object.keys(value).sort();
			return `{${keys.map((k) => `${JSON.stringify(k)}:${firstCanonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
		}
		return JSON.stringify(value ?? null);
	};

	it('equals the hash of the canonical JSON of the synced content, for any content', () => {
		const reference = (m: TaggedMember) =>
			createHash('sha256')
				.update(firstCanonical({ email: m.email, status: m.status, fullName: m.fullName, mergeFields: m.mergeFields, smsPhone: m.smsPhone, smsSubscriptionStatus: m.smsSubscriptionStatus }))
				.digest('base64url')
				.slice(0, 32);
		const values: unknown[] = ['', 'a"b\\c', 'ü\u2028😀', null, undefined, 0, -1.5, true, [], ['x', { b: 1, a: [2] }], { z: null, a: { y: '1', b: '' } }];
		let seed = 7;
		const pick = () => values[(seed = (seed * 48271) % 2147483647) % values.length];
		for (let i = 0; i < 500; i++) {
			const m = member(`k${i}`, {
				email: pick() as string,
				status: pick() as string,
				fullName: pick() as string,
				mergeFields: { [`F${i % 7}`]: pick(), ADDRESS: pick(), A: pick() } as TaggedMember['mergeFields'],
				smsPhone: pick() as string,
				smsSubscriptionStatus: pick() as string,
			});
			expect(contentHash(m)).toBe(reference(m));
			expect(canonical(m.mergeFields)).toBe(firstCanonical(m.mergeFields));
		}
	});
});

describe('diffAgainstLedger', () => {
	const same = member('same');
	const changed = member('changed');
	const fresh = member('fresh');
	const gone = member('gone');
	const unsubscribed = member('unsub', { status: 'unsubscribed' });
	const ledger = splitLedger([entry(same), entry(changed, 'old-hash'), entry(gone), entry(member('unsub'))], 'aud').audience;

	it('emits new and changed members only, and finds those who left', () => {
		const diff = diffAgainstLedger([same, changed, fresh], [unsubscribed], ledger, false);
		expect(diff.changes.map((c) => [c.member.contactId, c.change])).toEqual([
			['changed', 'changed'],
			['fresh', 'new'],
		]);
		expect(diff.changes[0].previous?.hubContactId).toBe('hub-changed');
		expect(diff.unchanged).toBe(1);
		expect(diff.absent.map((e) => e.memberKey)).toEqual(['gone']);
		expect(diff.leftByStatus.map((r) => [r.entry.memberKey, r.reason])).toEqual([['unsub', 'unsubscribed']]);
	});

	it("splits a sync's ledger into the audience's entries by member key and the other audiences' entries", () => {
		const elsewhere = { ...entry(member('far')), audienceId: 'other' };
		const { audience, otherAudiences } = splitLedger([entry(same), elsewhere, entry(gone)], 'aud');
		expect([...audience.keys()]).toEqual(['same', 'gone']);
		expect(audience.get('gone')).toEqual(entry(gone));
		expect(otherAudiences).toEqual([elsewhere]);
	});

	it('sends everyone again on a full resync', () => {
		const diff = diffAgainstLedger([same, changed, fresh], [], ledger, true);
		expect(diff.changes.map((c) => c.change)).toEqual(['changed', 'changed', 'new']);
		expect(diff.unchanged).toBe(0);
	});

	it('recognises unchanged members by their ledger hash, and counts them present when found so on arrival', () => {
		const unchanged = unchangedSince(ledger);
		expect([same, changed, fresh, gone].map(unchanged)).toEqual([true, false, false, true]);
		// `same` and `gone` were recognised while their pages arrived: neither is emitted nor taken for absent.
		const diff = diffAgainstLedger([changed, fresh], [unsubscribed], ledger, false, ['same', 'gone']);
		expect(diff.changes.map((c) => c.member.contactId)).toEqual(['changed', 'fresh']);
		expect(diff.unchanged).toBe(2);
		expect(diff.absent).toEqual([]);
		expect(diff.leftByStatus.map((r) => r.entry.memberKey)).toEqual(['unsub']);
	});
});

describe('confirmRemovals (against the Mailchimp emulator)', () => {
	const node = { id: 'n', name: 'Fetch', type: 't', typeVersion: 1, position: [0, 0], parameters: {} } as INode;

	it('tells deleted, archived and untagged members apart, and keeps a member who is still selected', async () => {
		const dataset = demoDataset();
		const emulator = await startMailchimpEmulator({ dataset });
		try {
			const [account] = credentialsOf(dataset);
			const audienceId = account.lists[0].id;
			const client = new MailchimpClient(
				await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: emulator.url }, node),
				node,
			);
			const members = dataset.accounts[0].lists[0].members.filter((m) => m.status === 'subscribed' && m.tags?.length);
			const [stays, untagged, archived, deleted] = members;
			const contactIdOf = (email: string) =>
				emulator.state.dump().accounts[0].lists[0].members.find((m) => m.email_address === email)!.contact_id!;
			const keys = [stays, untagged, archived, deleted].map((m) => contactIdOf(m.email_address));
			const tag = stays.tags![0];
			emulator.state.tagMember(audienceId, untagged.email_address, { remove: untagged.tags });
			emulator.state.setStatus(audienceId, archived.email_address, 'archived');
			emulator.state.deletePermanently(audienceId, deleted.email_address);
			const ledger = keys.map((memberKey) => ({ ...entry(member(memberKey)), memberKey }));

			const result = await confirmRemovals(client, audienceId, ledger, [tag], 'any', new Set(['subscribed']));
			expect(result.stillSelected).toEqual([keys[0]]);
			const reasons = Object.fromEntries(result.removals.map((r) => [r.entry.memberKey, r.reason]));
			expect(reasons).toEqual({ [keys[1]]: 'left-tags', [keys[2]]: 'archived', [keys[3]]: 'deleted' });
		} finally {
			await emulator.close();
		}
	});
});

describe('confirmRemovals of many members at once', () => {
	const node = { id: 'n', name: 'Fetch', type: 't', typeVersion: 1, position: [0, 0], parameters: {} } as INode;

	it('reads the audience once instead of one lookup per member, with the same verdicts', async () => {
		const dataset = largeAudience({ members: 600, tags: [{ name: 'VIP', share: 1 }], seed: 5 });
		const emulator = await startMailchimpEmulator({ dataset });
		try {
			const [account] = credentialsOf(dataset);
			const audienceId = account.lists[0].id;
			const client = new MailchimpClient(
				await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: emulator.url }, node),
				node,
			);
			const members = [...emulator.state.accounts[0].audiences.get(audienceId)!.members.values()].filter(
				(m) => m.status === 'subscribed',
			);
			const [archived, deleted, ...rest] = members;
			const keep = rest.slice(0, 50);
			for (const m of rest.slice(50)) emulator.state.tagMember(audienceId, m.email, { remove: ['VIP'] });
			emulator.state.setStatus(audienceId, archived.email, 'archived');
			emulator.state.deletePermanently(audienceId, deleted.email);
			const ledger = [archived, deleted, ...rest].map((m) => ({ ...entry(member(m.contactId)), memberKey: m.contactId }));
			emulator.requests.length = 0;

			const result = await confirmRemovals(client, audienceId, ledger, ['VIP'], 'any', new Set(['subscribed']));

			expect(result.stillSelected.sort()).toEqual(keep.map((m) => m.contactId).sort());
			const reasons = new Map(result.removals.map((r) => [r.entry.memberKey, r.reason]));
			expect(reasons.get(archived.contactId)).toBe('archived');
			expect(reasons.get(deleted.contactId)).toBe('deleted');
			expect(result.removals.filter((r) => r.reason === 'left-tags').length).toBe(rest.length - 50);
			const lookups = emulator.requests.filter((r) => /\/members\/[^/]+$/.test(r.path)).length;
			expect(lookups).toBe(2);
		} finally {
			await emulator.close();
		}
	});
});

describe('confirmRemovals when Mailchimp answers garbled 200s', () => {
	const node = { id: 'n', name: 'Fetch', type: 't', typeVersion: 1, position: [0, 0], parameters: {} } as INode;

	it.each([
		['an HTML page', { rateHtml200: 1 }, 1],
		['{}', { rateEmpty200: 1 }, 1],
		['a malformed member', { rateMalformed200: 1 }, 1],
		['an HTML page, many members at once', { rateHtml200: 1 }, BULK_CONFIRM_THRESHOLD + 1],
		['{}, many members at once', { rateEmpty200: 1 }, BULK_CONFIRM_THRESHOLD + 1],
	] as const)('%s: an error, never a removal', async (_name, fault, count) => {
		const dataset = largeAudience({ members: count + 5, tags: [{ name: 'VIP', share: 1 }], seed: 9 });
		const emulator = await startMailchimpEmulator({ dataset });
		try {
			const [account] = credentialsOf(dataset);
			const audienceId = account.lists[0].id;
			const client = new MailchimpClient(
				await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: emulator.url }, node),
				node,
			);
			const members = [...emulator.state.accounts[0].audiences.get(audienceId)!.members.values()].slice(0, count);
			const ledger = members.map((m) => ({ ...entry(member(m.contactId)), memberKey: m.contactId }));
			// The member lookups and the audience read are garbled; the tag pages were read fine before.
			Object.assign(emulator.faults, { ...fault, routeFilter: '^GET /3.0/lists/\\{list_id\\}/members', seed: 2 });

			const outcome = confirmRemovals(client, audienceId, ledger, ['VIP'], 'any', new Set(['subscribed']));
			await expect(outcome).rejects.toThrow(new RegExp(`^Mailchimp gave an unexpected answer to GET /lists/${audienceId}/members`));
		} finally {
			await emulator.close();
		}
	});
});
