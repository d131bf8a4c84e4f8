/**
 * Fetch read rate: members/s for one 20,000-member tag at 120 ms emulator latency, one page at a
 * time versus pages read concurrently within the credential's cap.
 *
 *   npx tsx bench/fetch.ts [--members 20000] [--latency 120]
 */
import type { INode } from 'n8n-workflow';

import { MailchimpClient, resolveMailchimpAuth } from '../nodes/shared/transport/mailchimp';
import { credentialsOf, largeAudience } from '../test/emulators/datasets';
import { startMailchimpEmulator } from '../test/emulators/mailchimp';

const arg = (name: string, fallback: number) => {
	const i = process.argv.indexOf(`--${name}`);
	return i === -1 ? fallback : Number(process.argv[i + 1]);
};

const node: INode = { id: 'bench', name: 'bench', type: 'bench', typeVersion: 1, position: [0, 0], parameters: {} };

export async function benchFetch(members = arg('members', 20_000), latencyMs = arg('latency', 120)) {
	const dataset = largeAudience({ members, tags: [{ name: 'Everyone', share: 1 }], seed: 1, statusMix: { subscribed: 1, unsubscribed: 0, cleaned: 0, pending: 0, transactional: 0, archived: 0 } });
	const emulator = await startMailchimpEmulator({ dataset });
	try {
		emulator.faults.latencyMs = latencyMs;
		const [account] = credentialsOf(dataset);
		const audienceId = account.lists[0].id;
		const auth = await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: emulator.url }, node);
		const rows: Array<{ mode: string; concurrency: number; members: number; seconds: number; rate: number }> = [];
		for (const [mode, concurrency] of [
			['sequential', 1],
			['concurrent', 5],
			['concurrent', 10],
		] as const) {
			const client = new MailchimpClient(auth, node, { concurrency });
			const [tag] = await client.getTags(audienceId);
			const started = process.hrtime.bigint();
			const read = await client.getTagMembers(audienceId, tag);
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			rows.push({ mode, concurrency, members: read.length, seconds: +seconds.toFixed(3), rate: Math.round(read.length / seconds) });
		}
		console.log(`\nFetch read rate, one tag of ${members} members, ${latencyMs} ms emulator latency`);
		console.table(rows);
		console.log(`concurrent(5) / sequential = ${(rows[1].rate / rows[0].rate).toFixed(1)}x`);
		return rows;
	} finally {
		await emulator.close();
	}
}

if (require.main === module) {
	benchFetch().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
