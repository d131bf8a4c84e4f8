/** The SMS Segments field: its label is the count of the text as sent, by the run's own countSegments. */
import type { ILoadOptionsFunctions } from 'n8n-workflow';

import { SEGMENT_COUNT } from '../../../../nodes/ApplyConsent/actions/apply.operation';
import { CTIA_REQUEST_TEXT, HUB_CONFIRMATION_TEXT, countSegments, renderText } from '../../../../nodes/ApplyConsent/helpers/texts';
import { getSegmentCount } from '../../../../nodes/ApplyConsent/methods/segments';

/** The label of the one entry, for the parameters the editor sends (it leaves out hidden ones). */
async function label(parameters: Record<string, unknown>): Promise<string> {
	const context = { getCurrentNodeParameter: (name: string) => parameters[name] } as unknown as ILoadOptionsFunctions;
	const options = await getSegmentCount.call(context);
	expect(options).toHaveLength(1);
	expect(options[0].value).toBe(SEGMENT_COUNT); // the parameter's default, so the field never shows an issue
	return options[0].name;
}

describe('getSegmentCount', () => {
	it('counts the Hub text with the company name in', async () => {
		const units = renderText(HUB_CONFIRMATION_TEXT, 'Acme Coffee').length;
		await expect(label({ mode: 'confirmation', textPreset: 'hub', companyName: 'Acme Coffee' })).resolves.toBe(`1 SMS segment, 1 credit per message (${units} GSM-7 characters)`);
	});

	it('counts the request text in double opt-in, and the CTIA preset', async () => {
		const text = renderText(CTIA_REQUEST_TEXT, 'Acme Coffee');
		const count = countSegments(text);
		await expect(label({ mode: 'doubleOptIn', textPreset: 'ctia', companyName: 'Acme Coffee' })).resolves.toBe(
			`${count.segments > 1 ? '⚠ ' : ''}${count.segments} SMS segment${count.segments > 1 ? 's' : ''}, ${count.segments} credit${count.segments > 1 ? 's' : ''} per message (${text.length} GSM-7 characters)`,
		);
	});

	it('marks a text above one segment, and counts an emoji as UCS-2', async () => {
		await expect(label({ mode: 'confirmation', textPreset: 'custom', companyName: 'Acme', confirmationText: '{Company Name} ' + 'a'.repeat(160) })).resolves.toBe(
			'⚠ 2 SMS segments, 2 credits per message (165 GSM-7 characters)',
		);
		await expect(label({ mode: 'confirmation', textPreset: 'custom', companyName: 'Acme', confirmationText: 'Hi from {Company Name} 😀' })).resolves.toBe(
			'1 SMS segment, 1 credit per message (15 UCS-2 characters)',
		);
		await expect(label({ mode: 'confirmation', textPreset: 'custom', companyName: 'Acme', confirmationText: 'ê'.repeat(71) })).resolves.toBe(
			'⚠ 2 SMS segments, 2 credits per message (71 UCS-2 characters)',
		);
		await expect(label({ mode: 'confirmation', textPreset: 'custom', companyName: 'Acme', confirmationText: '€'.repeat(81) })).resolves.toBe(
			'⚠ 2 SMS segments, 2 credits per message (162 GSM-7 characters)',
		);
	});

	it('asks for the company name, and does not count expressions or the None mode', async () => {
		await expect(label({ mode: 'confirmation', textPreset: 'hub', companyName: '  ' })).resolves.toMatch(/^Enter the company name/);
		await expect(label({ mode: 'confirmation', textPreset: 'custom', companyName: '', confirmationText: 'No name here' })).resolves.toBe('1 SMS segment, 1 credit per message (12 GSM-7 characters)');
		await expect(label({ mode: 'confirmation', textPreset: 'hub', companyName: '={{ $json.company }}' })).resolves.toBe('Counted when the node runs');
		await expect(label({ mode: 'none' })).resolves.toBe('No message is sent in this mode');
	});
});
