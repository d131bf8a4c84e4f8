/**
 * What Map Fields does, apart from n8n: one member + the user's mapping → the Hub contact fields,
 * or the reasons the member cannot become a contact. Pure: no I/O, no n8n.
 */
import type { ResourceMapperField } from 'n8n-workflow';

import type { HubContactFields, InvalidReason, TaggedMember } from '../../shared/items';
import { normalisePhone } from '../../shared/phone';
import type { HubCustomField as HubCustomFieldData } from '../../shared/transport/hub';
import type { MergeField } from '../../shared/transport/mailchimp';
import {
	HUB_STANDARD_FIELDS,
	defaultMapping,
	mailchimpFieldOptions,
	memberAddressCountry,
	mergeFieldOf,
	readSource,
	readSources,
	sourceName,
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

export type { HubContactFields } from '../../shared/items';

export interface FieldProblem {
	field: string;
	reason: string;
}

export type MappedMember =
	| { ok: true; contact: HubContactFields; warnings: string[] }
	| { ok: false; problems: FieldProblem[]; invalidReason: InvalidReason };

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

	const phone = mapPhone(member, mapping.phone, context);
	let invalidReason: InvalidReason = 'other';
	if (phone.ok) {
		contact.phone = phone.e164;
		warnings.push(...phone.warnings);
	} else {
		problems.push({ field: 'phone', reason: phone.reason });
		invalidReason = phone.invalidReason;
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

	if (problems.length > 0) return { ok: false, problems, invalidReason };
	return { ok: true, contact: contact as HubContactFields, warnings };
}

type MappedPhone = { ok: true; e164: string; warnings: string[] } | { ok: false; reason: string; invalidReason: InvalidReason };

/**
 * The member's SMS number. With several fields mapped (the SMS phone number, else PHONE), the first
 * that holds a valid mobile wins, not merely the first that holds something: a member who typed
 * "12345" as SMS number and a real mobile in PHONE is reachable on the mobile.
 */
function mapPhone(member: TaggedMember, source: FieldSource | undefined, context: MappingContext): MappedPhone {
	if (!source || (source.kind === 'mailchimp' && source.key === 'none')) {
		return { ok: false, reason: 'No Mailchimp field is mapped to the phone; map one in Map Fields', invalidReason: 'other' };
	}
	const candidates =
		source.kind === 'value'
			? [{ value: source.value, from: 'the expression', mergeField: undefined }]
			: readSources(member, source.key).map(({ value, key }) => ({
					value,
					from: sourceName(key),
					mergeField: mergeFieldOf(key, context.mergeFields),
				}));
	const skipped: Array<{ from: string; reason: string }> = [];
	for (const { value, from, mergeField } of candidates) {
		const usFormat = mergeField?.type === 'phone' && mergeField.options?.phone_format === 'US';
		const result = normalisePhone(value, {
			// Mailchimp only accepts NPA-NXX-LINE in a US-format phone field.
			defaultCountry: usFormat ? 'US' : context.defaultCountry,
			addressCountry: context.useAddressCountry && !usFormat ? memberAddressCountry(member, context.mergeFields) : undefined,
		});
		if (!result.ok) {
			if (result.problem !== 'empty') skipped.push({ from, reason: result.reason });
			continue;
		}
		const warnings = skipped.map((s) => `${capitalise(s.from)} was skipped (${s.reason}); ${from} was used`);
		if (result.droppedExtension) {
			warnings.push(`The phone number's extension (${result.droppedExtension}) was dropped: an SMS goes to the number itself`);
		}
		return { ok: true, e164: result.e164, warnings };
	}
	if (skipped.length === 0) {
		const names = candidates.map((c) => c.from);
		const empty = source.kind === 'value' ? 'the expression gave none' : `${names.join(' and ')} ${names.length > 1 ? 'are' : 'is'} empty`;
		return { ok: false, reason: `The member has no phone number (${empty})`, invalidReason: 'phone-missing' };
	}
	const reason = skipped.length === 1 ? skipped[0].reason : capitalise(skipped.map((s) => `${s.from}: ${s.reason}`).join('; '));
	return { ok: false, reason, invalidReason: 'phone-invalid' };
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

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

/** One sentence for the Invalid output. */
export function invalidReason(problems: FieldProblem[]): string {
	return problems.map((p) => p.reason).join('; ');
}
