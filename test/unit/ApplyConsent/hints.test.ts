/**
 * The panel's warnings: their display conditions are n8n expressions over the node's parameters,
 * evaluated here by n8n-workflow's own expression engine, the one the editor runs them with
 * (getSimpleParameterValue, as in useNodeHelpers' getNodeHints).
 */
import { Workflow, type INode, type INodeTypes } from 'n8n-workflow';

import { ApplyConsent } from '../../../nodes/ApplyConsent/ApplyConsent.node';
import { hints } from '../../../nodes/ApplyConsent/actions/apply.operation';
import {
	CTIA_CONFIRMATION_TEXT,
	CTIA_REQUEST_TEXT,
	HUB_CONFIRMATION_TEXT,
	countSegments,
	renderText,
	segmentsExpression,
	templateFor,
	type TextPreset,
} from '../../../nodes/ApplyConsent/helpers/texts';

const type = new ApplyConsent();
const nodeTypes = { getByName: () => type, getByNameAndVersion: () => type, getKnownTypes: () => ({}) } as unknown as INodeTypes;

/** Evaluates an expression as the editor does, for a node with these parameters. */
function evaluate(expression: string, parameters: Record<string, unknown>): unknown {
	const node: INode = { id: 'a', name: 'Apply Consent', type: 'n8n-nodes-mailchimp-hub-sync.applyConsent', typeVersion: 1, position: [0, 0], parameters: parameters as INode['parameters'] };
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	return workflow.expression.getSimpleParameterValue(node, expression, 'internal', {});
}

const shown = (parameters: Record<string, unknown>) =>
	hints
		.filter((hint) =>
			evaluate(hint.displayCondition!, {
				operation: 'apply',
				position: 'before',
				mode: 'confirmation',
				textPreset: 'hub',
				companyName: 'Acme Coffee',
				sender: '',
				...parameters,
			}) === true,
		)
		.map((hint) => hint.message.split(':')[0]);

describe('the segment count the panel evaluates', () => {
	const gsm = 'Hello from Acme, reply STOP to cancel. ';
	const texts: Array<[string, string]> = [
		['empty', ''],
		['short GSM', 'Hi'],
		['exactly 160 GSM', 'a'.repeat(160)],
		['161 GSM', 'a'.repeat(161)],
		['306 GSM (2 × 153)', 'a'.repeat(306)],
		['307 GSM', 'a'.repeat(307)],
		['extension chars count 2: 80 × € = 160', '€'.repeat(80)],
		['extension chars count 2: 159 + ^ = 161', 'a'.repeat(159) + '^'],
		['every extension char', '^{}\\[~]|€\f'.repeat(9)],
		['braces that look like an expression end', '{{ x }} }}'.repeat(20)],
		['GSM accents and Greek', 'Ça va? ÆØÅ æøå ΔΦΓΛΩΠΨΣΘΞ ¡¿ §£¥ èéùìò'.repeat(5)],
		['newline and CR', 'line\r\nline\n'.repeat(20)],
		['exactly 70 UCS-2', 'é' + 'ê'.repeat(69)],
		['71 UCS-2', 'ê'.repeat(71)],
		['134 UCS-2 (2 × 67)', 'ê'.repeat(134)],
		['135 UCS-2', 'ê'.repeat(135)],
		['one emoji (2 code units)', 'Hi 😀'],
		['emoji pushing past 70', 'a'.repeat(68) + '😀'],
		['emoji exactly 70 units', 'a'.repeat(68) + '😀'.slice(0, 2)],
		['curly quote', `We’re ${gsm}`],
		['Cyrillic', 'Привет! '.repeat(12)],
		['tab (not GSM)', 'a\tb'],
		['CTIA confirmation', renderText(CTIA_CONFIRMATION_TEXT, 'Acme Coffee')],
		['CTIA request', renderText(CTIA_REQUEST_TEXT, 'Acme Coffee')],
		['CTIA request, long name', renderText(CTIA_REQUEST_TEXT, 'The Very Long Name Of A Coffee Roastery')],
		['Hub text, emoji name', renderText(HUB_CONFIRMATION_TEXT, 'Acme ☕')],
		['long mixed', gsm.repeat(30) + '€'],
	];

	// $parameter holds only the parameters the node shows, so the text goes in as a custom confirmation text.
	const counted = (text: string) =>
		evaluate(`={{ ${segmentsExpression('$parameter.confirmationText')} }}`, { operation: 'apply', position: 'before', mode: 'confirmation', textPreset: 'custom', confirmationText: text });

	it.each(texts)('%s: the same count as countSegments', (_name, text) => {
		expect(counted(text)).toBe(countSegments(text).segments);
	});

	it('counts random texts from GSM, extension and other characters as countSegments does', () => {
		const alphabet = [...'aZ09 .,!?@£$¥èéÇØΔ_ΦÆß¿§äöñüà\n^{}\\[~]|€', 'ê', 'ç', '😀', '’', 'Ж', '\t'];
		let seed = 7;
		const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
		for (let i = 0; i < 300; i++) {
			const gsmOnly = i % 2 === 0;
			const pool = gsmOnly ? alphabet.slice(0, alphabet.length - 6) : alphabet;
			const text = Array.from({ length: random(400) }, () => pool[random(pool.length)]).join('');
			expect({ text, count: counted(text) }).toEqual({ text, count: countSegments(text).segments });
		}
	});
});

describe('panel hints', () => {
	it('none for the Hub texts, a short company name and the shared numbers', () => {
		expect(shown({})).toEqual([]);
		expect(shown({ mode: 'doubleOptIn' })).toEqual([]);
		expect(shown({ textPreset: 'ctia' })).toEqual([]);
	});

	it('names the exact segments of a text above one segment, with the company name in', () => {
		// The Hub's confirmation is 75 characters without the name: 85 more reach 160, one more 161.
		const fill = 160 - renderText(HUB_CONFIRMATION_TEXT, '').length;
		expect(shown({ companyName: 'A'.repeat(fill) })).toEqual([]);
		expect(shown({ companyName: 'A'.repeat(fill + 1) })).toEqual(['This text is 2 SMS segments']);
		expect(shown({ companyName: ` ${'A'.repeat(fill)}  ` })).toEqual([]); // trimmed, as the run trims it
		expect(shown({ textPreset: 'custom', confirmationText: 'Hi 😀 from {Company Name}, reply STOP to cancel. We send weekly offers and news!' })).toEqual(['This text is 2 SMS segments']);
		expect(shown({ mode: 'doubleOptIn', textPreset: 'custom', requestText: 'ê'.repeat(135) })).toEqual(['This text is 3 SMS segments']);
		expect(shown({ textPreset: 'custom', confirmationText: 'a'.repeat(153 * 10) })).toEqual(['This text is 10 SMS segments']);
		expect(shown({ textPreset: 'custom', confirmationText: 'a'.repeat(153 * 10 + 1) })).toEqual(['This text is more than 10 SMS segments']);
		expect(shown({ textPreset: 'custom', confirmationText: 'Hi from {Company Name}' })).toEqual([]);
		expect(shown({ mode: 'none', companyName: 'A'.repeat(200) })).toEqual([]);
		expect(shown({ position: 'after', companyName: 'A'.repeat(200) })).toEqual([]);
	});

	it('reads the text as the run sends it: each preset and mode, the company name put in and trimmed', () => {
		const custom = { confirmation: 'Thanks for joining {Company Name}! Reply STOP to cancel.', request: '{Company Name} asks: reply YES to get our texts ☕' };
		for (const mode of ['confirmation', 'doubleOptIn'] as const) {
			for (const textPreset of ['hub', 'ctia', 'custom'] as TextPreset[]) {
				for (const companyName of ['Acme', ' Acme Coffee Roasters of Sydney ', 'Café Δ '.repeat(8), 'Acme ☕ '.repeat(3), '€'.repeat(40)]) {
					const segments = countSegments(renderText(templateFor(mode, textPreset, custom), companyName.trim())).segments;
					const expected = segments > 1 ? [`This text is ${segments} SMS segments`] : [];
					const parameters = { mode, textPreset, companyName, confirmationText: custom.confirmation, requestText: custom.request };
					expect({ parameters, hints: shown(parameters) }).toEqual({ parameters, hints: expected });
				}
			}
		}
	});

	it('refuses an alphanumeric sender for double opt-in and warns for confirmations', () => {
		expect(shown({ mode: 'doubleOptIn', sender: 'AcmeCoffee' })).toEqual(['Double opt-in needs a sender that can receive replies']);
		expect(shown({ sender: 'AcmeCoffee' })).toEqual(['An alphanumeric sender ID cannot receive replies']);
		expect(shown({ sender: '+61491570156' })).toEqual([]);
		expect(shown({ position: 'after', sender: 'AcmeCoffee' })).toEqual([]);
	});
});
