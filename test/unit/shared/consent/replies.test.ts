import { classifyReply, consentReplyFrom, consentReplyOf } from '../../../../nodes/shared/consent/replies';

describe('classifyReply', () => {
	it.each(['Y', 'y', 'YES', 'yes', 'Yes', 'yes!', ' Yes please', 'YES.', '  y  ', 'Yes, please!'])('%j confirms', (text) => {
		expect(classifyReply(text)).toBe('confirm');
	});

	const optOut = ['STOP', 'END', 'CANCEL', 'UNSUBSCRIBE', 'QUIT', 'STOPALL', 'REVOKE', 'OPTOUT', 'OPT-OUT'];
	it.each(optOut.flatMap((w) => [w, w.toLowerCase(), ` ${w[0]}${w.slice(1).toLowerCase()}! `, `"${w}."`]))('%j opts out', (text) => {
		expect(classifyReply(text)).toBe('opt-out');
	});

	it.each(['opt out', 'Opt Out!', '\tstop\n'])('%j opts out', (text) => {
		expect(classifyReply(text)).toBe('opt-out');
	});

	it.each([
		'stopping by',
		'yesterday',
		'Yep',
		'YESS',
		'no',
		'N',
		'stop the car',
		'please stop sending me photos of the car',
		'ending soon?',
		'cancelled',
		'quite',
		'',
		'   ',
		'?!',
		'HELP',
		'START',
		'yes stop',
		'maybe yes',
	])('%j is something else', (text) => {
		expect(classifyReply(text)).toBe('other');
	});

	it('null and undefined are something else', () => {
		expect(classifyReply(null)).toBe('other');
		expect(classifyReply(undefined)).toBe('other');
	});
});

describe('a reply from the trigger to Handle Reply', () => {
	const wire = { reply_id: 'r1', message_id: 'm1', source_number: '+61491570156', destination_number: '+61400000000', content: 'Yes!', date_received: '2026-11-30T10:00:00Z', metadata: { kind: 'consent-request', audience: 'a', member: 'k' } };

	it('what a trigger emits is what Handle Reply reads (through the item JSON)', () => {
		const emitted = consentReplyFrom(wire);
		expect(typeof emitted).toBe('object');
		expect(consentReplyOf(JSON.parse(JSON.stringify(emitted)))).toEqual(emitted);
		expect(emitted).toMatchObject({ replyId: 'r1', from: '+61491570156', meaning: 'confirm', event: 'RECEIVED_SMS' });
	});

	it("an OPT_OUT_SMS notification is an opt-out whatever its words; a meaning in the item is not trusted", () => {
		const notice = consentReplyFrom({ notification_id: 'n1', source_number: '+61491570156', content: 'halt' });
		expect(notice).toMatchObject({ replyId: 'n1', event: 'OPT_OUT_SMS', meaning: 'opt-out' });
		const forged = { ...(consentReplyFrom(wire) as object), content: 'hello', meaning: 'confirm' };
		expect(consentReplyOf(forged)).toMatchObject({ meaning: 'other' });
	});

	it('refuses what is not a reply, saying what is missing', () => {
		expect(consentReplyOf(wire)).toBe('json.reply has no replyId');
		expect(consentReplyOf(undefined)).toBe('json.reply is not an object');
		expect(consentReplyFrom({ reply_id: 'r', content: 'YES' })).toBe('it has no source_number');
	});

	it.each(['61491570156', '0491 570 156', '+61 491 570 156', '$sourceAddress', '+0491570156'])(
		'refuses a handset number %j that is not E.164: a STOP filed under it would not stop the sync messaging the number',
		(from) => {
			expect(consentReplyFrom({ ...wire, source_number: from })).toMatch(/^its source_number .* is not an E\.164 number$/);
			expect(consentReplyFrom({ notification_id: 'n1', source_number: from, content: 'STOP' })).toMatch(/is not an E\.164 number/);
			expect(consentReplyOf({ ...(consentReplyFrom(wire) as object), from })).toMatch(/^json\.reply\.from .* is not an E\.164 number$/);
		},
	);
});
