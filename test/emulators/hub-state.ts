/**
 * The Hub emulator's model of one Sinch Engage account: contacts, lists, custom fields, messages,
 * replies, webhooks, the number blacklist and the subscription memory. The HTTP layer (hub.ts) only
 * parses requests and renders answers; every rule of the API lives here, so the control routes and
 * the tests go through the same rules as the API does.
 *
 * Where the spec is silent the emulator picks the stricter behaviour, so that a client relying on the
 * lenient one is caught (each such choice is marked "unverified").
 */
import { randomUUID, type KeyObject } from 'node:crypto';

import { HttpError } from './common';

// ---------------------------------------------------------------------------------------------
// Shapes (field names exactly as in the spec's components/schemas)

export type SubscriptionState = 'SUBSCRIBED' | 'UNSUBSCRIBED';
export type ChannelType = 'SMS' | 'WHATSAPP' | 'GBM' | 'INSTAGRAM' | 'FACEBOOK' | 'EMAIL';
export type CustomFieldType = 'DATE' | 'NUMBER' | 'PHONE' | 'TEXT' | 'URL' | 'ZIP_CODE' | 'NAME' | 'EMAIL';

export const CHANNEL_TYPES: ChannelType[] = ['SMS', 'WHATSAPP', 'GBM', 'INSTAGRAM', 'FACEBOOK', 'EMAIL'];
/** Only these may be sent on create / update (CreateContactChannelRequest). */
export const WRITABLE_CHANNEL_TYPES: ChannelType[] = ['SMS', 'WHATSAPP'];
export const CUSTOM_FIELD_TYPES: CustomFieldType[] = ['DATE', 'NUMBER', 'PHONE', 'TEXT', 'URL', 'ZIP_CODE', 'NAME', 'EMAIL'];
export const WEBHOOK_EVENTS = [
	'RECEIVED_SMS',
	'OPT_OUT_SMS',
	'RECEIVED_MMS',
	'ENROUTE_DR',
	'SUBMITTED_DR',
	'DELIVERED_DR',
	'EXPIRED_DR',
	'REJECTED_DR',
	'FAILED_DR',
] as const;

/**
 * Opt-out keywords. The Hub's own list is not published (unverified); these are the CTIA ones plus
 * the common platform additions (see reference/sms-consent.md).
 */
export const OPT_OUT_KEYWORDS = ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE'];

export interface ContactChannel {
	channelId: string;
	type: ChannelType;
	subscriptionState: SubscriptionState;
}

export interface StoredContact {
	seq: number;
	id: string;
	firstName: string;
	lastName: string;
	alias: string;
	dateOfBirth?: string;
	country: string;
	state: string;
	location: string;
	note: string;
	createdDate: string;
	lastModifiedDate: string;
	channels: ContactChannel[];
	/** custom field id → value */
	customFields: Map<string, string>;
}

export interface StoredList {
	seq: number;
	id: string;
	name: string;
	alias: string;
	createdDate: string;
	lastModifiedDate: string;
	members: Set<string>;
}

export interface StoredCustomField {
	seq: number;
	id: string;
	label: string;
	mergeTag: string;
	maxLength: number;
	type: CustomFieldType;
	createdDate: string;
	lastModifiedDate: string;
}

export interface StoredMessage {
	message_id: string;
	content: string;
	destination_number: string;
	format: 'SMS' | 'MMS' | 'TTS';
	delivery_report: boolean;
	source_number?: string;
	source_number_type?: string;
	callback_url?: string;
	scheduled?: string;
	message_expiry_timestamp?: string;
	metadata?: Record<string, string>;
	media?: string[];
	subject?: string;
	/** What GET /v1/messages/{id} reports now. */
	status: string;
	submittedAt: string;
	/** Credits charged (SMS segments); 0 for a rejected message. */
	credits: number;
}

export interface StoredReply {
	reply_id: string;
	message_id?: string;
	content: string;
	date_received: string;
	source_number: string;
	destination_number?: string;
	callback_url?: string;
	metadata?: Record<string, string>;
	vendor_account_id: { vendor_id: string; account_id: string };
	confirmed: boolean;
}

export interface StoredWebhook {
	id: string;
	url: string;
	method: string;
	encoding: string;
	headers: Record<string, string>;
	events: string[];
	template?: string;
	read_timeout?: number;
	retries: number;
	retry_delay?: number;
}

export interface WebhookDelivery {
	webhookId: string;
	event: string;
	url: string;
	method: string;
	attempt: number;
	/** HTTP status of the receiver's answer, absent when the call failed. */
	status?: number;
	error?: string;
	body: string;
	at: string;
}

export interface SubscriptionEvent {
	channelId: string;
	type: ChannelType;
	from?: SubscriptionState;
	to: SubscriptionState;
	cause: 'create' | 'update' | 'opt-out reply' | 'seed';
	at: string;
}

export interface InvalidField {
	name: string;
	code:
		| 'must_not_be_empty'
		| 'must_be_empty'
		| 'must_not_be_null'
		| 'invalid_length'
		| 'duplicated_value'
		| 'invalid_format'
		| 'type_mismatch'
		| 'missing_parameter'
		| 'invalid_reference'
		| 'incorrect_operation'
		| 'no_such_pattern'
		| 'constraint_violation';
	reason: string;
	channelType?: 'PHONE' | 'WHATSAPP' | 'GBM' | 'INSTAGRAM' | 'FACEBOOK' | 'EMAIL';
	invalidIds?: string[];
}

// ---------------------------------------------------------------------------------------------
// Seeds (what tests, the demo and the CLI hand to the emulator)

export interface HubContactSeed {
	id?: string;
	firstName?: string;
	lastName?: string;
	alias?: string;
	dateOfBirth?: string;
	country?: string;
	state?: string;
	location?: string;
	note?: string;
	channels: Array<{ channelId: string; type?: 'SMS' | 'WHATSAPP'; subscriptionState?: SubscriptionState }>;
	/** List names or ids. */
	lists?: string[];
	/** Custom field merge tag (or id) → value. */
	customFields?: Record<string, string>;
}

export interface HubListSeed {
	id?: string;
	name: string;
	alias?: string;
}

export interface HubCustomFieldSeed {
	id?: string;
	label: string;
	mergeTag: string;
	type: CustomFieldType;
	maxLength?: number;
}

export interface HubAccountData {
	lists?: HubListSeed[];
	customFields?: HubCustomFieldSeed[];
	contacts?: HubContactSeed[];
	/** Numbers on the blacklist from the start. */
	blacklist?: string[];
	/** Numbers whose last preference is UNSUBSCRIBED although no contact holds them (deleted contacts). */
	unsubscribedNumbers?: string[];
	/**
	 * Whether the Hub refuses (409) a contact whose channel another contact holds is unverified
	 * (reference/hub-api.md). Default: it refuses; true models a Hub that accepts the duplicate.
	 */
	acceptDuplicateNumbers?: boolean;
	/**
	 * The account feature API_SECURE_CALLBACKS: signature keys can be created and, once one is
	 * enabled, every webhook call is signed with it (spec: Signature Key Management, webhook payloads).
	 */
	secureCallbacks?: boolean;
}

/** A signature key pair; the private key never leaves the Hub, the public key is answered once, on creation. */
export interface StoredSignatureKey {
	key_id: string;
	cipher: 'RSA';
	digest: 'SHA224' | 'SHA256' | 'SHA512';
	created: string;
	enabled: boolean;
	privateKey: KeyObject;
	/** Base64 DER (SubjectPublicKeyInfo), as the create answer carries it. */
	publicKey: string;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** E.164 as the Hub checks it: '+', then 8 to 15 digits, no leading zero. */
export const E164 = /^\+[1-9]\d{7,14}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MERGE_TAG = /^[A-Za-z0-9_]+$/;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);
const now = () => new Date().toISOString();
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ApiError body (404 / 409 / 500), as the Contacts API answers. */
export function apiError(status: number, type: string, title: string, detail: string): HttpError {
	return new HttpError(status, { uuid: randomUUID(), type, title, detail });
}
export const notFound = (what: string, id: string) => apiError(404, 'not_found', 'Not Found', `${what} ${id} was not found`);
export const conflict = (detail: string) => apiError(409, 'conflict', 'Conflict', detail);

/** 400 InvalidInputApiError, as the Contacts API answers. */
export function invalidInput(fields: InvalidField[]): HttpError {
	return new HttpError(400, {
		uuid: randomUUID(),
		type: 'validation',
		title: 'Bad Request',
		detail: 'Request has incorrect values',
		invalidFields: fields,
	});
}

/** 400 of the messaging APIs: `{message, details[]}`. */
export function messagingBadRequest(details: string[]): HttpError {
	return new HttpError(400, {
		message: 'Request failed to parse correctly. Please ensure input is valid and try again.',
		details,
	});
}

function isGsm7(text: string): boolean {
	return /^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà^{}\\[~\]|€\f]*$/.test(text);
}

/** SMS segments = credits: GSM-7 160 / 153 per part, otherwise UCS-2 70 / 67. */
export function smsSegments(text: string): number {
	if (isGsm7(text)) {
		const length = [...text].reduce((n, ch) => n + ('^{}\\[~]|€\f'.includes(ch) ? 2 : 1), 0);
		return length <= 160 ? 1 : Math.ceil(length / 153);
	}
	return text.length <= 70 ? 1 : Math.ceil(text.length / 67);
}

export function isOptOut(content: string): boolean {
	return OPT_OUT_KEYWORDS.includes(content.trim().toUpperCase());
}

/** Keyset page tokens: opaque to clients, robust to deletes while paging. */
function encodeToken(direction: 'next' | 'prev', seq: number): string {
	return Buffer.from(JSON.stringify({ d: direction, s: seq })).toString('base64url');
}
function decodeToken(token: string, name: string): { d: 'next' | 'prev'; s: number } {
	try {
		const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { d: string; s: number };
		if ((parsed.d === 'next' || parsed.d === 'prev') && Number.isInteger(parsed.s)) return parsed as { d: 'next' | 'prev'; s: number };
	} catch {
		// fall through
	}
	throw invalidInput([{ name, code: 'invalid_format', reason: 'Page token is not valid' }]);
}

export interface TokenPageRequest {
	nextPageToken?: string;
	prevPageToken?: string;
	pageSize: number;
}

/** Unspecified by the spec; Spring's default page size. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 1000;

export function tokenPage<T extends { seq: number }>(
	items: T[],
	request: TokenPageRequest,
): { content: T[]; nextPageToken?: string; prevPageToken?: string; totalElements: number } {
	const sorted = [...items].sort((a, b) => a.seq - b.seq);
	let page: T[];
	if (request.nextPageToken) {
		const { s } = decodeToken(request.nextPageToken, 'nextPageToken');
		page = sorted.filter((item) => item.seq > s).slice(0, request.pageSize);
	} else if (request.prevPageToken) {
		const { s } = decodeToken(request.prevPageToken, 'prevPageToken');
		const before = sorted.filter((item) => item.seq < s);
		page = before.slice(Math.max(0, before.length - request.pageSize));
	} else {
		page = sorted.slice(0, request.pageSize);
	}
	const first = page[0];
	const last = page[page.length - 1];
	const result: { content: T[]; nextPageToken?: string; prevPageToken?: string; totalElements: number } = {
		content: page,
		totalElements: sorted.length,
	};
	if (last && sorted.some((item) => item.seq > last.seq)) result.nextPageToken = encodeToken('next', last.seq);
	if (first && sorted.some((item) => item.seq < first.seq)) result.prevPageToken = encodeToken('prev', first.seq);
	return result;
}

// ---------------------------------------------------------------------------------------------
// Field checks shared by create and update

function optionalString(body: Record<string, unknown>, name: string, problems: InvalidField[]): string | undefined {
	const value = body[name];
	if (value === undefined || value === null) return undefined;
	if (typeof value !== 'string') {
		problems.push({ name, code: 'type_mismatch', reason: `${name} must be a string` });
		return undefined;
	}
	return value;
}

function optionalArray(body: Record<string, unknown>, name: string, problems: InvalidField[]): unknown[] | undefined {
	const value = body[name];
	if (value === undefined || value === null) return undefined;
	if (!Array.isArray(value)) {
		problems.push({ name, code: 'type_mismatch', reason: `${name} must be an array` });
		return undefined;
	}
	return value;
}

const CONTACT_TEXT_FIELDS = ['firstName', 'lastName', 'alias', 'country', 'state', 'location', 'note'] as const;

// ---------------------------------------------------------------------------------------------
// The account

export class HubAccount {
	readonly contacts = new Map<string, StoredContact>();
	/** channel id → ids of the contacts that hold it; kept by create, update and delete. */
	private readonly channelHolders = new Map<string, Set<string>>();
	readonly lists = new Map<string, StoredList>();
	readonly customFields = new Map<string, StoredCustomField>();
	readonly messages = new Map<string, StoredMessage>();
	readonly replies: StoredReply[] = [];
	readonly webhooks = new Map<string, StoredWebhook>();
	readonly webhookDeliveries: WebhookDelivery[] = [];
	/** In insertion order, as the blacklist listing pages them. */
	readonly blacklist = new Set<string>();
	/** `<type>:<channelId>` → the last preference, kept after the contact is deleted. */
	readonly subscriptionMemory = new Map<string, SubscriptionState>();
	readonly subscriptionEvents: SubscriptionEvent[] = [];
	creditsUsed = 0;
	/** See HubAccountData.acceptDuplicateNumbers. */
	acceptDuplicateNumbers = false;
	/** See HubAccountData.secureCallbacks. */
	secureCallbacks = false;
	readonly signatureKeys = new Map<string, StoredSignatureKey>();
	private seq = 0;

	constructor(
		readonly accountId: string,
		readonly vendorId: string,
	) {}

	private nextSeq() {
		return ++this.seq;
	}

	// --- contacts -------------------------------------------------------------------------

	contactData(contact: StoredContact) {
		const lists = [...this.lists.values()]
			.filter((list) => list.members.has(contact.id))
			.sort((a, b) => a.seq - b.seq)
			.map((list) => ({ id: list.id, name: list.name }));
		const customFields = [...contact.customFields.entries()].flatMap(([id, value]) => {
			const field = this.customFields.get(id);
			return field ? [{ id, mergeTag: field.mergeTag, value, type: field.type }] : [];
		});
		return {
			id: contact.id,
			accountId: this.accountId,
			vendorId: this.vendorId,
			firstName: contact.firstName,
			lastName: contact.lastName,
			fullName: [contact.firstName, contact.lastName].filter((s) => s !== '').join(' '),
			alias: contact.alias,
			...(contact.dateOfBirth !== undefined ? { dateOfBirth: contact.dateOfBirth } : {}),
			country: contact.country,
			state: contact.state,
			location: contact.location,
			note: contact.note,
			createdDate: contact.createdDate,
			lastModifiedDate: contact.lastModifiedDate,
			customFields,
			channels: contact.channels.map((c) => ({ ...c })),
			lists,
		};
	}

	getContact(id: string): StoredContact {
		const contact = this.contacts.get(id);
		if (!contact) throw notFound('Contact', id);
		return contact;
	}

	/** What the number's SMS channel must be when a contact (re)appears with it. */
	private rememberedState(type: ChannelType, channelId: string): SubscriptionState | undefined {
		if (type === 'SMS' && this.blacklist.has(channelId)) return 'UNSUBSCRIBED';
		return this.subscriptionMemory.get(`${type}:${channelId}`);
	}

	private setSubscription(
		channel: ContactChannel,
		to: SubscriptionState,
		from: SubscriptionState | undefined,
		cause: SubscriptionEvent['cause'],
	) {
		channel.subscriptionState = to;
		this.subscriptionMemory.set(`${channel.type}:${channel.channelId}`, to);
		if (from !== to) {
			this.subscriptionEvents.push({ channelId: channel.channelId, type: channel.type, from, to, cause, at: now() });
		}
	}

	/** Checks a `channels` array of a create/update body; collects problems. */
	private parseChannels(raw: unknown[], problems: InvalidField[]) {
		const channels: Array<{ channelId: string; type: ChannelType; subscriptionState?: SubscriptionState }> = [];
		const seen = new Set<string>();
		raw.forEach((item, i) => {
			const at = `channels[${i}]`;
			if (!isObject(item)) {
				problems.push({ name: at, code: 'type_mismatch', reason: 'A channel must be an object' });
				return;
			}
			const { channelId, type, subscriptionState } = item;
			if (type === undefined || type === null) {
				problems.push({ name: `${at}.type`, code: 'must_not_be_null', reason: 'Channel type is required' });
				return;
			}
			if (typeof type !== 'string' || !WRITABLE_CHANNEL_TYPES.includes(type as ChannelType)) {
				problems.push({ name: `${at}.type`, code: 'invalid_format', reason: `Channel type must be one of ${WRITABLE_CHANNEL_TYPES.join(', ')}` });
				return;
			}
			const channelType = type === 'SMS' ? 'PHONE' : 'WHATSAPP';
			if (channelId === undefined || channelId === null || channelId === '') {
				problems.push({ name: `${at}.channelId`, channelType, code: 'must_not_be_empty', reason: 'Channel id is required' });
				return;
			}
			if (typeof channelId !== 'string' || !E164.test(channelId)) {
				problems.push({
					name: `${at}.channelId`,
					channelType,
					code: 'invalid_format',
					reason: 'Phone number must be in E.164 international format, e.g. +61491570156',
				});
				return;
			}
			if (subscriptionState !== undefined && subscriptionState !== 'SUBSCRIBED' && subscriptionState !== 'UNSUBSCRIBED') {
				problems.push({ name: `${at}.subscriptionState`, code: 'invalid_format', reason: 'Subscription state must be SUBSCRIBED or UNSUBSCRIBED' });
				return;
			}
			const key = `${type}:${channelId}`;
			if (seen.has(key)) {
				problems.push({ name: `${at}.channelId`, channelType, code: 'duplicated_value', reason: 'The same channel is given twice' });
				return;
			}
			seen.add(key);
			channels.push({ channelId, type: type as ChannelType, subscriptionState: subscriptionState as SubscriptionState | undefined });
		});
		return channels;
	}

	/** Checks `lists: [{id}]`; every id must exist. */
	private parseListRefs(raw: unknown[], problems: InvalidField[]): string[] {
		const ids: string[] = [];
		const unknown: string[] = [];
		raw.forEach((item, i) => {
			if (!isObject(item) || !isUuid(item.id)) {
				problems.push({ name: `lists[${i}].id`, code: 'type_mismatch', reason: 'List id must be a UUID' });
				return;
			}
			if (!this.lists.has(item.id)) unknown.push(item.id);
			else if (!ids.includes(item.id)) ids.push(item.id);
		});
		if (unknown.length > 0) {
			problems.push({ name: 'lists', code: 'invalid_reference', reason: 'Unknown list ids', invalidIds: unknown });
		}
		return ids;
	}

	/** Checks `customFields: [{id, value}]`: known ids, values within maxLength and of the field's type. */
	private parseCustomFieldValues(raw: unknown[], problems: InvalidField[]): Map<string, string> {
		const values = new Map<string, string>();
		const unknown: string[] = [];
		raw.forEach((item, i) => {
			const at = `customFields[${i}]`;
			if (!isObject(item) || !isUuid(item.id)) {
				problems.push({ name: `${at}.id`, code: 'type_mismatch', reason: 'Custom field id must be a UUID' });
				return;
			}
			if (typeof item.value !== 'string') {
				problems.push({ name: `${at}.value`, code: 'must_not_be_null', reason: 'Custom field value must be a string' });
				return;
			}
			const field = this.customFields.get(item.id);
			if (!field) {
				unknown.push(item.id);
				return;
			}
			if (item.value.length > field.maxLength) {
				problems.push({ name: `${at}.value`, code: 'invalid_length', reason: `At most ${field.maxLength} characters` });
				return;
			}
			const formatProblem = customFieldFormatProblem(field.type, item.value);
			if (formatProblem) {
				problems.push({ name: `${at}.value`, code: 'invalid_format', reason: formatProblem });
				return;
			}
			values.set(item.id, item.value);
		});
		if (unknown.length > 0) {
			problems.push({ name: 'customFields', code: 'invalid_reference', reason: 'Unknown custom field ids', invalidIds: unknown });
		}
		return values;
	}

	private parseContactFields(body: Record<string, unknown>, problems: InvalidField[]) {
		const fields: Partial<Record<(typeof CONTACT_TEXT_FIELDS)[number] | 'dateOfBirth', string>> = {};
		for (const name of CONTACT_TEXT_FIELDS) {
			const value = optionalString(body, name, problems);
			if (value !== undefined) fields[name] = value;
		}
		const dateOfBirth = optionalString(body, 'dateOfBirth', problems);
		if (dateOfBirth !== undefined) {
			if (!DATE.test(dateOfBirth) || Number.isNaN(Date.parse(dateOfBirth))) {
				problems.push({ name: 'dateOfBirth', code: 'invalid_format', reason: 'Date of birth must be YYYY-MM-DD' });
			} else fields.dateOfBirth = dateOfBirth;
		}
		return fields;
	}

	/** 409 when another contact already holds one of these channels. */
	private assertChannelsFree(channels: Array<{ channelId: string; type: ChannelType }>, exceptContactId?: string) {
		if (this.acceptDuplicateNumbers) return;
		for (const channel of channels) {
			for (const other of this.contactsWithChannel(channel.channelId)) {
				if (other.id === exceptContactId) continue;
				if (other.channels.some((c) => c.type === channel.type && c.channelId === channel.channelId)) {
					throw conflict(`A contact with ${channel.type} channel ${channel.channelId} already exists`);
				}
			}
		}
	}

	/**
	 * The contacts holding a channel id (of any type), oldest first. An index, as a real service has:
	 * a scan per lookup made the emulator, not the client, the bottleneck at 100,000 contacts.
	 */
	contactsWithChannel(channelId: string): StoredContact[] {
		const ids = this.channelHolders.get(channelId);
		if (!ids) return [];
		return [...ids].map((id) => this.contacts.get(id)!).sort((a, b) => a.seq - b.seq);
	}

	private indexChannels(contact: StoredContact, present: boolean) {
		for (const { channelId } of contact.channels) {
			let ids = this.channelHolders.get(channelId);
			if (present) {
				if (!ids) this.channelHolders.set(channelId, (ids = new Set()));
				ids.add(contact.id);
			} else if (ids) {
				ids.delete(contact.id);
				if (ids.size === 0) this.channelHolders.delete(channelId);
			}
		}
	}

	createContact(body: unknown, cause: SubscriptionEvent['cause'] = 'create', id: string = randomUUID()) {
		if (!isObject(body)) throw invalidInput([{ name: 'body', code: 'type_mismatch', reason: 'A JSON object is required' }]);
		const problems: InvalidField[] = [];
		const fields = this.parseContactFields(body, problems);
		const rawChannels = optionalArray(body, 'channels', problems);
		if (body.channels === undefined || body.channels === null) {
			problems.push({ name: 'channels', code: 'must_not_be_null', reason: 'A contact needs at least one channel' });
		} else if (rawChannels && rawChannels.length === 0) {
			problems.push({ name: 'channels', code: 'must_not_be_empty', reason: 'A contact needs at least one channel' });
		}
		const channels = this.parseChannels(rawChannels ?? [], problems);
		const listIds = this.parseListRefs(optionalArray(body, 'lists', problems) ?? [], problems);
		const values = this.parseCustomFieldValues(optionalArray(body, 'customFields', problems) ?? [], problems);
		if (problems.length > 0) throw invalidInput(problems);
		this.assertChannelsFree(channels);
		if (this.contacts.has(id)) throw conflict(`A contact with id ${id} already exists`);

		const created = now();
		const contact: StoredContact = {
			seq: this.nextSeq(),
			id,
			firstName: fields.firstName ?? '',
			lastName: fields.lastName ?? '',
			alias: fields.alias ?? '',
			dateOfBirth: fields.dateOfBirth,
			country: fields.country ?? '',
			state: fields.state ?? '',
			location: fields.location ?? '',
			note: fields.note ?? '',
			createdDate: created,
			lastModifiedDate: created,
			channels: [],
			customFields: values,
		};
		for (const requested of channels) {
			// Re-creating a contact is not a resubscribe: the last preference (or the blacklist) wins.
			const remembered = this.rememberedState(requested.type, requested.channelId);
			const state = remembered === 'UNSUBSCRIBED' ? 'UNSUBSCRIBED' : (requested.subscriptionState ?? 'SUBSCRIBED');
			const channel: ContactChannel = { channelId: requested.channelId, type: requested.type, subscriptionState: state };
			this.setSubscription(channel, state, remembered, cause);
			contact.channels.push(channel);
		}
		this.contacts.set(id, contact);
		this.indexChannels(contact, true);
		for (const listId of listIds) this.lists.get(listId)!.members.add(id);
		return contact;
	}

	/**
	 * PATCH: scalar fields given are set; `channels`, `lists` and `customFields`, when given, replace
	 * the contact's current ones (replace vs merge is unverified; replace catches a client that sends
	 * partial arrays believing they merge).
	 */
	updateContact(id: string, body: unknown) {
		const contact = this.getContact(id);
		if (!isObject(body)) throw invalidInput([{ name: 'body', code: 'type_mismatch', reason: 'A JSON object is required' }]);
		const problems: InvalidField[] = [];
		const fields = this.parseContactFields(body, problems);
		const rawChannels = optionalArray(body, 'channels', problems);
		if (rawChannels && rawChannels.length === 0) {
			problems.push({ name: 'channels', code: 'must_not_be_empty', reason: 'A contact needs at least one channel' });
		}
		const channels = rawChannels ? this.parseChannels(rawChannels, problems) : undefined;
		const rawLists = optionalArray(body, 'lists', problems);
		const listIds = rawLists ? this.parseListRefs(rawLists, problems) : undefined;
		const rawValues = optionalArray(body, 'customFields', problems);
		const values = rawValues ? this.parseCustomFieldValues(rawValues, problems) : undefined;
		if (problems.length > 0) throw invalidInput(problems);
		if (channels) this.assertChannelsFree(channels, id);

		for (const [name, value] of Object.entries(fields)) (contact as unknown as Record<string, string>)[name] = value;
		if (channels) {
			const next: ContactChannel[] = [];
			for (const requested of channels) {
				const existing = contact.channels.find((c) => c.type === requested.type && c.channelId === requested.channelId);
				const remembered = existing?.subscriptionState ?? this.rememberedState(requested.type, requested.channelId);
				// An explicit state is applied as sent (the API is the "manual" path); tests read
				// subscriptionEvents to prove the sync never resubscribes anyone.
				const state = requested.subscriptionState ?? (remembered === 'UNSUBSCRIBED' ? 'UNSUBSCRIBED' : 'SUBSCRIBED');
				const channel: ContactChannel = { channelId: requested.channelId, type: requested.type, subscriptionState: state };
				this.setSubscription(channel, state, remembered, 'update');
				next.push(channel);
			}
			this.indexChannels(contact, false);
			contact.channels = next;
			this.indexChannels(contact, true);
		}
		if (listIds) {
			for (const list of this.lists.values()) {
				if (listIds.includes(list.id)) list.members.add(id);
				else list.members.delete(id);
			}
		}
		if (values) contact.customFields = values;
		contact.lastModifiedDate = now();
		return contact;
	}

	deleteContact(id: string) {
		this.indexChannels(this.getContact(id), false);
		this.contacts.delete(id);
		for (const list of this.lists.values()) list.members.delete(id);
		// subscriptionMemory is kept on purpose: the Hub retains a deleted contact's preference.
	}

	// --- lists ----------------------------------------------------------------------------

	listData(list: StoredList) {
		return {
			id: list.id,
			accountId: this.accountId,
			vendorId: this.vendorId,
			name: list.name,
			alias: list.alias,
			createdDate: list.createdDate,
			lastModifiedDate: list.lastModifiedDate,
		};
	}

	getList(id: string): StoredList {
		const list = this.lists.get(id);
		if (!list) throw notFound('List', id);
		return list;
	}

	private checkListBody(body: unknown): { name: string; alias?: string } {
		if (!isObject(body)) throw invalidInput([{ name: 'body', code: 'type_mismatch', reason: 'A JSON object is required' }]);
		const problems: InvalidField[] = [];
		if (body.name === undefined || body.name === null) problems.push({ name: 'name', code: 'must_not_be_null', reason: 'List name is required' });
		else if (typeof body.name !== 'string') problems.push({ name: 'name', code: 'type_mismatch', reason: 'List name must be a string' });
		else if (body.name.trim() === '') problems.push({ name: 'name', code: 'must_not_be_empty', reason: 'List name must not be empty' });
		const alias = optionalString(body, 'alias', problems);
		if (problems.length > 0) throw invalidInput(problems);
		return { name: (body.name as string).trim(), alias };
	}

	/** List names are unique per account, case-insensitively (unverified; the Hub UI refuses duplicates). */
	private assertListNameFree(name: string, exceptId?: string) {
		for (const list of this.lists.values()) {
			if (list.id !== exceptId && list.name.toLowerCase() === name.toLowerCase()) {
				throw conflict(`A list named "${list.name}" already exists`);
			}
		}
	}

	createList(body: unknown, id: string = randomUUID()) {
		const { name, alias } = this.checkListBody(body);
		this.assertListNameFree(name);
		const created = now();
		const list: StoredList = { seq: this.nextSeq(), id, name, alias: alias ?? '', createdDate: created, lastModifiedDate: created, members: new Set() };
		this.lists.set(id, list);
		return list;
	}

	updateList(id: string, body: unknown) {
		const list = this.getList(id);
		const { name, alias } = this.checkListBody(body);
		this.assertListNameFree(name, id);
		list.name = name;
		if (alias !== undefined) list.alias = alias;
		list.lastModifiedDate = now();
		return list;
	}

	deleteList(id: string) {
		this.getList(id);
		this.lists.delete(id);
	}

	/**
	 * Membership routes declare no 404 in the spec, so an unknown list or contact is a 400
	 * `invalid_reference`, all or nothing.
	 */
	private listForMembership(listId: string): StoredList {
		const list = this.lists.get(listId);
		if (!list) throw invalidInput([{ name: 'listId', code: 'invalid_reference', reason: 'Unknown list', invalidIds: [listId] }]);
		return list;
	}

	modifyListMembers(listId: string, body: unknown) {
		if (!isUuid(listId)) throw invalidInput([{ name: 'listId', code: 'type_mismatch', reason: 'List id must be a UUID' }]);
		const list = this.listForMembership(listId);
		if (!isObject(body)) throw invalidInput([{ name: 'body', code: 'type_mismatch', reason: 'A JSON object is required' }]);
		const problems: InvalidField[] = [];
		const read = (name: 'contactsToAddIds' | 'contactsToRemoveIds'): string[] => {
			const raw = optionalArray(body, name, problems) ?? [];
			if (raw.length > 1000) {
				problems.push({ name, code: 'invalid_length', reason: 'At most 1000 contact ids per request' });
				return [];
			}
			const bad = raw.filter((id) => !isUuid(id)).map(String);
			if (bad.length > 0) problems.push({ name, code: 'type_mismatch', reason: 'Contact ids must be UUIDs', invalidIds: bad });
			const unknown = raw.filter((id) => isUuid(id) && !this.contacts.has(id)) as string[];
			if (unknown.length > 0) problems.push({ name, code: 'invalid_reference', reason: 'Unknown contact ids', invalidIds: unknown });
			return raw.filter(isUuid);
		};
		const add = read('contactsToAddIds');
		const remove = read('contactsToRemoveIds');
		const both = add.filter((id) => remove.includes(id));
		if (both.length > 0) {
			problems.push({ name: 'contactsToRemoveIds', code: 'incorrect_operation', reason: 'A contact cannot be added and removed at once', invalidIds: both });
		}
		if (problems.length > 0) throw invalidInput(problems);
		for (const id of remove) list.members.delete(id);
		for (const id of add) list.members.add(id);
		list.lastModifiedDate = now();
		return list;
	}

	/** Returns whether the contact was newly added (201) or already a member (200). */
	addListMember(listId: string, contactId: string): { list: StoredList; added: boolean } {
		const list = this.checkMembershipIds(listId, contactId);
		const added = !list.members.has(contactId);
		list.members.add(contactId);
		if (added) list.lastModifiedDate = now();
		return { list, added };
	}

	removeListMember(listId: string, contactId: string) {
		const list = this.checkMembershipIds(listId, contactId);
		if (list.members.delete(contactId)) list.lastModifiedDate = now();
	}

	private checkMembershipIds(listId: string, contactId: string): StoredList {
		const problems: InvalidField[] = [];
		if (!isUuid(listId)) problems.push({ name: 'listId', code: 'type_mismatch', reason: 'List id must be a UUID' });
		if (!isUuid(contactId)) problems.push({ name: 'contactId', code: 'type_mismatch', reason: 'Contact id must be a UUID' });
		if (problems.length > 0) throw invalidInput(problems);
		const list = this.listForMembership(listId);
		if (!this.contacts.has(contactId)) {
			throw invalidInput([{ name: 'contactId', code: 'invalid_reference', reason: 'Unknown contact', invalidIds: [contactId] }]);
		}
		return list;
	}

	// --- custom fields --------------------------------------------------------------------

	customFieldData(field: StoredCustomField) {
		return {
			id: field.id,
			accountId: this.accountId,
			vendorId: this.vendorId,
			label: field.label,
			mergeTag: field.mergeTag,
			maxLength: field.maxLength,
			type: field.type,
			createdDate: field.createdDate,
			lastModifiedDate: field.lastModifiedDate,
		};
	}

	getCustomField(id: string): StoredCustomField {
		const field = this.customFields.get(id);
		if (!field) throw notFound('Custom field', id);
		return field;
	}

	private checkMaxLength(value: unknown, problems: InvalidField[]) {
		if (!Number.isInteger(value)) problems.push({ name: 'maxLength', code: 'type_mismatch', reason: 'maxLength must be an integer' });
		else if ((value as number) < 1 || (value as number) > 1000) {
			problems.push({ name: 'maxLength', code: 'constraint_violation', reason: 'maxLength must be between 1 and 1000' });
		}
	}

	createCustomField(body: unknown, id: string = randomUUID()) {
		if (!isObject(body)) throw invalidInput([{ name: 'body', code: 'type_mismatch', reason: 'A JSON object is required' }]);
		const problems: InvalidField[] = [];
		for (const name of ['label', 'mergeTag', 'maxLength', 'type']) {
			if (body[name] === undefined || body[name] === null) problems.push({ name, code: 'must_not_be_null', reason: `${name} is required` });
		}
		const label = optionalString(body, 'label', problems);
		if (label !== undefined && label.trim() === '') problems.push({ name: 'label', code: 'must_not_be_empty', reason: 'label must not be empty' });
		const mergeTag = optionalString(body, 'mergeTag', problems);
		if (mergeTag !== undefined && !MERGE_TAG.test(mergeTag)) {
			problems.push({ name: 'mergeTag', code: 'invalid_format', reason: 'mergeTag may hold letters, digits and underscores only' });
		}
		if (body.maxLength !== undefined && body.maxLength !== null) this.checkMaxLength(body.maxLength, problems);
		if (body.type !== undefined && body.type !== null && !CUSTOM_FIELD_TYPES.includes(body.type as CustomFieldType)) {
			problems.push({ name: 'type', code: 'invalid_format', reason: `type must be one of ${CUSTOM_FIELD_TYPES.join(', ')}` });
		}
		if (problems.length > 0) throw invalidInput(problems);
		for (const field of this.customFields.values()) {
			if (field.mergeTag.toLowerCase() === mergeTag!.toLowerCase()) throw conflict(`A custom field with merge tag ${field.mergeTag} already exists`);
			if (field.label.toLowerCase() === label!.toLowerCase()) throw conflict(`A custom field labelled "${field.label}" already exists`);
		}
		const created = now();
		const field: StoredCustomField = {
			seq: this.nextSeq(),
			id,
			label: label!,
			mergeTag: mergeTag!,
			maxLength: body.maxLength as number,
			type: body.type as CustomFieldType,
			createdDate: created,
			lastModifiedDate: created,
		};
		this.customFields.set(id, field);
		return field;
	}

	updateCustomField(id: string, body: unknown) {
		const field = this.getCustomField(id);
		if (!isObject(body)) throw invalidInput([{ name: 'body', code: 'type_mismatch', reason: 'A JSON object is required' }]);
		const problems: InvalidField[] = [];
		const label = optionalString(body, 'label', problems);
		if (label !== undefined && label.trim() === '') problems.push({ name: 'label', code: 'must_not_be_empty', reason: 'label must not be empty' });
		if (body.maxLength !== undefined && body.maxLength !== null) this.checkMaxLength(body.maxLength, problems);
		if (problems.length > 0) throw invalidInput(problems);
		if (label !== undefined) {
			for (const other of this.customFields.values()) {
				if (other.id !== id && other.label.toLowerCase() === label.toLowerCase()) throw conflict(`A custom field labelled "${other.label}" already exists`);
			}
			field.label = label;
		}
		if (body.maxLength !== undefined && body.maxLength !== null) field.maxLength = body.maxLength as number;
		field.lastModifiedDate = now();
		return field;
	}

	deleteCustomField(id: string) {
		this.getCustomField(id);
		this.customFields.delete(id);
		for (const contact of this.contacts.values()) contact.customFields.delete(id);
	}

	// --- messages -------------------------------------------------------------------------

	/** All or nothing: one invalid message and none is sent. */
	sendMessages(body: unknown): StoredMessage[] {
		if (!isObject(body) || !Array.isArray(body.messages)) throw messagingBadRequest(['/messages: A list of messages is required.']);
		const raw = body.messages;
		if (raw.length === 0) throw messagingBadRequest(['/messages: At least one message is required.']);
		if (raw.length > 100) throw messagingBadRequest(['/messages: At most 100 messages can be sent in one request.']);
		const details: string[] = [];
		raw.forEach((message, i) => details.push(...messageProblems(message, `/messages/${i}`)));
		if (details.length > 0) throw messagingBadRequest(details);

		return raw.map((input) => {
			const m = input as Record<string, unknown>;
			const submittedAt = now();
			const blocked = this.blacklist.has(m.destination_number as string);
			const scheduled = typeof m.scheduled === 'string' && Date.parse(m.scheduled) > Date.now();
			const message: StoredMessage = {
				message_id: randomUUID(),
				content: m.content as string,
				destination_number: m.destination_number as string,
				format: (m.format as StoredMessage['format']) ?? 'SMS',
				delivery_report: (m.delivery_report as boolean) ?? false,
				...pick(m, ['source_number', 'source_number_type', 'callback_url', 'scheduled', 'message_expiry_timestamp', 'metadata', 'media', 'subject']),
				// A send to a blacklisted number is accepted, then rejected (DR 302 "destination address blocked").
				status: blocked ? 'rejected' : scheduled ? 'scheduled' : 'delivered',
				submittedAt,
				credits: blocked ? 0 : smsSegments(m.content as string),
			};
			this.creditsUsed += message.credits;
			this.messages.set(message.message_id, message);
			return message;
		});
	}

	/** The submitted message as the API echoes it (POST answers status `queued`). */
	messageData(message: StoredMessage, status = message.status) {
		const { submittedAt: _s, credits: _c, status: _st, ...fields } = message;
		return { ...fields, status };
	}

	// --- replies and opt-outs -------------------------------------------------------------

	/** A handset's answer arrives; returns the stored reply and whether it was an opt-out. */
	receiveReply(input: { from: string; content: string; to?: string; messageId?: string }) {
		if (!E164.test(input.from)) throw new HttpError(400, { message: 'from must be an E.164 number' });
		if (typeof input.content !== 'string' || input.content === '') throw new HttpError(400, { message: 'content is required' });
		let original: StoredMessage | undefined;
		if (input.messageId) {
			original = this.messages.get(input.messageId);
			if (!original) throw new HttpError(404, { message: `No message ${input.messageId} in account ${this.accountId}` });
		} else {
			// The Hub matches a reply to the last message sent to that handset.
			original = [...this.messages.values()].reverse().find((m) => m.destination_number === input.from);
		}
		const destination = original ? original.source_number : input.to;
		const reply: StoredReply = {
			reply_id: randomUUID(),
			...(original ? { message_id: original.message_id } : {}),
			content: input.content,
			date_received: now(),
			source_number: input.from,
			...(destination ? { destination_number: destination } : {}),
			...(original?.callback_url ? { callback_url: original.callback_url } : {}),
			...(original?.metadata ? { metadata: { ...original.metadata } } : {}),
			vendor_account_id: { vendor_id: this.vendorId, account_id: this.accountId },
			confirmed: false,
		};
		this.replies.push(reply);
		const optedOut = isOptOut(input.content);
		if (optedOut) this.optOut(input.from);
		return { reply, optedOut, original };
	}

	/** What a STOP does: blacklist the number and unsubscribe its SMS channel everywhere. */
	optOut(number: string) {
		this.blacklist.add(number);
		const key = `SMS:${number}`;
		const before = this.subscriptionMemory.get(key);
		let touched = false;
		for (const contact of this.contacts.values()) {
			for (const channel of contact.channels) {
				if (channel.type === 'SMS' && channel.channelId === number) {
					this.setSubscription(channel, 'UNSUBSCRIBED', channel.subscriptionState, 'opt-out reply');
					contact.lastModifiedDate = now();
					touched = true;
				}
			}
		}
		if (!touched) {
			this.subscriptionMemory.set(key, 'UNSUBSCRIBED');
			if (before !== 'UNSUBSCRIBED') {
				this.subscriptionEvents.push({ channelId: number, type: 'SMS', from: before, to: 'UNSUBSCRIBED', cause: 'opt-out reply', at: now() });
			}
		}
	}

	replyData(reply: StoredReply) {
		const { confirmed: _c, ...fields } = reply;
		return fields;
	}

	// --- seeding and the state dump -------------------------------------------------------

	seed(data: HubAccountData) {
		if (data.acceptDuplicateNumbers !== undefined) this.acceptDuplicateNumbers = data.acceptDuplicateNumbers;
		if (data.secureCallbacks !== undefined) this.secureCallbacks = data.secureCallbacks;
		for (const list of data.lists ?? []) this.createList({ name: list.name, alias: list.alias }, list.id);
		for (const field of data.customFields ?? []) {
			this.createCustomField({ label: field.label, mergeTag: field.mergeTag, type: field.type, maxLength: field.maxLength ?? 255 }, field.id);
		}
		for (const number of data.blacklist ?? []) this.blacklist.add(number);
		for (const number of data.unsubscribedNumbers ?? []) this.subscriptionMemory.set(`SMS:${number}`, 'UNSUBSCRIBED');
		for (const seed of data.contacts ?? []) {
			const lists = (seed.lists ?? []).map((ref) => {
				const list = this.lists.get(ref) ?? [...this.lists.values()].find((l) => l.name === ref);
				if (!list) throw new HttpError(400, { message: `Seed contact refers to unknown list ${ref}` });
				return { id: list.id };
			});
			const customFields = Object.entries(seed.customFields ?? {}).map(([ref, value]) => {
				const field = this.customFields.get(ref) ?? [...this.customFields.values()].find((f) => f.mergeTag === ref);
				if (!field) throw new HttpError(400, { message: `Seed contact refers to unknown custom field ${ref}` });
				return { id: field.id, value };
			});
			const { id, lists: _l, customFields: _c, channels, ...fields } = seed;
			this.createContact(
				{ ...fields, channels: channels.map((c) => ({ type: 'SMS', ...c })), lists, customFields },
				'seed',
				id,
			);
		}
	}

	dump() {
		return {
			accountId: this.accountId,
			vendorId: this.vendorId,
			contacts: [...this.contacts.values()].map((c) => this.contactData(c)),
			lists: [...this.lists.values()].map((l) => ({ ...this.listData(l), contactIds: [...l.members] })),
			customFields: [...this.customFields.values()].map((f) => this.customFieldData(f)),
			blacklist: [...this.blacklist],
			subscriptionMemory: Object.fromEntries(this.subscriptionMemory),
			subscriptionEvents: this.subscriptionEvents,
			messages: [...this.messages.values()],
			replies: this.replies,
			webhooks: [...this.webhooks.values()],
			webhookDeliveries: this.webhookDeliveries,
			credits: { used: this.creditsUsed, messages: this.messages.size },
		};
	}
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
	return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

function customFieldFormatProblem(type: CustomFieldType, value: string): string | undefined {
	if (value === '') return undefined;
	switch (type) {
		case 'NUMBER':
			return Number.isFinite(Number(value)) ? undefined : 'Value must be a number';
		case 'DATE':
			return DATE.test(value) && !Number.isNaN(Date.parse(value)) ? undefined : 'Value must be a date (YYYY-MM-DD)';
		case 'EMAIL':
			return /^[^\s@]+@[^\s@]+$/.test(value) ? undefined : 'Value must be an email address';
		case 'PHONE':
			return E164.test(value) ? undefined : 'Value must be an E.164 phone number';
		case 'URL':
			return /^https?:\/\/\S+$/.test(value) ? undefined : 'Value must be an http(s) URL';
		default:
			return undefined;
	}
}

/** The messaging API's per-field checks, worded like its `details` lines. */
function messageProblems(message: unknown, at: string): string[] {
	if (!isObject(message)) return [`${at}: A message must be an object.`];
	const problems: string[] = [];
	const { content, destination_number: destination, metadata } = message;
	if (typeof content !== 'string' || content.length === 0) problems.push(`${at}/content: Message content is required.`);
	else if (content.length > 5000) problems.push(`${at}/content: Message content must be at most 5000 characters.`);
	if (typeof destination !== 'string' || destination === '') {
		problems.push(`${at}/destination_number: A destination number is required.`);
	} else if (!E164.test(destination)) {
		const reasons: string[] = [];
		const digits = destination.replace(/^\+/, '');
		if (digits.length < 8 || digits.length > 15) reasons.push("International address must be between 8 and 15 characters excluding the first '+'");
		if (!/^\+?\d+$/.test(destination) || !destination.startsWith('+') || digits.startsWith('0')) {
			reasons.push('International address contains invalid characters');
		}
		problems.push(`${at}/destination_number: ${reasons.join(', ')}.`);
	}
	if (message.format !== undefined && !['SMS', 'MMS', 'TTS'].includes(message.format as string)) {
		problems.push(`${at}/format: Format must be one of SMS, MMS, TTS.`);
	}
	if (message.source_number_type !== undefined && !['INTERNATIONAL', 'ALPHANUMERIC', 'SHORTCODE'].includes(message.source_number_type as string)) {
		problems.push(`${at}/source_number_type: Source number type must be one of INTERNATIONAL, ALPHANUMERIC, SHORTCODE.`);
	}
	if (message.source_number_type !== undefined && message.source_number === undefined) {
		problems.push(`${at}/source_number_type: A source number type needs a source number.`);
	}
	if (message.delivery_report !== undefined && typeof message.delivery_report !== 'boolean') {
		problems.push(`${at}/delivery_report: Must be true or false.`);
	}
	for (const name of ['scheduled', 'message_expiry_timestamp']) {
		const value = message[name];
		if (value !== undefined && (typeof value !== 'string' || Number.isNaN(Date.parse(value)))) {
			problems.push(`${at}/${name}: Must be an ISO 8601 date time.`);
		}
	}
	if (metadata !== undefined) {
		if (!isObject(metadata)) problems.push(`${at}/metadata: Metadata must be an object of string values.`);
		else {
			const entries = Object.entries(metadata);
			if (entries.length > 10) problems.push(`${at}/metadata: At most 10 metadata keys are allowed.`);
			for (const [key, value] of entries) {
				if (key.length > 100) problems.push(`${at}/metadata/${key}: Metadata keys must be at most 100 characters.`);
				if (typeof value !== 'string') problems.push(`${at}/metadata/${key}: Metadata values must be strings.`);
				else if (value.length > 256) problems.push(`${at}/metadata/${key}: Metadata values must be at most 256 characters.`);
			}
		}
	}
	return problems;
}
