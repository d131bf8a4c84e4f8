/**
 * How a Hub request reaches the network.
 *
 * n8n's `httpRequestWithAuthentication` makes a new HTTP agent for every request, so every Hub call
 * opens its own connection: against the real Hub a TCP and a TLS handshake per contact written, and
 * inside n8n each new request waits for its connection in a later turn of the event loop, which
 * lines the requests in flight up into one burst that n8n then answers one after the other (at 32 in
 * flight, 60 ms answers took 80–87 ms). So, where n8n's helper adds nothing the Hub needs, requests
 * go out through Node.js's own HTTP agent, which keeps connections open between requests, as the
 * Mailchimp client's requests do.
 *
 * n8n's helper stays in charge where it does add something: a proxy set in the environment, n8n's
 * SSRF protection (it checks where each request goes), or an operator who asks for it.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';

/** The operator's switch: `n8n` sends every Hub request through n8n's HTTP helper. */
export const HUB_TRANSPORT_ENV = 'MAILCHIMP_HUB_SYNC_HUB_TRANSPORT';

const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'];

/** Whether Hub requests may bypass n8n's HTTP helper in this process. */
export function keepAliveAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
	if ((env[HUB_TRANSPORT_ENV] ?? '').trim().toLowerCase() === 'n8n') return false;
	if (PROXY_VARIABLES.some((name) => (env[name] ?? '').trim() !== '')) return false;
	// n8n reads its booleans as 'true'/'1', case aside.
	return !['true', '1'].includes((env.N8N_SSRF_PROTECTION_ENABLED ?? '').trim().toLowerCase());
}

export interface WireRequest {
	method: string;
	url: string;
	headers: Record<string, string>;
	/** JSON-serialisable; sent as application/json. */
	body?: unknown;
	timeoutMs: number;
}

export interface WireAnswer {
	statusCode: number;
	headers: IncomingHttpHeaders;
	/** As received (UTF-8); the caller decides what it is. */
	body: string;
}

/** A failure before a whole answer arrived; `code` is Node's (ECONNRESET, ECONNREFUSED, ETIMEDOUT, …). */
export class WireError extends Error {
	constructor(
		message: string,
		readonly code: string,
	) {
		super(message);
		this.name = 'WireError';
	}
}

/**
 * One request over Node's global agent: kept-alive connections (Node ≥ 19's default), reused by every
 * node and run of this process; the credential travels in this request's headers only.
 */
export function sendKeepAlive(request: WireRequest): Promise<WireAnswer> {
	const url = new URL(request.url);
	const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
	const headers: Record<string, string> = { Accept: 'application/json', ...request.headers };
	if (payload !== undefined) {
		headers['Content-Type'] = 'application/json';
		headers['Content-Length'] = String(Buffer.byteLength(payload));
	}
	const send = url.protocol === 'https:' ? https.request : http.request;
	return new Promise<WireAnswer>((resolve, reject) => {
		const req = send(url, { method: request.method, headers }, (res) => {
			const parts: Buffer[] = [];
			res.on('data', (part: Buffer) => parts.push(part));
			res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
			res.on('error', (error: NodeJS.ErrnoException) => reject(new WireError(error.message, error.code ?? 'ECONNRESET')));
			// A connection dropped mid-answer ends the response without 'end'.
			res.on('aborted', () => reject(new WireError('the connection closed before the whole answer arrived', 'ECONNRESET')));
		});
		// No byte for this long, connecting included: the same rule as n8n's `timeout`.
		req.setTimeout(request.timeoutMs, () => req.destroy(new WireError(`no answer within ${request.timeoutMs} ms`, 'ETIMEDOUT')));
		req.on('error', (error: NodeJS.ErrnoException) =>
			reject(error instanceof WireError ? error : new WireError(error.message, error.code ?? 'ECONNRESET')),
		);
		req.end(payload);
	});
}
