/**
 * A run whose Sync Lock lease is taken over while Upsert Hub Contact writes, in the real n8n 2.41.1:
 * from that moment the run writes no ledger row and stops with the lost-lease error; the next run
 * (after the other holder is gone) finishes the work without duplicates.
 */
import * as path from 'node:path';

import { closeAllSyncStores, openSyncStore, type SyncStore } from '../../nodes/shared/store';
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator, type HubExchange } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
/** The ledger's name, given so the test can read the ledger. */
const SYNC_NAME = 'lease-e2e';
const TAG = 'SMS Opt-in';
const CREDENTIALS = {
	mailchimp: { id: 'leaseMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'leaseHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};

let mailchimp: MailchimpEmulator;
let hub: HubEmulator;
let n8n: N8nSuite;
let workflowId: string;
let audienceId: string;
let onHubExchange: (exchange: HubExchange) => void = () => undefined;

beforeAll(async () => {
	const dataset = largeAudience({ members: 40, tags: [{ name: TAG, share: 1 }], seed: 8 });
	dataset.accounts[0].lists[0].members!.forEach((member, i) => {
		member.merge_fields = { ...member.merge_fields, PHONE: `+61414${String(i).padStart(6, '0')}` };
		delete member.sms_phone_number;
	});
	mailchimp = await startMailchimpEmulator({ dataset });
	hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT], onExchange: (e) => onHubExchange(e) });
	n8n = await N8nSuite.create({ name: 'upsert-lease' });
	const [account] = credentialsOf(dataset);
	await n8n.importCredentials([
		{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
		{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
	]);
	audienceId = account.lists[0].id;
	workflowId = await n8n.importWorkflowFile(
		SYNC_TEMPLATE,
		configureSyncTemplate({
			audienceId,
			tags: [TAG],
			mailchimp: CREDENTIALS.mailchimp,
			hub: CREDENTIALS.hub,
			parameters: { 'Fetch Tagged Members': { options: { syncName: SYNC_NAME } } },
		}),
	);
});

afterAll(async () => {
	await closeAllSyncStores();
	await n8n?.dispose();
	await mailchimp?.close();
	await hub?.close();
});

/** The sync's own store file, as the template leaves it (Store File empty: in the n8n folder). */
const syncStore = (): Promise<SyncStore> => openSyncStore({ kind: 'sqlite', path: path.join(n8n.userFolder, '.n8n', 'mailchimp-hub-sync.sqlite') });
const hashes = async () => new Map((await (await syncStore()).readLedger(SYNC_NAME)).map((e) => [e.memberKey, e.contentHash]));

it("writes no ledger row once another run took its lease, and the next run finishes the work without duplicates", async () => {
	await n8n.execute(workflowId);
	const contactsBefore = hub.account(HUB_ACCOUNT).contacts.size;
	const before = await hashes();
	expect(before.size).toBe(contactsBefore);

	// Every member changes, so Upsert patches each; at its first patch another run takes the lock.
	const audience = mailchimp.state.accounts[0].audiences.get(audienceId)!;
	for (const member of audience.members.values()) {
		mailchimp.state.updateMember(audienceId, member.email, { merge_fields: { LNAME: `${String(member.mergeFields.LNAME)}-Renamed` } });
	}
	let takeover: Promise<void> | undefined;
	onHubExchange = (e) => {
		if (takeover || e.request.route !== 'PATCH /api/v1/contacts/contacts/{contactId}') return;
		// Slow the Hub down so the takeover lands long before the run would save its ledger.
		hub.faults.latencyMs = 200;
		takeover = (async () => {
			const store = await syncStore();
			await store.forceRelease(audienceId, 'test: the lease lapsed');
			const other = await store.acquire({ lockName: audienceId, holder: 'another-run', ttlMs: 3_600_000 });
			expect(other.acquired).toBe(true);
		})();
	};
	let run: Awaited<ReturnType<N8nSuite['execute']>>;
	try {
		run = await n8n.execute(workflowId);
	} finally {
		onHubExchange = () => undefined;
		hub.faults.latencyMs = 0;
	}
	await takeover;
	expect(takeover).toBeDefined();

	// Not one ledger row was written after the takeover: every member keeps its old hash.
	expect(await hashes()).toEqual(before);
	const errors = run.itemsOf('Upsert Hub Contact', 1);
	expect(errors.length).toBeGreaterThan(0);
	expect(errors.every((e) => e.fatal === true && /lease/i.test(String(e.error)))).toBe(true);
	expect(run.itemsOf('Release Sync Lock')[0]).toMatchObject({ released: false });

	// The other run ends; the next run of this sync writes what is left, without a second contact.
	await (await syncStore()).forceRelease(audienceId, 'test: the other run is gone');
	await n8n.execute(workflowId);
	expect(hub.account(HUB_ACCOUNT).contacts.size).toBe(contactsBefore);
	const after = await hashes();
	expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
	expect([...after].filter(([key, hash]) => before.get(key) === hash)).toEqual([]);
});
