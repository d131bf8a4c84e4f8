/**
 * The package's one phone normaliser: whatever a member typed → E.164, or a reason a person understands.
 *
 * Parsing and validation are libphonenumber-js with its full ("max") metadata, which knows number
 * types; the smaller metadata sets only check lengths and would let landlines through. National
 * numbers and international dialling prefixes are read with the country's own rules (0011 from
 * Australia, 011 from the US, 00 from most of Europe), never by rewriting digits ourselves.
 * Extensions and `tel:` URIs (RFC 3966) are the library's to read too; an extension is dropped,
 * since an SMS goes to the number itself.
 */
import {
	isSupportedCountry,
	parsePhoneNumberWithError,
	ParseError,
	validatePhoneNumberLength,
	type CountryCode,
	type NumberType as LibraryNumberType,
	type PhoneNumber,
} from 'libphonenumber-js/max';
import { Metadata } from 'libphonenumber-js/core';

/** A number already in E.164 form, as the Hub and the store hold numbers: `+`, country code, at most 15 digits. */
export const E164 = /^\+[1-9][0-9]{1,14}$/;
import maxMetadata from 'libphonenumber-js/metadata.max.json';

type NumberType = Exclude<LibraryNumberType, undefined>;

/** Number types that can receive SMS. FIXED_LINE_OR_MOBILE is where a country's ranges do not tell (e.g. the US). */
const MOBILE_TYPES: ReadonlySet<NumberType> = new Set<NumberType>(['MOBILE', 'FIXED_LINE_OR_MOBILE']);

/**
 * The Hub rejects shorter destinations ("International address must be between 8 and 15 characters
 * excluding the first '+'"); E.164 itself allows at most 15 digits.
 */
export const HUB_MIN_DIGITS = 8;

export type PhoneProblem =
	| 'empty'
	| 'not_a_number'
	| 'no_country'
	| 'unknown_calling_code'
	| 'too_short'
	| 'too_long'
	| 'invalid_length'
	| 'invalid'
	| 'not_mobile';

export interface PhoneAccepted {
	ok: true;
	/** `+` and digits only, e.g. `+61412345678`. */
	e164: string;
	/** ISO 3166-1 alpha-2 of the number's region; absent for non-geographic numbers. */
	country?: CountryCode;
	type?: NumberType;
	/** The extension the member wrote after the number (`ext. 12`, `x99`, `;ext=12`), which an SMS cannot use. */
	droppedExtension?: string;
}

export interface PhoneRejected {
	ok: false;
	problem: PhoneProblem;
	/** One sentence for the person fixing the member in Mailchimp. */
	reason: string;
}

export type PhoneResult = PhoneAccepted | PhoneRejected;

export interface PhoneContext {
	/** For numbers written without a country code: the account's usual country. */
	defaultCountry?: string;
	/** The member's own country (e.g. from the address), tried before the default one. */
	addressCountry?: string;
	/** Only numbers that can receive SMS (default). Off for, e.g., a Hub custom field of type PHONE. */
	requireMobile?: boolean;
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** "Australia", or the code itself when the runtime has no name for it. */
export function countryName(code: string): string {
	try {
		return regionNames.of(code) ?? code;
	} catch {
		return code;
	}
}

/** The phone library's country for an ISO code given in any case and with stray spaces; undefined when unknown. */
export function phoneCountry(code: unknown): CountryCode | undefined {
	if (typeof code !== 'string') return undefined;
	const upper = code.trim().toUpperCase();
	return isSupportedCountry(upper) ? upper : undefined;
}

/** "the United States" reads better in a sentence than "United States". */
function inCountry(code: string): string {
	const name = countryName(code);
	return /^(United|Netherlands|Philippines|Czech|Dominican|Bahamas|Gambia|Maldives|Marshall|Solomon|Comoros|Cayman|Falkland|Faroe|Cook|Virgin|Central African)/.test(name)
		? `the ${name}`
		: name;
}

const TYPE_WORDS: Partial<Record<NumberType, string>> = {
	FIXED_LINE: 'a landline',
	TOLL_FREE: 'a toll-free number',
	PREMIUM_RATE: 'a premium-rate number',
	SHARED_COST: 'a shared-cost number',
	VOIP: 'an internet (VoIP) number',
	PERSONAL_NUMBER: 'a personal forwarding number',
	PAGER: 'a pager number',
	UAN: 'a company switchboard number',
	VOICEMAIL: 'a voicemail access number',
};

/** How far a parse got; the furthest rejection is the most useful one to report. */
const PROBLEM_RANK: Record<PhoneProblem, number> = {
	empty: 0,
	not_a_number: 1,
	no_country: 2,
	unknown_calling_code: 3,
	invalid_length: 4,
	too_short: 4,
	too_long: 4,
	invalid: 5,
	not_mobile: 6,
};

/**
 * Normalises one phone number. Tries the member's address country first, then the default
 * country; a number written with `+` needs neither. The first reading that is a valid, SMS-capable
 * number wins; otherwise the rejection from the reading that got furthest is returned.
 */
export function normalisePhone(raw: unknown, context: PhoneContext = {}): PhoneResult {
	const text = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
	if (raw === null || raw === undefined || text === '') return reject('empty', 'No phone number');
	if (text === undefined) return reject('not_a_number', 'The phone value is not text or a number');
	const quoted = `"${text}"`;

	const written = readableForm(text);
	const number = /^tel:/i.test(written) ? numberOfTelUri(written) : written;
	if (number === undefined) return reject('not_a_number', `${quoted} is not a phone number`);

	const candidates = [...new Set([phoneCountry(context.addressCountry), phoneCountry(context.defaultCountry)])].filter(
		(c): c is CountryCode => c !== undefined,
	);
	const international = number.startsWith('+');
	const readings = international || candidates.length === 0 ? [undefined] : candidates;

	let best: PhoneRejected | undefined;
	for (const country of readings) {
		const result = readAs(number, quoted, country, context.requireMobile ?? true);
		if (result.ok) return result;
		if (!best || PROBLEM_RANK[result.problem] > PROBLEM_RANK[best.problem]) best = result;
	}
	return best!;
}

/**
 * A `tel:` URI (RFC 3966) as the library reads a number: `tel:0491-570-156;phone-context=+61;ext=12`
 * → `+610491-570-156;ext=12` (the library drops the trunk 0 and reads the extension). Only the URI's
 * parameters are taken apart here: the library's own reading of `phone-context` keeps state between
 * calls (a global regular expression) and refuses every second such number. A number local to a
 * domain (`phone-context=example.com`) has no country to read it with, so it is refused.
 */
function numberOfTelUri(uri: string): string | undefined {
	const [written, ...parameters] = uri.slice('tel:'.length).split(';');
	const number = written.trim();
	let prefix = '';
	let extension = '';
	for (const parameter of parameters) {
		const [name, value = ''] = parameter.split('=');
		if (/^phone-context$/i.test(name) && !number.startsWith('+')) {
			if (!value.startsWith('+')) return undefined;
			prefix = value;
		} else if (/^ext$/i.test(name) && value) extension = `;ext=${value}`;
		// Other parameters (isub, a number's dialling hints) do not change the number an SMS goes to.
	}
	return number ? `${prefix}${number}${extension}` : undefined;
}

/**
 * The number with full-width forms (＋６１, ideographic spaces, －) as their ASCII originals, and every
 * decimal digit of any script (Devanagari, Bengali, Thai, …) written as 0–9: the phone library reads
 * only ASCII, full-width and Arabic-Indic digits, and drops a full-width plus. Other look-alikes
 * (circled, superscript digits) are not digits and stay as they are, so such a value is refused.
 */
function readableForm(text: string): string {
	return text.replace(/[\u3000\uFF01-\uFF5E]/g, (c) => c.normalize('NFKC')).replace(/\p{Nd}/gu, decimalDigitValue);
}

/**
 * Unicode keeps every script's decimal digits in runs of ten, from 0 to 9 (a stability guarantee of
 * its Numeric_Type=Decimal property), so a digit's value is its distance from the start of its run.
 * Runs can sit side by side (the mathematical digits), hence the modulo.
 */
function decimalDigitValue(digit: string): string {
	if (digit >= '0' && digit <= '9') return digit;
	let code = digit.codePointAt(0)!;
	let offset = 0;
	while (offset < 100 && /\p{Nd}/u.test(String.fromCodePoint(code - 1))) {
		code--;
		offset++;
	}
	return String(offset % 10);
}

function readAs(text: string, quoted: string, country: CountryCode | undefined, requireMobile: boolean): PhoneResult {
	let phone: PhoneNumber;
	try {
		// `extract: false`: the whole value must be a phone number, not text with a number somewhere in it.
		phone = parsePhoneNumberWithError(text, { defaultCountry: country, extract: false });
	} catch (error) {
		const code = error instanceof ParseError ? error.message : '';
		if (code === 'INVALID_COUNTRY') {
			return text.startsWith('+')
				? reject('unknown_calling_code', `${quoted} starts with a country code that does not exist`)
				: reject(
						'no_country',
						`${quoted} has no country code; write it with + and the country code (e.g. +61 412 345 678), or set a default country`,
					);
		}
		if (code === 'TOO_SHORT') return reject('too_short', `${quoted} is too short to be a phone number`);
		if (code === 'TOO_LONG') return reject('too_long', `${quoted} is too long to be a phone number`);
		return reject('not_a_number', `${quoted} is not a phone number`);
	}

	const where = phone.country ?? country;
	const region = where ? ` in ${inCountry(where)}` : ` for country code +${phone.countryCallingCode}`;
	if (!phone.isValid()) {
		const length = validatePhoneNumberLength(text, { defaultCountry: country });
		if (length === 'TOO_SHORT') return reject('too_short', `${quoted} has too few digits for a phone number${region}`);
		if (length === 'TOO_LONG') return reject('too_long', `${quoted} has too many digits for a phone number${region}`);
		if (length === 'INVALID_LENGTH') {
			return reject('invalid_length', `${quoted} has the wrong number of digits for a phone number${region}`);
		}
		return reject('invalid', `${quoted} is not a valid phone number${region}${prefixHint(text, country)}`);
	}
	const type = phone.getType();
	if (requireMobile && (!type || !MOBILE_TYPES.has(type))) {
		const what = (type && TYPE_WORDS[type]) ?? 'not known to be a mobile number';
		return reject(
			'not_mobile',
			type && TYPE_WORDS[type]
				? `${quoted} is ${what}${region}, which cannot receive SMS`
				: `${quoted} is ${what}${region}, so it may not receive SMS`,
		);
	}
	if (phone.number.length - 1 < HUB_MIN_DIGITS) {
		return reject('too_short', `${quoted} has fewer than ${HUB_MIN_DIGITS} digits with its country code, which the Hub cannot send to`);
	}
	const accepted: PhoneAccepted = { ok: true, e164: phone.number, country: phone.country, type };
	if (phone.ext) accepted.droppedExtension = phone.ext;
	return accepted;
}

/**
 * "00 61 …" from Australia is a classic: its international prefix is 0011, so the library reads
 * the digits as an Australian number and finds it invalid. Say so instead of guessing.
 */
function prefixHint(text: string, country: CountryCode | undefined): string {
	if (!country || !/^0/.test(text)) return '';
	const metadata = new Metadata(maxMetadata);
	metadata.selectNumberingPlan(country);
	const prefix = metadata.numberingPlan?.defaultIDDPrefix() ?? '';
	const digits = text.replace(/\D/g, '');
	if (!prefix || digits.startsWith(prefix) || !/^0(0|11)/.test(digits)) return '';
	return ` (from ${inCountry(country)} the international prefix is ${prefix}; write numbers from abroad with + and the country code)`;
}

function reject(problem: PhoneProblem, reason: string): PhoneRejected {
	return { ok: false, problem, reason };
}
