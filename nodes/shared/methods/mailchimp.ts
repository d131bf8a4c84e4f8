/**
 * The Mailchimp side of the editor: credential check, audience search and tag dropdown, and the
 * one way every node builds its Mailchimp client from its credential.
 */
import type {
	ICredentialTestFunctions,
	ICredentialsDecrypted,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INode,
	INodeCredentialTestResult,
	INodeListSearchResult,
	INodePropertyOptions,
} from 'n8n-workflow';

import {
	MailchimpClient,
	resolveMailchimpAuth,
	type MailchimpApiKeyCredential,
	type MailchimpAuthKind,
	type MailchimpClientOptions,
	type MailchimpOAuth2Credential,
} from '../transport/mailchimp';
import { countOf } from '../words';

const CREDENTIAL_OF: Record<MailchimpAuthKind, string> = {
	oAuth2: 'mailchimpHubSyncOAuth2Api',
	apiKey: 'mailchimpHubSyncApi',
};

/** The Mailchimp credential type the node's Authentication parameter chooses. */
export function mailchimpCredentialType(ctx: IExecuteFunctions | ILoadOptionsFunctions): string {
	return CREDENTIAL_OF[ctx.getNodeParameter('authentication', 0, 'oAuth2') as MailchimpAuthKind];
}

/** One client per credential and execution: never the official client's shared instance. */
export async function createMailchimpClient(
	ctx: IExecuteFunctions | ILoadOptionsFunctions,
	options: MailchimpClientOptions = {},
): Promise<MailchimpClient> {
	const kind = ctx.getNodeParameter('authentication', 0, 'oAuth2') as MailchimpAuthKind;
	const credentials = await ctx.getCredentials(mailchimpCredentialType(ctx));
	const auth = await resolveMailchimpAuth(kind, credentials as MailchimpApiKeyCredential | MailchimpOAuth2Credential, ctx.getNode());
	return new MailchimpClient(auth, ctx.getNode(), options);
}

/** The audience id of the resource locator, for load-options methods that depend on it. */
export function currentAudienceId(ctx: ILoadOptionsFunctions): string {
	const value = ctx.getCurrentNodeParameter('audience', { extractValue: true });
	return typeof value === 'string' ? value : '';
}

export async function searchAudiences(this: ILoadOptionsFunctions, filter?: string): Promise<INodeListSearchResult> {
	const client = await createMailchimpClient(this);
	const needle = filter?.trim().toLowerCase();
	const audiences = (await client.getAudiences()).filter(
		(a) => !needle || a.name.toLowerCase().includes(needle) || a.id.toLowerCase() === needle,
	);
	return {
		results: audiences
			.sort((a, b) => a.name.localeCompare(b.name))
			.map((a) => ({ name: a.memberCount === undefined ? a.name : `${a.name} (${countOf(a.memberCount, 'member')})`, value: a.id })),
	};
}

export async function getTags(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const audienceId = currentAudienceId(this);
	if (!audienceId) return [];
	const client = await createMailchimpClient(this);
	const tags = await client.getTags(audienceId);
	return tags
		.sort((a, b) => a.name.localeCompare(b.name))
		.map((t) => ({
			name: t.name,
			value: t.id,
			description: t.memberCount === undefined ? undefined : countOf(t.memberCount, 'member'),
		}));
}

const TEST_NODE: INode = {
	id: 'credential-test',
	name: 'Credential test',
	type: 'n8n-nodes-mailchimp-hub-sync.fetchTaggedMembers',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

/** Used for both Mailchimp credentials; validates the API key's data center before any request. */
export async function mailchimpCredentialTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	const kind: MailchimpAuthKind = credential.type === CREDENTIAL_OF.apiKey ? 'apiKey' : 'oAuth2';
	try {
		const auth = await resolveMailchimpAuth(kind, (credential.data ?? {}) as MailchimpApiKeyCredential, TEST_NODE);
		// Fail fast: a credential test should not sit through minutes of backoff.
		const client = new MailchimpClient(auth, TEST_NODE, {
			retryPolicy: { maxAttempts: 2, baseDelayMs: 500, maxDelayMs: 1000, maxTotalWaitMs: 2000 },
			timeoutMs: 20_000,
		});
		await client.ping();
		return { status: 'OK', message: 'Connection successful' };
	} catch (error) {
		const e = error as Error & { description?: string };
		return { status: 'Error', message: [e.message, e.description].filter(Boolean).join(': ') };
	}
}
