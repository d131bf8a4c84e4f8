import { randomBytes, timingSafeEqual, verify } from 'node:crypto';

import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IHookFunctions,
	type INodeType,
	type INodeTypeDescription,
	type IWebhookFunctions,
	type IWebhookResponseData,
} from 'n8n-workflow';

import { consentReplyFrom } from '../shared/consent/replies';
import { HUB_CREDENTIAL_TYPE, HubConflictError, HubNotFoundError, createHubClient, type HubWebhookEvent } from '../shared/transport/hub';

/** The custom header the Hub sends back with every call, carrying this registration's secret. */
export const REPLY_SECRET_HEADER = 'x-hub-sync-secret';
const EVENTS: HubWebhookEvent[] = ['RECEIVED_SMS', 'OPT_OUT_SMS'];

/** What the node keeps in the workflow's static data (never in items or logs). */
interface Registration extends IDataObject {
	webhookId?: string;
	url?: string;
	secret?: string;
}

function sameSecret(given: string, expected: string): boolean {
	const a = Buffer.from(given);
	const b = Buffer.from(expected);
	return a.length === b.length && timingSafeEqual(a, b);
}

/** How far a signed call's Date may be from now: a recorded call cannot be replayed later. */
const SIGNATURE_MAX_AGE_MS = 5 * 60_000;
const DIGESTS: Record<string, string> = { 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-512': 'sha512', SHA224: 'sha224', SHA256: 'sha256', SHA512: 'sha512' };

/**
 * Checks the Hub's signature (spec, webhook payloads): RSA over the request line, the Date header and
 * the body as sent. Returns what is wrong, or undefined when it checks out.
 */
function signatureProblem(ctx: IWebhookFunctions): string | undefined {
	const req = ctx.getRequestObject() as ReturnType<IWebhookFunctions['getRequestObject']> & { rawBody?: Buffer };
	const header = (name: string) => {
		const value = req.headers[name];
		return typeof value === 'string' && value !== '' ? value : undefined;
	};
	const signature = header('x-messagemedia-signature');
	if (!signature) return 'the call is not signed (no X-MessageMedia-Signature)';
	if ((header('x-messagemedia-cipher-type') ?? '').toUpperCase() !== 'RSA') return 'the cipher is not RSA';
	const digest = DIGESTS[(header('x-messagemedia-digest-type') ?? '').toUpperCase()];
	if (!digest) return 'the digest type is missing or unknown';
	const date = header('date');
	if (!date || Number.isNaN(Date.parse(date))) return 'the call has no valid Date header';
	if (Math.abs(Date.now() - Date.parse(date)) > SIGNATURE_MAX_AGE_MS) return 'the call is dated more than 5 minutes away from now';
	if (!req.rawBody) return 'n8n kept no raw body to check';
	const signed = Buffer.concat([Buffer.from(`${req.method} ${req.originalUrl} HTTP/${req.httpVersion}${date}`), req.rawBody]);
	let key;
	try {
		key = { key: Buffer.from(String(ctx.getNodeParameter('publicKey', '')).replace(/\s+/g, ''), 'base64'), format: 'der' as const, type: 'spki' as const };
		if (!verify(digest, signed, key, Buffer.from(signature, 'base64'))) return 'the signature does not match';
	} catch {
		return 'the Signature Public Key parameter is not a base64 RSA public key';
	}
	return undefined;
}

/**
 * Starts the reply workflow when a handset answers one of our messages (a consent request's Y/YES,
 * STOP, …). On activation it registers its URL with the Hub (RECEIVED_SMS and OPT_OUT_SMS) together
 * with a secret generated for that registration, which the Hub sends back as a custom header; a call
 * without it is refused and starts nothing. On deactivation the webhook is removed from the Hub.
 */
export class HubReplyTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Hub Reply Trigger',
		name: 'hubReplyTrigger',
		icon: 'file:hubReplyTrigger.svg',
		group: ['trigger'],
		version: 1,
		description: 'Starts the workflow when a handset replies to a Sinch MessageMedia Hub message (consent answers, STOP)',
		defaults: { name: 'Hub Reply Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: HUB_CREDENTIAL_TYPE, required: true }],
		webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'hub-replies' }],
		properties: [
			{
				displayName: 'Hub Signature',
				name: 'signature',
				type: 'options',
				options: [
					{
						name: 'Required',
						value: 'required',
						description: 'Only calls signed with the enabled signature key are accepted (account feature API_SECURE_CALLBACKS)',
					},
					{
						name: 'Not Checked',
						value: 'off',
						description: 'The account does not sign callbacks: the secret header alone protects this URL',
					},
				],
				default: 'off',
			},
			{
				displayName: 'Signature Public Key',
				name: 'publicKey',
				type: 'string',
				typeOptions: { password: true },
				default: '',
				required: true,
				placeholder: 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA…',
				description: 'The public_key the Hub answered when the signature key was created (POST /v1/iam/signature_keys); the Hub shows it only then',
				displayOptions: { show: { signature: ['required'] } },
			},
			{
				displayName:
					'Activate the workflow to register this URL with the Hub (replies and opt-outs); deactivating removes it. The Hub must be able to reach this n8n instance; otherwise use the Hub Reply Poll Trigger.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
		],
	};

	webhookMethods = {
		default: {
			/** Registered by us, still there in the Hub, at this URL: nothing to do. */
			async checkExists(this: IHookFunctions): Promise<boolean> {
				const data = this.getWorkflowStaticData('node') as Registration;
				const url = this.getNodeWebhookUrl('default');
				if (!data.webhookId || !data.secret || data.url !== url) return false;
				const hub = await createHubClient(this);
				for await (const hook of hub.webhooks()) if (hook.id === data.webhookId) return hook.url === url;
				return false;
			},
			async create(this: IHookFunctions): Promise<boolean> {
				const data = this.getWorkflowStaticData('node') as Registration;
				const url = this.getNodeWebhookUrl('default');
				if (!url) throw new NodeOperationError(this.getNode(), 'n8n has no URL for this trigger', { description: 'Set WEBHOOK_URL to the address the Hub can reach.' });
				const hub = await createHubClient(this);
				// A new secret each registration: one that leaked with an old registration opens nothing.
				const secret = randomBytes(32).toString('base64url');
				const headers = { [REPLY_SECRET_HEADER]: secret };
				let hook;
				try {
					hook = await hub.createWebhook({ url, method: 'POST', encoding: 'JSON', events: EVENTS, headers, retries: 3, retry_delay: 10 });
				} catch (error) {
					if (!(error instanceof HubConflictError)) throw error;
					// Registered before (static data lost, or an earlier activation not cleaned up): take it over.
					const existing = await hub.findWebhook(url, 'POST');
					if (!existing) throw error;
					hook = await hub.updateWebhook(existing.id, { encoding: 'JSON', events: EVENTS, headers });
				}
				if (!hook?.id) throw new NodeOperationError(this.getNode(), 'The Hub answered the webhook registration without a webhook id (POST /v1/webhooks/messages)');
				Object.assign(data, { webhookId: hook.id, url, secret });
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				const data = this.getWorkflowStaticData('node') as Registration;
				if (data.webhookId) {
					const hub = await createHubClient(this);
					try {
						await hub.deleteWebhook(data.webhookId);
					} catch (error) {
						// Already gone from the Hub: deregistered either way.
						if (!(error instanceof HubNotFoundError)) throw error;
					}
				}
				delete data.webhookId;
				delete data.url;
				delete data.secret;
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const data = this.getWorkflowStaticData('node') as Registration;
		const given = this.getHeaderData()[REPLY_SECRET_HEADER];
		const res = this.getResponseObject();
		if (!data.secret || typeof given !== 'string' || !sameSecret(given, data.secret)) {
			res.status(401).json({ message: 'This call does not carry the secret the Hub was registered with.' });
			return { noWebhookResponse: true };
		}
		if (this.getNodeParameter('signature', 'off') === 'required') {
			const problem = signatureProblem(this);
			if (problem) {
				res.status(403).json({ message: `The Hub signature does not check out: ${problem}.` });
				return { noWebhookResponse: true };
			}
		}
		const reply = consentReplyFrom(this.getBodyData());
		if (typeof reply === 'string') {
			res.status(400).json({ message: `The body is not a Hub reply or opt-out notification: ${reply}.` });
			return { noWebhookResponse: true };
		}
		return { workflowData: [[{ json: { reply: { ...reply } } }]] };
	}
}
