/**
 * Map Fields' one operation: read the mapping once, the audience's field formats once per audience
 * and the Hub's custom fields once (only when one is mapped), then map every item. Each item comes
 * out exactly once, on Valid or on Invalid, paired with the item it came from.
 */
import {
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
	type INodePropertyOptions,
	type ResourceMapperValue,
} from 'n8n-workflow';
import { getCountries } from 'libphonenumber-js/max';

import { memberKeyOf, type InvalidReason, type TaggedMember } from '../../shared/items';
import { createMailchimpClient } from '../../shared/methods/mailchimp';
import { countryName, phoneCountry } from '../../shared/phone';
import type { MailchimpClient, MergeField } from '../../shared/transport/mailchimp';
import {
	invalidReason,
	mapMember,
	mappingFromDefaults,
	type FieldProblem,
	type HubCustomField,
	type Mapping,
} from '../helpers/mapping';
import { loadHubCustomFields } from '../methods/resourceMapping';
import { NOT_MAPPED, isSourceKey } from '../helpers/sources';

const countryOptions: INodePropertyOptions[] = getCountries()
	.map((code) => ({ name: `${countryName(code)} (${code})`, value: code }))
	.sort((a, b) => a.name.localeCompare(b.name));

export const description: INodeProperties[] = [
	{
		displayName: 'Fields',
		name: 'fields',
		type: 'resourceMapper',
		noDataExpression: true,
		default: { mappingMode: 'defineBelow', value: null },
		required: true,
		// n8n 2.41.1 reloads this form when a parameter it depends on changes, never when a credential does: the
		// hint names the form's own refresh for a change of Hub account (issue 8, #2).
		hint: "Pick the Mailchimp field for each Hub field, or switch a field to Expression to give the value itself. Changed the Hub credential? Choose Refresh Hub Field List in this list's menu for that account's custom fields.",
		typeOptions: {
			// Authentication too: picking the Mailchimp credential of the other kind switches it, and the form
			// then loads at once instead of after reopening the panel (issue 8, #2).
			loadOptionsDependsOn: ['audience.value', 'authentication'],
			resourceMapper: {
				resourceMapperMethod: 'getMappingFields',
				mode: 'map',
				valuesLabel: 'Hub Contact Fields',
				fieldWords: { singular: 'Hub field', plural: 'Hub fields' },
				addAllFields: true,
				multiKeyMatch: false,
				supportAutoMap: false,
				// The editor compares the fields saved with the workflow to the ones it loads and, without this,
				// tells the user after a run that the "Hub fields are outdated" though nothing changed (issue 8, #5).
				refreshStaleSchemaOnOpen: true,
			},
		},
	},
	{
		displayName: 'Default Country',
		name: 'defaultCountry',
		type: 'options',
		options: countryOptions,
		default: 'AU',
		description:
			'The country of phone numbers written without a country code, such as 0412 345 678. An expression may give a two-letter code.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: "Use the Member's Address Country",
				name: 'useAddressCountry',
				type: 'boolean',
				default: true,
				description:
					"Whether to read a national phone number with the country of the member's address first, then with the default country",
			},
			{
				displayName: 'Year for Birthdays',
				name: 'yearForBirthdays',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 2100 },
				default: 0,
				description:
					'Mailchimp birthdays have no year. Give one (e.g. 1904) to send them as a date of birth; 0 leaves them out.',
			},
		],
	},
];

export interface MapFieldsOptions {
	useAddressCountry?: boolean;
	yearForBirthdays?: number;
}

/** The mapping as stored: which Hub fields are set, and which of them are expressions (resolved per item). */
interface StoredMapping {
	/** Null when the form was never filled in: the defaults apply. */
	fixed: Mapping | null;
	expressionFields: string[];
}

function readStoredMapping(ctx: IExecuteFunctions): StoredMapping {
	const stored = ctx.getNodeParameter('fields', 0, { mappingMode: 'defineBelow', value: null }, { rawExpressions: true }) as
		| ResourceMapperValue
		| undefined;
	const value = stored?.value;
	if (!value || typeof value !== 'object' || Object.keys(value).length === 0) return { fixed: null, expressionFields: [] };

	const fixed: Mapping = {};
	const expressionFields: string[] = [];
	for (const [field, raw] of Object.entries(value)) {
		if (raw === null || raw === undefined || raw === '' || raw === NOT_MAPPED) continue;
		if (typeof raw === 'string' && raw.startsWith('=')) {
			expressionFields.push(field);
			continue;
		}
		if (typeof raw !== 'string' || !isSourceKey(raw)) {
			throw new NodeOperationError(ctx.getNode(), `The mapping of "${field}" is not a Mailchimp field: ${JSON.stringify(raw)}`, {
				description: 'Pick a field from the list, or switch the field to Expression to give the value itself.',
			});
		}
		fixed[field] = { kind: 'mailchimp', key: raw };
	}
	return { fixed, expressionFields };
}

/**
 * A member that cannot become a contact. `sync` goes on with what Fetch put there (the ledger's
 * contact and phone, the lease) and says why, so that Remove From Hub can take the contact the
 * ledger knows out of the list, and unsubscribe it when the member unsubscribed from SMS.
 */
function invalid(json: IDataObject, problems: FieldProblem[], reason: InvalidReason, index: number): INodeExecutionData {
	const { sync, ...member } = json;
	return {
		json: {
			reason: invalidReason(problems),
			problems: problems as unknown as IDataObject[],
			member,
			sync: {
				...((sync as IDataObject | undefined) ?? {}),
				change: 'invalid',
				invalidReason: reason,
				// Counted by Sync Lock Release like Upsert's results (Count Items By: sync.result).
				result: 'invalid',
				...(json.smsSubscriptionStatus === 'unsubscribed' ? { smsUnsubscribed: true } : {}),
			},
		},
		pairedItem: { item: index },
	};
}

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const valid: INodeExecutionData[] = [];
	const rejected: INodeExecutionData[] = [];
	if (items.length === 0) return [valid, rejected];

	const stored = readStoredMapping(this);
	if (stored.fixed && !stored.fixed.phone && !stored.expressionFields.includes('phone')) {
		// Every member would be Invalid, and Invalid members leave the Hub list: stop instead.
		throw new NodeOperationError(this.getNode(), 'No Mailchimp field is mapped to the phone', {
			description: "Every contact needs a phone. Pick the field with the members' mobile numbers, usually SMS Phone Number, Else Phone Number.",
		});
	}
	const options = this.getNodeParameter('options', 0, {}) as MapFieldsOptions;
	const audienceParameter = String(this.getNodeParameter('audience', 0, '', { extractValue: true }) ?? '').trim();

	let mailchimp: Promise<MailchimpClient> | undefined;
	const mergeFieldsOf = new Map<string, Promise<MergeField[]>>();
	const audienceFields = (audienceId: string) => {
		let fields = mergeFieldsOf.get(audienceId);
		if (!fields) {
			mailchimp ??= createMailchimpClient(this, { runId: this.getExecutionId() });
			fields = mailchimp.then((client) => client.getMergeFields(audienceId));
			mergeFieldsOf.set(audienceId, fields);
		}
		return fields;
	};

	// Only read from the Hub when a custom field is mapped: the other fields need nothing from it.
	const mapsCustomFields = [...Object.keys(stored.fixed ?? {}), ...stored.expressionFields].some((f) => f.startsWith('custom:'));
	const customFields = new Map<string, HubCustomField>();
	if (mapsCustomFields) for (const field of await loadHubCustomFields(this)) customFields.set(field.id, field);

	for (let i = 0; i < items.length; i++) {
		const json = items[i].json;
		const memberKey = memberKeyOf(json);
		if (!memberKey || typeof json.memberId !== 'string') {
			const upstream = typeof json.error === 'string' ? ` (the previous node reported: ${json.error})` : '';
			rejected.push(
				invalid(
					json,
					[{ field: 'member', reason: `This item is not a Mailchimp member${upstream}; connect Map Fields after Fetch Tagged Members` }],
					'other',
					i,
				),
			);
			continue;
		}
		const member = json as unknown as TaggedMember;
		const sync = (json.sync as IDataObject | undefined) ?? {};
		const audienceId = String(sync.audienceId ?? member.audienceId ?? audienceParameter);
		if (!audienceId) {
			throw new NodeOperationError(this.getNode(), 'No audience selected', { itemIndex: i, description: 'Pick the audience the members come from.' });
		}

		const defaultCountry = this.getNodeParameter('defaultCountry', i, '') as string;
		if (defaultCountry && !phoneCountry(defaultCountry)) {
			throw new NodeOperationError(this.getNode(), `"${defaultCountry}" is not a country code`, {
				itemIndex: i,
				description: 'The default country must be a two-letter ISO code such as AU, NZ, GB or US.',
			});
		}

		const mergeFields = await audienceFields(audienceId);
		const mapping: Mapping = { ...(stored.fixed ?? mappingFromDefaults(mergeFields)) };
		const problems: FieldProblem[] = [];
		for (const field of stored.expressionFields) {
			try {
				const value = this.getNodeParameter(`fields.value.${field}`, i, null, { skipValidation: true });
				mapping[field] = { kind: 'value', value };
			} catch (error) {
				// One member's data can break an expression; that is this member's problem, not the run's.
				problems.push({ field, reason: `The expression for ${field} failed: ${(error as Error).message}` });
			}
		}
		if (problems.length > 0) {
			rejected.push(invalid(json, problems, 'other', i));
			continue;
		}

		const result = mapMember(member, mapping, {
			mergeFields,
			customFields,
			defaultCountry: defaultCountry || undefined,
			useAddressCountry: options.useAddressCountry ?? true,
			yearForBirthdays: options.yearForBirthdays ?? 0,
		});
		if (!result.ok) {
			rejected.push(invalid(json, result.problems, result.invalidReason, i));
			continue;
		}
		valid.push({
			json: {
				contact: result.contact as unknown as IDataObject,
				member: {
					memberKey,
					memberId: member.memberId,
					contactId: member.contactId ?? null,
					email: member.email,
					status: member.status,
					smsSubscriptionStatus: member.smsSubscriptionStatus ?? null,
					audienceId,
					tags: member.tags ?? [],
				},
				sync: { ...sync, audienceId, memberKey, phone: result.contact.phone },
				warnings: result.warnings,
			},
			pairedItem: { item: i },
		});
	}
	return [valid, rejected];
}
