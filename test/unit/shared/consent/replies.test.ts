import { classifyReply } from '../../../../nodes/shared/consent/replies';

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
