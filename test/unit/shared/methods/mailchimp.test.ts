/** The nodes' Mailchimp credential test, as n8n's "Test credential" button runs it, against the emulator. */
import type { ICredentialTestFunctions, ICredentialsDecrypted } from 'n8n-workflow';

import { mailchimpCredentialTest } from '../../../../nodes/shared/methods/mailchimp';
import { credentialsOf, demoDataset } from '../../../emulators/datasets';
import { startMailchimpEmulator, type MailchimpEmulator } from '../../../emulators/mailchimp';

const dataset = demoDataset();
const [account] = credentialsOf(dataset);
let emulator: MailchimpEmulator;

beforeAll(async () => {
	emulator = await startMailchimpEmulator({ dataset });
});
afterAll(() => emulator.close());

const context = {} as ICredentialTestFunctions;
const test = (type: string, data: Record<string, unknown>) =>
	mailchimpCredentialTest.call(context, { id: 'c1', name: 'c', type, data } as ICredentialsDecrypted);

describe('mailchimpCredentialTest', () => {
	it('accepts a working API key and a working OAuth token', async () => {
		expect(await test('mailchimpHubSyncApi', { apiKey: account.apiKey, apiBaseUrl: emulator.url })).toEqual({
			status: 'OK',
			message: 'Connection successful',
		});
		const oauth = {
			oauthTokenData: { access_token: account.oauthToken },
			metadataUrl: `${emulator.url}/oauth2/metadata`,
			apiBaseUrl: emulator.url,
		};
		expect((await test('mailchimpHubSyncOAuth2Api', oauth)).status).toBe('OK');
	});

	it('says what is wrong with a rejected key, a key without data center and a revoked token, without echoing them', async () => {
		const wrongKey = `${'0'.repeat(32)}-us6`;
		const rejected = await test('mailchimpHubSyncApi', { apiKey: wrongKey, apiBaseUrl: emulator.url });
		expect(rejected.status).toBe('Error');
		expect(rejected.message).toContain('Mailchimp rejected the API key');
		expect(rejected.message).not.toContain(wrongKey);

		const noDc = await test('mailchimpHubSyncApi', { apiKey: 'abcdef', apiBaseUrl: emulator.url });
		expect(noDc.message).toContain('no valid data center');

		const revoked = await test('mailchimpHubSyncOAuth2Api', {
			oauthTokenData: { access_token: 'revoked-token-value' },
			metadataUrl: `${emulator.url}/oauth2/metadata`,
		});
		expect(revoked.status).toBe('Error');
		expect(revoked.message).toContain('reconnect the credential');
		expect(revoked.message).not.toContain('revoked-token-value');
	});
});
