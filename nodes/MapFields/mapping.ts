/**
 * What Map Fields does, apart from n8n: one member + the user's mapping → the Hub contact fields,
 * or the reasons the member cannot become a contact. Pure: no I/O, no n8n.
 */
import type { ResourceMapperField } from 'n8n-workflow';

import type { TaggedMember } from '../FetchTaggedMembers/members';
import { normalisePhone } from '../shared/phone';
import type { HubCustomField as HubCustomFieldData } from '../shared/transport/hub';
import type { MergeField } from '../shared/transport/mailchimp';
import {
	HUB_STANDARD_FIELDS,
	defaultMapping,
	mailchimpFieldOptions,
	memberAddressCountry,
	mergeFieldOf,
	readSource,
	type HubStandardField,
} from './sources';
import {
	dayOrderOf,
	fitCountry,
	fitDate,
	fitDateOfBirth,
	fitEmail,
	fitNumber,
	fitText,
	fitUrl,
	type Fitted,
} from './values';
import type { HubContactFields } from '../shared/contact';

/**
 * The Hub's lengths for its standard contact fields. The Sinch Engage spec publishes none (only
 * custom fields carry a `maxLength`), so these are conservative; a longer name is shortened, with a
 * warning on the item, rather than refused by the Hub.
 */
export const HUB_LIMITS = { firstName: 100, lastName: 100 } as const;

/** A Hub custom field as the mapping needs it. */
export type HubCustomField = Pick<HubCustomFieldData, 'id' | 'label' | 'mergeTag' | 'type' | 'maxLength'>;

const CUSTOM_PREFIX = 'custom:';
export const customFieldKey = (id: string) => `${CUSTOM_PREFIX}${id}`;

const STANDARD_LABELS: Record<HubStandardField, string> = {
	firstName: 'First Name',
	lastName: 'Last Name',
	phone: 'Phone (SMS)',
	country: 'Country',
	dateOfBirth: 'Date of Birth',
	email: 'Email',
};

/**
 * The mapping form: one row per Hub field, each a dropdown of the audience's Mailchimp fields
 * (or an expression), pre-filled with the defaults. Phone is required: without it there is no contact.
 */
export function mappingSchema(mergeFields: MergeField[], customFields: HubCustomField[]): ResourceMapperField[] {
	const options = mailchimpFieldOptions(mergeFields);
	const defaults = defaultMapping(mergeFields);
	const row = (id: string, displayName: string, defaultValue: string, required = false): ResourceMapperField => ({
		id,
		displayName,
		required,
		defaultMatch: false,
		canBeUsedToMatch: false,
		display: true,
		type: 'options',
		options,
		defaultValue,
	});
	return [
		...HUB_STANDARD_FIELDS.map((f) => row(f, STANDARD_LABELS[f], defaults[f], f === 'phone')),
		...[...customFields]
			.sort((a, b) => a.label.localeCompare(b.label))
			.map((f) => row(customFieldKey(f.id), `Custom Field: ${f.label}`, 'none')),
	];
}

/** Where one Hub field's value comes from: a Mailchimp field chosen in the dropdown, or an expression's result. */
export type FieldSource = { kind: 'mailchimp'; key: string } | { kind: 'value'; value: unknown };

/** Hub field id (`firstName`, …, `custom:<id>`) → its source. Fields not in it are not touched. */
export type Mapping = Record<string, FieldSource>;

export interface MappingContext {
	mergeFields: MergeField[];
	/** The Hub's custom fields by id; a mapped custom field missing here is reported. */
	customFields: Map<string, HubCustomField>;
	defaultCountry?: string;
	/** Read national numbers with the member's address country first. */
	useAddressCountry: boolean;
	/** Year put in front of Mailchimp birthdays (MM/DD) for a date of birth; 0 = leave them out. */
	yearForBirthdays: number;
	today?: Date;
}

export type { HubContactFields } from '../shared/contact';

export interface FieldProblem {
	field: string;
	reason: string;
}

export type MappedMember =
	| { ok: true; contact: HubContactFields; warnings: string[] }
	| { ok: false; problems: FieldProblem[] };

/** The mapping used when the node's form was never filled in (e.g. a workflow written by hand). */
export function mappingFromDefaults(mergeFields: MergeField[]): Mapping {
	const defaults = defaultMapping(mergeFields);
	return Object.fromEntries(HUB_STANDARD_FIELDS.map((f) => [f, { kind: 'mailchimp', key: defaults[f] }]));
}

export function mapMember(member: TaggedMember, mapping: Mapping, context: MappingContext): MappedMember {
	const problems: FieldProblem[] = [];
	const warnings: string[] = [];
	const contact: Partial<HubContactFields> & { customFields: HubContactFields['customFields'] } = { customFields: [] };

	const read = (field: string) => {
		const source = mapping[field];
		if (!source || (source.kind === 'mailchimp' && source.key === 'none')) return undefined;
		if (source.kind === 'value') return { value: source.value, from: 'the expression', mergeField: undefined };
		const { value, key } = readSource(member, source.key);
		return { value, from: source.key, mergeField: mergeFieldOf(key, context.mergeFields) };
	};
	/** A field the Hub can do without: an unusable value is left out, with a warning. */
	const optional = (field: string, fitted: Fitted, put: (value: string | null) => void) => {
		if (fitted.ok) {
			put(fitted.value);
			if (fitted.note) warnings.push(fitted.note);
		} else warnings.push(`${fitted.reason}; left out`);
	};

	const phoneSource = read('phone');
	if (!phoneSource) {
		problems.push({ field: 'phone', reason: 'No Mailchimp field is mapped to the phone; map one in Map Fields' });
	} else {
		const usFormat = phoneSource.mergeField?.type === 'phone' && phoneSource.mergeField.options?.phone_format === 'US';
		const result = normalisePhone(phoneSource.value, {
			// Mailchimp only accepts NPA-NXX-LINE in a US-format phone field.
			defaultCountry: usFormat ? 'US' : context.defaultCountry,
			addressCountry: context.useAddressCountry && !usFormat ? memberAddressCountry(member, context.mergeFields) : undefined,
		});
		if (result.ok) contact.phone = result.e164;
		else {
			const reason = result.problem === 'empty' ? `The member has no phone number (${emptySource(phoneSource.from)})` : result.reason;
			problems.push({ field: 'phone', reason });
		}
	}

	for (const field of ['firstName', 'lastName'] as const) {
		const source = read(field);
		if (source) optional(field, fitText(source.value, HUB_LIMITS[field], STANDARD_LABELS[field]), (v) => (contact[field] = v));
	}
	const country = read('country');
	if (country) optional('country', fitCountry(country.value), (v) => (contact.country = v));
	const birth = read('dateOfBirth');
	if (birth) {
		const fitted = fitDateOfBirth(birth.value, 'Date of birth', {
			order: dayOrderOf(birth.mergeField?.options?.date_format),
			yearForBirthdays: context.yearForBirthdays || undefined,
			today: context.today,
		});
		optional('dateOfBirth', fitted, (v) => (contact.dateOfBirth = v));
	}
	const email = read('email');
	if (email) optional('email', fitEmail(email.value), (v) => (contact.email = v));

	for (const field of Object.keys(mapping).filter((f) => f.startsWith(CUSTOM_PREFIX))) {
		const source = read(field);
		if (!source) continue;
		const id = field.slice(CUSTOM_PREFIX.length);
		const definition = context.customFields.get(id);
		if (!definition) {
			warnings.push(`The Hub has no custom field with ID ${id} any more; its value was left out. Refresh the mapping in Map Fields`);
			continue;
		}
		optional(field, fitCustomField(source.value, definition, source.mergeField, context), (value) =>
			contact.customFields.push({ id, value }),
		);
	}

	if (problems.length > 0) return { ok: false, problems };
	return { ok: true, contact: contact as HubContactFields, warnings };
}

/** A value for a Hub custom field, by the field's type and length. */
export function fitCustomField(
	value: unknown,
	field: HubCustomField,
	mergeField: MergeField | undefined,
	context: Pick<MappingContext, 'defaultCountry' | 'yearForBirthdays'>,
): Fitted {
	const label = `Custom field "${field.label}"`;
	const max = field.maxLength > 0 ? field.maxLength : 255;
	switch (field.type) {
		case 'EMAIL': {
			const fitted = fitEmail(value, label);
			return fitted.ok && fitted.value && fitted.value.length > max
				? { ok: false, reason: `${label} is longer than the field's ${max} characters` }
				: fitted;
		}
		case 'DATE':
			// Any date (a renewal date may lie in the future), not only a date of birth.
			return fitDate(value, label, {
				order: dayOrderOf(mergeField?.options?.date_format),
				yearForBirthdays: context.yearForBirthdays || undefined,
			});
		case 'NUMBER':
			return fitNumber(value, max, label);
		case 'URL':
			return fitUrl(value, max, label);
		case 'PHONE': {
			const fitted = fitText(value, 64, label);
			if (!fitted.ok || fitted.value === null) return fitted;
			// Any phone, not only mobiles: a custom phone field may hold a landline.
			const phone = normalisePhone(fitted.value, { defaultCountry: context.defaultCountry, requireMobile: false });
			return phone.ok ? { ok: true, value: phone.e164 } : { ok: false, reason: `${label}: ${phone.reason}` };
		}
		default:
			return fitText(value, max, label);
	}
}

/** "the SMS phone number and the PHONE field are empty", for a source that gave nothing. */
function emptySource(from: string): string {
	if (from === 'the expression') return 'the expression gave none';
	const names = from.split('||').map((key) => {
		if (key === 'smsPhone') return 'the SMS phone number';
		if (key === 'email') return 'the email address';
		if (key === 'fullName') return 'the full name';
		const [tag, part] = key.replace(/^merge:/, '').split('.');
		return part ? `the ${tag} ${part}` : `the ${tag} field`;
	});
	return `${names.join(' and ')} ${names.length > 1 ? 'are' : 'is'} empty`;
}

/** One sentence for the Invalid output. */
export function invalidReason(problems: FieldProblem[]): string {
	return problems.map((p) => p.reason).join('; ');
}
