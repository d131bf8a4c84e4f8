/**
 * What a handset's reply to a consent request means, decided in one place for the trigger, the
 * Handle Reply operation and the sync.
 *
 * - `confirm`: Y or YES, the Hub's own double opt-in answer ("Reply Y or Yes to confirm …"), also
 *   followed by more words ("Yes please").
 * - `opt-out`: a STOP-family word (CTIA's STOP, END, CANCEL, UNSUBSCRIBE, QUIT plus STOPALL, REVOKE,
 *   OPTOUT, OPT-OUT / OPT OUT, as the FCC's revocation rule names them). Only the whole reply counts,
 *   so "stopping by" or "stop the car" is not an opt-out; opting out must stay unambiguous.
 * - `other`: anything else; recorded, nothing changes.
 *
 * Case, surrounding spaces and punctuation never matter ("  stop!! ", "Yes.").
 */
import { E164 } from '../phone';

export type ReplyMeaning = 'confirm' | 'opt-out' | 'other';

export const OPT_OUT_WORDS: readonly string[] = ['STOP', 'END', 'CANCEL', 'UNSUBSCRIBE', 'QUIT', 'STOPALL', 'REVOKE', 'OPTOUT', 'OPT-OUT'];
export const CONFIRM_WORDS: readonly string[] = ['Y', 'YES'];

/** Letters, digits and inner hyphens survive; everything else separates words. */
function wordsOf(text: string): string[] {
	return text
		.normalize('NFKC')
		.toUpperCase()
		.split(/[^\p{L}\p{N}-]+/u)
		.map((w) => w.replace(/^-+|-+$/g, ''))
		.filter((w) => w !== '');
}

export function classifyReply(content: string | null | undefined): ReplyMeaning {
	const words = wordsOf(content ?? '');
	if (words.length === 0) return 'other';
	const whole = words.join(' ');
	// An opt-out is the whole reply: one word, or "OPT OUT" written apart.
	if (OPT_OUT_WORDS.includes(whole) || whole === 'OPT OUT') return 'opt-out';
	// A confirmation starts with Y or YES as a word of its own ("yes please", not "yesterday").
	if (CONFIRM_WORDS.includes(words[0]) && !words.some((w) => OPT_OUT_WORDS.includes(w))) return 'confirm';
	return 'other';
}

/** A reply as the reply triggers emit it (`json.reply`) and Apply Consent's Handle Reply reads it. */
export interface ConsentReply {
	/** The Hub's reply id; for an OPT_OUT_SMS notification, its notification id. */
	replyId: string;
	/** The message replied to (ours, if it was a consent request). */
	messageId: string | null;
	/** The handset's number (E.164). */
	from: string;
	/** Our number the handset wrote to. */
	to: string | null;
	content: string;
	receivedAt: string | null;
	/** Copied by the Hub from the message replied to. */
	metadata: Record<string, string>;
	/** RECEIVED_SMS (a reply) or OPT_OUT_SMS (the Hub saw an opt-out keyword). */
	event: 'RECEIVED_SMS' | 'OPT_OUT_SMS';
	meaning: ReplyMeaning;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * A reply or opt-out notification body from the Hub (webhook or Replies API) as a ConsentReply;
 * a description of what is missing when it is not one (the caller refuses it and names the source).
 */
export function consentReplyFrom(body: unknown): ConsentReply | string {
	if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body is not a JSON object';
	const b = body as Record<string, unknown>;
	const notificationId = text(b.notification_id);
	const replyId = text(b.reply_id) ?? notificationId;
	if (!replyId) return 'it has neither reply_id nor notification_id';
	const from = text(b.source_number);
	if (!from) return 'it has no source_number';
	// The number is the key of every opt-out and consent record: one in another form would file a STOP
	// under a number the sync never messages, and the next run would message the handset again.
	if (!E164.test(from)) return `its source_number ${JSON.stringify(from.slice(0, 30))} is not an E.164 number`;
	if (typeof b.content !== 'string') return 'it has no content';
	const metadata: Record<string, string> = {};
	if (b.metadata && typeof b.metadata === 'object' && !Array.isArray(b.metadata)) {
		for (const [k, v] of Object.entries(b.metadata as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
	}
	const event = text(b.reply_id) ? 'RECEIVED_SMS' : 'OPT_OUT_SMS';
	return {
		replyId,
		messageId: text(b.message_id),
		from,
		to: text(b.destination_number),
		content: b.content,
		receivedAt: text(b.date_received),
		metadata,
		event,
		// The Hub itself recognised an opt-out keyword: an opt-out whatever the words.
		meaning: event === 'OPT_OUT_SMS' ? 'opt-out' : classifyReply(b.content),
	};
}

/**
 * What a consent request carries in the Hub message's `metadata` (echoed on its replies), so a reply
 * finds its audience, member and sync: `kind`, `audience`, `member` (the member key: Mailchimp's
 * contact id, which Mailchimp also accepts to read the member back), `request` (the request's id) and,
 * when known, `sync` (the ledger's name). Values are strings of at most 256 characters (Hub limit).
 */
export const CONSENT_REQUEST_KIND = 'consent-request';

export interface ConsentRequestRef {
	audienceId: string;
	/** The member key the ledger uses (memberKeyOf). */
	memberKey: string;
	requestId?: string;
	/** The ledger's name, so a confirmed member is written into the sync's ledger. */
	syncName?: string;
}

export function consentRequestMetadata(ref: ConsentRequestRef): Record<string, string> {
	return {
		kind: CONSENT_REQUEST_KIND,
		audience: ref.audienceId,
		member: ref.memberKey,
		...(ref.requestId ? { request: ref.requestId } : {}),
		...(ref.syncName ? { sync: ref.syncName } : {}),
	};
}

/** The request a reply's metadata names; null for a reply to any other message. */
export function consentRequestOf(metadata: Record<string, string> | undefined): ConsentRequestRef | null {
	if (!metadata || metadata.kind !== CONSENT_REQUEST_KIND || !metadata.audience || !metadata.member) return null;
	return {
		audienceId: metadata.audience,
		memberKey: metadata.member,
		...(metadata.request ? { requestId: metadata.request } : {}),
		...(metadata.sync ? { syncName: metadata.sync } : {}),
	};
}

/**
 * The reply a trigger emitted (`json.reply`, a ConsentReply), checked again where it is used: an item
 * that is not one is refused, and the meaning is worked out anew from the words and the event rather
 * than taken from the item.
 */
export function consentReplyOf(value: unknown): ConsentReply | string {
	if (!value || typeof value !== 'object' || Array.isArray(value)) return 'json.reply is not an object';
	const r = value as Record<string, unknown>;
	if (!text(r.replyId)) return 'json.reply has no replyId';
	if (!text(r.from)) return 'json.reply has no from (the handset number)';
	if (!E164.test(r.from as string)) return `json.reply.from ${JSON.stringify(String(r.from).slice(0, 30))} is not an E.164 number`;
	if (typeof r.content !== 'string') return 'json.reply has no content';
	if (r.event !== 'RECEIVED_SMS' && r.event !== 'OPT_OUT_SMS') return 'json.reply.event is neither RECEIVED_SMS nor OPT_OUT_SMS';
	const metadata: Record<string, string> = {};
	if (r.metadata && typeof r.metadata === 'object' && !Array.isArray(r.metadata)) {
		for (const [k, v] of Object.entries(r.metadata as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
	}
	return {
		replyId: r.replyId as string,
		messageId: text(r.messageId),
		from: r.from as string,
		to: text(r.to),
		content: r.content,
		receivedAt: text(r.receivedAt),
		metadata,
		event: r.event,
		meaning: r.event === 'OPT_OUT_SMS' ? 'opt-out' : classifyReply(r.content),
	};
}
