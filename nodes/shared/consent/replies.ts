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
