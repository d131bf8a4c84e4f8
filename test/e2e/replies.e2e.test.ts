/**
 * Consent replies in the real n8n 2.41.1 with `n8n start`: the reply template (workflows/hub-replies.json)
 * made active through the REST API the editor uses, the Hub emulator posting replies to the webhook the
 * trigger registered. The whole double opt-in flow: the shipped sync in double opt-in mode asks every
 * member once (nobody enters the Hub), the members answer, and the next sync writes nothing for those
 * who confirmed, creates nobody who said STOP, and asks nobody again.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { consentRequestMetadata } from '../../nodes/shared/consent/replies';
import { SQLITE_FILE_NAME, closeAllSyncStores, openSyncStore, type SyncStore } from '../../nodes/shared/store';
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type WorkflowFixture } from './harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const REPLY_TEMPLATE = 'workflows/hub-replies.json';
const PACKAGE = 'n8n-nodes-mailchimp-hub-sync.';
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const TAG = 'SMS Opt-in';
const CREDENTIALS = {
	mailchimp: { id: 'replyMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'replyHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
};
const PEOPLE = {
	ann: { email: 'ann@example.com', first: 'Ann', phone: '+61491570101' },
	bob: { email: 'bob@example.com', first: 'Bob', phone: '+61491570102' },
	cat: { email: 'cat@example.com', first: 'Cat', phone: '+61491570103' },
	dan: { email: 'dan@example.com', first: 'Dan', phone: '+61491570104' },
	eve: { email: 'eve@example.com', first: 'Eve', phone: '+61491570105' },
	/** Never answers: asked again once the re-ask period has passed. */
	fay: { email: 'fay@example.com', first: 'Fay', phone: '+61491570106' },
};
type Person = keyof typeof PEOPLE;

interface N8nServerLike {
	url: string;
	rest(method: string, route: string, payload?: unknown): Promise<{ status: number; body: unknown }>;
	stop(): Promise<void>;
}

/** The reply template pointed at the audience and credentials, as a user sets it up in the editor. */
function configureReplyTemplate(audienceId: string, usePolling: boolean, publicKey: string) {
	const base = configureSyncTemplate({ audienceId, tags: [TAG], mailchimp: CREDENTIALS.mailchimp, hub: CREDENTIALS.hub });
	const ref = (c: { id: string; name: string }) => ({ id: c.id, name: c.name });
	return (workflow: WorkflowFixture): WorkflowFixture => {
		const configured = base(workflow);
		return {
			...configured,
			name: usePolling ? `${configured.name} (polling)` : configured.name,
			nodes: configured.nodes.map((node) => {
				const type = String(node.type);
				if (type === `${PACKAGE}hubReplyTrigger`) {
					return {
						...node,
						disabled: usePolling,
						parameters: { ...(node.parameters as object), signature: 'required', publicKey },
						credentials: { [CREDENTIALS.hub.type]: ref(CREDENTIALS.hub) },
					};
				}
				if (type === `${PACKAGE}hubReplyPollTrigger`) return { ...node, disabled: !usePolling, credentials: { [CREDENTIALS.hub.type]: ref(CREDENTIALS.hub) } };
				if (type === `${PACKAGE}applyConsent`) {
					return {
						...node,
						parameters: { ...(node.parameters as object), authentication: 'apiKey', audience: { __rl: true, mode: 'id', value: audienceId }, tags: [TAG] },
						credentials: { [CREDENTIALS.hub.type]: ref(CREDENTIALS.hub), [CREDENTIALS.mailchimp.type]: ref(CREDENTIALS.mailchimp) },
					};
				}
				return node;
			}),
		};
	};
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, explain?: () => Promise<string>): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined && value !== false) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain ? `\n${await explain()}` : ''}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

describe('consent replies in the real n8n (n8n start, reply workflow active)', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let server: N8nServerLike | undefined;
	let store: SyncStore;
	let audienceId: string;
	let syncWorkflowId: string;
	let replyWorkflowId: string;
	let pollWorkflowId: string;

	const account = () => hub.account(HUB_ACCOUNT);
	const contactsOf = (phone: string) =>
		[...account().contacts.values()].map((c) => account().contactData(c)).filter((c) => c.channels.some((ch) => ch.type === 'SMS' && ch.channelId === phone));
	const member = (who: Person) => [...mailchimp.state.accounts[0].audiences.get(audienceId)!.members.values()].find((m) => m.email === PEOPLE[who].email)!;
	/** What the reply runs did, for a failure message. */
	async function runsOf(workflowId: string): Promise<string> {
		const rows = (await n8n.executions()).filter((e) => e.workflowId === workflowId);
		const lines: string[] = [];
		for (const row of rows) {
			const data = await n8n.executionData(row.id);
			const nodes = Object.entries(data.resultData.runData ?? {}).map(([name, runs]) => {
				const run = (runs as Array<{ error?: { message?: string }; data?: { main?: Array<Array<{ json: unknown }> | null> } }>)[0];
				const outputs = (run?.data?.main ?? []).map((o) => (o ?? []).length).join('/');
				return `${name}[${outputs}]${run?.error ? ` error: ${run.error.message}` : ''}${name === 'Handle Reply' ? ` ${JSON.stringify(run?.data?.main?.map((o) => (o ?? []).map((i) => (i.json as { consent?: unknown; error?: unknown }).consent ?? (i.json as { error?: unknown }).error)))}` : ''}`;
			});
			lines.push(`#${row.id} ${row.status} ${row.mode}: ${nodes.join(', ')}${data.resultData.error ? ` — ${data.resultData.error.message}` : ''}`);
		}
		return lines.join('\n');
	}
	const finishedRuns = async (workflowId: string) => (await n8n.executions()).filter((e) => e.workflowId === workflowId && e.finished);

	/** The consent request the sync sent to this member (its Hub message id), from the store. */
	async function requestOf(who: Person): Promise<string> {
		const record = await store.getConsent(audienceId, PEOPLE[who].phone);
		expect(record?.state).toBe('asked');
		return record!.messageId!;
	}
	let ledgerName: string;

	async function workflowAction(workflowId: string, action: 'activate' | 'deactivate') {
		const current = await server!.rest('GET', `/rest/workflows/${workflowId}`);
		expect(current.status).toBe(200);
		const { versionId } = (current.body as { data: { versionId: string } }).data;
		const answer = await server!.rest('POST', `/rest/workflows/${workflowId}/${action}`, action === 'activate' ? { versionId } : {});
		if (answer.status !== 200) throw new Error(`${action} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
	}

	beforeAll(async () => {
		const dataset = largeAudience({ members: 0, tags: [TAG], seed: 3 });
		const list = dataset.accounts[0].lists[0];
		list.members = Object.values(PEOPLE).map((p) => ({
			email_address: p.email,
			status: 'subscribed' as const,
			merge_fields: { FNAME: p.first, LNAME: 'Replier', PHONE: p.phone },
			tags: [TAG],
		}));
		mailchimp = await startMailchimpEmulator({ dataset });
		// The account signs its callbacks (API_SECURE_CALLBACKS with an enabled key), so every reply below
		// also passes the trigger's signature check, inside n8n, on the raw request n8n received.
		hub = await startHubEmulator({ accounts: [{ ...DEFAULT_HUB_ACCOUNT, secureCallbacks: true }] });
		const auth = `Basic ${Buffer.from(`${DEFAULT_HUB_ACCOUNT.apiKey}:${DEFAULT_HUB_ACCOUNT.apiSecret}`).toString('base64')}`;
		const iam = async (method: string, body: unknown, suffix = '') =>
			(await fetch(`${hub.url}/v1/iam/signature_keys${suffix}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<{ key_id: string; public_key: string }>;
		const key = await iam('POST', { digest: 'SHA512', cipher: 'RSA' });
		await iam('PATCH', { key_id: key.key_id }, '/enabled');
		n8n = await N8nSuite.create({ name: 'replies' });
		const [mc] = credentialsOf(dataset);
		audienceId = mc.lists[0].id;
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimp, data: { apiKey: mc.apiKey, apiBaseUrl: mailchimp.url } },
			{ ...CREDENTIALS.hub, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
		]);
		syncWorkflowId = await n8n.importWorkflowFile(
			SYNC_TEMPLATE,
			configureSyncTemplate({
				audienceId,
				tags: [TAG],
				mailchimp: CREDENTIALS.mailchimp,
				hub: CREDENTIALS.hub,
				parameters: { 'Apply Consent': { mode: 'doubleOptIn', companyName: 'Test Co', reaskAfterDays: 1 } },
			}),
		);
		replyWorkflowId = await n8n.importWorkflowFile(REPLY_TEMPLATE, configureReplyTemplate(audienceId, false, key.public_key));
		pollWorkflowId = await n8n.importWorkflowFile(REPLY_TEMPLATE, configureReplyTemplate(audienceId, true, key.public_key));
		// The daily sync in double opt-in mode: every member asked once, nobody in the Hub yet.
		const first = await n8n.execute(syncWorkflowId);
		expect(first.itemsOf('Apply Consent', 1).map((i) => (i.member as { email: string } | undefined)?.email ?? i.email).sort()).toEqual(Object.values(PEOPLE).map((p) => p.email).sort());
		ledgerName = String((first.itemsOf('Fetch Tagged Members')[0].sync as { syncName: string }).syncName);
		store = await openSyncStore({ kind: 'sqlite', path: path.join(n8n.userFolder, '.n8n', SQLITE_FILE_NAME) });
		server = await n8n.startServer();
	});
	afterAll(async () => {
		await server?.stop();
		await closeAllSyncStores();
		await n8n?.dispose();
		await mailchimp?.close();
		await hub?.close();
	});

	it('0. the sync in double opt-in mode asked each member once and put nobody into the Hub', async () => {
		expect(account().contacts.size).toBe(0);
		expect(account().messages.size).toBe(Object.keys(PEOPLE).length);
		expect(account().creditsUsed).toBe(Object.keys(PEOPLE).length);
		for (const who of Object.keys(PEOPLE) as Person[]) await requestOf(who);
	});

	it('1. activating the reply workflow registers its webhook with the Hub, with a secret header', async () => {
		expect(account().webhooks.size).toBe(0);
		await workflowAction(replyWorkflowId, 'activate');
		// n8n registers the trigger's webhooks in the background once the activation is answered.
		const hooks = await until('the webhook in the Hub', () => (account().webhooks.size > 0 ? [...account().webhooks.values()] : undefined), 30_000);
		expect(hooks).toHaveLength(1);
		expect(hooks[0].url).toMatch(/\/webhook\/9b6e1f0a-4c2d-4e8b-a7f3-5d1c2b3a4e60\/hub-replies$/);
		expect(hooks[0].events.sort()).toEqual(['OPT_OUT_SMS', 'RECEIVED_SMS']);
		expect(hooks[0].headers['x-hub-sync-secret']).toMatch(/^[\w-]{40,}$/);
	});

	it('2. YES: the contact is created SUBSCRIBED in the MAILCHIMP list, exactly as the sync writes it', async () => {
		await requestOf('ann');
		const { deliveries } = await hub.inbound(HUB_ACCOUNT, { from: PEOPLE.ann.phone, content: ' Yes please' });
		expect(deliveries.map((d) => d.status)).toEqual([200]);
		const [contact] = await until('Ann in the Hub', () => (contactsOf(PEOPLE.ann.phone).length > 0 ? contactsOf(PEOPLE.ann.phone) : undefined), 30_000, () => runsOf(replyWorkflowId));
		await until('the reply run to finish', async () => (await finishedRuns(replyWorkflowId)).length >= 1 || undefined);
		expect(contactsOf(PEOPLE.ann.phone)).toHaveLength(1);
		expect(contact.firstName).toBe('Ann');
		expect(contact.lastName).toBe('Replier');
		expect(contact.channels.find((c) => c.type === 'SMS')?.subscriptionState).toBe('SUBSCRIBED');
		expect(contact.lists.map((l) => l.name)).toEqual(['MAILCHIMP']);
		expect((await store.getConsent(audienceId, PEOPLE.ann.phone))?.state).toBe('confirmed');
		const ledger = await store.readLedger(ledgerName);
		expect(ledger.map((e) => [e.memberKey, e.hubContactId, e.phone])).toEqual([[member('ann').contactId, contact.id, PEOPLE.ann.phone]]);
	});

	it('3. STOP: never created, consent closed, the opt-out recorded, never asked again', async () => {
		await requestOf('bob');
		const before = (await finishedRuns(replyWorkflowId)).length;
		const { deliveries } = await hub.inbound(HUB_ACCOUNT, { from: PEOPLE.bob.phone, content: 'STOP' });
		// RECEIVED_SMS and the Hub's OPT_OUT_SMS both reach the trigger.
		expect(deliveries.map((d) => [d.event, d.status]).sort()).toEqual([['OPT_OUT_SMS', 200], ['RECEIVED_SMS', 200]]);
		await until('both STOP runs to finish', async () => (await finishedRuns(replyWorkflowId)).length >= before + 2 || undefined);
		expect(contactsOf(PEOPLE.bob.phone)).toEqual([]);
		expect((await store.getConsent(audienceId, PEOPLE.bob.phone))?.state).toBe('opted-out');
		expect((await store.getOptOut(PEOPLE.bob.phone))?.source).toBe('reply-stop');
		expect(await store.claimConsentAsk(audienceId, PEOPLE.bob.phone)).toBe(false);
		// A later YES (a carrier keyword too) never subscribes the number.
		await hub.inbound(HUB_ACCOUNT, { from: PEOPLE.bob.phone, content: 'YES' });
		await until('the later YES run to finish', async () => (await finishedRuns(replyWorkflowId)).length >= before + 3 || undefined);
		expect(contactsOf(PEOPLE.bob.phone)).toEqual([]);
	});

	it('4. an unknown reply changes nothing', async () => {
		await requestOf('cat');
		const before = (await finishedRuns(replyWorkflowId)).length;
		const contactsBefore = account().contacts.size;
		await hub.inbound(HUB_ACCOUNT, { from: PEOPLE.cat.phone, content: 'stopping by later, who is this?' });
		await until('the run to finish', async () => (await finishedRuns(replyWorkflowId)).length >= before + 1 || undefined);
		expect(account().contacts.size).toBe(contactsBefore);
		expect((await store.getConsent(audienceId, PEOPLE.cat.phone))?.state).toBe('asked');
		expect(await store.getOptOut(PEOPLE.cat.phone)).toBeNull();
	});

	it('5. a forged call (no secret, wrong secret: 401; the secret but no Hub signature: 403) is refused and changes nothing', async () => {
		await requestOf('eve');
		const [hook] = [...account().webhooks.values()];
		const runsBefore = (await n8n.executions()).length;
		const body = JSON.stringify({
			reply_id: '6f1c1f52-9d0e-4a55-8d4b-4b8a3c1d2e3f',
			source_number: PEOPLE.eve.phone,
			content: 'YES',
			metadata: consentRequestMetadata({ audienceId, memberKey: member('eve').contactId, syncName: ledgerName }),
		});
		for (const headers of [{}, { 'x-hub-sync-secret': 'guessed' }, { 'x-hub-sync-secret': hook.headers['x-hub-sync-secret'].slice(0, -1) + 'x' }]) {
			const answer = await fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
			expect(answer.status).toBe(401);
		}
		const unsigned = await fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-sync-secret': hook.headers['x-hub-sync-secret'] }, body });
		expect(unsigned.status).toBe(403);
		await new Promise((r) => setTimeout(r, 1000));
		expect((await n8n.executions()).length).toBe(runsBefore);
		expect(contactsOf(PEOPLE.eve.phone)).toEqual([]);
		expect((await store.getConsent(audienceId, PEOPLE.eve.phone))?.state).toBe('asked');
	});

	it('5b. a YES from a member who meanwhile left the selected tag or unsubscribed in Mailchimp creates nothing', async () => {
		mailchimp.state.tagMember(audienceId, PEOPLE.cat.email, { remove: [TAG] });
		mailchimp.state.setStatus(audienceId, PEOPLE.eve.email, 'unsubscribed');
		const before = (await finishedRuns(replyWorkflowId)).length;
		for (const who of ['cat', 'eve'] as const) {
			const { deliveries } = await hub.inbound(HUB_ACCOUNT, { from: PEOPLE[who].phone, content: 'YES' });
			expect(deliveries.map((d) => d.status)).toEqual([200]);
		}
		await until('both runs to finish', async () => (await finishedRuns(replyWorkflowId)).length >= before + 2 || undefined, 60_000, () => runsOf(replyWorkflowId));
		expect(contactsOf(PEOPLE.cat.phone)).toEqual([]);
		expect(contactsOf(PEOPLE.eve.phone)).toEqual([]);
		expect((await store.getConsent(audienceId, PEOPLE.cat.phone))?.state).toBe('asked');
		expect((await store.getConsent(audienceId, PEOPLE.eve.phone))?.state).toBe('asked');
	});

	it('6. deactivating removes the webhook from the Hub', async () => {
		await workflowAction(replyWorkflowId, 'deactivate');
		await until('the webhook to leave the Hub', () => account().webhooks.size === 0 || undefined, 30_000);
	});

	it('7. the polling variant reaches the same end state, each reply handed over once', async () => {
		// The replies the webhook already handled are confirmed, as the Replies API lets an operator do.
		const earlier = account().replies.filter((r) => !r.confirmed).map((r) => r.reply_id);
		const auth = Buffer.from(`${DEFAULT_HUB_ACCOUNT.apiKey}:${DEFAULT_HUB_ACCOUNT.apiSecret}`).toString('base64');
		const confirmed = await fetch(`${hub.url}/v1/replies/confirmed`, {
			method: 'POST',
			headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
			body: JSON.stringify({ reply_ids: earlier }),
		});
		expect(confirmed.status).toBe(202);
		await requestOf('dan');
		await hub.inbound(HUB_ACCOUNT, { from: PEOPLE.dan.phone, content: 'y' });
		const before = (await finishedRuns(pollWorkflowId)).length;
		await workflowAction(pollWorkflowId, 'activate');
		await until('Dan in the Hub', () => (contactsOf(PEOPLE.dan.phone).length > 0 ? true : undefined), 60_000, () => runsOf(pollWorkflowId));
		await until('the poll run to finish', async () => (await finishedRuns(pollWorkflowId)).length >= before + 1 || undefined);
		const [dan] = contactsOf(PEOPLE.dan.phone);
		expect(dan.channels.find((c) => c.type === 'SMS')?.subscriptionState).toBe('SUBSCRIBED');
		expect(dan.lists.map((l) => l.name)).toEqual(['MAILCHIMP']);
		// Polling again (a reactivation polls at once) confirms Dan's reply and hands nothing over again.
		await workflowAction(pollWorkflowId, 'deactivate');
		await workflowAction(pollWorkflowId, 'activate');
		await until('the Hub to have every reply confirmed', () => account().replies.every((r) => r.confirmed) || undefined, 30_000);
		await new Promise((r) => setTimeout(r, 1000));
		expect((await finishedRuns(pollWorkflowId)).length).toBe(before + 1);
		await workflowAction(pollWorkflowId, 'deactivate');
	});

	it('8. the next sync, after the re-ask period: writes nothing for the members who confirmed, creates nobody who said STOP and never asks them again; asks again only the one who never answered', async () => {
		await server?.stop();
		server = undefined;
		// Two days pass for the consent records (Ask Again After is 1 day): every request is now old enough to repeat.
		const clock = new DatabaseSync(path.join(n8n.userFolder, '.n8n', SQLITE_FILE_NAME));
		clock.prepare('UPDATE hub_sync_consent SET asked_at = asked_at - ?').run(2 * 86_400_000);
		clock.close();
		const [annBefore] = contactsOf(PEOPLE.ann.phone);
		const [danBefore] = contactsOf(PEOPLE.dan.phone);
		const messagesBefore = account().messages.size;
		const run = await n8n.execute(syncWorkflowId);
		const fetched = run.itemsOf('Fetch Tagged Members').map((i) => i.email);
		expect(fetched).not.toContain(PEOPLE.ann.email);
		expect(fetched).not.toContain(PEOPLE.dan.email);
		expect(contactsOf(PEOPLE.ann.phone)).toEqual([annBefore]);
		expect(contactsOf(PEOPLE.dan.phone)).toEqual([danBefore]);
		expect(contactsOf(PEOPLE.bob.phone)).toEqual([]);
		expect(contactsOf(PEOPLE.cat.phone)).toEqual([]);
		const again = [...account().messages.values()].slice(messagesBefore).map((m) => m.destination_number);
		expect(again).toEqual([PEOPLE.fay.phone]);
		expect(account().creditsUsed).toBe(Object.keys(PEOPLE).length + 1);
		expect((await store.getConsent(audienceId, PEOPLE.bob.phone))?.state).toBe('opted-out');
	});
});
