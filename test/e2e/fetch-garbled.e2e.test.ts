/**
 * Garbled Mailchimp answers in the real n8n 2.41.1, through the shipped sync template: after a first
 * run has synced an audience, a second run whose Mailchimp answers HTTP 200 with an HTML page, `{}` or
 * a malformed page (on the tag member pages, or on the member lookups that confirm a removal) fails
 * with an error naming the endpoint, and takes nobody out of the Hub's MAILCHIMP list: the list and the
 * ledger are exactly as before. Once Mailchimp answers properly again, the pending removal happens.
 */
import path from 'node:path';

import { closeAllSyncStores, openSyncStore, type LedgerEntry } from '../../nodes/shared/store';
import { NO_FAULTS, type FaultConfig } from '../emulators/common';
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type ExecutionResult } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate, releaseSummary } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const TAG = 'SMS Opt-in';
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const CREDENTIALS = {
	mailchimp: { id: 'garbledMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'garbledHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};
const TAG_PAGES = 'segments/\\{segment_id\\}/members$';
const MEMBER_LOOKUPS = 'members/\\{subscriber_hash\\}$';

describe('garbled Mailchimp answers in the real n8n: the run fails, nobody is removed', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let workflowId: string;
	let audienceId: string;
	let syncName: string;
	/** A synced member taken out of the tag in Mailchimp: a removal the sync must confirm first. */
	let leaver: { email: string; memberKey: string };

	beforeAll(async () => {
		const dataset = largeAudience({ members: 80, tags: [{ name: TAG, share: 0.7 }], seed: 31 });
		// Unique, valid Australian mobiles, so every tagged member becomes one contact.
		dataset.accounts[0].lists[0].members!.forEach((member, i) => {
			member.merge_fields = { ...member.merge_fields, PHONE: `+61412${String(600_000 + i)}` };
			delete member.sms_phone_number;
		});
		mailchimp = await startMailchimpEmulator({ dataset });
		hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
		n8n = await N8nSuite.create({ name: 'fetch-garbled' });
		const [account] = credentialsOf(dataset);
		audienceId = account.lists[0].id;
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
			{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
		]);
		workflowId = await n8n.importWorkflowFile(
			SYNC_TEMPLATE,
			configureSyncTemplate({ audienceId, tags: [TAG], mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub }),
		);

		const first = await n8n.execute(workflowId);
		expect(release(first)).toMatchObject({ outcome: 'success', released: true });
		const synced = first.itemsOf('Fetch Tagged Members');
		expect(synced.length).toBeGreaterThan(30);
		syncName = String((synced[0].sync as { syncName: string }).syncName);
		expect(listMembers().size).toBe(synced.length);

		const member = synced[0] as { email: string; sync: { memberKey: string } };
		leaver = { email: member.email, memberKey: member.sync.memberKey };
		mailchimp.state.tagMember(audienceId, leaver.email, { remove: [TAG] });
	});
	afterAll(async () => {
		await closeAllSyncStores();
		await n8n?.dispose();
		await mailchimp?.close();
		await hub?.close();
	});

	const release = releaseSummary;

	/** The Hub's MAILCHIMP list: contact id → the Mailchimp ID the contact carries. */
	function listMembers(): Map<string, string> {
		const account = hub.account(HUB_ACCOUNT);
		const members = new Map<string, string>();
		for (const stored of account.contacts.values()) {
			const data = account.contactData(stored);
			if (!data.lists.some((l) => l.name === 'MAILCHIMP')) continue;
			const mailchimpId = data.customFields.find((f) => account.customFields.get(f.id)?.label === 'Mailchimp ID')?.value;
			members.set(data.id, String(mailchimpId));
		}
		return members;
	}

	/** The sync's ledger, read from the store file n8n wrote (the template's default SQLite store). */
	async function ledger(): Promise<LedgerEntry[]> {
		const store = await openSyncStore({ kind: 'sqlite', path: path.join(n8n.userFolder, '.n8n', 'mailchimp-hub-sync.sqlite') });
		const entries = await store.readLedger(syncName);
		await closeAllSyncStores();
		return entries.map(({ syncedAt: _syncedAt, ...rest }) => ({ ...rest, syncedAt: new Date(0) })).sort((a, b) => (a.memberKey < b.memberKey ? -1 : 1));
	}

	const hubWrites = () => [...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) \/api\//.test(route));

	it.each([
		// Read the old way, this one took every synced member out of the list: each tag "empty", each lookup "gone".
		['an HTML page on every member read', { rateHtml200: 1, routeFilter: '/members' }, `GET /lists/{audience}/segments/`, 'an HTML page instead of JSON'],
		['an HTML page on the tag member pages', { rateHtml200: 1, routeFilter: TAG_PAGES }, `GET /lists/{audience}/segments/`, 'an HTML page instead of JSON'],
		['{} on the tag member pages', { rateEmpty200: 1, routeFilter: TAG_PAGES }, `GET /lists/{audience}/segments/`, 'members is missing, not a list'],
		['a malformed tag member page', { rateMalformed200: 1, routeFilter: TAG_PAGES }, `GET /lists/{audience}/segments/`, 'members is an object, not a list'],
		['an HTML page on the confirmation reads', { rateHtml200: 1, routeFilter: MEMBER_LOOKUPS }, `GET /lists/{audience}/members/`, 'an HTML page instead of JSON'],
		['{} on the confirmation reads', { rateEmpty200: 1, routeFilter: MEMBER_LOOKUPS }, `GET /lists/{audience}/members/`, 'id is missing, not a text'],
	] as Array<[string, Partial<FaultConfig>, string, string]>)('%s: the run fails naming the endpoint; list and ledger unchanged', async (_name, fault, endpoint, problem) => {
		const listBefore = listMembers();
		const ledgerBefore = await ledger();
		expect(ledgerBefore.map((e) => e.memberKey)).toContain(leaver.memberKey);
		hub.counters.clear();
		Object.assign(mailchimp.faults, NO_FAULTS, fault, { seed: 5 });
		let run: ExecutionResult;
		try {
			run = await n8n.tryExecute(workflowId);
		} finally {
			Object.assign(mailchimp.faults, NO_FAULTS);
		}
		expect(run.ok).toBe(false); // a failed sync fails the n8n execution (issue 8, #9)
		const summary = release(run);
		expect(summary).toMatchObject({ outcome: 'failed', released: true });
		expect(summary.errorSummary).toContain(`Mailchimp gave an unexpected answer to ${endpoint.replace('{audience}', audienceId)}`);
		expect(summary.errorSummary).toContain(problem);
		expect(run.run?.data.resultData.runData['Remove From Hub']).toBeUndefined();
		expect(hubWrites()).toEqual([]);
		expect(listMembers()).toEqual(listBefore);
		expect([...listBefore.values()]).toContain(leaver.memberKey);
		expect(await ledger()).toEqual(ledgerBefore);
	});

	it('once Mailchimp answers properly, the member who left the tag (and only that one) leaves the list', async () => {
		const listBefore = listMembers();
		const run = await n8n.execute(workflowId);
		expect(release(run)).toMatchObject({ outcome: 'success', released: true });
		expect(release(run).counts['removed-from-list']).toBe(1);
		const after = listMembers();
		expect([...after.values()]).not.toContain(leaver.memberKey);
		expect(after.size).toBe(listBefore.size - 1);
		expect((await ledger()).map((e) => e.memberKey)).not.toContain(leaver.memberKey);
	});
});
