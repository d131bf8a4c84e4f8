/** The spec validator itself: it must catch what it is there to catch. */
import * as path from 'node:path';

import { OpenApiValidator, SpecMissingError, hubSpecPath } from './openapi';

let validator: OpenApiValidator;
beforeAll(async () => {
	validator = await OpenApiValidator.load();
});

const contact = { channels: [{ channelId: '+61491570156', type: 'SMS' }], firstName: 'Ada' };

describe('loading the spec', () => {
	it('reads the shared OpenAPI 3.2 document with its file references', () => {
		expect(validator.openapiVersion).toBe('3.2.0');
		expect(validator.operations()).toEqual(expect.arrayContaining(['POST /api/v1/contacts/contacts', 'GET /v1/replies', 'DELETE /v1/webhooks/messages/{webhookId}']));
	});

	it('says where it looked when the spec is absent', async () => {
		const missing = path.join(path.dirname(hubSpecPath()), 'no-such-openapi.yaml');
		await expect(OpenApiValidator.load(missing)).rejects.toThrow(SpecMissingError);
		await expect(OpenApiValidator.load(missing)).rejects.toThrow(missing);
	});

	it('prefers literal path segments over templated ones', () => {
		expect(validator.match('GET', '/v1/number_authorisation/mt/blacklist')?.template).toBe('/v1/number_authorisation/mt/blacklist');
		expect(validator.match('DELETE', '/v1/number_authorisation/mt/blacklist/%2B61491570156')?.pathParams).toEqual({ number: '+61491570156' });
		expect(validator.match('GET', '/v2/nothing')).toBeUndefined();
	});
});

describe('requests', () => {
	it('accepts a valid contact and rejects a wrong enum value or a missing required field', () => {
		const ok = { method: 'POST', path: '/api/v1/contacts/contacts', headers: { 'content-type': 'application/json' } };
		expect(validator.validateRequest({ ...ok, body: contact })).toEqual([]);
		expect(validator.validateRequest({ ...ok, body: { channels: [{ channelId: '+61491570156', type: 'FAX' }] } })).toEqual([
			expect.stringContaining('/channels/0/type must be equal to one of the allowed values'),
		]);
		expect(validator.validateRequest({ ...ok, body: { firstName: 'x' } })[0]).toMatch(/must have required property 'channels'/);
		expect(validator.validateRequest({ ...ok, body: undefined })).toEqual(['POST /api/v1/contacts/contacts requires a request body']);
	});

	it('checks the form-exploded `request` object of the paged endpoints', () => {
		const get = (query: string) => validator.validateRequest({ method: 'GET', path: '/api/v1/contacts/contacts', query });
		expect(get('pageSize=1000&channelIds=%2B61491570156&channelIds=%2B61491570157&channelTypes=SMS')).toEqual([]);
		expect(get('')).toEqual([]);
		expect(get('pageSize=1001')[0]).toMatch(/request\/pageSize must be <= 1000/);
		expect(get('listIds=not-a-uuid')[0]).toMatch(/listIds\/0 must match format "uuid"/);
		expect(get('channelSubscriptionState=PENDING')[0]).toMatch(/allowed values/);
		expect(get('channelIds%5B0%5D=%2B61491570156')).toEqual(['GET /api/v1/contacts/contacts does not declare the query parameter "channelIds[0]"']);
	});

	it('checks path parameters, including comma-separated arrays', () => {
		expect(validator.validateRequest({ method: 'GET', path: '/api/v1/contacts/lists/nope' })[0]).toMatch(/path parameter listId must match format "uuid"/);
		expect(validator.validateRequest({ method: 'GET', path: '/v1/number_authorisation/is_authorised/%2B61491570156,%2B61491570157' })).toEqual([]);
	});

	it('checks messaging bodies (metadata, formats, limits)', () => {
		const send = (message: Record<string, unknown>) =>
			validator.validateRequest({ method: 'POST', path: '/v1/messages', body: { messages: [{ content: 'hi', destination_number: '+61491570156', ...message }] } });
		expect(send({ metadata: { a: 'b' }, format: 'SMS' })).toEqual([]);
		expect(send({ format: 'FAX' })[0]).toMatch(/format must be equal to one of the allowed values/);
		expect(send({ destination_number: '+6149157015612345678' })[0]).toMatch(/must NOT have more than 15 characters/);
		const tooMany = validator.validateRequest({ method: 'POST', path: '/v1/replies/confirmed', body: { reply_ids: Array.from({ length: 101 }, () => '3fa85f64-5717-4562-b3fc-2c963f66afa6') } });
		expect(tooMany[0]).toMatch(/must NOT have more than 100 items/);
	});
});

describe('responses', () => {
	it('flags an undeclared status, a wrong body, a missing JSON body and an unexpected one', () => {
		expect(validator.validateResponse({ method: 'GET', path: '/api/v1/contacts/lists/3fa85f64-5717-4562-b3fc-2c963f66afa6', status: 418 })[0]).toMatch(
			/does not declare status 418/,
		);
		const badError = validator.validateResponse({
			method: 'POST',
			path: '/api/v1/contacts/contacts',
			status: 409,
			contentType: 'application/json',
			body: { message: 'exists' },
		});
		expect(badError).toEqual(expect.arrayContaining([expect.stringMatching(/must have required property 'uuid'/)]));
		expect(validator.validateResponse({ method: 'POST', path: '/v1/messages', status: 401 })[0]).toMatch(/401 response body is missing/);
		expect(validator.validateResponse({ method: 'POST', path: '/api/v1/contacts/contacts', status: 401 })).toEqual([]);
		expect(validator.validateResponse({ method: 'DELETE', path: '/v1/webhooks/messages/3fa85f64-5717-4562-b3fc-2c963f66afa6', status: 204, body: { x: 1 } })[0]).toMatch(
			/declares no body/,
		);
	});

	it('accepts a valid contacts page and rejects one whose contact lacks required fields', () => {
		const page = (content: unknown[]) =>
			validator.validateResponse({ method: 'GET', path: '/api/v1/contacts/contacts', status: 200, contentType: 'application/json', body: { content, totalElements: content.length } });
		expect(page([])).toEqual([]);
		expect(page([{ id: '3fa85f64-5717-4562-b3fc-2c963f66afa6' }]).length).toBeGreaterThan(5);
	});

	it('validates webhook payloads against the spec’s webhooks section', () => {
		expect(validator.validateWebhookPayload('optOut', { notification_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6', content: 'STOP', metadata: {} })).toEqual([]);
		expect(validator.validateWebhookPayload('smsReceived', { content: '', metadata: { a: 1 } }).length).toBe(2);
	});
});
