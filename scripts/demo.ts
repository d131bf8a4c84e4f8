/**
 * `npm run demo`: the product on a laptop, with no Mailchimp or Hub account. Installs the pinned n8n
 * (once, cached), starts both emulators with a sample audience, installs this package into a fresh
 * n8n user folder the way a user does, imports the shipped sync workflow and runs it in the real n8n:
 * once to sync, once after a change in Mailchimp to show that only the change travels.
 */
import { credentialsOf, demoDataset } from '../test/emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator } from '../test/emulators/hub';
import { startMailchimpEmulator } from '../test/emulators/mailchimp';
import { N8nSuite, type ExecutionResult } from '../test/e2e/harness';
import { SYNC_TEMPLATE, configureSyncTemplate } from '../test/e2e/templates';

const TAGS = ['SMS Opt-in', 'VIP'];
const CREDENTIALS = {
	mailchimp: { id: 'demoMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'demoHub', name: 'Sinch Hub (emulator)', type: 'sinchHubApi' },
};

type Json = Record<string, any>;

/** A node's items on one output; none when the node had nothing to do and did not run. */
function itemsOf(run: ExecutionResult, node: string, output = 0): Json[] {
	return run.run?.data.resultData.runData[node] ? (run.itemsOf(node, output) as Json[]) : [];
}

function report(run: ExecutionResult, hubWrites: number) {
	const done = itemsOf(run, 'Upsert Hub Contact');
	const removed = itemsOf(run, 'Remove From Hub');
	const problems = [
		...itemsOf(run, 'Map Fields', 1).map((i) => ({ member: i.member?.email, problem: i.reason })),
		...itemsOf(run, 'Upsert Hub Contact', 1).map((i) => ({ member: i.member?.email, problem: i.error })),
	];
	if (done.length + removed.length > 0) {
		console.table(
			[...done, ...removed].map((i) => ({
				member: i.member?.email ?? i.email,
				phone: i.contact?.phone ?? i.sync?.phone ?? '',
				'in the Hub': i.hub?.action,
				subscription: i.hub?.subscription ?? '',
			})),
		);
	}
	if (problems.length > 0) {
		console.log('Not synced:');
		console.table(problems);
	}
	const [release] = itemsOf(run, 'Release Sync Lock');
	console.log(`${release.message}. Hub write requests: ${hubWrites}. Took ${(run.durationMs / 1000).toFixed(1)} s in n8n.\n`);
}

async function main() {
	const dataset = demoDataset();
	const [account] = credentialsOf(dataset);
	const audience = account.lists[0];
	const mailchimp = await startMailchimpEmulator({ dataset });
	const hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
	console.log(`Mailchimp emulator: ${mailchimp.url} (audience "${audience.name}")`);
	console.log(`Hub emulator:       ${hub.url}`);
	console.log('Preparing n8n 2.41.1 with this package installed (the first time installs n8n: a few minutes)…');
	const n8n = await N8nSuite.create({ name: 'demo' });
	const writes = () =>
		[...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) \/api\//.test(route)).reduce((n, [, c]) => n + c, 0);
	try {
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimp, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
			{
				...CREDENTIALS.hub,
				data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url },
			},
		]);
		const id = await n8n.importWorkflowFile(SYNC_TEMPLATE, configureSyncTemplate({ audienceId: audience.id, tags: TAGS, ...CREDENTIALS }));

		console.log(`\n1. First sync of the members tagged ${TAGS.map((t) => `"${t}"`).join(' or ')}:`);
		report(await n8n.execute(id), writes());

		const someone = dataset.accounts[0].lists[0].members.find((m) => m.status === 'subscribed' && m.tags?.includes('VIP'))!;
		mailchimp.state.updateMember(audience.id, someone.email_address, { merge_fields: { LNAME: 'Changed-in-Mailchimp' } });
		hub.counters.clear();
		console.log(`2. ${someone.email_address} got a new last name in Mailchimp; the daily run carries only that:`);
		report(await n8n.execute(id), writes());
	} finally {
		await n8n.dispose();
		await mailchimp.close();
		await hub.close();
	}
}

main().catch((error) => {
	console.error(error instanceof Error ? error.message : error);
	process.exit(1);
});
