import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * Mailchimp's authorization-code flow. Its tokens never expire and carry no scopes; the account's
 * data center is not in the token answer, so the nodes look it up at the OAuth metadata endpoint
 * (once per token) before the first API call.
 */
export class MailchimpHubSyncOAuth2Api implements ICredentialType {
	name = 'mailchimpHubSyncOAuth2Api';

	extends = ['oAuth2Api'];

	displayName = 'Mailchimp (Hub Sync) OAuth2 API';

	documentationUrl = 'https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/';

	icon = 'file:mailchimp.svg' as const;

	properties: INodeProperties[] = [
		{ displayName: 'Grant Type', name: 'grantType', type: 'hidden', default: 'authorizationCode' },
		{
			displayName: 'Authorization URL',
			name: 'authUrl',
			type: 'hidden',
			default: 'https://login.mailchimp.com/oauth2/authorize',
			required: true,
		},
		{
			displayName: 'Access Token URL',
			name: 'accessTokenUrl',
			type: 'hidden',
			default: 'https://login.mailchimp.com/oauth2/token',
			required: true,
		},
		// Mailchimp has no scopes: a token grants the whole account.
		{ displayName: 'Scope', name: 'scope', type: 'hidden', default: '' },
		{ displayName: 'Auth URI Query Parameters', name: 'authQueryParameters', type: 'hidden', default: '' },
		{ displayName: 'Authentication', name: 'authentication', type: 'hidden', default: 'body' },
		{
			displayName: 'Metadata URL',
			name: 'metadataUrl',
			type: 'string',
			default: 'https://login.mailchimp.com/oauth2/metadata',
			description:
				'Advanced: where the account’s data center is looked up. Leave as is unless you test against a Mailchimp emulator.',
		},
		{
			displayName: 'API Base URL',
			name: 'apiBaseUrl',
			type: 'string',
			default: '',
			placeholder: 'http://127.0.0.1:4010',
			description:
				'Advanced: leave empty to use the address Mailchimp reports for the account. Set it only to test against a Mailchimp emulator.',
		},
	];
}
