/** Parameters several nodes show the same way. */
import type { INodeCredentialDescription, INodeProperties } from 'n8n-workflow';

export const mailchimpCredentials: INodeCredentialDescription[] = [
	{
		// No testedBy: n8n tests OAuth2 credentials itself (is there an access token?) and never calls a node's
		// test for them; a token Mailchimp no longer accepts is named on the first run ("reconnect the credential").
		name: 'mailchimpHubSyncOAuth2Api',
		required: true,
		displayOptions: { show: { authentication: ['oAuth2'] } },
	},
	{
		name: 'mailchimpHubSyncApi',
		required: true,
		testedBy: 'mailchimpCredentialTest',
		displayOptions: { show: { authentication: ['apiKey'] } },
	},
];

export const mailchimpAuthentication: INodeProperties = {
	displayName: 'Authentication',
	name: 'authentication',
	type: 'options',
	options: [
		{ name: 'OAuth2 (Recommended)', value: 'oAuth2' },
		{ name: 'API Key', value: 'apiKey' },
	],
	default: 'oAuth2',
};

export const audienceLocator: INodeProperties = {
	displayName: 'Audience',
	name: 'audience',
	type: 'resourceLocator',
	default: { mode: 'list', value: '' },
	required: true,
	description: 'The Mailchimp audience (list) whose tagged members are synced',
	modes: [
		{
			displayName: 'From List',
			name: 'list',
			type: 'list',
			typeOptions: { searchListMethod: 'searchAudiences', searchable: true },
		},
		{
			displayName: 'By ID',
			name: 'id',
			type: 'string',
			placeholder: 'a1b2c3d4e5',
			validation: [
				{
					type: 'regex',
					properties: { regex: '^[0-9a-zA-Z]+$', errorMessage: 'An audience ID has letters and digits only' },
				},
			],
		},
	],
};

/**
 * Adds `hide` conditions to shared parameters (or credential entries) without losing their own. A
 * parameter that the credentials' display conditions name (the store, with its Postgres credential) must
 * depend on other parameters through `hide`, never `show`: n8n's editor hides every parameter that such a
 * parameter's `show` names, taking it for one more authentication choice.
 */
export function withHideOptions<T extends { displayOptions?: { show?: Record<string, unknown>; hide?: Record<string, unknown> } }>(
	entries: T[],
	hide: Record<string, unknown[]>,
): T[] {
	return entries.map((entry) => ({
		...entry,
		displayOptions: { ...entry.displayOptions, hide: { ...entry.displayOptions?.hide, ...hide } },
	}));
}

/**
 * Adds `show` conditions to shared parameters (or credential entries) without losing their own,
 * e.g. the store parameters shown only when a node uses the store.
 */
export function withDisplayOptions<T extends { displayOptions?: { show?: Record<string, unknown> } }>(
	entries: T[],
	show: Record<string, unknown[]>,
): T[] {
	return entries.map((entry) => ({
		...entry,
		displayOptions: { ...entry.displayOptions, show: { ...entry.displayOptions?.show, ...show } },
	}));
}

/**
 * Which members of the audience a sync selects: its tags, how they match, and the email statuses. Fetch
 * Tagged Members selects with them; Handle Reply checks a confirming member against the same selection.
 * The names and defaults are what saved workflows and templates hold; each node says in its own words
 * what the selection does there (`tagsHint`, `statusesDescription`).
 */
export function memberSelection(words: { tagsHint: string; statusesDescription: string }): INodeProperties[] {
	return [
		{
			displayName: 'Tag Names or IDs',
			name: 'tags',
			type: 'multiOptions',
			typeOptions: { loadOptionsMethod: 'getTags', loadOptionsDependsOn: ['audience.value'] },
			default: [],
			required: true,
			hint: words.tagsHint,
			description:
				'Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>',
		},
		{
			displayName: 'Match',
			name: 'match',
			type: 'options',
			options: [
				{ name: 'Any Selected Tag', value: 'any', description: 'Members with at least one of the tags' },
				{ name: 'All Selected Tags', value: 'all', description: 'Only members with every one of the tags' },
			],
			default: 'any',
		},
		{
			displayName: 'Statuses',
			name: 'statuses',
			type: 'multiOptions',
			options: [
				{ name: 'Cleaned', value: 'cleaned' },
				{ name: 'Subscribed', value: 'subscribed' },
				{ name: 'Transactional', value: 'transactional' },
				{ name: 'Unsubscribed', value: 'unsubscribed' },
			],
			default: ['subscribed'],
			description: words.statusesDescription,
		},
	];
}
