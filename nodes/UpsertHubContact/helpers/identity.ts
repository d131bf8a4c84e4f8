/**
 * How the sync marks its contacts in the Hub (DESIGN decision 4): a list (MAILCHIMP by default), a
 * custom field Source = MAILCHIMP, and a custom field holding the Mailchimp member key. The Mailchimp
 * ID field is what lets the sync tell its own contacts from everybody else's: a contact is only ever
 * updated, unsubscribed or deleted for the member whose key it carries.
 */
import { NodeOperationError, type INode } from 'n8n-workflow';

import type { HubClient, HubContact, HubCustomField, HubCustomFieldInput, HubList } from '../../shared/transport/hub';

export const DEFAULT_LIST_NAME = 'MAILCHIMP';
export const SOURCE_VALUE = 'MAILCHIMP';

export const SOURCE_FIELD: HubCustomFieldInput = { label: 'Source', mergeTag: 'source', maxLength: 50, type: 'TEXT' };
export const MEMBER_ID_FIELD: HubCustomFieldInput = { label: 'Mailchimp ID', mergeTag: 'mailchimp_id', maxLength: 100, type: 'TEXT' };
/** The Hub has no email property (reference/hub-api.md), so email lives in a custom field. */
export const EMAIL_FIELD: HubCustomFieldInput = { label: 'Email', mergeTag: 'email', maxLength: 254, type: 'EMAIL' };

export interface SyncIdentity {
	list: HubList;
	source: HubCustomField;
	memberId: HubCustomField;
	/** Only when the items carry an email. */
	email?: HubCustomField;
}

/** An existing field of the same name but an unsuitable type would make every write fail: say so once. */
function checkField(node: INode, field: HubCustomField, wanted: HubCustomFieldInput, types: string[], longest: number) {
	if (!types.includes(field.type)) {
		throw new NodeOperationError(node, `The Hub custom field "${field.label}" has the type ${field.type}`, {
			description: `The sync keeps ${wanted.label.toLowerCase()} values in it and needs the type ${types.join(' or ')}. Rename or change that field in the Hub (Contacts → Custom Fields); the sync then creates its own.`,
		});
	}
	if (field.maxLength < longest) {
		throw new NodeOperationError(node, `The Hub custom field "${field.label}" holds at most ${field.maxLength} characters`, {
			description: `The sync needs at least ${longest}. Raise its maximum length in the Hub (Contacts → Custom Fields).`,
		});
	}
}

/** Finds the list and the custom fields, creating those that are missing (first run). */
export async function ensureIdentity(client: HubClient, node: INode, listName: string, withEmail: boolean): Promise<SyncIdentity> {
	// Four independent look-ups (each creates what is missing): side by side, then judged in a fixed
	// order, so the error reported does not depend on which answer came first.
	const [list, source, memberId, email] = await settledInOrder([
		client.ensureList(listName),
		client.ensureCustomField(SOURCE_FIELD),
		client.ensureCustomField(MEMBER_ID_FIELD),
		withEmail ? client.ensureCustomField(EMAIL_FIELD) : Promise.resolve(undefined),
	] as const);
	checkField(node, source, SOURCE_FIELD, ['TEXT'], SOURCE_VALUE.length);
	// Mailchimp's contact ids and member ids are 32 characters or fewer.
	checkField(node, memberId, MEMBER_ID_FIELD, ['TEXT'], 32);
	if (email) checkField(node, email, EMAIL_FIELD, ['EMAIL', 'TEXT'], 1);
	return { list, source, memberId, email };
}

/**
 * Waits for all, then throws the first failure in the order given (not the first to arrive), so
 * nothing is left running behind an error and the error does not depend on timing.
 */
export async function settledInOrder<T extends readonly unknown[]>(work: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
	const settled = await Promise.allSettled(work);
	for (const result of settled) if (result.status === 'rejected') throw result.reason;
	return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** For removals: nothing is created; what does not exist marks no contact. */
export async function findIdentity(client: HubClient, listName: string): Promise<{ list?: HubList; memberId?: HubCustomField }> {
	const list = await client.findListByName(listName);
	const memberId =
		(await client.findCustomField({ mergeTag: MEMBER_ID_FIELD.mergeTag })) ?? (await client.findCustomField({ label: MEMBER_ID_FIELD.label }));
	return { list, memberId };
}

/** The member key a contact carries, or undefined when it carries none. */
export function memberKeyOn(contact: HubContact, memberIdField: Pick<HubCustomField, 'id'> | undefined): string | undefined {
	if (!memberIdField) return undefined;
	const value = contact.customFields?.find((f) => f.id === memberIdField.id)?.value;
	return value ? value : undefined;
}

export function inList(contact: HubContact, listId: string): boolean {
	return (contact.lists ?? []).some((l) => l.id === listId);
}
