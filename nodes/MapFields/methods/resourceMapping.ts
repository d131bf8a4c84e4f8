/** The editor side of Map Fields: the mapping form, built from the audience's fields and the Hub's custom fields. */
import type { ILoadOptionsFunctions, ResourceMapperFields } from 'n8n-workflow';

import { createMailchimpClient, currentAudienceId } from '../../shared/methods/mailchimp';
import { createHubClient } from '../../shared/transport/hub';
import { mappingSchema, type HubCustomField } from '../helpers/mapping';

/** All of the Hub account's custom fields (the client pages through them). */
export async function loadHubCustomFields(ctx: Parameters<typeof createHubClient>[0]): Promise<HubCustomField[]> {
	const hub = await createHubClient(ctx);
	const fields: HubCustomField[] = [];
	for await (const field of hub.customFields()) {
		fields.push({ id: field.id, label: field.label, mergeTag: field.mergeTag, type: field.type, maxLength: field.maxLength });
	}
	return fields;
}

export async function getMappingFields(this: ILoadOptionsFunctions): Promise<ResourceMapperFields> {
	const audienceId = currentAudienceId(this);
	if (!audienceId) {
		return { fields: [], emptyFieldsNotice: "Pick an audience first: its fields fill the dropdowns" };
	}
	const mailchimp = await createMailchimpClient(this);
	const [mergeFields, customFields] = await Promise.all([mailchimp.getMergeFields(audienceId), loadHubCustomFields(this)]);
	return { fields: mappingSchema(mergeFields, customFields) };
}
