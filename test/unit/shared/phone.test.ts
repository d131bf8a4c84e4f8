/**
 * The phone normaliser, with numbers from ranges set aside for examples and fiction: Australia's
 * ACMA ranges (0491 570 006–159 mobile, 02 5550 / 03 7010 landline), the US 555-01xx range, the UK's
 * Ofcom drama ranges, and the example numbers that ship with the phone metadata for every country.
 */
import { getCountries, getExampleNumber } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';

import { countryName, normalisePhone, phoneCountry, type PhoneResult } from '../../../nodes/shared/phone';

const e164 = (result: PhoneResult) => (result.ok ? result.e164 : `rejected: ${result.reason}`);
const problem = (result: PhoneResult) => (result.ok ? 'accepted' : result.problem);
const reason = (result: PhoneResult) => (result.ok ? '' : result.reason);

describe('national numbers, read with the default country', () => {
	it.each([
		['0491 570 156', 'AU', '+61491570156'],
		['0491570006', 'AU', '+61491570006'],
		['(0491) 570-110', 'AU', '+61491570110'],
		['021 123 4567', 'NZ', '+64211234567'],
		['07400 123456', 'GB', '+447400123456'],
		['06 12 34 56 78', 'FR', '+33612345678'],
		['01512 3456789', 'DE', '+4915123456789'],
		['201-555-0123', 'US', '+12015550123'],
		['(201) 555-0199', 'US', '+12015550199'],
		['090-1234-5678', 'JP', '+819012345678'],
		['081 234 5678', 'ZA', '+27812345678'],
		['8123 4567', 'SG', '+6581234567'],
	])('%s in %s → %s', (raw, country, expected) => {
		expect(e164(normalisePhone(raw, { defaultCountry: country }))).toBe(expected);
	});

	it('accepts the default country in any case and with spaces', () => {
		expect(e164(normalisePhone('0491 570 156', { defaultCountry: ' au ' }))).toBe('+61491570156');
	});

	it('accepts a number given as a JSON number', () => {
		expect(e164(normalisePhone(61491570156, { defaultCountry: 'AU' }))).toBe('+61491570156');
	});

	it('reads full-width digits as typed on Japanese and Chinese keyboards', () => {
		expect(e164(normalisePhone('０４９１ ５７０ １５６', { defaultCountry: 'AU' }))).toBe('+61491570156');
	});
});

describe('extensions: the number itself receives the SMS', () => {
	it.each([
		['+61 412 345 681 ext. 12', 'AU', '+61412345681', '12'],
		['(415) 555-2671 x99', 'US', '+14155552671', '99'],
		['0491 570 156 ext 12', 'AU', '+61491570156', '12'],
		['0491 570 156 extension 7', 'AU', '+61491570156', '7'],
		['+44 7400 123456 #204', 'AU', '+447400123456', '204'],
	])('%s (default %s) → %s, extension %s dropped', (raw, country, expected, extension) => {
		const result = normalisePhone(raw, { defaultCountry: country });
		expect(e164(result)).toBe(expected);
		expect(result.ok && result.droppedExtension).toBe(extension);
	});

	it('names no extension for a number without one', () => {
		const result = normalisePhone('0491 570 156', { defaultCountry: 'AU' });
		expect(result.ok && result.droppedExtension).toBeUndefined();
	});

	it('still refuses a landline that has an extension, for being a landline', () => {
		const result = normalisePhone('02 5550 1234 ext 5', { defaultCountry: 'AU' });
		expect(problem(result)).toBe('not_mobile');
	});
});

describe('tel: URIs (RFC 3966)', () => {
	it.each([
		['tel:+61-412-345-681', 'US', '+61412345681', undefined],
		['tel:+61-491-570-156;ext=12', 'AU', '+61491570156', '12'],
		['TEL:+61.491.570.156', 'AU', '+61491570156', undefined],
		['tel:491-570-156;phone-context=+61', 'US', '+61491570156', undefined],
		['tel:0491-570-156;phone-context=+61', 'US', '+61491570156', undefined],
		['tel:+14155552671;isub=1234', 'AU', '+14155552671', undefined],
	])('%s (default %s) → %s', (raw, country, expected, extension) => {
		const result = normalisePhone(raw, { defaultCountry: country });
		expect(e164(result)).toBe(expected);
		expect(result.ok && result.droppedExtension).toBe(extension);
	});

	it.each([
		'tel:',
		'tel:hello',
		'tel:;ext=12',
		'tel:+61 491 570 156 after 5pm',
		// A number local to a domain has no country to read it with.
		'tel:0491570156;phone-context=example.com',
	])('refuses %p as not a phone number', (raw) => {
		const result = normalisePhone(raw, { defaultCountry: 'AU' });
		expect(problem(result)).toBe('not_a_number');
		expect(reason(result)).toBe(`"${raw}" is not a phone number`);
	});

	it('reads a URI with a space after the scheme', () => {
		expect(e164(normalisePhone('tel: 0491570156;phone-context=+61', {}))).toBe('+61491570156');
	});

	it('reads the same phone-context URI every time (the library alone refuses every second one)', () => {
		const results = [1, 2, 3, 4].map(() => e164(normalisePhone('tel:0491570156;phone-context=+61', { defaultCountry: 'US' })));
		expect(results).toEqual(Array(4).fill('+61491570156'));
	});

	it('judges the number in the URI like any other: a landline is still a landline', () => {
		const result = normalisePhone('tel:+61-2-5550-1234', {});
		expect(problem(result)).toBe('not_mobile');
		expect(reason(result)).toBe('"tel:+61-2-5550-1234" is a landline in Australia, which cannot receive SMS');
	});
});

describe('digits and signs from other scripts', () => {
	it.each([
		['＋６１ ４１２ ３４５ ６８１', undefined, '+61412345681'],
		['＋６１\u3000４９１\u3000５７０\u3000１５６', 'US', '+61491570156'],
		['٠٤٩١ ٥٧٠ ١٥٦', 'AU', '+61491570156'],
		['+٦١ ٤٩١ ٥٧٠ ١٥٦', undefined, '+61491570156'],
		['۰۴۹۱ ۵۷۰ ۱۵۶', 'AU', '+61491570156'],
		['०४९१ ५७० १५६', 'AU', '+61491570156'],
		['০৪৯১ ৫৭০ ১৫৬', 'AU', '+61491570156'],
		['+๖๑ ๔๙๑ ๕๗๐ ๑๕๖', undefined, '+61491570156'],
		// Mathematical sans-serif digits: the third of five runs of ten that sit side by side.
		['\u{1D7E2}\u{1D7E6}\u{1D7EB}\u{1D7E3} \u{1D7E7}\u{1D7E9}\u{1D7E2} \u{1D7E3}\u{1D7E7}\u{1D7E8}', 'AU', '+61491570156'],
		['tel:＋６１－４９１－５７０－１５６', undefined, '+61491570156'],
	])('%s (default %s) → %s', (raw, country, expected) => {
		expect(e164(normalisePhone(raw, { defaultCountry: country }))).toBe(expected);
	});

	it('quotes the number as the member wrote it when refusing it', () => {
		const result = normalisePhone('０２ ５５５０ １２３４', { defaultCountry: 'AU' });
		expect(reason(result)).toBe('"０２ ５５５０ １２３４" is a landline in Australia, which cannot receive SMS');
	});

	it('does not take digit-like symbols that are not decimal digits (circled, superscript) for a number', () => {
		expect(problem(normalisePhone('⓪④⑨① ⑤⑦⓪ ①⑤⑥', { defaultCountry: 'AU' }))).toBe('not_a_number');
	});
});

describe('international forms', () => {
	it.each([
		['+61 491 570 156', 'US', '+61491570156'],
		['+61 (0)491 570 156', 'AU', '+61491570156'],
		['+61-491-570-156', undefined, '+61491570156'],
		['+44 7400 123456', undefined, '+447400123456'],
		['+1 (201) 555-0123', 'NZ', '+12015550123'],
		// Each country's own international prefix: 0011 from Australia, 011 from North America, 00 from Europe.
		['0011 61 491 570 156', 'AU', '+61491570156'],
		['0011 44 7400 123456', 'AU', '+447400123456'],
		['011 61 491 570 156', 'US', '+61491570156'],
		['011 44 7400 123456', 'CA', '+447400123456'],
		['00 44 7400 123456', 'DE', '+447400123456'],
		['0061 491 570 156', 'GB', '+61491570156'],
	])('%s (default %s) → %s', (raw, country, expected) => {
		expect(e164(normalisePhone(raw, { defaultCountry: country }))).toBe(expected);
	});

	it('refuses 00 from Australia, where it is not the international prefix, and says which one is', () => {
		const result = normalisePhone('00 61 491 570 156', { defaultCountry: 'AU' });
		expect(problem(result)).toBe('invalid');
		expect(reason(result)).toContain('0011');
		expect(reason(result)).toContain('Australia');
	});
});

describe('rejections, each with a reason a person understands', () => {
	it.each([
		[null, 'empty', 'No phone number'],
		[undefined, 'empty', 'No phone number'],
		['   ', 'empty', 'No phone number'],
		['abc', 'not_a_number', 'is not a phone number'],
		['call 0491 570 156 after 5', 'not_a_number', 'is not a phone number'],
		['+61491570156x', 'not_a_number', 'is not a phone number'],
		['1-800-FLOWERS', 'not_a_number', 'is not a phone number'],
		[{ number: '0491570156' }, 'not_a_number', 'not text or a number'],
	])('%p → %s', (raw, expectedProblem, expectedReason) => {
		const result = normalisePhone(raw, { defaultCountry: 'AU' });
		expect(problem(result)).toBe(expectedProblem);
		expect(reason(result)).toContain(expectedReason);
	});

	it('asks for a country code when there is no default country', () => {
		const result = normalisePhone('0491 570 156', {});
		expect(problem(result)).toBe('no_country');
		expect(reason(result)).toMatch(/country code.*default country/);
	});

	it('names an unknown country calling code', () => {
		const result = normalisePhone('+999 123 4567', { defaultCountry: 'AU' });
		expect(problem(result)).toBe('unknown_calling_code');
		expect(reason(result)).toContain('country code that does not exist');
	});

	it('says a number is too short or too long for its country', () => {
		const short = normalisePhone('555-1212', { defaultCountry: 'US' });
		expect(problem(short)).toBe('too_short');
		expect(reason(short)).toBe('"555-1212" has too few digits for a phone number in the United States');
		const long = normalisePhone('+52 1 55 1234 5678', {});
		expect(problem(long)).toBe('too_long');
		expect(reason(long)).toContain('Mexico');
	});

	it('refuses reserved ranges that look valid, such as the UK drama mobiles', () => {
		const result = normalisePhone('07700 900123', { defaultCountry: 'GB' });
		expect(problem(result)).toBe('invalid');
		expect(reason(result)).toBe('"07700 900123" is not a valid phone number in the United Kingdom');
	});

	it.each([
		['02 5550 1234', 'AU', 'a landline in Australia'],
		['03 7010 1234', 'AU', 'a landline in Australia'],
		['020 7946 0123', 'GB', 'a landline in the United Kingdom'],
		['1800 123 456', 'AU', 'a toll-free number in Australia'],
		['+1 800 555 0199', 'AU', 'a toll-free number in the United States'],
		['0800 123 456', 'NZ', 'a toll-free number in New Zealand'],
		['13 00 00', 'AU', 'a shared-cost number in Australia'],
	])('%s is not a mobile (%s)', (raw, country, what) => {
		const result = normalisePhone(raw, { defaultCountry: country });
		expect(problem(result)).toBe('not_mobile');
		expect(reason(result)).toBe(`"${raw}" is ${what}, which cannot receive SMS`);
	});

	it('accepts landlines when mobiles are not required (a custom phone field)', () => {
		expect(e164(normalisePhone('02 5550 1234', { defaultCountry: 'AU', requireMobile: false }))).toBe('+61255501234');
	});

	it('refuses numbers shorter than the Hub accepts, though valid where they are', () => {
		// Tokelau's example mobile: 4 digits after +690.
		const result = normalisePhone('+690 7290', {});
		expect(problem(result)).toBe('too_short');
		expect(reason(result)).toContain('the Hub cannot send to');
	});
});

describe("the member's address country", () => {
	it('reads a national number with the address country first', () => {
		expect(e164(normalisePhone('07400 123456', { defaultCountry: 'AU', addressCountry: 'GB' }))).toBe('+447400123456');
	});

	it('falls back to the default country when the number is not valid in the address country', () => {
		expect(e164(normalisePhone('0491 570 156', { defaultCountry: 'AU', addressCountry: 'GB' }))).toBe('+61491570156');
	});

	it('reports the reading that got furthest when neither country gives a mobile', () => {
		// Invalid in the UK, but a landline in Australia: the landline is the more useful reason.
		const result = normalisePhone('02 5550 1234', { defaultCountry: 'AU', addressCountry: 'GB' });
		expect(problem(result)).toBe('not_mobile');
		expect(reason(result)).toContain('landline in Australia');
	});

	it('ignores an address country that is not a country', () => {
		expect(e164(normalisePhone('0491 570 156', { defaultCountry: 'AU', addressCountry: 'Narnia' }))).toBe('+61491570156');
	});
});

describe('every country', () => {
	const countries = getCountries();

	it('turns the example mobile number of each country into E.164, in national and international form', () => {
		const failures: string[] = [];
		let checked = 0;
		for (const country of countries) {
			const example = getExampleNumber(country, examples);
			if (!example) continue;
			const digits = example.number.length - 1;
			const national = normalisePhone(example.formatNational(), { defaultCountry: country });
			const international = normalisePhone(example.formatInternational(), {});
			if (digits < 8) {
				// Too short for the Hub: both forms must say so rather than pass.
				if (national.ok || international.ok) failures.push(`${country}: short number accepted`);
				continue;
			}
			checked++;
			if (e164(national) !== example.number) failures.push(`${country} national ${example.formatNational()}: ${e164(national)}`);
			if (e164(international) !== example.number) failures.push(`${country} international: ${e164(international)}`);
		}
		expect(failures).toEqual([]);
		expect(checked).toBeGreaterThan(230);
	});

	it('knows country codes and names', () => {
		expect(phoneCountry('nz')).toBe('NZ');
		expect(phoneCountry('XX')).toBeUndefined();
		expect(phoneCountry(61)).toBeUndefined();
		expect(countryName('AU')).toBe('Australia');
	});
});
