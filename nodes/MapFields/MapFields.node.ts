import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeCredentialDescription,
	type INodeExecutionData,
	type INodePropertyOptions,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import { getCountries } from 'libphonenumber-js/max';

import { audienceLocator, mailchimpAuthentication, mailchimpCredentials } from '../shared/descriptions';
import { mailchimpCredentialTest } from '../shared/methods/mailchimp';
import { countryName } from '../shared/phone';
import { HUB_CREDENTIAL_TYPE } from '../shared/transport/hub';
import { getMappingFields } from './methods';
import { mapFields } from './run';

/** Mailchimp for the members' fields, the Hub for its custom fields. */
const credentials: INodeCredentialDescription[] = [...mailchimpCredentials, { name: HUB_CREDENTIAL_TYPE, required: true }];

const countryOptions: INodePropertyOptions[] = getCountries()
	.map((code) => ({ name: `${countryName(code)} (${code})`, value: code }))
	.sort((a, b) => a.name.localeCompare(b.name));

/**
 * Mailchimp member → Hub contact fields: each Hub field takes a Mailchimp field chosen from a
 * dropdown (or an expression), phones become E.164, and members who cannot become a contact leave
 * on the Invalid output with the reason.
 */
export class MapFields implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Map Fields',
		name: 'mapFields',
		icon: 'file:mapFields.svg',
		group: ['transform'],
		version: 1,
		subtitle: 'Mailchimp fields → Hub contact',
		description: 'Turn Mailchimp members into Hub contact fields, with phone numbers in E.164',
		defaults: { name: 'Map Fields' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Valid', 'Invalid'],
		credentials,
		properties: [
			mailchimpAuthentication,
			{ ...audienceLocator, description: 'The Mailchimp audience the members come from; its fields fill the dropdowns' },
			{
				displayName: 'Fields',
				name: 'fields',
				type: 'resourceMapper',
				noDataExpression: true,
				default: { mappingMode: 'defineBelow', value: null },
				required: true,
				hint: 'Pick the Mailchimp field for each Hub field, or switch a field to Expression to give the value itself',
				typeOptions: {
					loadOptionsDependsOn: ['audience.value'],
					resourceMapper: {
						resourceMapperMethod: 'getMappingFields',
						mode: 'map',
						valuesLabel: 'Hub Contact Fields',
						fieldWords: { singular: 'Hub field', plural: 'Hub fields' },
						addAllFields: true,
						multiKeyMatch: false,
						supportAutoMap: false,
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
		],
	};

	methods = {
		resourceMapping: { getMappingFields },
		credentialTest: { mailchimpCredentialTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await mapFields(this);
	}
}
