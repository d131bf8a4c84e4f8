/**
 * The panel's warnings: their display conditions are expressions over the node's parameters, evaluated
 * here as plain JavaScript with the parameters the editor would hold.
 */
import { hints } from '../../../nodes/ApplyConsent/actions/apply.operation';

const shown = (parameters: Record<string, unknown>) =>
	hints
		.filter((hint) => {
			const body = hint.displayCondition!.replace(/^=\{\{/, '').replace(/\}\}$/, '');
			return (new Function('$parameter', `return (${body});`) as (p: unknown) => boolean)({
				operation: 'apply',
				position: 'before',
				mode: 'confirmation',
				textPreset: 'hub',
				companyName: 'Acme Coffee',
				sender: '',
				...parameters,
			});
		})
		.map((hint) => hint.message.split(':')[0]);

describe('panel hints', () => {
	it('none for the Hub texts, a short company name and the shared numbers', () => {
		expect(shown({})).toEqual([]);
		expect(shown({ mode: 'doubleOptIn' })).toEqual([]);
	});

	it('warns when the text needs more than one segment', () => {
		expect(shown({ companyName: 'A'.repeat(100) })).toHaveLength(1);
		expect(shown({ textPreset: 'custom', confirmationText: 'Hi 😀 from {Company Name}, reply STOP to cancel. We send weekly offers and news!' })).toHaveLength(1);
		expect(shown({ textPreset: 'custom', confirmationText: 'Hi from {Company Name}' })).toEqual([]);
		expect(shown({ mode: 'none', companyName: 'A'.repeat(200) })).toEqual([]);
	});

	it('refuses an alphanumeric sender for double opt-in and warns for confirmations', () => {
		expect(shown({ mode: 'doubleOptIn', sender: 'AcmeCoffee' })).toEqual(['Double opt-in needs a sender that can receive replies']);
		expect(shown({ sender: 'AcmeCoffee' })).toEqual(['An alphanumeric sender ID cannot receive replies']);
		expect(shown({ sender: '+61491570156' })).toEqual([]);
		expect(shown({ position: 'after', sender: 'AcmeCoffee' })).toEqual([]);
	});
});
