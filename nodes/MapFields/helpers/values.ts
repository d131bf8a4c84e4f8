/**
 * Turning one Mailchimp value into one Hub value: text fitted to a length, a country as ISO 3166-1
 * alpha-2, a date as YYYY-MM-DD, an email address. Pure functions; each says why it gave up.
 */
import countries from 'i18n-iso-countries';

/** A value ready for the Hub, or why there is none. `null` = mapped, but the member has no value. */
export type Fitted<T = string> = { ok: true; value: T | null; note?: string } | { ok: false; reason: string };

const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B\u2028\u2029\uFEFF]/g;
const SPACES = /[\s\u00A0\u2000-\u200A\u202F\u205F\u3000]+/g;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * The text of a value as a person would write it on one line: NFC (so "é" typed two ways is the
 * same name and the same length), no control characters, runs of spaces made one, trimmed.
 */
export function cleanText(value: string): string {
	return value.normalize('NFC').replace(CONTROL, '').replace(SPACES, ' ').trim();
}

/**
 * Shortens text to at most `max` UTF-16 units (the Hub is a Java service; its limits count those)
 * without splitting a character, an emoji or a letter from its accent.
 */
export function truncateText(text: string, max: number): string {
	if (text.length <= max) return text;
	let out = '';
	for (const { segment } of graphemes.segment(text)) {
		if (out.length + segment.length > max) break;
		out += segment;
	}
	return out.trimEnd();
}

/** A Mailchimp address merge value. */
export interface MailchimpAddress {
	addr1?: string;
	addr2?: string;
	city?: string;
	state?: string;
	zip?: string;
	country?: string;
}

export function isAddress(value: unknown): value is MailchimpAddress {
	return typeof value === 'object' && value !== null && !Array.isArray(value) && ('addr1' in value || 'country' in value || 'city' in value);
}

/** One line, in the order people write addresses: "1 Main St, Apt 2, Sydney, NSW 2000, AU". */
export function addressLine(address: MailchimpAddress): string {
	const stateZip = [address.state, address.zip].map((p) => cleanText(String(p ?? ''))).filter(Boolean).join(' ');
	return [address.addr1, address.addr2, address.city, stateZip, address.country]
		.map((p) => cleanText(String(p ?? '')))
		.filter(Boolean)
		.join(', ');
}

/** Any mapped value as text, or undefined when it has none (empty string, null, empty address). */
export function textOf(value: unknown): string | undefined {
	if (value === null || value === undefined) return undefined;
	if (typeof value === 'string') return cleanText(value) || undefined;
	if (typeof value === 'number' || typeof value === 'bigint') return Number.isFinite(Number(value)) ? String(value) : undefined;
	if (typeof value === 'boolean') return value ? 'true' : 'false';
	if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
	if (isAddress(value)) return addressLine(value) || undefined;
	return undefined;
}

const describe = (value: unknown) => (typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'a list' : 'an object') : typeof value);

/** Text for a name or text field: cleaned, then cut to the limit (with a note saying so). */
export function fitText(value: unknown, max: number, label: string): Fitted {
	const text = textOf(value);
	if (text === undefined) {
		if (value === null || value === undefined || typeof value === 'string' || isAddress(value)) return { ok: true, value: null };
		return { ok: false, reason: `${label} is ${describe(value)}, not text` };
	}
	const cut = truncateText(text, max);
	return cut === text
		? { ok: true, value: text }
		: { ok: true, value: cut, note: `${label} was shortened to ${max} characters, the Hub's limit` };
}

/** Strict enough to keep typos out of the Hub, loose enough for every real address (unicode included). */
const EMAIL = /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\]]{2,}$/u;
export const EMAIL_MAX = 254;

export function fitEmail(value: unknown, label = 'Email'): Fitted {
	const text = textOf(value);
	if (text === undefined) return fitText(value, EMAIL_MAX, label);
	if (!EMAIL.test(text)) return { ok: false, reason: `${label} "${text}" is not an email address` };
	if (text.length > EMAIL_MAX) return { ok: false, reason: `${label} is longer than ${EMAIL_MAX} characters` };
	return { ok: true, value: text };
}

const countryCache = new Map<string, string | undefined>();
const LANGUAGES = ['en', ...countries.getSupportedLanguages().filter((l) => l !== 'en')];

/**
 * ISO 3166-1 alpha-2 from whatever a member or an address holds: "AU", "aus", "036", "Australia",
 * "Australien", "UK". Names are looked up in English first, then in the other languages the
 * country library knows.
 */
export function countryCode(value: string): string | undefined {
	const text = cleanText(value);
	if (!text) return undefined;
	if (countryCache.has(text)) return countryCache.get(text);
	let code: string | undefined;
	if (countries.isValid(text)) code = countries.toAlpha2(text);
	for (const language of LANGUAGES) {
		if (code) break;
		code = countries.getAlpha2Code(text, language) ?? countries.getSimpleAlpha2Code(text, language);
	}
	// The cache only ever holds distinct values seen in members' data: a few hundred at most.
	countryCache.set(text, code);
	return code;
}

export function fitCountry(value: unknown, label = 'Country'): Fitted {
	const raw = isAddress(value) ? value.country : value;
	const text = textOf(raw);
	if (text === undefined) return fitText(raw, 2, label);
	const code = countryCode(text);
	return code ? { ok: true, value: code } : { ok: false, reason: `${label} "${text}" is not a country the sync knows` };
}

/** Mailchimp's `date_format` option: "MM/DD/YYYY", "DD/MM/YYYY" for dates, "MM/DD", "DD/MM" for birthdays. */
export type DayOrder = 'MD' | 'DM';

export function dayOrderOf(dateFormat: unknown): DayOrder | undefined {
	if (typeof dateFormat !== 'string') return undefined;
	const f = dateFormat.toUpperCase();
	const m = f.indexOf('MM');
	const d = f.indexOf('DD');
	if (m === -1 || d === -1) return undefined;
	return m < d ? 'MD' : 'DM';
}

export interface DateOptions {
	/** From the merge field's `date_format`; without it, only unambiguous dates are read. */
	order?: DayOrder;
	/** For birthdays, which have no year in Mailchimp: the year to put in front, or none (leave out). */
	yearForBirthdays?: number;
	/** Refuse dates outside this range (YYYY-MM-DD, inclusive), e.g. a birth date in the future. */
	earliest?: string;
	latest?: string;
}

const pad = (n: number) => String(n).padStart(2, '0');

function realDate(year: number, month: number, day: number): boolean {
	if (month < 1 || month > 12 || day < 1 || day > 31) return false;
	const date = new Date(Date.UTC(year, month - 1, day));
	return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * A date as YYYY-MM-DD. Reads ISO dates (and date-times), Mailchimp's "MM/DD/YYYY" or "DD/MM/YYYY"
 * (by the field's format, or when only one reading is a real date), and birthdays "MM/DD"/"DD/MM",
 * which need a year from the options.
 */
export function fitDate(value: unknown, label: string, options: DateOptions = {}): Fitted {
	if (value instanceof Date) return fitDate(Number.isNaN(value.getTime()) ? '' : value.toISOString(), label, options);
	const text = textOf(value);
	if (text === undefined) return fitText(value, 10, label);
	let year: number | undefined;
	let month: number | undefined;
	let day: number | undefined;

	const iso = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$/.exec(text);
	const local = /^(\d{1,2})[-/.](\d{1,2})(?:[-/.](\d{4}))?$/.exec(text);
	if (iso) {
		[year, month, day] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
	} else if (local) {
		const a = Number(local[1]);
		const b = Number(local[2]);
		const y = local[3] === undefined ? options.yearForBirthdays : Number(local[3]);
		if (local[3] === undefined && !y) {
			return { ok: false, reason: `${label} "${text}" has no year, so it cannot be a date of birth (set a year for birthdays to use it)` };
		}
		const probe = y ?? 2000;
		const md = realDate(probe, a, b);
		const dm = realDate(probe, b, a);
		let order = options.order;
		if (!order) {
			if (md && dm && a !== b) {
				return { ok: false, reason: `${label} "${text}" could be day/month or month/day; give the field a date format in Mailchimp` };
			}
			order = md ? 'MD' : 'DM';
		}
		[year, month, day] = order === 'MD' ? [y, a, b] : [y, b, a];
	} else {
		return { ok: false, reason: `${label} "${text}" is not a date` };
	}
	if (year === undefined || month === undefined || day === undefined || !realDate(year, month, day)) {
		return { ok: false, reason: `${label} "${text}" is not a real date` };
	}
	const date = `${year}-${pad(month)}-${pad(day)}`;
	if ((options.earliest && date < options.earliest) || (options.latest && date > options.latest)) {
		return { ok: false, reason: `${label} "${text}" is out of range` };
	}
	return { ok: true, value: date };
}

/** A date of birth: a date between 1900 and today. */
export function fitDateOfBirth(value: unknown, label: string, options: DateOptions & { today?: Date } = {}): Fitted {
	const today = (options.today ?? new Date()).toISOString().slice(0, 10);
	const fitted = fitDate(value, label, { ...options, earliest: '1900-01-01', latest: today });
	return !fitted.ok && fitted.reason.endsWith('is out of range')
		? { ok: false, reason: fitted.reason.replace('is out of range', 'cannot be a date of birth') }
		: fitted;
}

/** A Hub NUMBER custom field: digits with an optional sign and decimal point. */
export function fitNumber(value: unknown, max: number, label: string): Fitted {
	const text = textOf(value);
	if (text === undefined) return fitText(value, max, label);
	// Spaces and apostrophes group thousands; a comma only when it plainly does (1,234,567.5).
	let compact = text.replace(/[\s']/g, '');
	if (/^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(compact)) compact = compact.replace(/,/g, '');
	if (!/^[-+]?\d+(\.\d+)?$/.test(compact)) return { ok: false, reason: `${label} "${text}" is not a number` };
	if (compact.length > max) return { ok: false, reason: `${label} "${text}" is longer than the field's ${max} characters` };
	return { ok: true, value: compact };
}

/** A Hub URL custom field: an absolute http(s) address, never cut (half a URL is a broken link). */
export function fitUrl(value: unknown, max: number, label: string): Fitted {
	const text = textOf(value);
	if (text === undefined) return fitText(value, max, label);
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return { ok: false, reason: `${label} "${text}" is not a web address` };
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `${label} "${text}" is not a web address` };
	if (text.length > max) return { ok: false, reason: `${label} is longer than the field's ${max} characters` };
	return { ok: true, value: text };
}
