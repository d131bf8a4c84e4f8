/**
 * Fetch read rate: members/s for one 20,000-member tag at 120 ms emulator latency, read the way Fetch
 * Tagged Members reads it (`getTagMembers` with the tag as `getTags` lists it), at several concurrencies.
 *
 * The emulator runs in a process of its own (`test/emulators/cli.ts`): in this process it would build and
 * serialise its pages on the same event loop that parses them, and the bench would measure its emulator.
 * Its latency covers its work (`latencyCoversWork`): it builds a page at once and answers at the latency's
 * end, as an API working in parallel does, instead of queueing concurrent pages' work after the latency.
 *
 *   npx tsx bench/fetch.ts [--members 20000] [--latency 120]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { INode } from 'n8n-workflow';

import { MailchimpClient, resolveMailchimpAuth } from '../nodes/shared/transport/mailchimp';
import { largeAudience } from '../test/emulators/datasets';

const REPO = path.resolve(__dirname, '..');
const arg = (name: string, fallback: number) => {
	const i = process.argv.indexOf(`--${name}`);
	return i === -1 ? fallback : Number(process.argv[i + 1]);
};

const node: INode = { id: 'bench', name: 'bench', type: 'bench', typeVersion: 1, position: [0, 0], parameters: {} };

interface EmulatorProcess {
	child: ChildProcess;
	url: string;
	apiKey: string;
	audienceId: string;
}

/** Starts `npm run emulators` (its CLI) on a dataset file and reads the URLs and credentials it prints. */
async function startEmulatorProcess(datasetFile: string): Promise<EmulatorProcess> {
	const tsx = path.join(REPO, 'node_modules', '.bin', 'tsx');
	const child = spawn(tsx, [path.join(REPO, 'test', 'emulators', 'cli.ts'), '--dataset', datasetFile, '--json'], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
	const line = await new Promise<string>((resolve, reject) => {
		let out = '';
		child.stdout!.on('data', (d: Buffer) => {
			out += d.toString();
			const end = out.indexOf('\n');
			if (end !== -1) resolve(out.slice(0, end));
		});
		child.on('error', reject);
		child.on('close', (code) => reject(new Error(`the emulator process exited with ${code} before it was ready`)));
	});
	const printed = JSON.parse(line) as { mailchimp: { url: string; accounts: Array<{ apiKey: string; lists: Array<{ id: string }> }> } };
	const [account] = printed.mailchimp.accounts;
	return { child, url: printed.mailchimp.url, apiKey: account.apiKey, audienceId: account.lists[0].id };
}

export async function benchFetch(members = arg('members', 20_000), latencyMs = arg('latency', 120)) {
	const dataset = largeAudience({ members, tags: [{ name: 'Everyone', share: 1 }], seed: 1, statusMix: { subscribed: 1, unsubscribed: 0, cleaned: 0, pending: 0, transactional: 0, archived: 0 } });
	const folder = mkdtempSync(path.join(os.tmpdir(), 'bench-fetch-'));
	const datasetFile = path.join(folder, 'dataset.json');
	writeFileSync(datasetFile, JSON.stringify(dataset));
	const emulator = await startEmulatorProcess(datasetFile);
	try {
		const faults = await fetch(`${emulator.url}/_control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs, latencyCoversWork: true }) });
		if (!faults.ok) throw new Error(`setting the emulator's latency answered ${faults.status}`);
		const auth = await resolveMailchimpAuth('apiKey', { apiKey: emulator.apiKey, apiBaseUrl: emulator.url }, node);
		const rows: Array<{ concurrency: number; members: number; requests: number; seconds: number; rate: number; bound: number; 'of bound': string }> = [];
		for (const concurrency of [1, 5, 8, 10]) {
			const client = new MailchimpClient(auth, node, { concurrency });
			const [tag] = await client.getTags(emulator.audienceId);
			const before = await requestCount(emulator.url);
			const started = process.hrtime.bigint();
			const read = await client.getTagMembers(emulator.audienceId, tag);
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			const requests = (await requestCount(emulator.url)) - before;
			// What the latency allows: the pages in rounds of `concurrency`, one latency each.
			const bound = Math.round(read.length / (Math.ceil(requests / concurrency) * (latencyMs / 1000)));
			const rate = Math.round(read.length / seconds);
			rows.push({ concurrency, members: read.length, requests, seconds: +seconds.toFixed(3), rate, bound, 'of bound': `${Math.round((100 * rate) / bound)} %` });
		}
		console.log(`\nFetch read rate, one tag of ${members} members, ${latencyMs} ms emulator latency (emulator in its own process)`);
		console.table(rows);
		const at = (c: number) => rows.find((r) => r.concurrency === c)!.rate;
		console.log(`concurrency 8 / 1 = ${(at(8) / at(1)).toFixed(1)}x; pages of ${Math.ceil(members / 1000)} at 10 connections bound ≈ ${Math.round(members / (Math.ceil(members / 10_000) * (latencyMs / 1000)))} members/s`);
		return rows;
	} finally {
		emulator.child.kill('SIGTERM');
		rmSync(folder, { recursive: true, force: true });
	}
}

/** Tag-member page requests the emulator has answered so far (its per-route counters). */
async function requestCount(url: string): Promise<number> {
	const response = await fetch(`${url}/_control/counters`);
	if (!response.ok) throw new Error(`reading the emulator's counters answered ${response.status}`);
	const counters = (await response.json()) as Record<string, number>;
	return Object.entries(counters)
		.filter(([route]) => route.includes('/segments/') && route.endsWith('/members'))
		.reduce((sum, [, n]) => sum + n, 0);
}

if (require.main === module) {
	benchFetch().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
