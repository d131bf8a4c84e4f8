/**
 * What both emulators share: a loopback HTTP server, runtime-settable faults, per-endpoint counters
 * and the `/_control` API through which tests, the demo and benchmarks steer them.
 *
 * Control API (same on both emulators):
 *   GET  /_control/counters          → { "<METHOD> <route>": n, ... }
 *   POST /_control/counters/reset
 *   GET  /_control/faults            → FaultConfig
 *   PUT  /_control/faults            ← partial FaultConfig (merged)
 * Each emulator adds its own `/_control/...` routes for its state.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { seededRandom } from './datasets';

export interface FaultConfig {
	/** Added to every answer (not to /_control). */
	latencyMs: number;
	/** Uniform extra latency in [0, jitterMs). */
	jitterMs: number;
	/**
	 * When true, the latency is the whole time to an answer, the emulator's own work included: the request
	 * is carried out at once and its answer waits out the rest of the latency. A real API does its work on
	 * many machines in parallel, while this emulator does it on one thread after the other; with the default
	 * (false: wait, then work) concurrent requests queue behind each other's work, and a benchmark would
	 * time the emulator. Answers, faults and counters are the same either way; only when a change becomes
	 * visible differs (before its answer, as it can with a real API).
	 */
	latencyCoversWork?: boolean;
	/** Shares in [0, 1] of requests answered with that fault instead of the real answer. */
	rate429: number;
	rate5xx: number;
	/** Mailchimp's "403 without a JSON body" under high volume. */
	rate403NoBody: number;
	/** Connection destroyed without an answer. */
	dropRate: number;
	/**
	 * Shares of requests answered 200 with something a client must not trust, as a proxy, a captive
	 * portal or a broken deployment can: an HTML page, `{}`, or the real answer with its shape broken
	 * by the emulator (`malform`: a list that is not an array, a count that is not a number).
	 * The request is not carried out.
	 */
	rateHtml200: number;
	rateEmpty200: number;
	rateMalformed200: number;
	/**
	 * Lost answers to requests the server DID carry out: the request is applied, then answered with a
	 * 500 in the API's own error shape (`rateAppliedThen500`) or its connection is dropped before any
	 * answer (`rateAppliedThenDrop`). Only successful answers are replaced; a request the API refused
	 * keeps its refusal. Narrow them to writes with `routeFilter`, e.g. `^POST /api/v1/contacts/contacts$`.
	 */
	rateAppliedThen500: number;
	rateAppliedThenDrop: number;
	/**
	 * Only requests whose route (`<METHOD> <template>`, e.g. `POST /api/v1/contacts/contacts`) matches
	 * this regular expression get faults; empty = all.
	 */
	routeFilter: string;
	/**
	 * When set, fault rolls come from a generator seeded with this number (reset whenever the seed
	 * changes), so a test sees the same sequence of faults on every run instead of a chance of none.
	 */
	seed: number | null;
}

export const NO_FAULTS: FaultConfig = {
	latencyMs: 0,
	jitterMs: 0,
	latencyCoversWork: false,
	rate429: 0,
	rate5xx: 0,
	rate403NoBody: 0,
	dropRate: 0,
	rateHtml200: 0,
	rateEmpty200: 0,
	rateMalformed200: 0,
	rateAppliedThen500: 0,
	rateAppliedThenDrop: 0,
	routeFilter: '',
	seed: null,
};

export class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly body: unknown,
		readonly headers: Record<string, string> = {},
	) {
		super(`HTTP ${status}`);
	}
}

export interface EmulatorRequest {
	method: string;
	/** Path without the query string. */
	path: string;
	query: URLSearchParams;
	headers: http.IncomingHttpHeaders;
	/** Parsed JSON (or form) body, undefined when empty. */
	body: unknown;
	rawBody: string;
	/** Set by the router: the route template, e.g. `GET /3.0/lists/{list_id}/members`. */
	route?: string;
	params: Record<string, string>;
}

export interface EmulatorResponse {
	status: number;
	body?: unknown;
	headers?: Record<string, string>;
	contentType?: string;
}

type GarbledKind = 'html' | 'empty' | 'malformed';

type Handler = (req: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;

interface Route {
	method: string;
	template: string;
	pattern: RegExp;
	names: string[];
	handler: Handler;
}

/** A tiny router over path templates such as `/3.0/lists/{list_id}/members`. */
export class Router {
	private readonly routes: Route[] = [];

	add(method: string, template: string, handler: Handler): this {
		const names: string[] = [];
		const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
			names.push(name);
			return '([^/]+)';
		});
		this.routes.push({ method, template, pattern: new RegExp(`^${source}/?$`), names, handler });
		return this;
	}

	match(method: string, path: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
		let pathMatched = false;
		for (const route of this.routes) {
			const m = route.pattern.exec(path);
			if (!m) continue;
			pathMatched = true;
			if (route.method !== method) continue;
			const params: Record<string, string> = {};
			route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])));
			return { route, params };
		}
		return pathMatched ? 'method' : undefined;
	}
}

export interface EmulatorOptions {
	host?: string;
	port?: number;
	/** Answer for an unknown path or method, in the API's own error shape. */
	notFound: (req: EmulatorRequest) => EmulatorResponse;
	methodNotAllowed: (req: EmulatorRequest) => EmulatorResponse;
	/** Body of an injected 429 / 5xx, in the API's own error shape. */
	faultBody: (status: number) => EmulatorResponse;
	/** Breaks the shape of a real answer's body for `rateMalformed200`; without it the body becomes `[]`. */
	malform?: (body: unknown) => unknown;
	/** The 500 that replaces the answer to an applied request (`rateAppliedThen500`); default faultBody(500). */
	appliedFaultBody?: () => EmulatorResponse;
	/** Called for every request before routing (e.g. authentication, connection limits). */
	before?: (req: EmulatorRequest) => EmulatorResponse | undefined;
	/** Called when a request ends, whatever the outcome. */
	after?: (req: EmulatorRequest) => void;
}

export interface RunningEmulator {
	url: string;
	port: number;
	server: http.Server;
	faults: FaultConfig;
	counters: Map<string, number>;
	close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parseBody(raw: string, contentType: string | undefined): unknown {
	if (raw === '') return undefined;
	if (contentType?.includes('application/x-www-form-urlencoded')) {
		return Object.fromEntries(new URLSearchParams(raw));
	}
	try {
		return JSON.parse(raw);
	} catch {
		throw new HttpError(400, { message: 'Request body is not valid JSON' });
	}
}

/** An answer as it goes on the wire: serialised once, before the latency is waited out. */
interface WireAnswer {
	status: number;
	headers: Record<string, string>;
	payload: string;
}

function serialise(answer: EmulatorResponse): WireAnswer {
	const headers: Record<string, string> = { ...(answer.headers ?? {}) };
	let payload = '';
	if (answer.body !== undefined) {
		payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
		headers['content-type'] = answer.contentType ?? 'application/json';
	}
	headers['content-length'] = String(Buffer.byteLength(payload));
	return { status: answer.status, headers, payload };
}

function write(res: http.ServerResponse, wire: WireAnswer): void {
	res.writeHead(wire.status, wire.headers);
	res.end(wire.payload);
}

function send(res: http.ServerResponse, answer: EmulatorResponse): void {
	write(res, serialise(answer));
}

/**
 * Starts one emulator. `router` serves the API, `control` the emulator-specific `/_control` routes;
 * faults never apply to `/_control`.
 */
export async function startEmulator(
	router: Router,
	control: Router,
	options: EmulatorOptions,
): Promise<RunningEmulator> {
	const faults: FaultConfig = { ...NO_FAULTS };
	// Tests also change `faults` in place, so the seeded generator follows the seed it was made from.
	let seeded: { seed: number; next: () => number } | undefined;
	const counters = new Map<string, number>();
	const count = (key: string) => counters.set(key, (counters.get(key) ?? 0) + 1);

	control
		.add('GET', '/_control/counters', () => ({ status: 200, body: Object.fromEntries(counters) }))
		.add('POST', '/_control/counters/reset', () => {
			counters.clear();
			return { status: 204 };
		})
		.add('GET', '/_control/faults', () => ({ status: 200, body: faults }))
		.add('PUT', '/_control/faults', (req) => {
			Object.assign(faults, NO_FAULTS, req.body as Partial<FaultConfig>);
			seeded = undefined; // a PUT starts the seeded sequence afresh, even with the same seed
			return { status: 200, body: faults };
		});

	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', () => {
			void handle(req, res, Buffer.concat(chunks).toString('utf8'));
		});
	});
	// Emulators serve many keep-alive clients at once.
	server.keepAliveTimeout = 30_000;

	async function handle(req: http.IncomingMessage, res: http.ServerResponse, rawBody: string) {
		const arrived = Date.now();
		const url = new URL(req.url ?? '/', 'http://emulator');
		const request: EmulatorRequest = {
			method: req.method ?? 'GET',
			path: url.pathname,
			query: url.searchParams,
			headers: req.headers,
			body: undefined,
			rawBody,
			params: {},
		};
		const isControl = url.pathname.startsWith('/_control/');
		try {
			request.body = parseBody(rawBody, req.headers['content-type']);
			if (isControl) {
				const hit = control.match(request.method, request.path);
				if (hit === undefined || hit === 'method') return send(res, { status: 404, body: { message: 'unknown control route' } });
				request.params = hit.params;
				return send(res, await hit.route.handler(request));
			}
			const hit = router.match(request.method, request.path);
			request.route = typeof hit === 'object' ? `${request.method} ${hit.route.template}` : `${request.method} (unrouted)`;
			count(request.route);
			const early = options.before?.(request);
			if (early) return send(res, early);
			const delay = faults.latencyMs + (faults.jitterMs > 0 ? Math.random() * faults.jitterMs : 0);
			// Latency first, or (latencyCoversWork) the work first and the answer at the latency's end.
			const waitOut = async () => {
				const rest = arrived + delay - Date.now();
				if (rest > 0) await sleep(rest);
			};
			// Serialised before the wait: a page of 1,000 members takes milliseconds to write out, which is
			// the emulator's work and, with latencyCoversWork, belongs inside the latency, not after it.
			const reply = async (answer: EmulatorResponse) => {
				const wire = serialise(answer);
				await waitOut();
				write(res, wire);
			};
			try {
				if (!faults.latencyCoversWork) await waitOut();
				const fault = await applyFaults(request, res, reply, waitOut);
				if (res.writableEnded || res.destroyed) return;
				if (hit === undefined) return await reply(options.notFound(request));
				if (hit === 'method') return await reply(options.methodNotAllowed(request));
				request.params = hit.params;
				if (fault === 'html' || fault === 'empty' || fault === 'malformed') return await reply(await garble(fault, request, hit.route.handler));
				const answer = await hit.route.handler(request);
				if (fault && answer.status >= 200 && answer.status < 300) {
					// The request was carried out; only its answer is lost.
					count(`fault ${fault}`);
					if (fault === 'applied drop') {
						await waitOut();
						return dropConnection(res);
					}
					return await reply(options.appliedFaultBody?.() ?? options.faultBody(500));
				}
				await reply(answer);
			} finally {
				options.after?.(request);
			}
		} catch (error) {
			if (res.headersSent || res.destroyed) return;
			if (error instanceof HttpError) return send(res, { status: error.status, body: error.body, headers: error.headers });
			send(res, { status: 500, body: { message: (error as Error).message } });
		}
	}

	function roll(): number {
		if (faults.seed === null || faults.seed === undefined) {
			seeded = undefined;
			return Math.random();
		}
		if (seeded?.seed !== faults.seed) seeded = { seed: faults.seed, next: seededRandom(faults.seed) };
		return seeded.next();
	}

	const HTML_PAGE =
		'<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The upstream server did not answer in time.</p></body></html>';

	/** A 200 in place of the real answer. A malformed one is built from what a GET would have answered. */
	async function garble(kind: GarbledKind, request: EmulatorRequest, handler: Handler): Promise<EmulatorResponse> {
		if (kind === 'html') return { status: 200, body: HTML_PAGE, contentType: 'text/html; charset=utf-8' };
		if (kind === 'empty') return { status: 200, body: {} };
		const real = request.method === 'GET' ? await handler(request) : { status: 200, body: {} };
		return { status: 200, body: options.malform ? options.malform(real.body) : [] };
	}

	function dropConnection(res: http.ServerResponse) {
		res.socket?.destroy();
		res.destroy();
	}

	/**
	 * Answers (or drops) the request when a fault is rolled. A garbled 200, or a lost answer to a
	 * request that is carried out first ('applied 500', 'applied drop'), is left to the caller, which
	 * knows the route. One roll decides, so a seed replays exactly.
	 */
	async function applyFaults(
		request: EmulatorRequest,
		res: http.ServerResponse,
		reply: (answer: EmulatorResponse) => Promise<void>,
		waitOut: () => Promise<void>,
	): Promise<GarbledKind | 'applied 500' | 'applied drop' | undefined> {
		if (faults.routeFilter && !new RegExp(faults.routeFilter).test(request.route ?? '')) return undefined;
		const dice = roll();
		let edge = faults.dropRate;
		if (dice < edge) {
			count('fault drop');
			await waitOut();
			dropConnection(res);
			return undefined;
		}
		if (dice < (edge += faults.rate429)) {
			count('fault 429');
			await reply(options.faultBody(429));
			return undefined;
		}
		if (dice < (edge += faults.rate5xx)) {
			count('fault 5xx');
			await reply(options.faultBody(503));
			return undefined;
		}
		if (dice < (edge += faults.rate403NoBody)) {
			count('fault 403');
			await reply({ status: 403 });
			return undefined;
		}
		for (const [kind, rate] of [
			['html', faults.rateHtml200],
			['empty', faults.rateEmpty200],
			['malformed', faults.rateMalformed200],
		] as const) {
			if (dice < (edge += rate ?? 0)) {
				count(`fault 200 ${kind}`);
				return kind;
			}
		}
		if (dice < (edge += faults.rateAppliedThen500 ?? 0)) return 'applied 500';
		if (dice < (edge += faults.rateAppliedThenDrop ?? 0)) return 'applied drop';
		return undefined;
	}

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
	});
	const port = (server.address() as AddressInfo).port;
	return {
		url: `http://${options.host ?? '127.0.0.1'}:${port}`,
		port,
		server,
		faults,
		counters,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
