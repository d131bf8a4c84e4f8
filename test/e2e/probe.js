/**
 * Helper run by the n8n runtime's Node 24 (not by jest): it reaches into n8n's own modules and the user
 * folder's database, which the tests (on their own module tree) cannot load.
 *
 *   node probe.js load-package <n8nPackageDir> <installedPackageDir>
 *       Loads one installed community package with n8n-core's PackageDirectoryLoader, the class n8n uses
 *       for packages without a lazy-load manifest, and prints what it loaded.
 *   node probe.js sql <databaseFile> <sql> [paramsJson]
 *       Runs one read-only query on n8n's SQLite database and prints the rows.
 *   node probe.js execution-data <n8nPackageDir> <databaseFile> <executionId>
 *       Prints the stored run data of one execution (n8n stores it in the "flatted" format).
 *   node probe.js unflatten <n8nPackageDir> <file>
 *       Prints the run data in a file as n8n stored it (flatted), e.g. read from n8n's PostgreSQL database.
 *
 * Prints one JSON document on stdout; on failure prints the reason on stderr and exits 1.
 */
'use strict';
const Module = require('node:module');
const path = require('node:path');

/** Makes n8n's own dependencies resolvable, as n8n itself does for community packages at start. */
function useN8nModulePaths(n8nDir) {
	const paths = Module._nodeModulePaths(path.join(n8nDir, 'dist'));
	process.env.NODE_PATH = [...paths, process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
	Module._initPaths();
	return (name) => require(require.resolve(name, { paths }));
}

async function loadPackage(n8nDir, packageDir) {
	const req = useN8nModulePaths(n8nDir);
	const { PackageDirectoryLoader } = req('n8n-core');
	const loader = new PackageDirectoryLoader(packageDir);
	await loader.loadAll();
	const nodes = Object.entries(loader.known.nodes).map(([name, known]) => {
		const type = loader.nodeTypes[name].type;
		// A versioned node keeps its per-version descriptions apart; its current version is what users get.
		const description = 'nodeVersions' in type ? type.nodeVersions[type.currentVersion].description : type.description;
		return {
			name,
			className: known.className,
			sourcePath: known.sourcePath,
			displayName: description.displayName,
			credentials: (description.credentials || []).map((c) => c.name),
		};
	});
	const credentials = Object.entries(loader.known.credentials).map(([name, known]) => {
		const type = loader.credentialTypes[name].type;
		return {
			name,
			className: known.className,
			sourcePath: known.sourcePath,
			displayName: type.displayName,
			extends: type.extends || [],
			hasTest: Boolean(type.test),
			hasAuthenticate: Boolean(type.authenticate),
		};
	});
	return { packageName: loader.packageName, nodes, credentials };
}

function sql(databaseFile, query, paramsJson) {
	const { DatabaseSync } = require('node:sqlite');
	const db = new DatabaseSync(databaseFile, { readOnly: true });
	try {
		const params = paramsJson ? JSON.parse(paramsJson) : [];
		return db.prepare(query).all(...params);
	} finally {
		db.close();
	}
}

function executionData(n8nDir, databaseFile, executionId) {
	const req = useN8nModulePaths(n8nDir);
	const rows = sql(databaseFile, 'SELECT data FROM execution_data WHERE executionId = ?', JSON.stringify([executionId]));
	if (rows.length === 0) throw new Error(`No stored data for execution ${executionId}`);
	return req('flatted').parse(rows[0].data);
}

async function main() {
	const [command, ...args] = process.argv.slice(2);
	let result;
	if (command === 'load-package') result = await loadPackage(args[0], args[1]);
	else if (command === 'sql') result = sql(args[0], args[1], args[2]);
	else if (command === 'execution-data') result = executionData(args[0], args[1], args[2]);
	else if (command === 'unflatten') result = useN8nModulePaths(args[0])('flatted').parse(require('node:fs').readFileSync(args[1], 'utf8'));
	else throw new Error(`Unknown probe command "${command}"`);
	process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error) => {
	process.stderr.write(`${error && error.stack ? error.stack : String(error)}\n`);
	process.exit(1);
});
