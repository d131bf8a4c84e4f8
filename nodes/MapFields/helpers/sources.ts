/**
 * The Mailchimp side of the mapping: which fields a member has (the dropdown), how a chosen field is
 * read from a member, and the mapping a new node starts with.
 *
 * A source is a key: `email`, `smsPhone`, `fullName`, `merge:FNAME`, `merge:ADDRESS.city`, or
 * several joined by `||` ("the first that has a value"), e.g. `smsPhone||merge:PHONE`.
 */
import type { INodePropertyOptions } from 'n8n-workflow';

import type { TaggedMember } from '../../shared/items';
import type { MergeField } from '../../shared/transport/mailchimp';
import { isAddress, textOf } from './values';

export const NOT_MAPPED = 'none';
const FALLBACK = '||';

const MEMBER_SOURCES: Record<string, { name: string; read: (m: TaggedMember) => unknown }> = {
	email: { name: 'Email Address', read: (m) => m.email },
	smsPhone: { name: 'SMS Phone Number', read: (m) => m.smsPhone },
	fullName: { name: 'Full Name', read: (m) => m.fullName },
};

const ADDRESS_PARTS: Array<[part: string, name: string]> = [
	['addr1', 'Street'],
	['addr2', 'Street Line 2'],
	['city', 'City'],
	['state', 'State'],
	['zip', 'Postal Code'],
	['country', 'Country'],
];

/** The dropdown: the member's own fields, then the audience's merge fields (address parts included). */
export function mailchimpFieldOptions(mergeFields: MergeField[]): INodePropertyOptions[] {
	const options: INodePropertyOptions[] = [
		{ name: "(Don't Map)", value: NOT_MAPPED, description: 'Leave this Hub field as it is' },
	];
	for (const [key, { name }] of Object.entries(MEMBER_SOURCES)) options.push({ name, value: key });
	for (const phone of mergeFields.filter((f) => f.type === 'phone')) {
		options.push({
			name: `SMS Phone Number, Else ${phone.name}`,
			value: `smsPhone${FALLBACK}merge:${phone.tag}`,
			description: `Mailchimp's SMS number when the member has one, otherwise the ${phone.tag} field`,
		});
	}
	for (const field of mergeFields) {
		options.push({ name: field.name, value: `merge:${field.tag}`, description: `*|${field.tag}|* (${field.type})` });
		if (field.type === 'address') {
			for (const [part, partName] of ADDRESS_PARTS) {
				options.push({ name: `${field.name}: ${partName}`, value: `merge:${field.tag}.${part}`, description: `*|${field.tag}|* ${part}` });
			}
		}
	}
	return options;
}

/** Whether a string is one of our source keys (rather than a value typed as an expression). */
export function isSourceKey(key: string): boolean {
	return key === NOT_MAPPED || key.split(FALLBACK).every((k) => k in MEMBER_SOURCES || /^merge:[^.\s]+(\.\w+)?$/.test(k));
}

/** One source key as the member has it: a string, a number, an address object, or undefined. */
function readOne(member: TaggedMember, key: string): unknown {
	if (key in MEMBER_SOURCES) return MEMBER_SOURCES[key].read(member);
	const match = /^merge:([^.]+)(?:\.(\w+))?$/.exec(key);
	if (!match) return undefined;
	const value = member.mergeFields?.[match[1]];
	if (match[2] === undefined) return value;
	return isAddress(value) ? (value as Record<string, unknown>)[match[2]] : undefined;
}

export interface SourceValue {
	value: unknown;
	/** The key that gave the value (for a `||` chain: the one that had it), to look up its format. */
	key?: string;
}

/** Reads a source key; for a `||` chain, the first key whose value is not empty. */
export function readSource(member: TaggedMember, source: string): SourceValue {
	if (source === NOT_MAPPED) return { value: undefined };
	const keys = source.split(FALLBACK);
	for (const key of keys) {
		const value = readOne(member, key);
		if (textOf(value) !== undefined) return { value, key };
	}
	return { value: readOne(member, keys[keys.length - 1]), key: keys[keys.length - 1] };
}

/** Every key of a source with its value, in the chain's order (for the phone: the first valid mobile wins). */
export function readSources(member: TaggedMember, source: string): Array<Required<SourceValue>> {
	if (source === NOT_MAPPED) return [];
	return source.split(FALLBACK).map((key) => ({ value: readOne(member, key), key }));
}

/** "the SMS phone number", "the PHONE field", "the ADDRESS country": a source key in a sentence. */
export function sourceName(key: string): string {
	if (key === 'smsPhone') return 'the SMS phone number';
	if (key === 'email') return 'the email address';
	if (key === 'fullName') return 'the full name';
	const [tag, part] = key.replace(/^merge:/, '').split('.');
	return part ? `the ${tag} ${part}` : `the ${tag} field`;
}

/** The merge field a source key reads (`merge:ADDRESS.city` → ADDRESS), for its type and format. */
export function mergeFieldOf(key: string | undefined, mergeFields: MergeField[]): MergeField | undefined {
	const match = key ? /^merge:([^.]+)/.exec(key) : null;
	return match ? mergeFields.find((f) => f.tag === match[1]) : undefined;
}

/** The first address merge field's country: the member's own country, used to read national phone numbers. */
export function memberAddressCountry(member: TaggedMember, mergeFields: MergeField[]): string | undefined {
	const tags = [...mergeFields.filter((f) => f.type === 'address').map((f) => f.tag), 'ADDRESS'];
	for (const tag of tags) {
		const value = member.mergeFields?.[tag];
		if (isAddress(value) && typeof value.country === 'string' && value.country.trim()) return value.country.trim();
	}
	return undefined;
}

/** The standard Hub contact fields this node fills. Keys are the Hub API's property names. */
export const HUB_STANDARD_FIELDS = ['firstName', 'lastName', 'phone', 'country', 'dateOfBirth', 'email'] as const;
export type HubStandardField = (typeof HUB_STANDARD_FIELDS)[number];

const byTagOrName = (fields: MergeField[], tag: string, name: RegExp, types: string[]) =>
	fields.find((f) => f.tag === tag) ?? fields.find((f) => types.includes(f.type) && name.test(f.name));

/**
 * What a new node maps, from the audience's fields (they can be renamed or deleted in Mailchimp, so
 * nothing is assumed): FNAME → first name, LNAME → last name, the SMS phone else the PHONE field →
 * phone, the address country → country, a birth date → date of birth, the email address → email.
 */
export function defaultMapping(mergeFields: MergeField[]): Record<HubStandardField, string> {
	const first = byTagOrName(mergeFields, 'FNAME', /first|given/i, ['text']);
	const last = byTagOrName(mergeFields, 'LNAME', /last|sur|family/i, ['text']);
	const phone = mergeFields.find((f) => f.tag === 'PHONE' && f.type === 'phone') ?? mergeFields.find((f) => f.type === 'phone');
	const address = mergeFields.find((f) => f.tag === 'ADDRESS' && f.type === 'address') ?? mergeFields.find((f) => f.type === 'address');
	// Birthday fields have no year, so only a full date is a sensible default for a date of birth.
	const birth = mergeFields.find((f) => f.type === 'date' && /birth|\bdob\b/i.test(`${f.tag} ${f.name}`));
	return {
		firstName: first ? `merge:${first.tag}` : NOT_MAPPED,
		lastName: last ? `merge:${last.tag}` : NOT_MAPPED,
		phone: phone ? `smsPhone${FALLBACK}merge:${phone.tag}` : 'smsPhone',
		country: address ? `merge:${address.tag}.country` : NOT_MAPPED,
		dateOfBirth: birth ? `merge:${birth.tag}` : NOT_MAPPED,
		email: 'email',
	};
}
