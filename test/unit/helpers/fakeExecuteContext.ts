/**
 * A small stand-in for n8n's execution context, for unit tests of transports and nodes.
 *
 * Unlike a mock, its `helpers.httpRequestWithAuthentication` does what n8n 2.x does: it looks up the
 * credential, applies the credential type's `authenticate` (a function, or the generic form with
 * `={{$credentials.x}}` expressions), then sends a real HTTP request with axios configured like
 * n8n-core (qs arrays in `indices` format unless `arrayFormat` says otherwise, `json` → Accept header,
 * `ignoreHttpStatusErrors` → no throw, `returnFullResponse` → {body, headers, statusCode,
 * statusMessage}), and wraps failures in a NodeApiError as n8n does. So tests run a transport against
 * an emulator exactly as it runs inside n8n.
 *
 *   const ctx = fakeExecuteContext({
 *     credentials: { sinchHubApi: { type: new SinchHubApi(), data: { apiKey, apiSecret, region: 'custom', baseUrl } } },
 *     parameters: { audience: { __rl: true, mode: 'id', value: 'abc' } },
 *     items: [{ json: {} }],
 *   });
 *   ctx.requests  // every request sent (after authentication), for assertions
 *   ctx.logLines  // everything the code logged through this.logger
 */
import axios, { type AxiosRequestConfig } from 'axios';
import {
	NodeApiError,
	NodeOperationError,
	type ICredentialDataDecryptedObject,
	type ICredentialType,
	type IDataObject,
	type IExecuteFunctions,
	type IHttpRequestOptions,
	type INode,
	type INodeExecutionData,
	type JsonObject,
} from 'n8n-workflow';
import { stringify } from 'qs';

export interface FakeCredential {
	/** An instance of the credential class, e.g. `new SinchHubApi()`. */
	type: ICredentialType;
	data: ICredentialDataDecryptedObject;
}

let executions = 0;

export interface FakeExecuteContextOptions {
	/** The nodes after this one in the workflow (n8n's getChildNodes: every node downstream). */
	childNodes?: Array<{ name: string; type: string; disabled?: boolean }>;
	/** By credential type name, e.g. `{ sinchHubApi: { type, data } }`. */
	credentials?: Record<string, FakeCredential>;
	/** Node parameters; dotted names (`options.limit`) reach into collections. */
	parameters?: Record<string, unknown>;
	items?: INodeExecutionData[];
	node?: Partial<INode>;
	continueOnFail?: boolean;
	/** Anything else the code under test needs, merged over the defaults. */
	overrides?: Partial<Record<keyof IExecuteFunctions, unknown>>;
}

export interface SentRequest {
	method: string;
	url: string;
	/** The request after the credential was applied (headers include Authorization / auth). */
	options: IHttpRequestOptions;
}

export interface LogLine {
	level: 'debug' | 'info' | 'warn' | 'error';
	message: string;
	meta?: unknown;
}

export type FakeExecuteContext = IExecuteFunctions & {
	requests: SentRequest[];
	logLines: LogLine[];
	/** How often a credential was read (and, in n8n, fetched from its database and decrypted), by type. */
	credentialReads: Record<string, number>;
};

// ---------------------------------------------------------------------------------------------
// Credential expressions and authentication, as n8n's CredentialsHelper applies them

/** Resolves `={{ ... }}` expressions over `$credentials`; other values pass through. */
export function resolveCredentialExpressions<T>(value: T, credentials: ICredentialDataDecryptedObject): T {
	if (typeof value === 'string' && value.startsWith('=')) {
		const source = value.slice(1);
		const evaluate = (expression: string) =>
			// Test helper only: n8n evaluates these with its own expression engine.
			// eslint-disable-next-line @typescript-eslint/no-implied-eval
			new Function('$credentials', `return (${expression});`)(credentials) as unknown;
		const whole = /^\{\{([\s\S]*)\}\}$/.exec(source.trim());
		if (whole && !whole[1].includes('{{')) return evaluate(whole[1]) as T;
		return source.replace(/\{\{([\s\S]*?)\}\}/g, (_m, expression: string) => String(evaluate(expression))) as T;
	}
	if (Array.isArray(value)) return value.map((v) => resolveCredentialExpressions(v, credentials)) as T;
	if (value && typeof value === 'object') {
		return Object.fromEntries(
			Object.entries(value).map(([k, v]) => [k, resolveCredentialExpressions(v, credentials)]),
		) as T;
	}
	return value;
}

export async function applyCredential(
	type: ICredentialType,
	data: ICredentialDataDecryptedObject,
	options: IHttpRequestOptions,
): Promise<IHttpRequestOptions> {
	const auth = type.authenticate;
	if (!auth) return options;
	if (typeof auth === 'function') return await auth(data, { ...options, headers: { ...(options.headers ?? {}) } });
	const props = resolveCredentialExpressions(auth.properties, data);
	return {
		...options,
		headers: { ...(options.headers ?? {}), ...(props.headers ?? {}) },
		qs: props.qs ? { ...(options.qs ?? {}), ...props.qs } : options.qs,
		body: props.body && typeof options.body === 'object' ? { ...(options.body as IDataObject), ...props.body } : (options.body ?? props.body),
		auth: props.auth ? { username: String(props.auth.username), password: String(props.auth.password) } : options.auth,
	} as IHttpRequestOptions;
}

// ---------------------------------------------------------------------------------------------
// The HTTP request, converted to axios like n8n-core's convertN8nRequestToAxios

function searchHeader(headers: IDataObject, name: string): string | undefined {
	return Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
}

export async function sendLikeN8n(options: IHttpRequestOptions): Promise<unknown> {
	const method = (options.method ?? 'GET').toUpperCase();
	const headers: IDataObject = { ...(options.headers ?? {}) };
	const config: AxiosRequestConfig = {
		method,
		url: options.url,
		baseURL: options.baseURL,
		headers: headers as AxiosRequestConfig['headers'],
		params: options.qs,
		paramsSerializer: (params) => stringify(params, { arrayFormat: options.arrayFormat ?? 'indices' }),
		timeout: options.timeout ?? 300_000,
		auth: options.auth ? { username: options.auth.username, password: options.auth.password } : undefined,
		maxBodyLength: Infinity,
		maxContentLength: Infinity,
		maxRedirects: options.disableFollowRedirect ? 0 : undefined,
		responseType: options.encoding as AxiosRequestConfig['responseType'],
	};
	const { body } = options;
	const hasBody =
		method !== 'GET' &&
		(typeof body === 'string' || (body !== null && typeof body === 'object' && Object.keys(body).length > 0));
	if (hasBody) config.data = body;
	else delete config.data;
	if (options.json && !searchHeader(headers, 'accept')) headers.Accept = 'application/json';
	if (options.ignoreHttpStatusErrors) config.validateStatus = () => true;

	const result = await axios.request(config);
	if (options.returnFullResponse) {
		return { body: result.data, headers: result.headers, statusCode: result.status, statusMessage: result.statusText };
	}
	return result.data;
}

// ---------------------------------------------------------------------------------------------

/** A resource locator parameter (`{__rl: true, mode, value}`) read with `extractValue`. */
function extractLocatorValue(value: unknown): unknown {
	return value && typeof value === 'object' && '__rl' in value ? (value as unknown as { value: unknown }).value : value;
}

function readPath(source: Record<string, unknown>, name: string): unknown {
	return name.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), source);
}

export function fakeExecuteContext(options: FakeExecuteContextOptions = {}): FakeExecuteContext {
	const node: INode = {
		id: 'test-node',
		name: 'Test Node',
		type: 'n8n-nodes-mailchimp-hub-sync.test',
		typeVersion: 1,
		position: [0, 0],
		parameters: {},
		...options.node,
	};
	const requests: SentRequest[] = [];
	const logLines: LogLine[] = [];
	const credentialReads: Record<string, number> = {};
	const readCredential = (name: string) => {
		credentialReads[name] = (credentialReads[name] ?? 0) + 1;
		return { ...credential(name).data };
	};
	const staticData: Record<string, IDataObject> = {};
	const items = options.items ?? [{ json: {} }];
	const log = (level: LogLine['level']) => (message: string, meta?: unknown) => logLines.push({ level, message, meta });

	const credential = (name: string): FakeCredential => {
		const found = options.credentials?.[name];
		if (!found) throw new NodeOperationError(node, `Node "${node.name}" does not have any credentials of type "${name}" set`);
		return found;
	};

	const executionId = `test-execution-${++executions}`;
	const context = {
		requests,
		logLines,
		credentialReads,
		logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
		getNode: () => node,
		getInputData: () => items,
		continueOnFail: () => options.continueOnFail ?? false,
		// Each context its own run, as each n8n execution is: nothing a run shares between its nodes leaks into another test.
		getExecutionId: () => executionId,
		getChildNodes: () => (options.childNodes ?? []).map((n) => ({ typeVersion: 1, disabled: false, ...n })),
		getMode: () => 'manual',
		getTimezone: () => 'UTC',
		getWorkflow: () => ({ id: 'test-workflow', name: 'Test workflow', active: false }),
		getWorkflowStaticData: (type: string) => (staticData[type] ??= {}),
		getExecutionCancelSignal: () => undefined,
		async getCredentials(name: string) {
			return readCredential(name);
		},
		getNodeParameter(name: string, _itemIndex?: number, fallback?: unknown, opts?: { extractValue?: boolean }) {
			let value = readPath(options.parameters ?? {}, name);
			if (value === undefined) {
				if (fallback !== undefined) return fallback;
				throw new NodeOperationError(node, `Could not get parameter "${name}"`);
			}
			if (opts?.extractValue) value = extractLocatorValue(value);
			return value;
		},
		getCurrentNodeParameter(name: string, opts?: { extractValue?: boolean }) {
			let value = readPath(options.parameters ?? {}, name);
			if (opts?.extractValue) value = extractLocatorValue(value);
			return value;
		},
		helpers: {
			async httpRequest(request: IHttpRequestOptions) {
				requests.push({ method: request.method ?? 'GET', url: `${request.baseURL ?? ''}${request.url}`, options: request });
				return await sendLikeN8n(request);
			},
			async httpRequestWithAuthentication(
				this: unknown,
				name: string,
				request: IHttpRequestOptions,
				additional?: { credentialsDecrypted?: { data?: ICredentialDataDecryptedObject } },
			) {
				try {
					// As n8n: the decrypted credential the caller hands over, else the node's credential read now.
					const { type } = credential(name);
					const data = additional?.credentialsDecrypted?.data ?? readCredential(name);
					const authenticated = await applyCredential(type, { ...data }, request);
					requests.push({ method: authenticated.method ?? 'GET', url: `${authenticated.baseURL ?? ''}${authenticated.url}`, options: authenticated });
					return await sendLikeN8n(authenticated);
				} catch (error) {
					// n8n wraps every failure of this helper in a NodeApiError (the cause keeps the axios error).
					throw new NodeApiError(node, error as JsonObject);
				}
			},
			returnJsonArray: (data: IDataObject | IDataObject[]) => (Array.isArray(data) ? data : [data]).map((json) => ({ json })),
			constructExecutionMetaData: (data: INodeExecutionData[], meta: { itemData: INodeExecutionData['pairedItem'] }) =>
				data.map((item) => ({ ...item, pairedItem: meta.itemData })),
		},
		...options.overrides,
	};
	return context as unknown as FakeExecuteContext;
}

/**
 * Runs a credential type's `test` request the way n8n's "Test credential" button does: expressions
 * resolved, credential applied, any non-2xx is a failure (with the rule's message when one matches).
 */
export async function runCredentialTest(
	type: ICredentialType,
	data: ICredentialDataDecryptedObject,
): Promise<{ status: 'OK' | 'Error'; message: string }> {
	if (!type.test) return { status: 'Error', message: 'The credential type has no test request' };
	const request = resolveCredentialExpressions(type.test.request, data) as IHttpRequestOptions;
	const authenticated = await applyCredential(type, data, { ...request, url: request.url ?? '', ignoreHttpStatusErrors: true, returnFullResponse: true });
	let response: { statusCode: number };
	try {
		response = (await sendLikeN8n(authenticated)) as { statusCode: number };
	} catch (error) {
		return { status: 'Error', message: (error as Error).message };
	}
	if (response.statusCode >= 200 && response.statusCode < 300) return { status: 'OK', message: 'Connection tested successfully' };
	for (const rule of type.test.rules ?? []) {
		if (rule.type === 'responseCode' && rule.properties.value === response.statusCode) {
			return { status: 'Error', message: rule.properties.message };
		}
	}
	return { status: 'Error', message: `HTTP ${response.statusCode}` };
}
