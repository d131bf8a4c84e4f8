/**
 * Every request our Hub client sends is one the official spec accepts: the client runs every method
 * (through the fake n8n context, so requests are built exactly as inside n8n) against the emulator,
 * and each request that reached the wire is validated, with the answer it got.
 */
import { HubConflictError, HubNotFoundError, type HubClient } from '../../nodes/shared/transport/hub';
import { startHubEmulator, type HubEmulator, type HubExchange } from '../emulators/hub';
import { testHubClient } from '../unit/helpers/hubContext';
import { KNOWN_SPEC_DEVIATIONS } from './hub-deviations';
import { OpenApiValidator } from './openapi';

const KEY = { apiKey: 'client-contract-key', apiSecret: 'client-contract-secret', accountId: 'ClientContract' };

let validator: OpenApiValidator;
let emu: HubEmulator;
const exchanges: HubExchange[] = [];

beforeAll(async () => {
	validator = await OpenApiValidator.load();
	emu = await startHubEmulator({ accounts: [{ ...KEY, subAccounts: [{ accountId: 'ClientContractSub' }] }], onExchange: (e) => exchanges.push(e) });
});
afterAll(async () => {
	await emu?.close();
});

async function everyMethod(client: HubClient) {
	const list = await client.ensureList('MAILCHIMP');
	await client.ensureList('MAILCHIMP');
	const source = await client.ensureCustomField({ label: 'Source', mergeTag: 'source', maxLength: 32, type: 'TEXT' });
	const memberId = await client.ensureCustomField({ label: 'Mailchimp contact ID', mergeTag: 'mailchimp_contact_id', maxLength: 64, type: 'TEXT' });
	const contacts = [];
	for (let i = 0; i < 3; i++) {
		contacts.push(
			await client.createContact({
				firstName: `F${i}`,
				lastName: 'L',
				channels: [{ channelId: `+6149157015${i}`, type: 'SMS', subscriptionState: 'SUBSCRIBED' }],
				lists: [{ id: list.id }],
				customFields: [
					{ id: source.id, value: 'MAILCHIMP' },
					{ id: memberId.id, value: `mc-${i}` },
				],
			}),
		);
	}
	await client.createContact({ channels: [{ channelId: '+61491570150', type: 'SMS' }] }).catch((e) => expect(e).toBeInstanceOf(HubConflictError));
	await client.findContactsByPhone(['+61491570150', '+61491570151', '+61491570199']);
	for await (const page of client.contactPages({ listIds: [list.id], channelTypes: ['SMS'], channelSubscriptionState: 'SUBSCRIBED' }, 2)) expect(page.length).toBeLessThanOrEqual(2);
	for await (const contact of client.contacts({ contactIds: [contacts[0].id] })) expect(contact.id).toBe(contacts[0].id);
	await client.getContact(contacts[0].id);
	await client.getContact('3fa85f64-5717-4562-b3fc-2c963f66afa6').catch((e) => expect(e).toBeInstanceOf(HubNotFoundError));
	await client.updateContact(contacts[0].id, {
		firstName: 'G',
		channels: [{ channelId: '+61491570150', type: 'SMS', subscriptionState: 'UNSUBSCRIBED' }],
		lists: [],
		customFields: [{ id: source.id, value: 'MAILCHIMP' }],
	});
	await client.updateListMembers(list.id, { add: [contacts[0].id], remove: [contacts[1].id] });
	await client.addContactToList(list.id, contacts[1].id);
	await client.removeContactFromList(list.id, contacts[2].id);
	await client.getList(list.id);
	for await (const field of client.customFields({ customFieldIds: [source.id] })) expect(field.id).toBe(source.id);

	const sent = await client.sendMessages([
		{ content: 'Reply Y or Yes to confirm', destination_number: '+61491570151', source_number: '+61400000000', metadata: { purpose: 'doi', member: 'mc-1' } },
		{ content: 'You are subscribed. Reply STOP to cancel.', destination_number: '+61491570152', delivery_report: false, format: 'SMS' },
	]);
	await client.getMessage(sent[0].message_id);
	await emu.inbound('ClientContract', { from: '+61491570151', content: 'YES' });
	await emu.inbound('ClientContract', { from: '+61491570152', content: 'STOP' });
	const replies = await client.checkReplies();
	await client.confirmReplies(replies.map((r) => r.reply_id));

	const hook = await client.ensureWebhook({ url: 'http://127.0.0.1:9/replies', method: 'POST', encoding: 'JSON', events: ['RECEIVED_SMS'], retries: 2, retry_delay: 10, read_timeout: 5000 });
	await client.ensureWebhook({ url: 'http://127.0.0.1:9/replies', method: 'POST', encoding: 'JSON', events: ['OPT_OUT_SMS'] });
	await client.findWebhook('http://127.0.0.1:9/none');
	await client.deleteWebhook(hook.id);

	await client.checkAuthorised(['+61491570151', '+61491570152']);
	await client.addToBlacklist(['+61491570153']);
	for await (const number of client.blacklist()) expect(number).toMatch(/^\+/);
	await client.removeFromBlacklist('+61491570153');
	await client.removeFromBlacklist('+61491570153');

	await client.deleteContact(contacts[2].id);
	await client.deleteList(list.id);
}

describe('Hub client against the official spec', () => {
	beforeAll(async () => {
		const { client } = await testHubClient(emu, KEY);
		await everyMethod(client);
		const sub = await testHubClient(emu, { ...KEY, subAccount: 'ClientContractSub' });
		await sub.client.ensureList('Sub-account list');
	});

	it('used every Hub route the client knows', () => {
		const routes = new Set(exchanges.map((e) => e.request.route));
		expect(routes.size).toBeGreaterThanOrEqual(22);
		expect(routes.has('GET (unrouted)') || routes.has('POST (unrouted)')).toBe(false);
	});

	it('sends only requests the spec accepts', () => {
		expect(exchanges.length).toBeGreaterThan(40);
		const problems = exchanges.flatMap((e) =>
			validator.validateRequest({ method: e.request.method, path: e.request.path, query: e.request.query, headers: e.request.headers, body: e.request.body }),
		);
		expect(problems).toEqual([]);
	});

	it('got only answers the spec declares', () => {
		const problems = exchanges
			.filter((e) => !KNOWN_SPEC_DEVIATIONS[`${e.request.method} ${validator.match(e.request.method, e.request.path)?.template} ${e.response.status}`])
			.flatMap((e) =>
				validator.validateResponse({ method: e.request.method, path: e.request.path, status: e.response.status, contentType: e.response.contentType, body: e.response.body }),
			);
		expect(problems).toEqual([]);
	});
});
