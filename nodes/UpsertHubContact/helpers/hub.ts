/**
 * Hub reads and writes done for many members at once: contacts by id (100 per lookup) and list
 * membership (1,000 per request; callers cut the batches with `chunks` and HUB_MEMBERSHIP_BATCH), so a run costs requests per hundred or thousand members, not per member.
 */
import {
	HubInvalidInputError,
	HubNotFoundError,
	type HubClient,
	type HubContact,
} from '../../shared/transport/hub';

const ID_LOOKUP_BATCH = 100;

export function chunks<T>(items: T[], size: number): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
	return out;
}

/** The contacts that still exist, by id; an id missing from the result is gone (deleted in the Hub). */
export async function contactsById(client: HubClient, ids: string[]): Promise<Map<string, HubContact>> {
	const found = new Map<string, HubContact>();
	for (const batch of chunks([...new Set(ids)], ID_LOOKUP_BATCH)) {
		try {
			for await (const contact of client.contacts({ contactIds: batch })) found.set(contact.id, contact);
		} catch (error) {
			// One malformed id spoils the whole filter; read those contacts one by one instead.
			if (!(error instanceof HubInvalidInputError)) throw error;
			for (const id of batch) {
				try {
					found.set(id, await client.getContact(id));
				} catch (inner) {
					if (!(inner instanceof HubNotFoundError || inner instanceof HubInvalidInputError)) throw inner;
				}
			}
		}
	}
	return found;
}

/**
 * Adds or removes one batch (at most 1,000) of contacts; resolves with the ids the Hub says do not
 * exist (deleted meanwhile). The Hub takes a request all or nothing and names the ids it does not
 * know, so those are set aside and the rest sent once more.
 */
export async function changeListBatch(client: HubClient, listId: string, side: 'add' | 'remove', batch: string[]): Promise<Set<string>> {
	const unknown = new Set<string>();
	let pending = [...new Set(batch)];
	for (let attempt = 0; pending.length > 0; attempt++) {
		try {
			await client.updateListMembers(listId, { [side]: pending });
			break;
		} catch (error) {
			const named = new Set(error instanceof HubInvalidInputError ? error.invalidFields.flatMap((f) => f.invalidIds ?? []) : []);
			const gone = pending.filter((id) => named.has(id));
			if (attempt > 0 || gone.length === 0) throw error;
			for (const id of gone) unknown.add(id);
			pending = pending.filter((id) => !named.has(id));
		}
	}
	return unknown;
}
