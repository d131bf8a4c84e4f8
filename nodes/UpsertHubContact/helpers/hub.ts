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
import { chunks } from '../../shared/chunks';

/** Numbers or contact ids per lookup: they travel in the URL. */
const NUMBER_BATCH = 100;


type Limit = <T>(work: () => Promise<T>) => Promise<T>;
const unlimited: Limit = (work) => work();

/** The contacts holding each number, and whether each number may be sent to (false = blacklisted); batches of 100 run side by side. */
export async function lookupNumbers(
	client: HubClient,
	phones: string[],
	limit: Limit = unlimited,
	withAuthorisation = true,
): Promise<{ byPhone: Map<string, HubContact[]>; authorised: Map<string, boolean> }> {
	const byPhone = new Map<string, HubContact[]>();
	const authorised = new Map<string, boolean>();
	// The contacts and the blacklist of a batch are two requests that need nothing of each other: each
	// takes its own place in the pool.
	await Promise.all(
		chunks([...new Set(phones)], NUMBER_BATCH).flatMap((batch) => [
			limit(async () => {
				for (const [phone, contacts] of await client.findContactsByPhone(batch)) byPhone.set(phone, contacts);
			}),
			...(withAuthorisation
				? [
						limit(async () => {
							for (const [phone, ok] of await client.checkAuthorised(batch)) authorised.set(phone, ok);
						}),
					]
				: []),
		]),
	);
	return { byPhone, authorised };
}

/** The contacts that still exist, by id; an id missing from the result is gone (deleted in the Hub). */
export async function contactsById(client: HubClient, ids: string[], limit: Limit = unlimited): Promise<Map<string, HubContact>> {
	const found = new Map<string, HubContact>();
	const readBatch = async (batch: string[]) => {
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
	};
	await Promise.all(chunks([...new Set(ids)], NUMBER_BATCH).map((batch) => limit(() => readBatch(batch))));
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
