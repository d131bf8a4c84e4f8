/**
 * The package in the real n8n 2.41.1: every node and credential listed in package.json loads, node types get the
 * `<package>.<node>` names a user's workflows use, and the harness itself works end to end (a Manual Trigger
 * workflow runs, failures carry the node's message, runs can go side by side and be killed midway).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { E2E_TIMEOUT_MS, N8nExecutionError, N8nSuite, REPO_ROOT, type LoadedPackage, type N8nCommandResult, type WorkflowFixture } from './harness';

jest.setTimeout(E2E_TIMEOUT_MS);

interface Manifest {
	name: string;
	n8n: { n8nNodesApiVersion: number; nodes: string[]; credentials: string[] };
}
const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;

const sorted = (values: string[]) => [...values].sort();
const lowerFirst = (value: string) => value.charAt(0).toLowerCase() + value.slice(1);

describe(`${manifest.name} in the real n8n`, () => {
	let n8n: N8nSuite;
	// Two independent views, each test fails with its own view's error: n8n-core's package loader (names, files,
	// credentials) and the n8n CLI's full start-up (`n8n export:nodes`, type names, start-up log).
	let loaderView: PromiseSettledResult<LoadedPackage>;
	let cliView: PromiseSettledResult<{ types: Array<{ name: string }>; result: N8nCommandResult }>;
	const value = <T>(view: PromiseSettledResult<T>): T => {
		if (view.status === 'rejected') throw view.reason;
		return view.value;
	};

	beforeAll(async () => {
		n8n = await N8nSuite.create({ name: 'load' });
		[loaderView] = await Promise.allSettled([n8n.loadInstalledPackage(manifest.name)]);
		[cliView] = await Promise.allSettled([n8n.exportNodeTypes()]);
	});
	afterAll(async () => {
		await n8n?.dispose();
	});

	it('package.json lists nodes and credentials for node API version 1', () => {
		expect(manifest.n8n.n8nNodesApiVersion).toBe(1);
		expect(manifest.n8n.nodes.length).toBeGreaterThan(0);
		expect(manifest.n8n.credentials.length).toBeGreaterThan(0);
	});

	it("n8n's package loader loads exactly the node files listed in package.json", () => {
		const loaded = value(loaderView);
		expect(loaded.packageName).toBe(manifest.name);
		expect(sorted(loaded.nodes.map((node) => node.sourcePath))).toEqual(sorted(manifest.n8n.nodes));
	});

	it("n8n's package loader loads exactly the credential files listed in package.json", () => {
		const loaded = value(loaderView);
		expect(sorted(loaded.credentials.map((credential) => credential.sourcePath))).toEqual(sorted(manifest.n8n.credentials));
	});

	it('credential type names follow their class names', () => {
		const loaded = value(loaderView);
		for (const credential of loaded.credentials) expect(credential.name).toBe(lowerFirst(credential.className));
	});

	it("every credential a node accepts is one of the package's own credential types", () => {
		const loaded = value(loaderView);
		const own = new Set(loaded.credentials.map((credential) => credential.name));
		for (const node of loaded.nodes) {
			for (const credential of node.credentials) expect({ node: node.name, credential, own: own.has(credential) }).toEqual({ node: node.name, credential, own: true });
		}
	});

	it('n8n start-up registers every node as <package>.<node>', () => {
		const loaded = value(loaderView);
		const names = new Set(value(cliView).types.map((type) => type.name));
		for (const node of loaded.nodes) expect(names).toContain(`${manifest.name}.${node.name}`);
	});

	it('imports a credential of every type with plain data, stores it encrypted and gives the same data back', async () => {
		const loaded = value(loaderView);
		const secret = `e2e-secret-${Date.now()}`;
		const fixtures = loaded.credentials.map((credential, i) => ({
			id: `e2eCred${String(i).padStart(8, '0')}`,
			name: `e2e ${credential.displayName}`,
			type: credential.name,
			// OAuth2 credentials carry their token in oauthTokenData, which n8n's import encrypts like the rest.
			data: credential.extends.includes('oAuth2Api')
				? { clientId: 'e2e-client', clientSecret: secret, oauthTokenData: { access_token: secret, token_type: 'bearer' } }
				: { e2eMarker: secret },
		}));
		await n8n.importCredentials(fixtures);
		const stored = await n8n.query('SELECT id, type, data FROM credentials_entity ORDER BY id');
		expect(stored.map((row) => row.type)).toEqual(fixtures.map((fixture) => fixture.type));
		for (const row of stored) expect(String(row.data)).not.toContain(secret);
		const exported = await n8n.exportCredentials();
		for (const fixture of fixtures) {
			expect(exported.find((credential) => credential.id === fixture.id)).toMatchObject({ type: fixture.type, data: fixture.data });
		}
	});

	it('n8n start-up reports no load problem for the package', () => {
		const { result } = value(cliView);
		const log = `${result.stdout}\n${result.stderr}`;
		// n8n logs a package that fails to load and starts without it (exit code 0); the loader tests above give the reason.
		const problems = log.split('\n').filter((line) => /Failed to load package|Skipping package|Unrecognized (node|credential) type/i.test(line));
		expect(problems).toEqual([]);
	});
});

describe('the e2e harness on a plain n8n workflow', () => {
	let n8n: N8nSuite;
	const trigger = { id: 't', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };
	const fromStart = (node: string) => ({ Start: { main: [[{ node, type: 'main', index: 0 }]] } });
	const setFields: WorkflowFixture = {
		id: 'e2eSetFields00001',
		name: 'Manual Trigger and Set',
		nodes: [
			trigger,
			{
				id: 's',
				name: 'Set',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: [200, 0],
				parameters: {
					mode: 'manual',
					assignments: {
						assignments: [
							{ id: 'a1', name: 'sum', value: '={{ 20 + 22 }}', type: 'number' },
							{ id: 'a2', name: 'fallback', value: '={{ $json.missing ?? "default" }}', type: 'string' },
						],
					},
					options: {},
				},
			},
		],
		connections: fromStart('Set'),
	};
	const failing: WorkflowFixture = {
		id: 'e2eStopAndError01',
		name: 'Stops with an error',
		nodes: [
			trigger,
			{ id: 'e', name: 'Fail', type: 'n8n-nodes-base.stopAndError', typeVersion: 1, position: [200, 0], parameters: { errorMessage: 'Stopped on purpose by the e2e test' } },
		],
		connections: fromStart('Fail'),
	};
	const waiting: WorkflowFixture = {
		id: 'e2eWaitThreeSec01',
		name: 'Waits three seconds',
		nodes: [
			trigger,
			{ id: 'w', name: 'Wait', type: 'n8n-nodes-base.wait', typeVersion: 1.1, position: [200, 0], parameters: { resume: 'timeInterval', amount: 3, unit: 'seconds' } },
		],
		connections: fromStart('Wait'),
	};

	beforeAll(async () => {
		n8n = await N8nSuite.create({ name: 'plain', installPackage: false });
		await n8n.importWorkflows([setFields, failing, waiting]);
	});
	afterAll(async () => {
		await n8n?.dispose();
	});

	it('runs a Manual Trigger workflow and returns the items of each node, expressions evaluated', async () => {
		const run = await n8n.execute(setFields.id!);
		expect(run.ok).toBe(true);
		// No code at all when n8n died of SIGSEGV while shutting down after the run (see the harness).
		expect(run.exitCode).toBe(run.crashedAtExit ? null : 0);
		expect(run.run?.mode).toBe('cli');
		expect(run.itemsOf('Set')).toEqual([{ sum: 42, fallback: 'default' }]);
	});

	it("a failed run throws with the failing node's name and message", async () => {
		const error = await n8n.execute(failing.id!).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect(error).toBeInstanceOf(N8nExecutionError);
		expect((error as Error).message).toContain('in node "Fail": Stopped on purpose by the e2e test');
		const { result } = error as N8nExecutionError;
		expect(result.ok).toBe(false);
		expect(result.crashedAtExit ? result.signal : result.exitCode).toBe(result.crashedAtExit ? 'SIGSEGV' : 1);
	});

	it('runs two executions side by side', async () => {
		const first = n8n.startExecution(waiting.id!);
		const second = n8n.startExecution(waiting.id!);
		const [a, b] = await Promise.all([first.result, second.result]);
		expect([a.ok, b.ok]).toEqual([true, true]);
		// Both ran their Wait node over the same seconds, in two processes.
		const span = (r: typeof a) => {
			const task = r.run!.data.resultData.runData.Wait[0] as { startTime: number; executionTime: number };
			return [task.startTime, task.startTime + task.executionTime];
		};
		const [[aStart, aEnd], [bStart, bEnd]] = [span(a), span(b)];
		expect(aStart < bEnd && bStart < aEnd).toBe(true);
	});

	it('kills an execution midway; the database keeps it unfinished', async () => {
		const before = (await n8n.executions()).length;
		const running = n8n.startExecution(waiting.id!);
		// The run is stored before its nodes start; kill once it is in the database.
		const deadline = Date.now() + 60_000;
		while ((await n8n.executions()).length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
		running.kill('SIGKILL');
		const result = await running.result;
		expect(result.signal).toBe('SIGKILL');
		expect(result.ok).toBe(false);
		const executions = await n8n.executions();
		expect(executions).toHaveLength(before + 1);
		expect(executions[executions.length - 1]).toMatchObject({ workflowId: waiting.id, finished: 0 });
		expect(executions[executions.length - 1].status).not.toBe('success');
	});

	it('reads the stored run data of a finished execution back from the database', async () => {
		await n8n.execute(setFields.id!);
		const executions = await n8n.executions();
		const last = executions[executions.length - 1];
		expect(last).toMatchObject({ workflowId: setFields.id, status: 'success', mode: 'cli' });
		const data = await n8n.executionData(last.id);
		expect(data.resultData.runData.Set[0].data?.main?.[0]?.[0]?.json).toEqual({ sum: 42, fallback: 'default' });
	});
});
