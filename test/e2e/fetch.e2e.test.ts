/**
 * Fetch Tagged Members in the real n8n 2.41.1: the shipped workflow, imported as a user would,
 * returns exactly the members of the selected tags of a seeded Mailchimp emulator, with either
 * credential, with "any" and "all", and through injected 429s and latency; bad input fails clearly.
 */
import { credentialsOf, demoDataset } from '../emulators/datasets';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { E2E_TIMEOUT_MS, N8nSuite, type WorkflowFixture } from './harness';

jest.setTimeout(E2E_TIMEOUT_MS);

const TEMPLATE = 'workflows/fetch-tagged-members.json';
const FETCH = 'Fetch Tagged Members';

describe('Fetch Tagged Members in the real n8n', () => {
	const dataset = demoDataset();
	const [account] = credentialsOf(dataset);
	const audience = dataset.accounts[0].lists[0];
	let mailchimp: MailchimpEmulator;
	let n8n: N8nSuite;

	/** What the workflow should return, worked out from the dataset itself. */
	function expectedEmails(tags: string[], match: 'any' | 'all'): string[] {
		return audience.members
			.filter((m) => m.status === 'subscribed')
			.filter((m) => {
				const hits = tags.filter((t) => (m.tags ?? []).includes(t)).length;
				return match === 'all' ? hits === tags.length : hits > 0;
			})
			.map((m) => m.email_address)
			.sort();
	}

	const tagIds = (names: string[]) => {
		const segments = mailchimp.state.dump().accounts[0].lists[0].segments ?? [];
		return names.map((name) => String(segments.find((s) => s.name === name)!.id));
	};

	function configure(
		parameters: Record<string, unknown>,
		credential: { type: string; id: string; name: string },
	): (workflow: WorkflowFixture) => WorkflowFixture {
		return (workflow) => ({
			...workflow,
			nodes: workflow.nodes.map((node) =>
				node.name === FETCH
					? {
							...node,
							parameters: { ...(node.parameters as object), ...parameters },
							credentials: { [credential.type]: { id: credential.id, name: credential.name } },
						}
					: node,
			),
		});
	}

	const apiKeyCredential = { id: 'mcApiKey', name: 'Mailchimp emulator (API key)', type: 'mailchimpHubSyncApi' };
	const oauthCredential = { id: 'mcOAuth', name: 'Mailchimp emulator (OAuth2)', type: 'mailchimpHubSyncOAuth2Api' };
	const revokedCredential = { id: 'mcOAuthRevoked', name: 'Mailchimp emulator (OAuth2, revoked)', type: 'mailchimpHubSyncOAuth2Api' };
	const REVOKED_TOKEN = 'token-mailchimp-no-longer-knows';

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset });
		n8n = await N8nSuite.create({ name: 'fetch' });
		await n8n.importCredentials([
			{ ...apiKeyCredential, data: { apiKey: account.apiKey, apiBaseUrl: mailchimp.url } },
			{
				...oauthCredential,
				data: {
					clientId: 'demo-client',
					clientSecret: 'demo-secret',
					oauthTokenData: { access_token: account.oauthToken, token_type: 'bearer' },
					metadataUrl: `${mailchimp.url}/oauth2/metadata`,
					apiBaseUrl: mailchimp.url,
				},
			},
			{
				...revokedCredential,
				data: {
					clientId: 'demo-client',
					clientSecret: 'demo-secret',
					oauthTokenData: { access_token: REVOKED_TOKEN, token_type: 'bearer' },
					metadataUrl: `${mailchimp.url}/oauth2/metadata`,
				},
			},
		]);
	});
	afterAll(async () => {
		await n8n?.dispose();
		await mailchimp?.close();
	});
	beforeEach(() => {
		Object.assign(mailchimp.faults, { latencyMs: 0, jitterMs: 0, rate429: 0, rate5xx: 0, rate403NoBody: 0, dropRate: 0, routeFilter: '', seed: null });
	});

	const audienceParameter = { __rl: true, mode: 'id', value: audience.id };

	it('returns exactly the members of overlapping tags, once each (API key, any tag)', async () => {
		const tags = ['VIP', 'Newsletter', 'SMS Opt-in'];
		const id = await n8n.importWorkflowFile(
			TEMPLATE,
			configure({ authentication: 'apiKey', audience: audienceParameter, tags: tagIds(tags), match: 'any' }, apiKeyCredential),
		);
		const result = await n8n.execute(id);
		const items = result.itemsOf(FETCH);
		expect(items.map((i) => i.email).sort()).toEqual(expectedEmails(tags, 'any'));
		expect(new Set(items.map((i) => i.memberId)).size).toBe(items.length);
		const sample = items[0];
		expect(Object.keys(sample).sort()).toEqual(
			[
				'audienceId',
				'contactId',
				'email',
				'fullName',
				'lastChanged',
				'memberId',
				'mergeFields',
				'smsPhone',
				'smsSubscriptionStatus',
				'status',
				'sync',
				'tags',
			].sort(),
		);
		// The member with more than 50 tags keeps the selected tag beyond the 50 embedded ones.
		const crowded = audience.members.find((m) => (m.tags?.length ?? 0) > 50 && m.status === 'subscribed');
		if (crowded && tags.some((t) => crowded.tags!.includes(t))) {
			const row = items.find((i) => i.email === crowded.email_address)!;
			expect(row.tags).toEqual(tags.filter((t) => crowded.tags!.includes(t)));
		}
	});

	it('with "all", keeps only members who have every tag (OAuth2, tags given by name)', async () => {
		const tags = ['SMS Opt-in', 'VIP'];
		const id = await n8n.importWorkflowFile(
			TEMPLATE,
			configure({ authentication: 'oAuth2', audience: audienceParameter, tags: '={{ "SMS Opt-in,vip" }}', match: 'all' }, oauthCredential),
		);
		const items = (await n8n.execute(id)).itemsOf(FETCH);
		expect(items.map((i) => i.email).sort()).toEqual(expectedEmails(tags, 'all'));
		expect(items.length).toBeGreaterThan(0);
	});

	it('returns the same members through 429s, body-less 403s and latency', async () => {
		const tags = ['SMS Opt-in', 'Sydney', 'Melbourne'];
		Object.assign(mailchimp.faults, { latencyMs: 40, jitterMs: 40, rate429: 0.3, rate403NoBody: 0.1, routeFilter: '/members', seed: 7 });
		const before = (mailchimp.counters.get('fault 429') ?? 0) + (mailchimp.counters.get('fault 403') ?? 0);
		const id = await n8n.importWorkflowFile(
			TEMPLATE,
			configure({ authentication: 'apiKey', audience: audienceParameter, tags: tagIds(tags) }, apiKeyCredential),
		);
		const items = (await n8n.execute(id)).itemsOf(FETCH);
		expect(items.map((i) => i.email).sort()).toEqual(expectedEmails(tags, 'any'));
		const faults = (mailchimp.counters.get('fault 429') ?? 0) + (mailchimp.counters.get('fault 403') ?? 0) - before;
		expect(faults).toBeGreaterThan(0);
	});

	it('names an unknown tag and an unknown audience', async () => {
		const unknownTag = await n8n.importWorkflowFile(
			TEMPLATE,
			configure({ authentication: 'apiKey', audience: audienceParameter, tags: '={{ "VIP,Platinum" }}' }, apiKeyCredential),
		);
		const tagRun = await n8n.tryExecute(unknownTag);
		expect(tagRun.ok).toBe(false);
		expect(tagRun.error?.message).toBe("The audience has no tag 'Platinum'");

		const unknownAudience = await n8n.importWorkflowFile(
			TEMPLATE,
			configure({ authentication: 'apiKey', audience: { __rl: true, mode: 'id', value: 'nosuchlist' }, tags: tagIds(['VIP']) }, apiKeyCredential),
		);
		const audienceRun = await n8n.tryExecute(unknownAudience);
		expect(audienceRun.ok).toBe(false);
		expect(audienceRun.error?.message).toBe("Mailchimp has no audience with ID 'nosuchlist'");
		expect(JSON.stringify(audienceRun.run)).not.toContain(account.apiKey!);
	});

	it('asks to reconnect an OAuth2 credential whose token Mailchimp no longer accepts, without showing it', async () => {
		const id = await n8n.importWorkflowFile(
			TEMPLATE,
			configure({ authentication: 'oAuth2', audience: audienceParameter, tags: tagIds(['VIP']) }, revokedCredential),
		);
		const run = await n8n.tryExecute(id);
		expect(run.ok).toBe(false);
		expect(run.error?.message).toBe('Mailchimp rejected the OAuth access token; reconnect the credential');
		expect(JSON.stringify(run.run) + run.stdout + run.stderr).not.toContain(REVOKED_TOKEN);
	});
});
