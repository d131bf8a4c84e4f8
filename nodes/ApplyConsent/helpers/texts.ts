/**
 * The consent texts: the Hub integration's own wording by default, a US (CTIA) preset, or the user's
 * own. Only the company name is put into a text; member values never are, so every member of a run
 * gets the same words and a member's data cannot change what we send.
 */

export type ConsentMode = 'confirmation' | 'doubleOptIn' | 'none';
export type TextPreset = 'hub' | 'ctia' | 'custom';

export const COMPANY_PLACEHOLDER = '{Company Name}';

/** The Hub's Mailchimp integration texts, word for word. */
export const HUB_CONFIRMATION_TEXT = `You are subscribed to receive messages from ${COMPANY_PLACEHOLDER}. Reply STOP to cancel.`;
export const HUB_REQUEST_TEXT = `Reply Y or Yes to confirm that you want to receive SMS messages from ${COMPANY_PLACEHOLDER}.`;

/** CTIA's elements of an opt-in message: brand, what was agreed, frequency, rates, HELP and STOP. */
export const CTIA_CONFIRMATION_TEXT = `${COMPANY_PLACEHOLDER}: You are subscribed to recurring messages. Msg frequency varies. Msg & data rates may apply. Reply HELP for help, STOP to cancel.`;
export const CTIA_REQUEST_TEXT = `${COMPANY_PLACEHOLDER}: Reply Y or Yes to confirm recurring SMS messages. Msg frequency varies. Msg & data rates may apply. Reply HELP for help, STOP to cancel.`;

export function presetTexts(preset: TextPreset): { confirmation: string; request: string } | undefined {
	if (preset === 'hub') return { confirmation: HUB_CONFIRMATION_TEXT, request: HUB_REQUEST_TEXT };
	if (preset === 'ctia') return { confirmation: CTIA_CONFIRMATION_TEXT, request: CTIA_REQUEST_TEXT };
	return undefined;
}

/** The template a mode sends: the preset's words, or the user's own (`custom`) for a Custom preset. */
export function templateFor(mode: Exclude<ConsentMode, 'none'>, preset: TextPreset, custom: { confirmation: string; request: string }): string {
	const texts = presetTexts(preset) ?? custom;
	return mode === 'doubleOptIn' ? texts.request : texts.confirmation;
}

/** The text as sent: every `{Company Name}` replaced by the company name, nothing else touched. */
export function renderText(template: string, companyName: string): string {
	return template.split(COMPANY_PLACEHOLDER).join(companyName);
}

// GSM 03.38: the basic set costs one septet a character, the extension set two (escape + char).
const GSM_BASIC = new Set(
	'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM_EXTENSION = new Set('^{}\\[~]|€\f');

export interface SegmentCount {
	encoding: 'GSM-7' | 'UCS-2';
	/** Septets (GSM-7) or UTF-16 code units (UCS-2). */
	units: number;
	/** SMS segments, and so credits, one message takes. */
	segments: number;
}

/** How many SMS segments a text takes: 160 / 153 GSM-7 septets, or 70 / 67 UCS-2 units when any character is outside GSM-7. */
export function countSegments(text: string): SegmentCount {
	let septets = 0;
	let gsm = true;
	for (const ch of text) {
		if (GSM_BASIC.has(ch)) septets += 1;
		else if (GSM_EXTENSION.has(ch)) septets += 2;
		else {
			gsm = false;
			break;
		}
	}
	if (gsm) return { encoding: 'GSM-7', units: septets, segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
	const units = text.length;
	return { encoding: 'UCS-2', units, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/**
 * What one message of a text costs, in words: "1 SMS segment, 1 credit per message (78 GSM-7 characters)".
 * The cost comes first: a narrow panel cuts the end of the SMS Segments field off.
 */
export function segmentSummary(count: SegmentCount): string {
	const plural = count.segments === 1 ? '' : 's';
	return `${count.segments} SMS segment${plural}, ${count.segments} credit${plural} per message (${count.units} ${count.encoding} characters)`;
}

/**
 * countSegments as the body of an n8n expression over `text` (itself an expression), for the panel's
 * hints: the editor evaluates their conditions in the browser, where this package's code does not run.
 * Built from the same tables, so the two counts cannot drift; braces are escaped so the expression
 * never holds the `{{` / `}}` that end an n8n expression.
 */
export function segmentsExpression(text: string): string {
	const literal = (chars: Set<string>) => JSON.stringify([...chars].join('')).replace(/[{}]/g, (b) => `\\u${b.charCodeAt(0).toString(16).padStart(4, '0')}`);
	const basic = literal(GSM_BASIC);
	const extension = literal(GSM_EXTENSION);
	return (
		`((t) => [...t].every((c) => ${basic}.includes(c) || ${extension}.includes(c))` +
		` ? ((u) => (u <= 160 ? 1 : Math.ceil(u / 153)))([...t].reduce((n, c) => n + (${extension}.includes(c) ? 2 : 1), 0))` +
		` : t.length <= 70 ? 1 : Math.ceil(t.length / 67))(${text})`
	);
}

export type SenderKind = 'shared' | 'number' | 'alphanumeric';

/**
 * The sender: empty → the Hub's shared number pool (which receives replies); digits with an optional
 * + → a number; anything else is an alphanumeric sender id, which cannot receive a reply (no Y/YES, no STOP).
 */
export function senderKind(sender: string): SenderKind {
	const s = sender.trim();
	if (s === '') return 'shared';
	return /^\+?\d{3,15}$/.test(s) ? 'number' : 'alphanumeric';
}

/** The Hub's `source_number_type` for a sender; undefined for the shared numbers (no source number sent). */
export function senderNumberType(sender: string): 'INTERNATIONAL' | 'ALPHANUMERIC' | 'SHORTCODE' | undefined {
	const s = sender.trim();
	const kind = senderKind(s);
	if (kind === 'shared') return undefined;
	if (kind === 'alphanumeric') return 'ALPHANUMERIC';
	// A short code has no country code and at most 8 digits; anything else is a full international number.
	return !s.startsWith('+') && s.length <= 8 ? 'SHORTCODE' : 'INTERNATIONAL';
}
