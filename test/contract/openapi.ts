/**
 * Validates HTTP exchanges against the official Sinch Engage OpenAPI description.
 *
 * The spec stays where the team keeps it (../shared/reference/sinch-engage/spec, or $SINCH_ENGAGE_SPEC);
 * it is never copied into the repository. It declares OpenAPI 3.2.0, which swagger-parser refuses, so
 * the document is dereferenced with json-schema-ref-parser and its schemas (JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1+) are compiled with Ajv's 2020 build. This file only walks the OpenAPI
 * structure (operations, parameters, media types); every value check is Ajv's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import $RefParser from '@apidevtools/json-schema-ref-parser';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where the spec is read from: $SINCH_ENGAGE_SPEC, else the team's shared reference folder. */
export function hubSpecPath(): string {
	return process.env.SINCH_ENGAGE_SPEC ?? path.resolve(REPO_ROOT, '..', 'shared', 'reference', 'sinch-engage', 'spec', 'openapi.yaml');
}

export class SpecMissingError extends Error {
	constructor(readonly specPath: string) {
		super(
			`The official Sinch Engage OpenAPI spec was not found at ${specPath}. The Hub contract tests read it from ` +
				`../shared/reference/sinch-engage/spec/openapi.yaml next to the repository (it is not copied into the repo); ` +
				`put it there or point SINCH_ENGAGE_SPEC at its openapi.yaml.`,
		);
		this.name = 'SpecMissingError';
	}
}

type Json = Record<string, unknown>;
interface Schema extends Json {
	type?: string | string[];
	properties?: Record<string, Schema>;
	items?: Schema;
}
interface Parameter {
	name: string;
	in: 'path' | 'query' | 'header' | 'cookie';
	required?: boolean;
	style?: string;
	explode?: boolean;
	schema?: Schema;
}
interface MediaType {
	schema?: Schema;
}
interface Operation {
	operationId?: string;
	parameters?: Parameter[];
	requestBody?: { required?: boolean; content?: Record<string, MediaType> };
	responses?: Record<string, { content?: Record<string, MediaType> }>;
}

export interface OperationMatch {
	template: string;
	method: string;
	operation: Operation;
	pathParams: Record<string, string>;
	pathLevelParameters: Parameter[];
}

export interface RequestToValidate {
	method: string;
	path: string;
	/** Raw query string (with or without '?') or parsed parameters. */
	query?: string | URLSearchParams;
	headers?: Record<string, string | string[] | undefined>;
	body?: unknown;
}

export interface ResponseToValidate {
	method: string;
	path: string;
	status: number;
	contentType?: string;
	body?: unknown;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'query'];

const isEmptyBody = (body: unknown) => body === undefined || body === null || body === '';
const mime = (contentType: string | undefined) => (contentType ?? '').split(';')[0].trim().toLowerCase();
const isJsonMime = (type: string) => type === '*/*' || type === 'application/json' || /\+json$|\/json$/.test(type);

function typesOf(schema: Schema | undefined): string[] {
	if (!schema?.type) return [];
	return Array.isArray(schema.type) ? schema.type : [schema.type];
}

function describe(errors: ErrorObject[] | null | undefined, where: string): string[] {
	return (errors ?? []).map((e) => {
		const extra = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
		return `${where}${e.instancePath || ''} ${e.message ?? e.keyword}${extra}`;
	});
}

export class OpenApiValidator {
	/** Validates JSON bodies as they are. */
	private readonly ajv: Ajv2020;
	/** Validates parameters, which arrive as strings: coerced to the declared types first. */
	private readonly paramAjv: Ajv2020;
	private readonly compiled = new WeakMap<object, ValidateFunction>();
	private readonly compiledParams = new WeakMap<object, ValidateFunction>();
	private readonly routes: Array<{ template: string; pattern: RegExp; names: string[]; literal: number; item: Json }>;

	private constructor(
		readonly document: Json,
		readonly specPath: string,
	) {
		const options = { strict: false, allErrors: true };
		this.ajv = new Ajv2020(options);
		this.paramAjv = new Ajv2020({ ...options, coerceTypes: 'array' });
		addFormats(this.ajv);
		addFormats(this.paramAjv);
		const paths = (document.paths ?? {}) as Record<string, Json>;
		this.routes = Object.entries(paths)
			.map(([template, item]) => {
				const names: string[] = [];
				const source = template
					.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
					.replace(/\{(\w+)\}/g, (_m, name: string) => {
						names.push(name);
						return '([^/]+)';
					});
				return { template, pattern: new RegExp(`^${source}$`), names, literal: template.replace(/\{\w+\}/g, '').length, item };
			})
			// A literal segment wins over a template one (…/mt/blacklist before …/mt/blacklist/{number}).
			.sort((a, b) => b.literal - a.literal);
	}

	/** Reads and dereferences the spec; throws SpecMissingError when it is not there. */
	static async load(specFile: string = hubSpecPath()): Promise<OpenApiValidator> {
		if (!fs.existsSync(specFile)) throw new SpecMissingError(specFile);
		const document = (await $RefParser.dereference(specFile)) as Json;
		if (typeof document.openapi !== 'string') throw new Error(`${specFile} is not an OpenAPI document`);
		return new OpenApiValidator(document, specFile);
	}

	get openapiVersion(): string {
		return this.document.openapi as string;
	}

	/** Every `METHOD /template` the spec declares. */
	operations(): string[] {
		return this.routes.flatMap((r) => METHODS.filter((m) => r.item[m]).map((m) => `${m.toUpperCase()} ${r.template}`));
	}

	match(method: string, requestPath: string): OperationMatch | undefined {
		for (const route of this.routes) {
			const m = route.pattern.exec(requestPath);
			if (!m) continue;
			const operation = route.item[method.toLowerCase()] as Operation | undefined;
			if (!operation) continue;
			const pathParams: Record<string, string> = {};
			route.names.forEach((name, i) => (pathParams[name] = decodeURIComponent(m[i + 1])));
			return {
				template: route.template,
				method: method.toUpperCase(),
				operation,
				pathParams,
				pathLevelParameters: (route.item.parameters as Parameter[] | undefined) ?? [],
			};
		}
		return undefined;
	}

	private validator(schema: object, forParams: boolean): ValidateFunction {
		const cache = forParams ? this.compiledParams : this.compiled;
		let fn = cache.get(schema);
		if (!fn) {
			fn = (forParams ? this.paramAjv : this.ajv).compile(schema);
			cache.set(schema, fn);
		}
		return fn;
	}

	private check(schema: Schema | undefined, value: unknown, where: string, forParams = false): string[] {
		if (!schema) return [];
		const fn = this.validator(schema, forParams);
		return fn(value) ? [] : describe(fn.errors, where);
	}

	validateRequest(request: RequestToValidate): string[] {
		const match = this.match(request.method, request.path);
		if (!match) return [`${request.method} ${request.path} matches no operation of the spec`];
		const op = `${match.method} ${match.template}`;
		const problems: string[] = [];
		const query =
			request.query instanceof URLSearchParams ? request.query : new URLSearchParams((request.query ?? '').replace(/^\?/, ''));
		const consumed = new Set<string>();
		const byKey = new Map<string, Parameter>();
		for (const p of [...match.pathLevelParameters, ...(match.operation.parameters ?? [])]) byKey.set(`${p.in}:${p.name}`, p);

		for (const param of byKey.values()) {
			const where = `${op} ${param.in} parameter ${param.name}`;
			const schema = param.schema;
			if (param.in === 'path') {
				const raw = match.pathParams[param.name];
				// style simple: an array is comma separated.
				const value = typesOf(schema).includes('array') ? raw.split(',') : raw;
				problems.push(...this.check(schema, value, where, true));
			} else if (param.in === 'query') {
				const style = param.style ?? 'form';
				const explode = param.explode ?? style === 'form';
				if (typesOf(schema).includes('object') && style === 'form' && explode) {
					// An exploded object: each property is its own query parameter.
					const value: Json = {};
					for (const [prop, propSchema] of Object.entries(schema?.properties ?? {})) {
						const values = query.getAll(prop);
						if (values.length === 0) continue;
						consumed.add(prop);
						value[prop] = typesOf(propSchema).includes('array') ? values : values.length === 1 ? values[0] : values;
					}
					problems.push(...this.check(schema, value, where, true));
				} else {
					const values = query.getAll(param.name);
					if (values.length === 0) {
						if (param.required) problems.push(`${where} is required`);
						continue;
					}
					consumed.add(param.name);
					let value: unknown = values.length === 1 ? values[0] : values;
					if (typesOf(schema).includes('array') && !explode) value = values[0].split(',');
					if (typesOf(schema).includes('array') && explode) value = values;
					problems.push(...this.check(schema, value, where, true));
				}
			} else if (param.in === 'header') {
				const entry = Object.entries(request.headers ?? {}).find(([k]) => k.toLowerCase() === param.name.toLowerCase());
				if (entry === undefined || entry[1] === undefined) {
					if (param.required) problems.push(`${where} is required`);
					continue;
				}
				problems.push(...this.check(schema, entry[1], where, true));
			}
		}
		// Like most OpenAPI request validators: a query parameter the operation does not declare is an error.
		for (const key of new Set(query.keys())) {
			if (!consumed.has(key)) problems.push(`${op} does not declare the query parameter "${key}"`);
		}

		const declared = match.operation.requestBody;
		const contentType = mime(
			Object.entries(request.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] as string | undefined,
		);
		if (isEmptyBody(request.body)) {
			if (declared?.required) problems.push(`${op} requires a request body`);
		} else if (!declared?.content) {
			problems.push(`${op} declares no request body, but one was sent`);
		} else {
			const media = this.pickMedia(declared.content, contentType || 'application/json');
			if (!media) problems.push(`${op} does not accept a ${contentType} request body`);
			else if (isJsonMime(media.type)) problems.push(...this.check(media.media.schema, request.body, `${op} request body`));
		}
		return problems;
	}

	validateResponse(response: ResponseToValidate): string[] {
		const match = this.match(response.method, response.path);
		if (!match) return [`${response.method} ${response.path} matches no operation of the spec`];
		const op = `${match.method} ${match.template}`;
		const responses = match.operation.responses ?? {};
		const status = String(response.status);
		const declared = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
		if (!declared) return [`${op} does not declare status ${status} (declared: ${Object.keys(responses).join(', ')})`];
		const where = `${op} ${status} response body`;
		if (isEmptyBody(response.body)) {
			// A missing body only matters where the spec promises a JSON one.
			const promisesJson = Object.entries(declared.content ?? {}).some(([type, m]) => isJsonMime(type) && m.schema);
			return promisesJson ? [`${where} is missing`] : [];
		}
		if (!declared.content) return [`${op} ${status} declares no body, but one was sent`];
		const media = this.pickMedia(declared.content, mime(response.contentType) || 'application/json');
		if (!media) return [`${op} ${status} does not declare a ${response.contentType} body (declared: ${Object.keys(declared.content).join(', ')})`];
		return isJsonMime(media.type) ? this.check(media.media.schema, response.body, where) : [];
	}

	/** Validates a webhook payload against the spec's `webhooks` section (e.g. `smsReceived`, `optOut`). */
	validateWebhookPayload(name: string, body: unknown): string[] {
		const webhook = (this.document.webhooks as Record<string, Json> | undefined)?.[name];
		const operation = webhook?.post as Operation | undefined;
		const media = operation?.requestBody?.content?.['application/json'];
		if (!media) return [`the spec declares no JSON webhook "${name}"`];
		return this.check(media.schema, body, `webhook ${name} payload`);
	}

	private pickMedia(content: Record<string, MediaType>, type: string): { type: string; media: MediaType } | undefined {
		const entries = Object.entries(content);
		const exact = entries.find(([t]) => t.toLowerCase() === type);
		const wildcardSubtype = entries.find(([t]) => t.endsWith('/*') && type.startsWith(t.slice(0, -1)));
		const any = entries.find(([t]) => t === '*/*');
		const found = exact ?? wildcardSubtype ?? any;
		return found ? { type: found[0].toLowerCase(), media: found[1] } : undefined;
	}
}
