/**
 * The credential tests in the real n8n 2.41.1, as the editor runs them: `n8n start`, signed in as the owner,
 * `POST /rest/credentials/test` for stored credentials with the data the credential form holds. Proves that
 * n8n finds each of the package's credential tests (the declarative Hub test, the nodes' `testedBy` functions
 * for Mailchimp and the Postgres store), that good values pass, and that bad ones get a message that says
 * what to fix without echoing the secret.
 */
import { credentialsOf, demoDataset } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { postgresServer } from '../unit/shared/store/backends';
import { E2E_TIMEOUT_MS, N8nSuite, type N8nServer } from './harness';

jest.setTimeout(E2E_TIMEOUT_MS);

type Credential = { id: string; name: string; type: string; data: Record<string, unknown> };

describe('credential tests in the real n8n editor API', () => {
	const dataset = demoDataset();
	const [account] = credentialsOf(dataset);
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let server: N8nServer;
	const credentials: Record<string, Credential> = {};

	function stored(key: string, type: string, data: Record<string, unknown>): Credential {
		const credential = { id: `cred${key.replace(/[^a-z0-9]/gi, '')}`.slice(0, 16).padEnd(16, '0'), name: `Test ${key}`, type, data };
		credentials[key] = credential;
		return credential;
	}

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset });
		hub = await startHubEmulator();
		const pg = postgresServer();
		const hubData = { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url };
		n8n = await N8nSuite.create({ name: 'credentials' });
		await n8n.importCredentials([
			stored('McKey', 'mailchimpHubSyncApi', { apiKey: account.apiKey, apiBaseUrl: mailchimp.url }),
			stored('McOAuth', 'mailchimpHubSyncOAuth2Api', {
				clientId: 'demo-client',
				clientSecret: 'demo-secret',
				oauthTokenData: { access_token: account.oauthToken, token_type: 'bearer' },
				metadataUrl: `${mailchimp.url}/oauth2/metadata`,
				apiBaseUrl: mailchimp.url,
			}),
			stored('Hub', 'sinchHubApi', hubData),
			stored('Store', 'hubSyncStorePostgres', { host: pg.host, port: pg.port, database: pg.database, user: pg.user, password: pg.password, ssl: 'disable' }),
		]);
		server = await n8n.startServer();
	});
	afterAll(async () => {
		await server?.stop();
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	/** What the editor sends when the user edits a stored credential and saves: the form's values. */
	const test = (key: string, change: Record<string, unknown> = {}) =>
		server.testCredential({ ...credentials[key], data: { ...credentials[key].data, ...change } });

	it('passes each credential with working values', async () => {
		expect(await test('McKey')).toEqual({ status: 'OK', message: 'Connection successful' });
		expect((await test('McOAuth')).status).toBe('OK');
		expect((await test('Hub')).status).toBe('OK');
		const store = await test('Store');
		expect(store.status).toBe('OK');
		expect(store.message).toMatch(/^Connected \(PostgreSQL/);
	});

	it('says what to fix for a rejected API key or one without a data center, without echoing the key', async () => {
		const wrongKey = `${'0'.repeat(32)}-us6`;
		const rejected = await test('McKey', { apiKey: wrongKey });
		expect(rejected.status).toBe('Error');
		expect(rejected.message).toContain('Mailchimp rejected the API key');
		expect(rejected.message).not.toContain('0'.repeat(32));
		const noDc = await test('McKey', { apiKey: 'abcdef0123' });
		expect(noDc.status).toBe('Error');
		expect(noDc.message).toContain('no valid data center');
		expect(noDc.message).not.toContain('abcdef0123');
	});

	it('tests an OAuth2 credential the way n8n does: connected or not (a revoked token is named on the first run)', async () => {
		// n8n 2.x answers OAuth2 tests itself from the stored token and never calls a node's test for them;
		// the Fetch end-to-end test shows the "reconnect the credential" error a revoked token gives.
		expect((await test('McOAuth')).status).toBe('OK');
		const notConnected = await test('McOAuth', { oauthTokenData: {} });
		expect(notConnected.status).toBe('Error');
	});

	it('names the Hub problem for a wrong secret and for a sub-account the key may not use', async () => {
		const wrongSecret = await test('Hub', { apiSecret: 'not-the-secret' });
		expect(wrongSecret.status).toBe('Error');
		expect(wrongSecret.message).toContain('The Hub rejected the API key and secret');
		expect(wrongSecret.message).not.toContain('not-the-secret');
		expect(JSON.stringify(wrongSecret)).not.toContain(DEFAULT_HUB_ACCOUNT.apiSecret);
		const foreignAccount = await test('Hub', { accountId: 'someone-elses-account' });
		expect(foreignAccount.status).toBe('Error');
		expect(foreignAccount.message).toContain('check the sub-account ID');
	});

	it('says why the sync store cannot be reached: wrong port, unknown database', async () => {
		const closedPort = await test('Store', { port: 1 });
		expect(closedPort.status).toBe('Error');
		expect(closedPort.message).toMatch(/127\.0\.0\.1:1|ECONNREFUSED|connect/i);
		const unknownDatabase = await test('Store', { database: 'no_such_database_e2e' });
		expect(unknownDatabase.status).toBe('Error');
		expect(unknownDatabase.message).toContain('no_such_database_e2e');
	});
});
