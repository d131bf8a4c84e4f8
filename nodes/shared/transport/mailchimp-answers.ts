/**
 * The shape of every Mailchimp answer the sync relies on, checked in one place.
 *
 * A proxy, a captive portal or an outage page can answer HTTP 200 with HTML or `{}`; the official
 * client then hands back the raw text. Read carelessly, such a page looks like "this tag has no
 * members" or "this member is gone", and the sync would take everyone out of the Hub list. So every
 * answer is checked before it is used, and anything unexpected becomes an error (the transport
 * names the endpoint), never an empty list or a missing member.
 */

/** What was wrong with an answer, e.g. "`members` is not a list". The transport adds the endpoint. */
export class UnexpectedAnswer extends Error {}

export const MEMBER_STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional', 'archived'] as const;
/** A member's SMS status; empty when the audience has no SMS program. */
export const SMS_SUBSCRIPTION_STATUSES = ['subscribed', 'unsubscribed', 'nonsubscribed', 'pending'] as const;

type Json = Record<string, unknown>;

const describe = (value: unknown): string =>
	value === undefined ? 'missing' : value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;

/**
 * The client gives back a parsed body, or the raw text when the body was not JSON (or was `{}`).
 * Text is parsed here; an HTML page or other text is named as such, and never echoed in full.
 */
export function bodyOf(data: unknown): Json {
	let value = data;
	if (typeof data === 'string') {
		const text = data.trim();
		if (text.startsWith('<')) throw new UnexpectedAnswer('an HTML page instead of JSON');
		try {
			value = JSON.parse(text) as unknown;
		} catch {
			throw new UnexpectedAnswer(text === '' ? 'an empty body instead of JSON' : 'text that is not JSON');
		}
	}
	if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UnexpectedAnswer(`${describe(value)} instead of a JSON object`);
	return value as Json;
}

function requireString(object: Json, key: string, at: string): string {
	const value = object[key];
	if (typeof value !== 'string' || value === '') throw new UnexpectedAnswer(`${at}${key} is ${value === '' ? 'empty' : describe(value)}, not a text`);
	return value;
}

function optionalType(object: Json, key: string, type: 'string' | 'number' | 'object', at: string): void {
	const value = object[key];
	if (value === undefined || value === null) return;
	const ok = type === 'object' ? typeof value === 'object' && !Array.isArray(value) : typeof value === type;
	if (!ok) throw new UnexpectedAnswer(`${at}${key} is ${describe(value)}, not ${type === 'object' ? 'an object' : `a ${type === 'string' ? 'text' : 'number'}`}`);
}

/**
 * A page of a listing: `listKey` is an array whose every entry passes `entry`, and `total_items` a
 * whole number. Returns the entries and the total.
 */
export function pageOf<T>(data: unknown, listKey: string, entry: (value: unknown, at: string) => T): { items: T[]; total: number } {
	const body = bodyOf(data);
	const list = body[listKey];
	if (!Array.isArray(list)) throw new UnexpectedAnswer(`${listKey} is ${describe(list)}, not a list`);
	const total = body.total_items;
	if (typeof total !== 'number' || !Number.isInteger(total) || total < 0) {
		throw new UnexpectedAnswer(`total_items is ${describe(total)}, not a count`);
	}
	return { items: list.map((value, i) => entry(value, `${listKey}[${i}].`)), total };
}

function objectAt(value: unknown, at: string): Json {
	if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UnexpectedAnswer(`${at.replace(/\.$/, '') || 'the answer'} is ${describe(value)}, not an object`);
	return value as Json;
}

/**
 * A member, read with `fields`. `id`, `email_address` and a known `status` always; the optional
 * fields, when present, with their types. `merge_fields` (an object) whenever asked for, since a
 * member without them would look changed and lose its phone; `tags` (a list of named tags) and
 * `tags_count` whenever asked for, since a member's tags decide whether it is still selected.
 */
export function memberAt(fields: readonly string[]) {
	const withTags = fields.includes('tags');
	const withMergeFields = fields.includes('merge_fields');
	return <T>(value: unknown, at = ''): T => {
		const member = objectAt(value, at);
		requireString(member, 'id', at);
		requireString(member, 'email_address', at);
		const status = requireString(member, 'status', at);
		if (!(MEMBER_STATUSES as readonly string[]).includes(status)) {
			throw new UnexpectedAnswer(`${at}status is "${status.slice(0, 40)}", not one of Mailchimp's member statuses`);
		}
		for (const key of ['contact_id', 'full_name', 'sms_phone_number', 'sms_subscription_status', 'last_changed', 'list_id']) {
			optionalType(member, key, 'string', at);
		}
		// Opt-out is read from this value: one we do not know could be an unsubscribe we would miss.
		const sms = member.sms_subscription_status;
		if (typeof sms === 'string' && sms !== '' && !(SMS_SUBSCRIPTION_STATUSES as readonly string[]).includes(sms)) {
			throw new UnexpectedAnswer(`${at}sms_subscription_status is "${sms.slice(0, 40)}", not one of Mailchimp's SMS statuses`);
		}
		optionalType(member, 'merge_fields', 'object', at);
		if (withMergeFields && member.merge_fields == null) throw new UnexpectedAnswer(`${at}merge_fields is missing`);
		if (withTags) {
			if (!Array.isArray(member.tags)) throw new UnexpectedAnswer(`${at}tags is ${describe(member.tags)}, not a list`);
			member.tags.forEach((tag, i) => requireString(objectAt(tag, `${at}tags[${i}].`), 'name', `${at}tags[${i}].`));
			if (typeof member.tags_count !== 'number') throw new UnexpectedAnswer(`${at}tags_count is ${describe(member.tags_count)}, not a number`);
		}
		return member as T;
	};
}

/** A tag (static segment), an audience, a merge field or a member's tag: an id or key and a name. */
export function namedAt(idKey: string, { numericId = false, more = [] as string[] } = {}) {
	return <T>(value: unknown, at = ''): T => {
		const object = objectAt(value, at);
		if (numericId) {
			const id = object[idKey];
			if (!(typeof id === 'number' && Number.isInteger(id)) && !(typeof id === 'string' && /^\d+$/.test(id))) {
				throw new UnexpectedAnswer(`${at}${idKey} is ${describe(id)}, not a number`);
			}
		} else requireString(object, idKey, at);
		requireString(object, 'name', at);
		for (const key of more) requireString(object, key, at);
		return object as T;
	};
}
