/** The editor side of Map Fields: the mapping form, built from the audience's fields and the Hub's custom fields. */
import type { ILoadOptionsFunctions, ResourceMapperFields } from 'n8n-workflow';

import { createMailchimpClient, currentAudienceId, mailchimpCredentialType } from '../../shared/methods/mailchimp';
import { HUB_CREDENTIAL_TYPE, createHubClient } from '../../shared/transport/hub';
import type { MailchimpClient } from '../../shared/transport/mailchimp';
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

/** Whether the node has this credential chosen (n8n throws when it has not). */
async function hasCredential(ctx: ILoadOptionsFunctions, type: string): Promise<boolean> {
	try {
		await ctx.getCredentials(type);
		return true;
	} catch {
		return false; // any other problem with it shows when the fields are loaded
	}
}

/**
 * The audience whose fields fill the dropdowns: the one picked in the panel, else the account's only
 * audience (the run itself takes each member's audience from the items Fetch Tagged Members gives).
 */
async function mappingAudienceId(ctx: ILoadOptionsFunctions, mailchimp: MailchimpClient): Promise<string | undefined> {
	const picked = currentAudienceId(ctx);
	if (picked) return picked;
	const audiences = await mailchimp.getAudiences();
	return audiences.length === 1 ? audiences[0].id : undefined;
}

export async function getMappingFields(this: ILoadOptionsFunctions): Promise<ResourceMapperFields> {
	// Without both credentials there is nothing to list: say which one to choose, instead of failing the
	// editor's request (which leaves the form blank, with the reason only in the browser's console).
	const missing = [
		(await hasCredential(this, mailchimpCredentialType(this))) ? null : 'the Mailchimp credential',
		(await hasCredential(this, HUB_CREDENTIAL_TYPE)) ? null : 'the Hub credential',
	].filter((name): name is string => name !== null);
	if (missing.length > 0) {
		return { fields: [], emptyFieldsNotice: `Choose ${missing.join(' and ')} above: the dropdowns list the audience's fields and the Hub's custom fields` };
	}
	const mailchimp = await createMailchimpClient(this);
	const audienceId = await mappingAudienceId(this, mailchimp);
	if (!audienceId) {
		return { fields: [], emptyFieldsNotice: 'Pick the audience above: its fields fill the dropdowns' };
	}
	const [mergeFields, customFields] = await Promise.all([mailchimp.getMergeFields(audienceId), loadHubCustomFields(this)]);
	return { fields: mappingSchema(mergeFields, customFields) };
}
