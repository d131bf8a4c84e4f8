/**
 * The member selection (tags, match, statuses) is one definition used by Fetch Tagged Members and Handle
 * Reply: the names, defaults and values saved workflows and templates hold must stay as they were.
 */
import type { INodeProperties } from 'n8n-workflow';

import { ApplyConsent } from '../../../nodes/ApplyConsent/ApplyConsent.node';
import { FetchTaggedMembers } from '../../../nodes/FetchTaggedMembers/FetchTaggedMembers.node';

const selection = (properties: INodeProperties[]) =>
	properties
		.filter((p) => ['tags', 'match', 'statuses'].includes(p.name))
		.map((p) => ({
			name: p.name,
			type: p.type,
			default: p.default,
			values: (p.options ?? []).map((o) => ('value' in o ? o.value : undefined)),
			typeOptions: p.typeOptions,
			show: p.displayOptions?.show,
		}));

const saved = [
	{ name: 'tags', type: 'multiOptions', default: [], values: [], typeOptions: { loadOptionsMethod: 'getTags', loadOptionsDependsOn: ['audience.value'] } },
	{ name: 'match', type: 'options', default: 'any', values: ['any', 'all'], typeOptions: undefined },
	{ name: 'statuses', type: 'multiOptions', default: ['subscribed'], values: ['cleaned', 'subscribed', 'transactional', 'unsubscribed'], typeOptions: undefined },
];

describe('the member selection parameters', () => {
	it('Fetch Tagged Members: as saved workflows hold them, always shown', () => {
		expect(selection(new FetchTaggedMembers().description.properties)).toEqual(saved.map((p) => ({ ...p, show: undefined })));
	});

	it('Apply Consent: the same, shown for Handle Reply only', () => {
		expect(selection(new ApplyConsent().description.properties)).toEqual(saved.map((p) => ({ ...p, show: { operation: ['handleReply'] } })));
	});

	it('each node keeps its own words for what the selection does there', () => {
		const hint = (properties: INodeProperties[]) => properties.find((p) => p.name === 'tags')?.hint;
		expect(hint(new FetchTaggedMembers().description.properties)).toMatch(/^Only members with these tags are synced/);
		expect(hint(new ApplyConsent().description.properties)).toMatch(/a YES from a member no longer in them creates nothing/);
	});
});
