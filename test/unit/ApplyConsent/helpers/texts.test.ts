import {
	CTIA_CONFIRMATION_TEXT,
	CTIA_REQUEST_TEXT,
	HUB_CONFIRMATION_TEXT,
	HUB_REQUEST_TEXT,
	countSegments,
	renderText,
	senderKind,
	senderNumberType,
} from '../../../../nodes/ApplyConsent/helpers/texts';
import { smsSegments } from '../../../emulators/hub-state';

describe('consent texts', () => {
	it("defaults are the Hub integration's texts, word for word", () => {
		expect(renderText(HUB_CONFIRMATION_TEXT, 'Company Name')).toBe('You are subscribed to receive messages from Company Name. Reply STOP to cancel.');
		expect(renderText(HUB_REQUEST_TEXT, 'Company Name')).toBe('Reply Y or Yes to confirm that you want to receive SMS messages from Company Name.');
	});

	it('the US (CTIA) preset names the brand and says frequency, rates, HELP and STOP', () => {
		for (const text of [CTIA_CONFIRMATION_TEXT, CTIA_REQUEST_TEXT]) {
			const rendered = renderText(text, 'Acme');
			expect(rendered.startsWith('Acme:')).toBe(true);
			for (const part of ['Msg frequency varies', 'Msg & data rates may apply', 'HELP', 'STOP']) expect(rendered).toContain(part);
			expect(countSegments(rendered).segments).toBe(1);
		}
	});

	it('only the company name is put in, every time it appears; other braces stay literal', () => {
		expect(renderText('{Company Name} / {Company Name} / {First Name}', 'Acme')).toBe('Acme / Acme / {First Name}');
		// A company name that looks like a placeholder is not expanded again.
		expect(renderText('Hi from {Company Name}', '{Company Name}')).toBe('Hi from {Company Name}');
	});
});

describe('segments (credits per message)', () => {
	const cases: Array<[string, number, 'GSM-7' | 'UCS-2']> = [
		['a'.repeat(160), 1, 'GSM-7'],
		['a'.repeat(161), 2, 'GSM-7'],
		['a'.repeat(306), 2, 'GSM-7'],
		['a'.repeat(307), 3, 'GSM-7'],
		// Extension characters cost two septets.
		['€'.repeat(80), 1, 'GSM-7'],
		['€'.repeat(81), 2, 'GSM-7'],
		// One character outside GSM-7 makes the whole text UCS-2.
		['a'.repeat(69) + '😀', 2, 'UCS-2'],
		['a'.repeat(70), 1, 'GSM-7'],
		['“quoted”' + 'a'.repeat(62), 1, 'UCS-2'],
		['“quoted”' + 'a'.repeat(63), 2, 'UCS-2'],
		[renderText(HUB_CONFIRMATION_TEXT, 'Acme Coffee'), 1, 'GSM-7'],
	];
	it.each(cases)('%#: %s… takes %i segment(s) in %s, as the Hub counts credits', (text, segments, encoding) => {
		const counted = countSegments(text);
		expect(counted).toMatchObject({ segments, encoding });
		expect(counted.segments).toBe(smsSegments(text));
	});
});

describe('sender', () => {
	it.each([
		['', 'shared'],
		['+61491570156', 'number'],
		['61491570156', 'number'],
		['AcmeCoffee', 'alphanumeric'],
		['Acme 1', 'alphanumeric'],
	])('"%s" is %s', (sender, kind) => expect(senderKind(sender)).toBe(kind));
});

describe('sender type sent to the Hub', () => {
	it.each([
		['', undefined],
		['+61491570156', 'INTERNATIONAL'],
		['61491570156', 'INTERNATIONAL'],
		['1234567', 'SHORTCODE'],
		['AcmeCoffee', 'ALPHANUMERIC'],
	])('"%s" → %s', (sender, type) => expect(senderNumberType(sender)).toBe(type));
});
