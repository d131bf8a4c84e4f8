/**
 * The package's one phone normaliser: whatever a member typed → E.164, or a reason a person understands.
 *
 * Parsing and validation are libphonenumber-js with its full ("max") metadata, which knows number
 * types; the smaller metadata sets only check lengths and would let landlines through. National
 * numbers and international dialling prefixes are read with the country's own rules (0011 from
 * Australia, 011 from the US, 00 from most of Europe), never by rewriting digits ourselves.
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
	| 'not_mobile'
	| 'extension';

export interface PhoneAccepted {
	ok: true;
	/** `+` and digits only, e.g. `+61412345678`. */
	e164: string;
	/** ISO 3166-1 alpha-2 of the number's region; absent for non-geographic numbers. */
	country?: CountryCode;
	type?: NumberType;
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
	extension: 6,
	not_mobile: 7,
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

	const candidates = [...new Set([phoneCountry(context.addressCountry), phoneCountry(context.defaultCountry)])].filter(
		(c): c is CountryCode => c !== undefined,
	);
	const international = text.startsWith('+') || text.startsWith('＋');
	const readings = international || candidates.length === 0 ? [undefined] : candidates;

	let best: PhoneRejected | undefined;
	for (const country of readings) {
		const result = readAs(text, country, context.requireMobile ?? true);
		if (result.ok) return result;
		if (!best || PROBLEM_RANK[result.problem] > PROBLEM_RANK[best.problem]) best = result;
	}
	return best!;
}

function readAs(text: string, country: CountryCode | undefined, requireMobile: boolean): PhoneResult {
	const quoted = `"${text}"`;
	let phone: PhoneNumber;
	try {
		// `extract: false`: the whole value must be a phone number, not text with a number somewhere in it.
		phone = parsePhoneNumberWithError(text, { defaultCountry: country, extract: false });
	} catch (error) {
		const code = error instanceof ParseError ? error.message : '';
		if (code === 'INVALID_COUNTRY') {
			return /^[+＋]/.test(text)
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
	if (phone.ext) {
		return reject('extension', `${quoted} has an extension (${phone.ext}); a number that receives SMS has none`);
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
	return { ok: true, e164: phone.number, country: phone.country, type };
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
