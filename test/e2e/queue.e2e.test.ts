/**
 * The sync in n8n's queue mode, as a user outgrowing one process runs it: n8n 2.41.1 with
 * EXECUTIONS_MODE=queue, n8n's own database on PostgreSQL, Redis, one main (`n8n start`) and two workers
 * (`n8n worker`), each with the package installed in its own user folder, and the sync store on
 * PostgreSQL. Runs are started the way users start them: the schedule (fired by the main) and the
 * editor's "Execute workflow" (offloaded to the workers), never by `n8n execute`, which ignores queue mode.
 *
 * Each worker takes one job at a time (--concurrency=1), so two runs started together land on the two
 * workers: that is what the race needs, and which worker ran what is read from the workers' own logs.
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (user postgres, no password) and Redis on 127.0.0.1:6379; `.ci/run`
 * starts both. Every run makes fresh databases and its own Redis key prefix, and removes them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { largeAudience } from '../emulators/datasets';
import { startHubEmulator, type HubAccountSeed, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpDataset, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, REPO_ROOT, type N8nServer, type N8nWorker, type WorkflowFixture } from './harness';
import { QueueBackends } from './queue-mode';
import { SYNC_TEMPLATE, configureSyncTemplate } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const PACKAGE = 'n8n-nodes-mailchimp-hub-sync.';
const TAG = 'SMS Opt-in';
const HUB_LATENCY_MS = 60;
const MAILCHIMP_LATENCY_MS = 60;
/** The race's schedule fires at every 20th second of the minute (the main's clock). */
const RACE_EVERY_SECONDS = 20;
const MAILCHIMP_CREDENTIAL = { id: 'queueMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' };
const STORE_CREDENTIAL = { id: 'queueStore', name: 'Sync Store (Postgres)', type: 'hubSyncStorePostgres' };

/** One audience per scenario, each synced to a Hub account of its own, so every end state is exact on its own. */
const SIZES = { race: 400, three1: 300, three2: 300, three3: 300, kill: 1500, solo1: 300, solo2: 300, solo3: 300 };
type Key = keyof typeof SIZES;
const KEYS = Object.keys(SIZES) as Key[];

interface Sync {
	key: Key;
	audienceId: string;
	hubAccountId: string;
	workflowId: string;
}

function hubSeed(key: Key): HubAccountSeed {
	return { apiKey: `hub-key-${key}`, apiSecret: `hub-secret-${key}`, accountId: `Queue${key}`, vendorId: 'SinchAU' };
}

function dataset(): { dataset: MailchimpDataset; audienceIds: Record<Key, string> } {
	const lists = KEYS.map((key, i) => largeAudience({ members: SIZES[key], tags: [{ name: TAG, share: 0.7 }], seed: 500 + i, listName: `Queue ${key}` }).accounts[0].lists[0]);
	// Mobiles in ranges every phone library knows as Australian mobiles (0410–0417), unique per audience, every
	// seventh typed in national form: whether a number is valid is not what this test is about.
	lists.forEach((list, l) =>
		list.members!.forEach((member, i) => {
			const number = `41${l}${String(i).padStart(6, '0')}`;
			member.merge_fields = { ...member.merge_fields, PHONE: i % 7 === 3 ? `0${number}` : `+61${number}` };
		}),
	);
	const base = largeAudience({ members: 1, seed: 499 });
	base.accounts[0].lists = lists;
	return { dataset: base, audienceIds: Object.fromEntries(KEYS.map((key, i) => [key, lists[i].id])) as Record<Key, string> };
}

/** The shipped template for one audience, its store on PostgreSQL; the race's schedule fires every 20 s. */
function syncWorkflow(key: Key, audienceId: string): WorkflowFixture {
	const template = JSON.parse(readFileSync(path.join(REPO_ROOT, SYNC_TEMPLATE), 'utf8')) as WorkflowFixture;
	const hub = { id: `queueHub${key}`, name: `Hub ${key}`, type: 'sinchHubApi' };
	const configured = configureSyncTemplate({ audienceId, tags: [TAG], mailchimp: MAILCHIMP_CREDENTIAL, hub })(template);
	return {
		...configured,
		id: `queueSync${key}`,
		name: `Sync ${key}`,
		nodes: configured.nodes.map((node) => {
			const parameters = node.parameters as Record<string, unknown>;
			if (parameters.store !== undefined) {
				return {
					...node,
					parameters: { ...parameters, store: 'postgres' },
					credentials: { ...(node.credentials as object), hubSyncStorePostgres: { id: STORE_CREDENTIAL.id, name: STORE_CREDENTIAL.name } },
				};
			}
			if (node.type === 'n8n-nodes-base.scheduleTrigger' && key === 'race') {
				return { ...node, parameters: { rule: { interval: [{ field: 'cronExpression', expression: `*/${RACE_EVERY_SECONDS} * * * * *` }] } } };
			}
			return node;
		}),
	};
}

/** The template as shipped, with the embedded SQLite store, which queue mode must refuse. */
function sqliteWorkflow(audienceId: string): WorkflowFixture {
	const template = JSON.parse(readFileSync(path.join(REPO_ROOT, SYNC_TEMPLATE), 'utf8')) as WorkflowFixture;
	const hub = { id: 'queueHubrace', name: 'Hub race', type: 'sinchHubApi' };
	return { ...configureSyncTemplate({ audienceId, tags: [TAG], mailchimp: MAILCHIMP_CREDENTIAL, hub })(template), id: 'queueSqliteStore', name: 'Sync on SQLite' };
}

function forceReleaseWorkflow(lockName: string): WorkflowFixture {
	return {
		id: 'queueForceRelease',
		name: 'Operator: force release',
		nodes: [
			{ id: 'f1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'f2',
				name: 'Force Release',
				type: `${PACKAGE}syncLock`,
				typeVersion: 1,
				position: [200, 0],
				parameters: { operation: 'forceRelease', lockName, store: 'postgres' },
				credentials: { hubSyncStorePostgres: { id: STORE_CREDENTIAL.id, name: STORE_CREDENTIAL.name } },
			},
		],
		connections: { Start: { main: [[{ node: 'Force Release', type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

/** The numbers the Hub should hold: one per distinct valid mobile of a subscribed member with the tag. */
function expectedPhones(mailchimp: MailchimpEmulator, audienceId: string): Set<string> {
	const phones = new Set<string>();
	for (const member of mailchimp.state.accounts[0].audiences.get(audienceId)!.members.values()) {
		if (member.status !== 'subscribed' || !member.tags.some((t) => t.name === TAG)) continue;
		const typed = String(member.mergeFields.PHONE ?? '');
		const e164 = /^\+614\d{8}$/.test(typed) ? typed : /^04\d{8}$/.test(typed) ? `+61${typed.slice(1)}` : undefined;
		if (e164) phones.add(e164);
	}
	return phones;
}

/** SMS number → how many contacts hold it, for the contacts in the MAILCHIMP list, and how they stand. */
function hubState(hub: HubEmulator, accountId: string) {
	const account = hub.account(accountId);
	const holders = new Map<string, number>();
	const notSubscribed: string[] = [];
	for (const stored of account.contacts.values()) {
		const data = account.contactData(stored);
		const sms = data.channels.find((c) => c.type === 'SMS');
		if (!sms || !data.lists.some((l) => l.name === 'MAILCHIMP')) continue;
		holders.set(sms.channelId, (holders.get(sms.channelId) ?? 0) + 1);
		if (sms.subscriptionState !== 'SUBSCRIBED') notSubscribed.push(sms.channelId);
	}
	// The template confirms each new number once (Apply Consent's default mode): one message per number, never two.
	const texted = new Map<string, number>();
	for (const message of account.messages.values()) texted.set(message.destination_number, (texted.get(message.destination_number) ?? 0) + 1);
	return { holders, notSubscribed, contacts: account.contacts.size, messages: account.messages.size, textedTwice: [...texted].filter(([, n]) => n > 1) };
}

function expectExact(hub: HubEmulator, mailchimp: MailchimpEmulator, sync: Sync) {
	const wanted = expectedPhones(mailchimp, sync.audienceId);
	const state = hubState(hub, sync.hubAccountId);
	expect({ sync: sync.key, phones: [...state.holders.keys()].sort() }).toEqual({ sync: sync.key, phones: [...wanted].sort() });
	expect({ sync: sync.key, duplicates: [...state.holders].filter(([, n]) => n > 1) }).toEqual({ sync: sync.key, duplicates: [] });
	expect({ sync: sync.key, contacts: state.contacts, notSubscribed: state.notSubscribed, messages: state.messages, textedTwice: state.textedTwice }).toEqual({
		sync: sync.key,
		contacts: wanted.size,
		notSubscribed: [],
		messages: wanted.size,
		textedTwice: [],
	});
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the sync in n8n queue mode: one main, two workers, PostgreSQL and Redis', () => {
	let backends: QueueBackends;
	let n8n: N8nSuite;
	let server: N8nServer;
	let workers: N8nWorker[];
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let syncs: Record<Key, Sync>;
	const timings: string[] = [];

	interface Finished {
		id: string;
		status: string;
		mode: string;
		startedAt: Date;
		stoppedAt: Date;
	}

	/** Waits until n8n has recorded the execution's end (the worker writes it to n8n's database). */
	async function finished(executionId: string, timeoutMs = 180_000): Promise<Finished> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const [row] = await backends.n8nQuery('SELECT id, status, mode, "startedAt", "stoppedAt" FROM execution_entity WHERE id = $1', [executionId]);
			if (row && row.stoppedAt && !['new', 'running', 'waiting'].includes(String(row.status))) {
				return { id: String(row.id), status: String(row.status), mode: String(row.mode), startedAt: row.startedAt as Date, stoppedAt: row.stoppedAt as Date };
			}
			if (Date.now() > deadline) throw new Error(`execution ${executionId} did not finish within ${timeoutMs} ms (status ${String(row?.status)})`);
			await sleep(250);
		}
	}

	async function ranNodes(executionId: string): Promise<string[]> {
		const [row] = await backends.n8nQuery('SELECT data FROM execution_data WHERE "executionId" = $1', [executionId]);
		return Object.keys((await n8n.unflatten(String(row.data))).resultData.runData).sort();
	}

	function workerOf(executionId: string): string | undefined {
		return workers.find((w) => w.executions().includes(executionId))?.name;
	}

	async function runs(lockName: string) {
		return (await backends.store.query('SELECT holder, trigger_kind, outcome, started_at, finished_at FROM hub_sync_run WHERE lock_name = $1 ORDER BY seq', [lockName])).rows as Array<{
			holder: string;
			trigger_kind: string;
			outcome: string;
			started_at: Date;
			finished_at: Date | null;
		}>;
	}

	beforeAll(async () => {
		backends = await QueueBackends.create('queue');
		const { dataset: data, audienceIds } = dataset();
		mailchimp = await startMailchimpEmulator({ dataset: data });
		hub = await startHubEmulator({ accounts: KEYS.map(hubSeed) });
		mailchimp.faults.latencyMs = MAILCHIMP_LATENCY_MS;
		hub.faults.latencyMs = HUB_LATENCY_MS;
		syncs = Object.fromEntries(KEYS.map((key) => [key, { key, audienceId: audienceIds[key], hubAccountId: hubSeed(key).accountId!, workflowId: `queueSync${key}` }])) as Record<Key, Sync>;

		n8n = await N8nSuite.create({ name: 'queue', env: { ...backends.n8nEnv, OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true' } });
		const account = data.accounts[0];
		await n8n.importCredentials([
			{ ...MAILCHIMP_CREDENTIAL, data: { apiKey: account.apiKeys![0], apiBaseUrl: mailchimp.url } },
			{ ...STORE_CREDENTIAL, data: backends.storeCredential },
			...KEYS.map((key) => ({
				id: `queueHub${key}`,
				name: `Hub ${key}`,
				type: 'sinchHubApi',
				data: { apiKey: hubSeed(key).apiKey, apiSecret: hubSeed(key).apiSecret, region: 'custom', baseUrl: hub.url },
			})),
		]);
		await n8n.importWorkflows([...KEYS.map((key) => syncWorkflow(key, audienceIds[key])), forceReleaseWorkflow(audienceIds.kill), sqliteWorkflow(audienceIds.race)]);
		[server, ...workers] = await Promise.all([
			n8n.startServer({ timeoutMs: 240_000 }),
			n8n.startWorker({ name: 'worker-1', concurrency: 1, timeoutMs: 240_000 }),
			n8n.startWorker({ name: 'worker-2', concurrency: 1, timeoutMs: 240_000 }),
		]);
	}, 600_000);

	afterAll(async () => {
		if (timings.length > 0) process.stderr.write(`[queue] ${timings.join('\n[queue] ')}\n`);
		await server?.stop();
		await n8n?.dispose();
		await Promise.all([mailchimp?.close(), hub?.close()]);
		await backends?.dispose();
	});

	it('a scheduled and a manual run of one sync race on the two workers: one holds the lock, the other takes Busy and writes nothing', async () => {
		const sync = syncs.race;
		await server.setActive(sync.workflowId, true);
		// Start the manual run at the instant the schedule fires, so both jobs are queued together.
		const period = RACE_EVERY_SECONDS * 1000;
		await sleep(Math.ceil((Date.now() + 2000) / period) * period - Date.now());
		const manual = await server.runManually(sync.workflowId, 'Start Sync Now');
		let scheduled: string | undefined;
		for (const deadline = Date.now() + 30_000; !scheduled && Date.now() < deadline; await sleep(100)) {
			const rows = await backends.n8nQuery(`SELECT id FROM execution_entity WHERE "workflowId" = $1 AND mode = 'trigger'`, [sync.workflowId]);
			scheduled = rows.length > 0 ? String(rows[0].id) : undefined;
		}
		await server.setActive(sync.workflowId, false);
		expect(scheduled).toBeDefined();

		const results = await Promise.all([finished(manual), finished(scheduled!)]);
		expect(results.map((r) => [r.mode, r.status])).toEqual([
			['manual', 'success'],
			['trigger', 'success'],
		]);
		// One on each worker.
		const placed = { manual: workerOf(manual), scheduled: workerOf(scheduled!) };
		expect(placed.manual && placed.scheduled && placed.manual !== placed.scheduled ? 'two workers' : placed).toBe('two workers');
		// Exactly one took the lock; the other was turned away while it was held.
		const recorded = await runs(sync.audienceId);
		expect(recorded.map((r) => r.outcome).sort()).toEqual(['busy', 'success']);
		expect(recorded.map((r) => r.holder).sort()).toEqual([manual, scheduled!].sort());
		const winner = recorded.find((r) => r.outcome === 'success')!;
		const loser = recorded.find((r) => r.outcome === 'busy')!;
		expect(loser.started_at.getTime()).toBeLessThan(winner.finished_at!.getTime());
		// The loser ran nothing past the lock: no Fetch, no Hub write, no ledger write, no Release.
		expect(await ranNodes(loser.holder)).toEqual(['Acquire Sync Lock', 'Already Running', loser.trigger_kind === 'manual' ? 'Start Sync Now' : 'Every 24 Hours'].sort());
		expect(await ranNodes(winner.holder)).toEqual(expect.arrayContaining(['Fetch Tagged Members', 'Upsert Hub Contact', 'Release Sync Lock']));
		// Every ledger row was written while the winner held the lease.
		const ledger = (await backends.store.query('SELECT count(*)::int AS n, min(synced_at) AS first, max(synced_at) AS last FROM hub_sync_ledger WHERE audience_id = $1', [sync.audienceId])).rows[0] as { n: number; first: Date; last: Date };
		expect(ledger.n).toBeGreaterThanOrEqual(expectedPhones(mailchimp, sync.audienceId).size);
		expect(ledger.first.getTime()).toBeGreaterThanOrEqual(winner.started_at.getTime());
		expect(ledger.last.getTime()).toBeLessThanOrEqual(winner.finished_at!.getTime());
		expectExact(hub, mailchimp, sync);
	});

	/** Starts the syncs together and returns the wall time from the first start to the last end. */
	async function runTogether(keys: Key[]): Promise<{ seconds: number; ran: Finished[] }> {
		const started = Date.now();
		const ids = await Promise.all(keys.map((key) => server.runManually(syncs[key].workflowId, 'Start Sync Now')));
		const ran = await Promise.all(ids.map((id) => finished(id)));
		const seconds = (Math.max(...ran.map((r) => r.stoppedAt.getTime())) - started) / 1000;
		return { seconds, ran };
	}

	let twoWorkerSeconds = 0;

	it('three syncs of three audiences started together spread over both workers and all end exact', async () => {
		const keys: Key[] = ['three1', 'three2', 'three3'];
		const { seconds, ran } = await runTogether(keys);
		expect(ran.map((r) => r.status)).toEqual(['success', 'success', 'success']);
		expect(new Set(ran.map((r) => workerOf(r.id)))).toEqual(new Set(['worker-1', 'worker-2']));
		for (const key of keys) expectExact(hub, mailchimp, syncs[key]);
		for (const key of keys) expect((await runs(syncs[key].audienceId)).map((r) => r.outcome)).toEqual(['success']);
		twoWorkerSeconds = seconds;
		timings.push(`three syncs of ${SIZES.three1} members at once on two workers: ${seconds.toFixed(1)} s`);
	});

	it('a worker killed (kill -9) mid-run: its lock holds until force-released, then a run on the other worker ends exact with no duplicate contact', async () => {
		const sync = syncs.kill;
		const wanted = expectedPhones(mailchimp, sync.audienceId).size;
		const first = await server.runManually(sync.workflowId, 'Start Sync Now');
		// Kill the worker that took it once it has written a good part, but not all, of the contacts.
		let victim: N8nWorker | undefined;
		for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(50)) {
			victim = workers.find((w) => w.executions().includes(first));
			if (victim && hub.account(sync.hubAccountId).contacts.size >= wanted / 4) break;
		}
		expect(victim).toBeDefined();
		await victim!.kill('SIGKILL');
		const atKill = hub.account(sync.hubAccountId).contacts.size;
		expect(atKill).toBeGreaterThan(0);
		expect(atKill).toBeLessThan(wanted);
		const survivor = workers.find((w) => w !== victim)!;
		workers = [survivor];

		// The dead run's lease still holds the lock: the next run is turned away, told who holds it.
		const blocked = await server.runManually(sync.workflowId, 'Start Sync Now');
		expect((await finished(blocked)).status).toBe('success');
		expect(workerOf(blocked)).toBe(survivor.name);
		expect((await runs(sync.audienceId)).map((r) => [r.holder, r.outcome])).toEqual([
			[first, 'running'],
			[blocked, 'busy'],
		]);

		// The operator force-releases it (a short lease would lapse the same way, only later).
		const release = await server.runManually('queueForceRelease', 'Start');
		expect((await finished(release)).status).toBe('success');

		const rerun = await server.runManually(sync.workflowId, 'Start Sync Now');
		expect((await finished(rerun)).status).toBe('success');
		expect(workerOf(rerun)).toBe(survivor.name);
		expect((await runs(sync.audienceId)).map((r) => [r.holder, r.outcome])).toEqual([
			[first, 'forced'],
			[blocked, 'busy'],
			[rerun, 'success'],
		]);
		expectExact(hub, mailchimp, sync);
	});

	it('the same three syncs on one worker alone, for comparison', async () => {
		expect(workers).toHaveLength(1);
		const keys: Key[] = ['solo1', 'solo2', 'solo3'];
		const { seconds, ran } = await runTogether(keys);
		expect(ran.map((r) => r.status)).toEqual(['success', 'success', 'success']);
		for (const key of keys) expectExact(hub, mailchimp, syncs[key]);
		timings.push(
			`three syncs of ${SIZES.solo1} members at once on one worker: ${seconds.toFixed(1)} s` +
				(twoWorkerSeconds > 0 ? ` (two workers: ${twoWorkerSeconds.toFixed(1)} s, ${(seconds / twoWorkerSeconds).toFixed(2)}×)` : ''),
		);
	});

	it('refuses the embedded SQLite store on a worker, saying to choose PostgreSQL, before anything is read or written', async () => {
		mailchimp.counters.clear();
		hub.counters.clear();
		const id = await server.runManually('queueSqliteStore', 'Start Sync Now');
		expect((await finished(id)).status).toBe('error');
		const [row] = await backends.n8nQuery('SELECT data FROM execution_data WHERE "executionId" = $1', [id]);
		const error = (await n8n.unflatten(String(row.data))).resultData.error;
		expect(error?.message).toMatch(/SQLite store cannot be used when n8n runs in queue mode/);
		expect(error?.message).toMatch(/PostgreSQL/);
		expect(error?.node?.name).toBe('Acquire Sync Lock');
		expect({ mailchimp: mailchimp.counters.size, hub: hub.counters.size }).toEqual({ mailchimp: 0, hub: 0 });
	});
});
