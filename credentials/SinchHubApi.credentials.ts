import type {
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestOptions,
	INodeProperties,
} from 'n8n-workflow';

/** The Hub base URLs (Sinch Engage spec servers, plus the legacy MessageMedia host AU accounts still use). */
export const HUB_REGIONS = {
	apac: 'https://au.app.api.sinch.com',
	eu: 'https://eu.app.api.sinch.com',
	legacyAu: 'https://api.messagemedia.com',
} as const;

/**
 * Sinch MessageMedia Hub (Sinch Engage) API key and secret, sent as HTTP Basic authentication.
 * The region picks the base URL; "Custom" is for other hosts and for the tests' emulator. The
 * sub-account id, when set, goes into the `Account` header of every request.
 */
export class SinchHubApi implements ICredentialType {
	name = 'sinchHubApi';

	displayName = 'Sinch MessageMedia Hub API';

	documentationUrl = 'https://docs.app.api.sinch.com/';

	icon = 'file:sinchHub.svg' as const;

	properties: INodeProperties[] = [
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'From the Hub: Settings → API Settings → Basic Authentication',
		},
		{
			displayName: 'API Secret',
			name: 'apiSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
		},
		{
			displayName: 'Region',
			name: 'region',
			type: 'options',
			options: [
				{ name: 'APAC / Australia (au.app.api.sinch.com)', value: HUB_REGIONS.apac },
				{ name: 'Custom', value: 'custom' },
				{ name: 'EU (eu.app.api.sinch.com)', value: HUB_REGIONS.eu },
				{ name: 'Legacy Australia (api.messagemedia.com)', value: HUB_REGIONS.legacyAu },
			],
			default: HUB_REGIONS.apac,
			description: 'Where your Hub account lives',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'e.g. https://au.app.api.sinch.com',
			description: 'The API host to call, without a path',
			displayOptions: { show: { region: ['custom'] } },
		},
		{
			displayName: 'Sub-Account ID',
			name: 'accountId',
			type: 'string',
			default: '',
			description: 'Optional: the sub-account to act for, sent as the Account header. Leave empty for the main account.',
		},
	];

	// A function rather than the generic form: the Account header must be absent, not empty, when unset.
	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		const headers = { ...(requestOptions.headers ?? {}) };
		const account = String(credentials.accountId ?? '').trim();
		if (account !== '') headers.Account = account;
		return {
			...requestOptions,
			headers,
			auth: { username: String(credentials.apiKey ?? ''), password: String(credentials.apiSecret ?? '') },
		};
	}

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.region === "custom" ? $credentials.baseUrl : $credentials.region}}',
			url: '/api/v1/contacts/lists',
			qs: { pageSize: 1 },
		},
		rules: [
			{
				type: 'responseCode',
				properties: { value: 401, message: 'The Hub rejected the API key and secret; check them in Hub → Settings → API Settings' },
			},
			{
				type: 'responseCode',
				properties: { value: 403, message: 'The Hub refused access; check the sub-account ID, or that the API key may use contacts' },
			},
		],
	};
}
