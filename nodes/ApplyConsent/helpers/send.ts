/**
 * Paid messages, at most one per number and audience ever: each batch (up to 100, the Hub's limit per
 * request) is claimed in the store right before it is sent, and marked asked with the Hub's message
 * id right after. A send the Hub certainly did not carry out gives its claims back; one whose answer
 * was lost keeps them ("claimed"), so neither a retry nor the next run can send a second message.
 */
import { randomUUID } from 'node:crypto';

import type { RunLease } from '../../shared/lease';
import type { SyncStore } from '../../shared/store';
import {
	HUB_MESSAGES_PER_REQUEST,
	HubApiError,
	HubAuthError,
	HubBadAnswerError,
	HubUnavailableError,
	type HubClient,
	type HubOutboundMessage,
	type HubSentMessage,
} from '../../shared/transport/hub';
import { chunks } from '../../shared/chunks';

export interface Recipient {
	index: number;
	audienceId: string;
	memberKey: string;
	phone: string;
	/** The sync's ledger name, echoed on replies (metadata `sync`) so Handle Reply writes the confirmed member into that ledger. */
	syncName?: string;
	/** A re-ask: the number is claimed again only if it was last asked before this and never answered. */
	reaskIfAskedBefore?: Date;
}

export interface SendSettings {
	content: string;
	/** Empty: the Hub's shared numbers. */
	sender: string;
	senderType?: HubOutboundMessage['source_number_type'];
	/** What the message is, echoed on replies (metadata `kind`). */
	kind: 'consent-confirmation' | 'consent-request';
	credits: number;
}

export type SendResult =
	| { status: 'sent'; messageId: string; requestId: string; credits: number }
	/** Claimed by an earlier run or another process meanwhile: not sent by us. */
	| { status: 'already-claimed' }
	/** The Hub may have sent it; the claim stays, nothing is resent. */
	| { status: 'unknown'; requestId: string; error: string; description?: string }
	/** Certainly not sent; the claim was given back, the next run tries again. */
	| { status: 'failed'; error: string; description?: string };

export async function sendOnce(
	client: HubClient,
	store: SyncStore,
	lease: RunLease,
	recipients: Recipient[],
	settings: SendSettings,
	report: (recipient: Recipient, result: SendResult) => void,
): Promise<void> {
	for (const batch of chunks(recipients, HUB_MESSAGES_PER_REQUEST)) {
		await lease.check();
		const claimed = new Set<string>();
		for (const [audienceId, group] of groupBy(batch, (r) => r.audienceId)) {
			const first = group.filter((r) => !r.reaskIfAskedBefore).map((r) => r.phone);
			for (const phone of await store.claimConsentAsks(audienceId, first)) claimed.add(`${audienceId}\n${phone}`);
			for (const [, again] of groupBy(group.filter((r) => r.reaskIfAskedBefore), (r) => String(r.reaskIfAskedBefore!.getTime()))) {
				const phones = again.map((r) => r.phone);
				for (const phone of await store.reclaimConsentAsks(audienceId, phones, again[0].reaskIfAskedBefore!)) claimed.add(`${audienceId}\n${phone}`);
			}
		}
		const toSend = batch.filter((r) => claimed.has(`${r.audienceId}\n${r.phone}`));
		for (const r of batch) if (!claimed.has(`${r.audienceId}\n${r.phone}`)) report(r, { status: 'already-claimed' });
		if (toSend.length === 0) continue;
		const requestIds = toSend.map(() => randomUUID());
		const messages: HubOutboundMessage[] = toSend.map((r, i) => ({
			content: settings.content,
			destination_number: r.phone,
			...(settings.sender ? { source_number: settings.sender, ...(settings.senderType ? { source_number_type: settings.senderType } : {}) } : {}),
			format: 'SMS',
			metadata: { audience: r.audienceId, member: r.memberKey, request: requestIds[i], kind: settings.kind, ...(r.syncName ? { sync: r.syncName } : {}) },
		}));
		let sent: HubSentMessage[];
		try {
			// One request per call: the batch is all or nothing at the Hub.
			sent = await client.sendMessages(messages);
		} catch (error) {
			// A 2xx answer we could not read (HubBadAnswerError) may hide accepted messages: not "certainly not sent".
			const certainlyNotSent =
				error instanceof HubApiError && !(error instanceof HubBadAnswerError) && !(error instanceof HubUnavailableError && error.maybeProcessed);
			const message = (error as Error).message;
			const description = (error as { description?: string }).description ?? undefined;
			if (certainlyNotSent) {
				for (const r of toSend) await store.releaseConsentClaim(r.audienceId, r.phone);
				if (error instanceof HubAuthError) throw error;
				for (const r of toSend) report(r, { status: 'failed', error: message, description });
				if (error instanceof HubUnavailableError) return failRest(recipients, batch, report, message, description);
				continue;
			}
			// Lost answer (or a bug): the messages may be on their way. Never resend; the claims stay.
			toSend.forEach((r, i) => report(r, { status: 'unknown', requestId: requestIds[i], error: lostAnswer(message), description }));
			if (!(error instanceof HubApiError)) throw error;
			return failRest(recipients, batch, report, message, description);
		}
		const problem = checkSent(sent, messages);
		for (const [i, r] of toSend.entries()) {
			const answer = sent[i];
			if (problem || !answer) {
				report(r, { status: 'unknown', requestId: requestIds[i], error: lostAnswer(`The Hub's answer to POST /v1/messages was not what the API documents: ${problem}`) });
				continue;
			}
			await store.markConsentAsked(r.audienceId, r.phone, answer.message_id);
			report(r, { status: 'sent', messageId: answer.message_id, requestId: requestIds[i], credits: settings.credits });
		}
	}
}

/** The accepted messages must be the ones sent, in order, each with an id. */
export function checkSent(sent: unknown, messages: HubOutboundMessage[]): string | undefined {
	if (!Array.isArray(sent)) return 'no "messages" list';
	if (sent.length !== messages.length) return `${sent.length} messages accepted for ${messages.length} sent`;
	for (const [i, m] of sent.entries()) {
		const message = m as Partial<HubSentMessage> | null;
		if (!message || typeof message.message_id !== 'string' || message.message_id === '') return `message ${i} has no message_id`;
		if (message.destination_number !== undefined && message.destination_number !== messages[i].destination_number) {
			return `message ${i} went to ${String(message.destination_number)}, not ${messages[i].destination_number}`;
		}
	}
	return undefined;
}

function lostAnswer(cause: string): string {
	return `The consent message may have gone out, but its answer was lost (${cause}). It is not sent again: the number stays "claimed" in the sync store, so check the Hub's sent messages for it`;
}

/** Once the Hub is down, the batches not started are not attempted (not claimed either); the next run sends them. */
function failRest(
	all: Recipient[],
	current: Recipient[],
	report: (recipient: Recipient, result: SendResult) => void,
	message: string,
	description?: string,
): void {
	const last = current[current.length - 1];
	const after = all.slice(all.indexOf(last) + 1);
	for (const r of after) {
		report(r, {
			status: 'failed',
			error: `Not attempted: the Sinch MessageMedia Hub stopped answering during this run (${message}); the next run sends this message`,
			description,
		});
	}
}

function groupBy<T>(values: T[], key: (value: T) => string): Map<string, T[]> {
	const groups = new Map<string, T[]>();
	for (const v of values) {
		const k = key(v);
		const g = groups.get(k) ?? [];
		g.push(v);
		groups.set(k, g);
	}
	return groups;
}
