import type { IAuthenticateGeneric, ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * A Mailchimp API key, `<key>-<dc>`. The nodes test it with their `mailchimpCredentialTest`, which
 * validates the data center before it goes into a host name (a crafted suffix must never send the
 * key to another host).
 */
export class MailchimpHubSyncApi implements ICredentialType {
	name = 'mailchimpHubSyncApi';

	displayName = 'Mailchimp (Hub Sync) API';

	documentationUrl = 'https://mailchimp.com/developer/marketing/guides/quick-start/';

	icon = 'file:mailchimp.svg' as const;

	properties: INodeProperties[] = [
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			placeholder: '0123456789abcdef0123456789abcdef-us6',
			description: 'From Mailchimp: Profile → Extras → API keys. It ends with your data center, such as -us6.',
		},
		{
			displayName: 'API Base URL',
			name: 'apiBaseUrl',
			type: 'string',
			default: '',
			placeholder: 'http://127.0.0.1:4010',
			description:
				'Advanced: leave empty to use the data center in the key. Set it only to test against a Mailchimp emulator.',
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { auth: { username: 'anystring', password: '={{$credentials.apiKey}}' } },
	};
}
