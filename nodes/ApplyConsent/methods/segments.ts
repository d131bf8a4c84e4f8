/**
 * The SMS Segments field of the panel: its one entry's label is the count of the text as it will be
 * sent, worked out here by the same countSegments the run uses. The editor asks again whenever the
 * mode, the texts or the company name change (loadOptionsDependsOn), so the count follows the typing.
 */
import type { ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';

import { SEGMENT_COUNT } from '../actions/apply.operation';
import { COMPANY_PLACEHOLDER, HUB_CONFIRMATION_TEXT, HUB_REQUEST_TEXT, countSegments, renderText, segmentSummary, templateFor, type ConsentMode, type TextPreset } from '../helpers/texts';

const isExpression = (value: unknown) => typeof value === 'string' && value.startsWith('=');

export async function getSegmentCount(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const read = (name: string, fallback: string) => {
		const value = this.getCurrentNodeParameter(name);
		return value === undefined || value === null ? fallback : value;
	};
	const mode = read('mode', 'confirmation') as ConsentMode;
	const values = [read('textPreset', 'hub'), read('companyName', ''), read('confirmationText', HUB_CONFIRMATION_TEXT), read('requestText', HUB_REQUEST_TEXT)];
	const entry = (name: string, description: string): INodePropertyOptions[] => [{ name, value: SEGMENT_COUNT, description }];
	if (mode === 'none') return entry('No message is sent in this mode', 'None (Inferred Consent) sends no consent message');
	if (values.some(isExpression)) return entry('Counted when the node runs', 'The text or the company name is an expression: its value is known only in a run');
	const [preset, companyName, confirmation, request] = values.map(String);
	const template = templateFor(mode, preset as TextPreset, { confirmation, request });
	if (companyName.trim() === '' && template.includes(COMPANY_PLACEHOLDER)) {
		return entry('Enter the company name to count the segments', `The text says ${COMPANY_PLACEHOLDER} where the company name goes`);
	}
	const count = countSegments(renderText(template, companyName.trim()));
	const over = count.segments > 1 ? ' (more than one segment)' : '';
	return entry(
		`${count.segments > 1 ? '⚠ ' : ''}${segmentSummary(count)}`,
		`Counted with the company name in${over}: 160 GSM-7 characters fit one segment (153 each when longer), 70 when any character is outside GSM-7 (67 each when longer)`,
	);
}
