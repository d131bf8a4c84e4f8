import {
	cleanText,
	countryCode,
	dayOrderOf,
	fitCountry,
	fitDate,
	fitDateOfBirth,
	fitEmail,
	fitNumber,
	fitText,
	fitUrl,
	textOf,
	truncateText,
	type Fitted,
} from '../../../../nodes/MapFields/helpers/values';

const value = (fitted: Fitted) => (fitted.ok ? fitted.value : `refused: ${fitted.reason}`);

describe('text', () => {
	it('trims, makes runs of spaces one and drops control characters', () => {
		expect(cleanText('  Mary \t Jane\u200B\u0007  ')).toBe('Mary Jane');
		expect(cleanText('\u00A0José\u3000')).toBe('José');
	});

	it('keeps unicode names intact, composed (NFC)', () => {
		const decomposed = 'Zoe\u0301 Ło\u0301dź';
		expect(cleanText(decomposed)).toBe('Zoé Łódź');
		for (const name of ['Zoë', 'Łukasz', 'Ngọc Ánh', 'Дмитрий', 'محمد', '山田 太郎', 'Ólafur 🌋']) {
			expect(value(fitText(name, 100, 'First name'))).toBe(name);
		}
	});

	it('cuts at the limit without splitting an emoji, a flag or a letter from its accent', () => {
		expect(truncateText('abcdef', 4)).toBe('abcd');
		// 🇦🇺 is 4 UTF-16 units; half a flag must not survive.
		expect(truncateText('ab🇦🇺', 4)).toBe('ab');
		expect(truncateText('ab👩‍👩‍👧', 5)).toBe('ab');
		expect(truncateText('abe\u0301', 3)).toBe('ab');
		expect(truncateText('ab cd', 3)).toBe('ab');
	});

	it('says when it shortened a value', () => {
		const fitted = fitText('x'.repeat(120), 100, 'First name');
		expect(fitted).toEqual({ ok: true, value: 'x'.repeat(100), note: "First name was shortened to 100 characters, the Hub's limit" });
	});

	it('gives null for an empty value and refuses an object', () => {
		expect(value(fitText('   ', 10, 'Last name'))).toBeNull();
		expect(value(fitText(undefined, 10, 'Last name'))).toBeNull();
		expect(value(fitText(42, 10, 'Last name'))).toBe('42');
		expect(value(fitText({ a: 1 }, 10, 'Last name'))).toBe('refused: Last name is an object, not text');
		expect(value(fitText(['a'], 10, 'Last name'))).toBe('refused: Last name is a list, not text');
	});

	it('writes an address on one line', () => {
		expect(textOf({ addr1: '1 Harbour St', addr2: '', city: 'Sydney', state: 'NSW', zip: '2000', country: 'AU' })).toBe(
			'1 Harbour St, Sydney, NSW 2000, AU',
		);
	});
});

describe('email', () => {
	it.each(['ana@example.com', ' Ana.Lopez+sms@example.co.uk ', 'jürgen@bücher.example'])('accepts %s', (email) => {
		expect(value(fitEmail(email))).toBe(email.trim());
	});

	it.each(['ana', 'ana@', 'ana@example', 'a b@example.com', 'ana@@example.com'])('refuses %s', (email) => {
		expect(value(fitEmail(email))).toMatch(/refused: Email ".*" is not an email address/);
	});

	it('refuses an address longer than email allows', () => {
		expect(value(fitEmail(`${'a'.repeat(250)}@example.com`))).toContain('longer than 254');
	});
});

describe('country', () => {
	it.each([
		['AU', 'AU'],
		['nz', 'NZ'],
		['GBR', 'GB'],
		['840', 'US'],
		['Australia', 'AU'],
		['united states of america', 'US'],
		['UK', 'GB'],
		['Deutschland', 'DE'],
		['Allemagne', 'DE'],
		['South Korea', 'KR'],
		[' New  Zealand ', 'NZ'],
	])('%s → %s', (input, expected) => {
		expect(countryCode(input)).toBe(expected);
	});

	it('reads the country of an address and refuses what is no country', () => {
		expect(value(fitCountry({ addr1: 'x', city: 'Auckland', country: 'NZ' }))).toBe('NZ');
		expect(value(fitCountry('Narnia'))).toBe('refused: Country "Narnia" is not a country the sync knows');
		expect(value(fitCountry(''))).toBeNull();
	});
});

describe('dates', () => {
	const today = new Date('2026-06-15T12:00:00Z');

	it('reads ISO dates and date-times', () => {
		expect(value(fitDate('1990-07-04', 'Date'))).toBe('1990-07-04');
		expect(value(fitDate('1990-7-4', 'Date'))).toBe('1990-07-04');
		expect(value(fitDate('1990-07-04T00:00:00+10:00', 'Date'))).toBe('1990-07-04');
	});

	it("reads Mailchimp's dates by the field's format", () => {
		expect(dayOrderOf('MM/DD/YYYY')).toBe('MD');
		expect(dayOrderOf('DD/MM/YYYY')).toBe('DM');
		expect(dayOrderOf('dd/mm')).toBe('DM');
		expect(dayOrderOf(undefined)).toBeUndefined();
		expect(value(fitDate('03/04/1990', 'Date', { order: 'MD' }))).toBe('1990-03-04');
		expect(value(fitDate('03/04/1990', 'Date', { order: 'DM' }))).toBe('1990-04-03');
	});

	it('reads a date without a format only when one reading alone is real', () => {
		expect(value(fitDate('25/12/1990', 'Date'))).toBe('1990-12-25');
		expect(value(fitDate('12/25/1990', 'Date'))).toBe('1990-12-25');
		expect(value(fitDate('03/04/1990', 'Date'))).toContain('could be day/month or month/day');
		expect(value(fitDate('04/04/1990', 'Date'))).toBe('1990-04-04');
	});

	it('needs a year for a Mailchimp birthday', () => {
		expect(value(fitDate('07/04', 'Date of birth', { order: 'MD' }))).toContain('has no year');
		expect(value(fitDate('07/04', 'Date of birth', { order: 'MD', yearForBirthdays: 1904 }))).toBe('1904-07-04');
		expect(value(fitDate('29/02', 'Date of birth', { order: 'DM', yearForBirthdays: 1904 }))).toBe('1904-02-29');
	});

	it('refuses dates that do not exist or are not dates', () => {
		expect(value(fitDate('1990-02-30', 'Date'))).toContain('is not a real date');
		expect(value(fitDate('31/04/1990', 'Date', { order: 'DM' }))).toContain('is not a real date');
		expect(value(fitDate('next tuesday', 'Date'))).toContain('is not a date');
	});

	it('refuses a date of birth in the future or before 1900', () => {
		expect(value(fitDateOfBirth('2030-01-01', 'Date of birth', { today }))).toContain('cannot be a date of birth');
		expect(value(fitDateOfBirth('1850-01-01', 'Date of birth', { today }))).toContain('cannot be a date of birth');
		expect(value(fitDateOfBirth('2026-06-15', 'Date of birth', { today }))).toBe('2026-06-15');
		expect(value(fitDateOfBirth('', 'Date of birth', { today }))).toBeNull();
	});
});

describe('numbers and web addresses', () => {
	it('keeps digits of a number, refuses other text', () => {
		expect(value(fitNumber("1 234'567.5", 20, 'Points'))).toBe('1234567.5');
		expect(value(fitNumber('1,234,567', 20, 'Points'))).toBe('1234567');
		// A decimal comma is not guessed at.
		expect(value(fitNumber('1234,5', 20, 'Points'))).toContain('is not a number');
		expect(value(fitNumber(42.5, 10, 'Points'))).toBe('42.5');
		expect(value(fitNumber('lots', 10, 'Points'))).toContain('is not a number');
		expect(value(fitNumber('12345678901', 10, 'Points'))).toContain('longer than');
	});

	it('accepts http(s) addresses only, never cut', () => {
		expect(value(fitUrl('https://example.com/a', 100, 'Site'))).toBe('https://example.com/a');
		expect(value(fitUrl('ftp://example.com', 100, 'Site'))).toContain('is not a web address');
		expect(value(fitUrl('example', 100, 'Site'))).toContain('is not a web address');
		expect(value(fitUrl('https://example.com/long', 10, 'Site'))).toContain('longer than');
	});
});
