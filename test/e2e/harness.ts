/**
 * Real-n8n end-to-end harness: drives the pinned n8n 2.41.1 (scripts/n8n-runtime.ts) through its CLI.
 *
 * A suite gets its own n8n user folder (fresh SQLite database, generated encryption key) with this package
 * installed the way a self-hosted user installs it: `npm install <tarball>` in `<userFolder>/.n8n/nodes`, so
 * node types are `n8n-nodes-mailchimp-hub-sync.<node>`. Credentials and workflows go in with n8n's import
 * commands, workflows run with `n8n execute --id --rawOutput`, and results come back parsed.
 *
 *   const n8n = await N8nSuite.create({ name: 'fetch' });
 *   await n8n.importCredentials([{ id: 'mcKey0000000001', name: 'Mailchimp', type: 'mailchimpHubSyncApi', data: {...} }]);
 *   await n8n.importWorkflows([workflow]);
 *   const run = await n8n.execute(workflow.id);       // throws N8nExecutionError with the node's message
 *   const members = run.itemsOf('Fetch Tagged Members');
 *   await n8n.dispose();
 *
 * Test files call `jest.setTimeout(E2E_TIMEOUT_MS)`: the first suite may install the runtime (minutes).
 * Every n8n command is timed (`suite.timings`) and logged on stderr unless N8N_E2E_QUIET=1.
 * N8N_E2E_KEEP=1 keeps the user folders for inspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { ensureN8nRuntime, type N8nRuntime } from '../../scripts/n8n-runtime';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const PROBE = path.join(__dirname, 'probe.js');
const DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;
/** For `jest.setTimeout` in e2e test files (jest reads `testTimeout` only at the top level of its config). */
export const E2E_TIMEOUT_MS = 10 * 60 * 1000;

// ---------------------------------------------------------------------------------------------------------------
// Types

export interface CredentialFixture {
	/** n8n credential ids are free strings; keep them short and unique (they are referenced by workflows). */
	id: string;
	name: string;
	/** Credential type name, e.g. `mailchimpHubSyncOAuth2Api`. */
	type: string;
	/** Plain (unencrypted) data: n8n encrypts it on import. OAuth2 tokens go in `oauthTokenData`. */
	data: Record<string, unknown>;
}

export interface WorkflowFixture {
	/** At most 21 characters (n8n's limit); generated when absent. */
	id?: string;
	name: string;
	nodes: Array<Record<string, unknown>>;
	connections: Record<string, unknown>;
	settings?: Record<string, unknown>;
	[key: string]: unknown;
}

export interface N8nCommandResult {
	args: string[];
	exitCode: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	durationMs: number;
	/** True when the harness killed it because it ran past its timeout. */
	timedOut: boolean;
}

/** n8n's error object as `n8n execute` prints it (NodeApiError / NodeOperationError serialised). */
export interface N8nRunError {
	message: string;
	description?: string | null;
	name?: string;
	httpCode?: string | null;
	node?: { name: string; type: string };
	[key: string]: unknown;
}

export interface N8nItem {
	json: Record<string, unknown>;
	pairedItem?: unknown;
	[key: string]: unknown;
}

export interface N8nTaskData {
	executionStatus?: string;
	error?: N8nRunError;
	data?: { main?: Array<N8nItem[] | null> };
	[key: string]: unknown;
}

/** What `n8n execute --rawOutput` prints: an IRun. */
export interface N8nRun {
	status: string;
	finished: boolean;
	mode: string;
	startedAt: string;
	stoppedAt?: string;
	data: {
		resultData: {
			runData: Record<string, N8nTaskData[]>;
			lastNodeExecuted?: string;
			error?: N8nRunError;
		};
		[key: string]: unknown;
	};
	[key: string]: unknown;
}

export interface ExecutionResult extends N8nCommandResult {
	workflowId: string;
	/** The parsed run; undefined when n8n printed none (it crashed, or the workflow does not exist). */
	run: N8nRun | undefined;
	ok: boolean;
	error: N8nRunError | undefined;
	/**
	 * n8n died of SIGSEGV while shutting down, after its run had ended (succeeded, or failed with its
	 * error recorded): the run is complete and its outcome stands; only the exit code is lost.
	 */
	crashedAtExit: boolean;
	/** JSON of the items a node put on one of its outputs (default: first output, last run of the node). */
	itemsOf(nodeName: string, output?: number, runIndex?: number): Array<Record<string, unknown>>;
}

export interface RunningExecution {
	/** Process id of n8n; undefined until the process has been spawned. */
	readonly pid: number | undefined;
	/** Settles when the process ends (killed or not); never rejects for a failed workflow. */
	result: Promise<ExecutionResult>;
	/** Output so far. */
	stdout(): string;
	/** Kills n8n and its task runner (the whole process group). */
	kill(signal?: NodeJS.Signals): void;
}

export interface ExecutionRow {
	id: number;
	workflowId: string;
	status: string;
	mode: string;
	finished: number;
	startedAt: string | null;
	stoppedAt: string | null;
}

export interface LoadedPackage {
	packageName: string;
	nodes: Array<{ name: string; className: string; sourcePath: string; displayName: string; credentials: string[] }>;
	credentials: Array<{
		name: string;
		className: string;
		sourcePath: string;
		displayName: string;
		extends: string[];
		hasTest: boolean;
		hasAuthenticate: boolean;
	}>;
}

export interface Timing {
	command: string;
	ms: number;
}

export class N8nExecutionError extends Error {
	constructor(
		message: string,
		readonly result: ExecutionResult,
	) {
		super(message);
		this.name = 'N8nExecutionError';
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Output parsing

/**
 * `n8n execute --rawOutput` prints log lines (task broker, license notices) and then the run as pretty-printed
 * JSON through its logger (so N8N_LOG_LEVEL must be info or lower). The JSON starts at the first line that is
 * `{` and ends at a line that is `}`; later lines could be more log output.
 */
export function parseRunOutput(stdout: string): N8nRun | undefined {
	const lines = stdout.split('\n');
	const start = lines.findIndex((line) => line.startsWith('{'));
	if (start === -1) return undefined;
	for (let end = start; end < lines.length; end++) {
		if (!lines[end].startsWith('}')) continue;
		try {
			return JSON.parse(lines.slice(start, end + 1).join('\n')) as N8nRun;
		} catch {
			// a `}` line inside a multi-line string value; keep looking
		}
	}
	return undefined;
}

function itemsOf(run: N8nRun | undefined, nodeName: string, output = 0, runIndex?: number): Array<Record<string, unknown>> {
	const runs = run?.data.resultData.runData[nodeName];
	if (!runs || runs.length === 0) {
		const ran = Object.keys(run?.data.resultData.runData ?? {}).join(', ') || 'none';
		throw new Error(`Node "${nodeName}" did not run (nodes that ran: ${ran})`);
	}
	const task = runs[runIndex ?? runs.length - 1];
	return (task.data?.main?.[output] ?? []).map((item) => item.json);
}

function tail(text: string, lines = 15): string {
	return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** A readable reason for a failed `n8n execute`: the failing node and its message first. */
function describeFailure(result: ExecutionResult): string {
	const head = `n8n execute --id=${result.workflowId}`;
	if (result.timedOut) return `${head} timed out after ${Math.round(result.durationMs / 1000)} s\n${tail(result.stdout + result.stderr)}`;
	if (result.signal && !result.crashedAtExit) return `${head} was killed by ${result.signal}`;
	const error = result.error;
	if (error) {
		const where = error.node?.name ? ` in node "${error.node.name}"` : '';
		const description = error.description ? ` (${error.description})` : '';
		return `${head} failed${where}: ${error.message}${description}`;
	}
	return `${head} exited with code ${result.exitCode} and printed no run:\n${tail(result.stdout + '\n' + result.stderr)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Package tarball

function hashPackage(packageDir: string): string {
	const hash = createHash('sha256');
	const add = (file: string) => {
		hash.update(path.relative(packageDir, file));
		hash.update(readFileSync(file));
	};
	const walk = (dir: string) => {
		for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
			const full = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(full);
			else add(full);
		}
	};
	add(path.join(packageDir, 'package.json'));
	walk(path.join(packageDir, 'dist'));
	return hash.digest('hex').slice(0, 16);
}

/**
 * `npm pack` of the built package, once per build: the tarball is cached under the OS temp folder by a hash
 * of package.json and dist/, so every suite of a test run installs the same file.
 */
export async function packPackage(packageDir = REPO_ROOT): Promise<string> {
	const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
		name: string;
		n8n?: { nodes?: string[]; credentials?: string[] };
	};
	const listed = [...(manifest.n8n?.nodes ?? []), ...(manifest.n8n?.credentials ?? [])];
	const missing = listed.filter((file) => !existsSync(path.join(packageDir, file)));
	if (!existsSync(path.join(packageDir, 'dist')) || missing.length > 0) {
		throw new Error(`The package is not built (missing: ${missing.join(', ') || 'dist/'}); run "npm run build" first`);
	}
	const cacheDir = path.join(os.tmpdir(), `${manifest.name}-e2e-packs`, hashPackage(packageDir));
	const existing = existsSync(cacheDir) ? readdirSync(cacheDir).find((f) => f.endsWith('.tgz')) : undefined;
	if (existing) return path.join(cacheDir, existing);

	// Pack into a private folder first and rename it into place, so a concurrent run never sees half a file.
	mkdirSync(path.dirname(cacheDir), { recursive: true });
	const staging = mkdtempSync(`${cacheDir}.tmp-`);
	const result = await runProcess('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', staging], {
		cwd: packageDir,
		env: process.env,
	});
	if (result.exitCode !== 0) throw new Error(`npm pack failed:\n${tail(result.stdout + result.stderr)}`);
	try {
		renameSync(staging, cacheDir);
	} catch {
		rmSync(staging, { recursive: true, force: true }); // another run won the race; use its tarball
	}
	const tarball = readdirSync(cacheDir).find((f) => f.endsWith('.tgz'));
	if (!tarball) throw new Error(`npm pack produced no tarball in ${cacheDir}`);
	return path.join(cacheDir, tarball);
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface ProcessOptions {
	cwd: string;
	env: NodeJS.ProcessEnv;
	timeoutMs?: number;
	/** Own process group, so kill() reaches n8n's task-runner child too. */
	detached?: boolean;
	onSpawn?: (child: ChildProcess) => void;
}

function runProcess(cmd: string, args: string[], opts: ProcessOptions): Promise<N8nCommandResult> {
	return new Promise((resolve, reject) => {
		const started = Date.now();
		const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: opts.detached, stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		let timedOut = false;
		child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
		child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
		const timer = setTimeout(() => {
			timedOut = true;
			killTree(child, 'SIGKILL');
		}, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
		child.on('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
		child.on('close', (exitCode, signal) => {
			clearTimeout(timer);
			resolve({ args, exitCode, signal, stdout, stderr, durationMs: Date.now() - started, timedOut });
		});
		opts.onSpawn?.(child);
	});
}

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
	if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
	try {
		process.kill(-child.pid, signal); // the group this harness created for it (detached)
	} catch {
		child.kill(signal);
	}
}

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}

/** Variables of the caller's environment that would change which database or mode n8n uses. */
const INHERITED_N8N_PREFIXES = ['N8N_', 'DB_', 'EXECUTIONS_', 'QUEUE_', 'GENERIC_TIMEZONE', 'NODES_', 'CREDENTIALS_', 'JEST_'];
/**
 * Jest sets NODE_ENV=test, and n8n treats that as its own unit-test mode: commands then exit 0 without doing
 * anything (no database, no import, no output). NODE_OPTIONS could inject the test runner's loaders.
 */
const DROPPED_VARIABLES = new Set(['NODE_ENV', 'NODE_OPTIONS']);

// ---------------------------------------------------------------------------------------------------------------
// Suite

export interface SuiteOptions {
	/** Used in the user folder's name and the timing log. */
	name?: string;
	/** The package to install (default: this repository). */
	packageDir?: string;
	/** Set to false for a bare n8n without the package. */
	installPackage?: boolean;
	/** Extra environment for every n8n command of the suite. */
	env?: Record<string, string>;
}

export class N8nSuite {
	readonly timings: Timing[] = [];
	private readonly running = new Set<ChildProcess>();
	/** User folders of workers, deleted with the suite's. */
	private readonly extraFolders: string[] = [];

	private constructor(
		readonly name: string,
		readonly runtime: N8nRuntime,
		readonly userFolder: string,
		readonly encryptionKey: string,
		private readonly extraEnv: Record<string, string>,
	) {}

	/** Ensures the runtime, makes a fresh user folder and installs the package tarball into it. */
	static async create(options: SuiteOptions = {}): Promise<N8nSuite> {
		const name = options.name ?? 'suite';
		const runtime = await ensureN8nRuntime({ log: quiet() ? () => undefined : undefined });
		const userFolder = mkdtempSync(path.join(os.tmpdir(), `n8n-e2e-${name.replace(/[^a-z0-9-]/gi, '_')}-`));
		const suite = new N8nSuite(name, runtime, userFolder, randomBytes(24).toString('hex'), options.env ?? {});
		if (options.installPackage !== false) {
			const tarball = await suite.timed('npm pack (cached per build)', () => packPackage(options.packageDir ?? REPO_ROOT));
			await suite.installTarball(tarball);
		}
		return suite;
	}

	get nodesFolder(): string {
		return path.join(this.userFolder, '.n8n', 'nodes');
	}

	get databaseFile(): string {
		return path.join(this.userFolder, '.n8n', 'database.sqlite');
	}

	/** Installs a package tarball as a self-hosted user does: a package.json in ~/.n8n/nodes, then npm install. */
	async installTarball(tarball: string): Promise<void> {
		mkdirSync(this.nodesFolder, { recursive: true });
		const manifest = path.join(this.nodesFolder, 'package.json');
		if (!existsSync(manifest)) writeFileSync(manifest, JSON.stringify({ name: 'installed-nodes', private: true, dependencies: {} }, null, 2));
		// Like n8n's own installer (community-packages.service): no install scripts and no peer dependencies, so
		// the package's `require('n8n-workflow')` resolves to n8n's own copy, not a second one from the registry.
		const args = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--legacy-peer-deps', '--prefer-offline', '--loglevel=error', tarball];
		const result = await this.timed('npm install <package>.tgz in .n8n/nodes', () =>
			runProcess('npm', args, { cwd: this.nodesFolder, env: process.env }),
		);
		if (result.exitCode !== 0) throw new Error(`Installing ${path.basename(tarball)} into ${this.nodesFolder} failed:\n${tail(result.stderr)}`);
	}

	/** The environment of every n8n command: isolated, quiet, offline-friendly. */
	env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
		const env: NodeJS.ProcessEnv = {};
		for (const [key, value] of Object.entries(process.env)) {
			if (DROPPED_VARIABLES.has(key) || INHERITED_N8N_PREFIXES.some((prefix) => key.startsWith(prefix))) continue;
			env[key] = value;
		}
		return {
			...env,
			// n8n starts its JS task runner with the first `node` on PATH: it must be Node 24 too.
			PATH: `${path.dirname(this.runtime.nodeBin)}${path.delimiter}${process.env.PATH ?? ''}`,
			N8N_USER_FOLDER: this.userFolder,
			N8N_ENCRYPTION_KEY: this.encryptionKey,
			N8N_LOG_LEVEL: 'info', // --rawOutput prints the run through the logger at info level
			N8N_LOG_OUTPUT: 'console',
			N8N_DIAGNOSTICS_ENABLED: 'false',
			N8N_DISABLE_UI: 'true',
			N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
			N8N_TEMPLATES_ENABLED: 'false',
			N8N_PERSONALIZATION_ENABLED: 'false',
			N8N_HIRING_BANNER_ENABLED: 'false',
			N8N_AI_ENABLED: 'false',
			N8N_PYTHON_ENABLED: 'false',
			N8N_RUNNERS_MODE: 'internal',
			N8N_LISTEN_ADDRESS: '127.0.0.1',
			N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
			GENERIC_TIMEZONE: 'UTC',
			...this.extraEnv,
			...extra,
		};
	}

	/**
	 * Runs any n8n command against this suite's user folder (e.g. `['export:workflow', '--all']`); never throws for
	 * a non-zero exit. Each command gets its own task-broker port, so commands can run side by side.
	 */
	async n8n(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<N8nCommandResult> {
		const env = this.env({ N8N_RUNNERS_BROKER_PORT: String(await freePort()), ...options.env });
		return this.timed(`n8n ${args.join(' ')}`, () =>
			this.track((onSpawn) =>
				runProcess(this.runtime.nodeBin, [this.runtime.n8nBin, ...args], {
					cwd: this.userFolder,
					env,
					timeoutMs: options.timeoutMs,
					detached: true,
					onSpawn,
				}),
			),
		);
	}

	/**
	 * An import or export: the same rows or the same file again when repeated, so one that n8n cut short by
	 * dying of SIGSEGV (see toExecutionResult) is run once more rather than failing the suite.
	 */
	private async n8nRepeatable(args: string[]): Promise<N8nCommandResult> {
		const result = await this.n8n(args);
		if (result.signal !== 'SIGSEGV') return result;
		process.stderr.write(`[n8n-e2e] n8n ${shorten(args.join(' '))} died of SIGSEGV; running it once more\n`);
		return this.n8n(args);
	}

	/** Imports credentials with plain data (n8n encrypts it with the suite's key). */
	async importCredentials(credentials: CredentialFixture[]): Promise<void> {
		const file = this.writeInput('credentials', credentials);
		const result = await this.n8nRepeatable(['import:credentials', `--input=${file}`]);
		if (result.exitCode !== 0) throw new Error(`n8n import:credentials failed:\n${tail(result.stdout + result.stderr)}`);
	}

	/** Imports workflows in one command (one n8n start for all of them); returns their ids in order. */
	async importWorkflows(workflows: WorkflowFixture[]): Promise<string[]> {
		const withIds = workflows.map((workflow) => ({ active: false, settings: {}, ...workflow, id: workflow.id ?? newWorkflowId() }));
		for (const workflow of withIds) {
			if (workflow.id.length > 21) throw new Error(`Workflow id "${workflow.id}" is longer than n8n's 21 characters`);
		}
		const file = this.writeInput('workflows', withIds);
		const result = await this.n8nRepeatable(['import:workflow', `--input=${file}`]);
		if (result.exitCode !== 0) throw new Error(`n8n import:workflow failed:\n${tail(result.stdout + result.stderr)}`);
		return withIds.map((workflow) => workflow.id);
	}

	/** Imports a workflow file (e.g. one of the repository's `workflows/*.json`), optionally changed first. */
	async importWorkflowFile(file: string, change: (workflow: WorkflowFixture) => WorkflowFixture = (w) => w): Promise<string> {
		const workflow = JSON.parse(readFileSync(path.resolve(REPO_ROOT, file), 'utf8')) as WorkflowFixture;
		const [id] = await this.importWorkflows([change(workflow)]);
		return id;
	}

	/** Runs a workflow and returns its run; throws N8nExecutionError (node name + message) when it fails. */
	async execute(workflowId: string, options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecutionResult> {
		const result = await this.tryExecute(workflowId, options);
		if (!result.ok) throw new N8nExecutionError(describeFailure(result), result);
		return result;
	}

	/** Runs a workflow and returns the outcome whatever it is (for tests that expect a failure). */
	async tryExecute(workflowId: string, options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecutionResult> {
		const command = await this.n8n(['execute', `--id=${workflowId}`, '--rawOutput'], options);
		const result = toExecutionResult(workflowId, command);
		if (result.run || (command.exitCode !== 0 && command.signal !== 'SIGSEGV')) return result;
		// n8n ends with process.exit(), which can cut a large run's output short on a pipe; the run is
		// saved in its database all the same, so read it from there.
		return toExecutionResult(workflowId, command, await this.storedRun(workflowId));
	}

	/** The newest stored run of a workflow, shaped as `n8n execute --rawOutput` prints it. */
	private async storedRun(workflowId: string): Promise<N8nRun | undefined> {
		const row = (await this.executions()).filter((e) => e.workflowId === workflowId).pop();
		if (!row) return undefined;
		const data = await this.executionData(row.id);
		return { status: row.status, finished: row.finished === 1, mode: row.mode, startedAt: row.startedAt ?? '', stoppedAt: row.stoppedAt ?? undefined, data };
	}

	/** Starts a workflow without waiting: for concurrent runs and for killing a run midway. */
	startExecution(workflowId: string, options: { env?: Record<string, string>; timeoutMs?: number } = {}): RunningExecution {
		let child: ChildProcess | undefined;
		let killWith: NodeJS.Signals | undefined;
		let output = '';
		const args = ['execute', `--id=${workflowId}`, '--rawOutput'];
		const result = (async () => {
			const env = this.env({ N8N_RUNNERS_BROKER_PORT: String(await freePort()), ...options.env });
			const commandResult = await this.timed(`n8n ${args.join(' ')} (started)`, () =>
				this.track((onSpawn) =>
					runProcess(this.runtime.nodeBin, [this.runtime.n8nBin, ...args], {
						cwd: this.userFolder,
						env,
						timeoutMs: options.timeoutMs,
						detached: true,
						onSpawn: (spawned) => {
							child = spawned;
							spawned.stdout!.on('data', (d: Buffer) => (output += d.toString()));
							onSpawn(spawned);
							if (killWith) killTree(spawned, killWith); // kill() was called before the process existed
						},
					}),
				),
			);
			return toExecutionResult(workflowId, commandResult);
		})();
		return {
			get pid() {
				return child?.pid;
			},
			result,
			stdout: () => output,
			kill: (signal: NodeJS.Signals = 'SIGKILL') => {
				killWith = signal;
				if (child) killTree(child, signal);
			},
		};
	}

	/**
	 * Starts `n8n start` on a free loopback port and sets up its owner, so a test can use the REST API the
	 * editor uses (for instance the credential test behind the editor's "Retry" / save button).
	 */
	async startServer(options: { timeoutMs?: number; ui?: boolean; env?: Record<string, string>; setUpOwner?: boolean } = {}): Promise<N8nServer> {
		const port = await freePort();
		const env = this.env({
			N8N_PORT: String(port),
			N8N_RUNNERS_BROKER_PORT: String(await freePort()),
			N8N_SECURE_COOKIE: 'false',
			// The editor (served only when asked for: the REST tests need no front end).
			...(options.ui ? { N8N_DISABLE_UI: 'false', N8N_EDITOR_BASE_URL: `http://127.0.0.1:${port}` } : {}),
			...options.env,
		});
		let output = '';
		let exited = false;
		const started = Date.now();
		const child = spawn(this.runtime.nodeBin, [this.runtime.n8nBin, 'start'], { cwd: this.userFolder, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		this.running.add(child);
		child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
		child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
		child.on('close', () => {
			exited = true;
			this.running.delete(child);
		});
		const url = `http://127.0.0.1:${port}`;
		const deadline = started + (options.timeoutMs ?? 120_000);
		for (;;) {
			if (exited) throw new Error(`n8n start exited before it was ready:\n${tail(output)}`);
			if (Date.now() > deadline) {
				killTree(child, 'SIGKILL');
				throw new Error(`n8n start was not ready after ${options.timeoutMs ?? 120_000} ms:\n${tail(output)}`);
			}
			const ready = await fetch(`${url}/healthz/readiness`).then((r) => r.ok, () => false);
			if (ready) break;
			await new Promise((r) => setTimeout(r, 250));
		}
		this.timings.push({ command: 'n8n start (until ready)', ms: Date.now() - started });
		if (!quiet()) process.stderr.write(`[n8n-e2e] ${this.name}: n8n start (until ready) ${((Date.now() - started) / 1000).toFixed(2)} s\n`);
		const server = new N8nServer(url, () => {
			killTree(child, 'SIGTERM');
			return new Promise<void>((resolve) => {
				if (exited) return resolve();
				const force = setTimeout(() => killTree(child, 'SIGKILL'), 10_000);
				child.once('close', () => {
					clearTimeout(force);
					resolve();
				});
			});
		}, child.pid);
		// A later server on the same database finds its owner set up already (and then needs no REST call).
		if (options.setUpOwner !== false) await server.setUpOwner();
		return server;
	}

	/**
	 * Starts `n8n worker` (queue mode: the suite's env must carry EXECUTIONS_MODE=queue, PostgreSQL and Redis)
	 * with a user folder of its own, holding its own copy of the installed package, as a separate host has.
	 * Resolves when the worker's health endpoint says it is ready.
	 */
	async startWorker(options: { name: string; concurrency?: number; timeoutMs?: number; env?: Record<string, string> }): Promise<N8nWorker> {
		const folder = `${this.userFolder}-${options.name.replace(/[^a-z0-9-]/gi, '_')}`;
		mkdirSync(path.join(folder, '.n8n'), { recursive: true });
		if (existsSync(this.nodesFolder)) cpSync(this.nodesFolder, path.join(folder, '.n8n', 'nodes'), { recursive: true });
		this.extraFolders.push(folder);
		const healthPort = await freePort();
		const env = this.env({
			N8N_USER_FOLDER: folder,
			N8N_RUNNERS_BROKER_PORT: String(await freePort()),
			QUEUE_HEALTH_CHECK_ACTIVE: 'true',
			QUEUE_HEALTH_CHECK_PORT: String(healthPort),
			...options.env,
		});
		const args = [this.runtime.n8nBin, 'worker', `--concurrency=${options.concurrency ?? 10}`];
		const started = Date.now();
		const child = spawn(this.runtime.nodeBin, args, { cwd: folder, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		this.running.add(child);
		const worker = new N8nWorker(options.name, child);
		child.on('close', () => this.running.delete(child));
		const timeoutMs = options.timeoutMs ?? 120_000;
		for (;;) {
			if (worker.exited) throw new Error(`n8n worker ${options.name} exited before it was ready:\n${tail(worker.output())}`);
			if (Date.now() > started + timeoutMs) {
				killTree(child, 'SIGKILL');
				throw new Error(`n8n worker ${options.name} was not ready after ${timeoutMs} ms:\n${tail(worker.output())}`);
			}
			const ready = await fetch(`http://127.0.0.1:${healthPort}/healthz/readiness`).then((r) => r.ok, () => false);
			if (ready) break;
			await new Promise((r) => setTimeout(r, 250));
		}
		this.timings.push({ command: `n8n worker ${options.name} (until ready)`, ms: Date.now() - started });
		if (!quiet()) process.stderr.write(`[n8n-e2e] ${this.name}: n8n worker ${options.name} (until ready) ${((Date.now() - started) / 1000).toFixed(2)} s\n`);
		return worker;
	}

	/** A workflow as n8n stores it now (including `staticData`), through `n8n export:workflow`. */
	async exportWorkflow(workflowId: string): Promise<WorkflowFixture & { staticData?: unknown }> {
		const file = path.join(this.userFolder, 'io', `export-${workflowId}-${Date.now()}.json`);
		mkdirSync(path.dirname(file), { recursive: true });
		const result = await this.n8nRepeatable(['export:workflow', `--id=${workflowId}`, `--output=${file}`]);
		if (result.exitCode !== 0) throw new Error(`n8n export:workflow failed:\n${tail(result.stdout + result.stderr)}`);
		const exported = JSON.parse(readFileSync(file, 'utf8')) as WorkflowFixture[] | WorkflowFixture;
		return Array.isArray(exported) ? exported[0] : exported;
	}

	/** All stored credentials with their data decrypted (`n8n export:credentials --all --decrypted`). */
	async exportCredentials(): Promise<CredentialFixture[]> {
		const file = path.join(this.userFolder, 'io', `credentials-export-${Date.now()}.json`);
		mkdirSync(path.dirname(file), { recursive: true });
		const result = await this.n8nRepeatable(['export:credentials', '--all', '--decrypted', `--output=${file}`]);
		if (result.exitCode !== 0 || !existsSync(file)) throw new Error(`n8n export:credentials failed:\n${tail(result.stdout + result.stderr)}`);
		return JSON.parse(readFileSync(file, 'utf8')) as CredentialFixture[];
	}

	/** Runs one read-only SQL query on the suite's n8n database. */
	async query(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
		return (await this.probe(['sql', this.databaseFile, sql, JSON.stringify(params)])) as Array<Record<string, unknown>>;
	}

	/** The executions table of the suite's database (newest last). */
	async executions(): Promise<ExecutionRow[]> {
		return (await this.probe([
			'sql',
			this.databaseFile,
			'SELECT id, workflowId, status, mode, finished, startedAt, stoppedAt FROM execution_entity ORDER BY id',
		])) as ExecutionRow[];
	}

	/** Stored run data of one execution (as n8n saved it in the database). */
	async executionData(executionId: number): Promise<N8nRun['data']> {
		return (await this.probe(['execution-data', path.dirname(path.dirname(this.runtime.n8nBin)), this.databaseFile, String(executionId)])) as N8nRun['data'];
	}

	/** Run data as n8n stores it (the "flatted" text of execution_data.data), parsed with n8n's own parser. */
	async unflatten(stored: string): Promise<N8nRun['data']> {
		const file = this.writeInput('execution-data', '');
		writeFileSync(file, stored);
		return (await this.probe(['unflatten', path.dirname(path.dirname(this.runtime.n8nBin)), file])) as N8nRun['data'];
	}

	/** All node types n8n knows, from `n8n export:nodes` (n8n's full start-up loading, community packages included). */
	async exportNodeTypes(): Promise<{ types: Array<Record<string, unknown> & { name: string }>; result: N8nCommandResult }> {
		const file = path.join(this.userFolder, 'io', `nodes-${Date.now()}.json`);
		mkdirSync(path.dirname(file), { recursive: true });
		const result = await this.n8nRepeatable(['export:nodes', `--output=${file}`]);
		if (result.exitCode !== 0 || !existsSync(file)) throw new Error(`n8n export:nodes failed:\n${tail(result.stdout + result.stderr)}`);
		return { types: JSON.parse(readFileSync(file, 'utf8')), result };
	}

	/** Loads the installed package with n8n-core's own package loader and reports its nodes and credentials. */
	async loadInstalledPackage(packageName: string): Promise<LoadedPackage> {
		const packageDir = path.join(this.nodesFolder, 'node_modules', packageName);
		return (await this.probe(['load-package', path.dirname(path.dirname(this.runtime.n8nBin)), packageDir])) as LoadedPackage;
	}

	/** Kills whatever this suite still runs and deletes the user folder (kept with N8N_E2E_KEEP=1). */
	async dispose(): Promise<void> {
		for (const child of this.running) killTree(child, 'SIGKILL');
		const deadline = Date.now() + 10_000;
		while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
		if (!quiet()) {
			const total = this.timings.reduce((sum, t) => sum + t.ms, 0);
			process.stderr.write(`[n8n-e2e] ${this.name}: ${this.timings.length} commands, ${(total / 1000).toFixed(1)} s\n`);
		}
		if (process.env.N8N_E2E_KEEP === '1') process.stderr.write(`[n8n-e2e] kept user folder ${this.userFolder}\n`);
		else for (const folder of [this.userFolder, ...this.extraFolders]) rmSync(folder, { recursive: true, force: true });
	}

	private async probe(args: string[]): Promise<unknown> {
		// Not timed: tests poll the database with it, and it takes tens of milliseconds.
		const result = await runProcess(this.runtime.nodeBin, [PROBE, ...args], { cwd: this.userFolder, env: this.env() });
		if (result.exitCode !== 0) throw new Error(`probe ${args[0]} failed:\n${tail(result.stderr)}`);
		return JSON.parse(result.stdout);
	}

	private writeInput(kind: string, data: unknown): string {
		const file = path.join(this.userFolder, 'io', `${kind}-${Date.now()}-${randomBytes(3).toString('hex')}.json`);
		mkdirSync(path.dirname(file), { recursive: true });
		writeFileSync(file, JSON.stringify(data, null, 2));
		return file;
	}

	private async track(run: (onSpawn: (child: ChildProcess) => void) => Promise<N8nCommandResult>): Promise<N8nCommandResult> {
		let tracked: ChildProcess | undefined;
		try {
			return await run((child) => {
				tracked = child;
				this.running.add(child);
			});
		} finally {
			if (tracked) this.running.delete(tracked);
		}
	}

	private async timed<T>(command: string, fn: () => Promise<T>): Promise<T> {
		const started = Date.now();
		try {
			return await fn();
		} finally {
			const ms = Date.now() - started;
			this.timings.push({ command, ms });
			if (!quiet()) process.stderr.write(`[n8n-e2e] ${this.name}: ${shorten(command)} ${(ms / 1000).toFixed(2)} s\n`);
		}
	}
}

/** A running `n8n start`, signed in as its owner, with the editor's REST API (`/rest/...`). */
export class N8nServer {
	private cookie = '';
	// n8n binds the session cookie to the browser that signed in; a fixed id plays that browser.
	private readonly browserId = randomBytes(16).toString('hex');
	/** The owner's sign-in, for a real browser to sign in with as a user does. */
	readonly owner = { email: 'owner@example.com', password: `Owner-${randomBytes(6).toString('hex')}1` };

	constructor(
		readonly url: string,
		readonly stop: () => Promise<void>,
		/** The `n8n start` process (its task runner is in its process group): for memory readings. */
		readonly pid?: number,
	) {}

	async setUpOwner(): Promise<void> {
		const { status, body } = await this.rest('POST', '/rest/owner/setup', { ...this.owner, firstName: 'Test', lastName: 'Owner' });
		if (status !== 200) throw new Error(`n8n owner setup answered ${status}: ${JSON.stringify(body)}`);
	}

	/** One REST call as the signed-in owner; `body` is the parsed answer (n8n wraps most in `{ data }`). */
	async rest(method: string, route: string, payload?: unknown): Promise<{ status: number; body: unknown }> {
		const response = await fetch(`${this.url}${route}`, {
			method,
			headers: {
				'content-type': 'application/json',
				'browser-id': this.browserId,
				...(this.cookie ? { cookie: this.cookie } : {}),
			},
			body: payload === undefined ? undefined : JSON.stringify(payload),
		});
		const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('n8n-auth='));
		if (setCookie) this.cookie = setCookie.split(';')[0];
		const text = await response.text();
		let body: unknown = text;
		try {
			body = JSON.parse(text);
		} catch {
			// not JSON: keep the text
		}
		return { status: response.status, body };
	}

	/** Runs a saved workflow as the editor's "Execute workflow" does, from the given trigger; returns the execution id. */
	async runManually(workflowId: string, triggerName: string): Promise<string> {
		const { status, body } = await this.rest('POST', `/rest/workflows/${workflowId}/run`, { triggerToStartFrom: { name: triggerName } });
		const executionId = (body as { data?: { executionId?: string } }).data?.executionId;
		if (status !== 200 || !executionId) throw new Error(`manual run of ${workflowId} answered ${status}: ${JSON.stringify(body)}`);
		return String(executionId);
	}

	/** Publishes (activates) the workflow's current version, so its triggers fire; or deactivates it. */
	async setActive(workflowId: string, active: boolean): Promise<void> {
		const current = await this.rest('GET', `/rest/workflows/${workflowId}`);
		const versionId = (current.body as { data?: { versionId?: string } }).data?.versionId;
		const { status, body } = active
			? await this.rest('POST', `/rest/workflows/${workflowId}/activate`, { versionId })
			: await this.rest('POST', `/rest/workflows/${workflowId}/deactivate`, {});
		if (status !== 200) throw new Error(`${active ? 'activating' : 'deactivating'} ${workflowId} answered ${status}: ${JSON.stringify(body)}`);
	}

	/** The editor's credential test of a stored credential, with the data the form holds (`POST /rest/credentials/test`). */
	async testCredential(credential: { id: string; name: string; type: string; data: Record<string, unknown> }): Promise<{ status: string; message: string }> {
		const { status, body } = await this.rest('POST', '/rest/credentials/test', { credentials: credential });
		if (status !== 200) throw new Error(`credential test of ${credential.name} answered ${status}: ${JSON.stringify(body)}`);
		return (body as { data: { status: string; message: string } }).data;
	}
}

/** A running `n8n worker`: which executions it took (from its log), and a way to stop or kill it. */
export class N8nWorker {
	private log = '';
	exited = false;

	constructor(
		readonly name: string,
		private readonly child: ChildProcess,
	) {
		child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
		child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
		child.on('close', () => (this.exited = true));
	}

	get pid(): number | undefined {
		return this.child.pid;
	}

	output(): string {
		return this.log;
	}

	/** Ids of the executions this worker started, in order (n8n logs "Worker started execution <id>"). */
	executions(): string[] {
		return [...this.log.matchAll(/Worker started execution (\d+)/g)].map((m) => m[1]);
	}

	/** Kills the worker and its task runner (the whole process group) and waits until it is gone. */
	async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
		if (this.exited) return;
		const closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
		killTree(this.child, signal);
		const force = signal === 'SIGKILL' ? undefined : setTimeout(() => killTree(this.child, 'SIGKILL'), 10_000);
		await closed;
		if (force) clearTimeout(force);
	}
}

function toExecutionResult(workflowId: string, result: N8nCommandResult, stored?: N8nRun): ExecutionResult {
	const run = stored ?? parseRunOutput(result.stdout);
	const error = run?.data.resultData.error;
	const succeeded = run !== undefined && !error && run.status === 'success';
	// n8n 2.41.1 here sometimes dies of SIGSEGV while shutting down, after a run that has ended (a workflow
	// of only a Manual Trigger and a No Op does it too, as does one that stops with an error): the run is
	// complete, say so and judge it by its own outcome.
	const ended = run !== undefined && (succeeded ? run.finished : run.status === 'error' && error !== undefined);
	const crashedAtExit = result.signal === 'SIGSEGV' && ended;
	if (crashedAtExit) process.stderr.write(`[n8n-e2e] n8n crashed with SIGSEGV after the run of ${workflowId} had ended (${run?.status}); run data complete\n`);
	const ok = (result.exitCode === 0 || crashedAtExit) && succeeded;
	return { ...result, workflowId, run, ok, error, crashedAtExit, itemsOf: (node, output, runIndex) => itemsOf(run, node, output, runIndex) };
}

function newWorkflowId(): string {
	return randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 16);
}

function quiet(): boolean {
	return process.env.N8N_E2E_QUIET === '1';
}

function shorten(command: string): string {
	return command.replace(/--(input|output)=\S+/g, (_, flag: string) => `--${flag}=…`);
}
