/**
 * `npm run demo`: the product on a laptop, with no Mailchimp or Hub account. Installs the pinned n8n
 * (once, cached), starts both emulators with the sample audience, installs this package into a
 * fresh n8n user folder the way a user does, imports the shipped workflow and runs it in the real
 * n8n, then prints what it did.
 */
import { credentialsOf, demoDataset } from '../test/emulators/datasets';
import { startMailchimpEmulator } from '../test/emulators/mailchimp';
import { N8nSuite, type WorkflowFixture } from '../test/e2e/harness';

const TAGS = ['SMS Opt-in', 'VIP'];

async function main() {
	const dataset = demoDataset();
	const [account] = credentialsOf(dataset);
	const audience = account.lists[0];
	const mailchimp = await startMailchimpEmulator({ dataset });
	console.log(`Mailchimp emulator: ${mailchimp.url} (audience "${audience.name}", ${audience.id})`);

	console.log('Preparing n8n 2.41.1 with this package installed (the first time installs n8n, a few minutes)…');
	const n8n = await N8nSuite.create({ name: 'demo' });
	try {
		await n8n.importCredentials([
			{
				id: 'demoMailchimp',
				name: 'Mailchimp (emulator)',
				type: 'mailchimpHubSyncApi',
				data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url },
			},
		]);
		const id = await n8n.importWorkflowFile('workflows/fetch-tagged-members.json', (workflow: WorkflowFixture) => ({
			...workflow,
			nodes: workflow.nodes.map((node) =>
				node.name === 'Fetch Tagged Members'
					? {
							...node,
							parameters: {
								...(node.parameters as object),
								authentication: 'apiKey',
								audience: { __rl: true, mode: 'id', value: audience.id },
								tags: `={{ ${JSON.stringify(TAGS.join(','))} }}`,
							},
							credentials: { mailchimpHubSyncApi: { id: 'demoMailchimp', name: 'Mailchimp (emulator)' } },
						}
					: node,
			),
		}));
		console.log(`Running "Fetch Tagged Members" for the tags ${TAGS.map((t) => `"${t}"`).join(' and ')} in n8n…`);
		const result = await n8n.execute(id);
		const members = result.itemsOf('Fetch Tagged Members');
		console.table(
			members.map((m) => ({
				email: m.email,
				name: m.fullName,
				status: m.status,
				'SMS phone': m.smsPhone ?? '',
				'PHONE field': (m.mergeFields as Record<string, unknown>).PHONE ?? '',
				tags: (m.tags as string[]).join(', '),
			})),
		);
		console.log(`${members.length} members in n8n ${result.durationMs} ms.`);
	} finally {
		await n8n.dispose();
		await mailchimp.close();
	}
}

main().catch((error) => {
	console.error(error instanceof Error ? error.message : error);
	process.exit(1);
});
