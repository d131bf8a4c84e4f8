import { countOf, localTime } from '../../../nodes/shared/words';

describe('words for people', () => {
	it('counts in the singular for one and the plural otherwise (issue 8: "1 members")', () => {
		expect(countOf(1, 'member')).toBe('1 member');
		expect(countOf(0, 'member')).toBe('0 members');
		expect(countOf(12345, 'member')).toBe('12,345 members');
	});

	it('gives times in the workflow time zone with the zone named, never as ISO text', () => {
		const moment = new Date('2026-11-30T19:33:21.212Z');
		expect(localTime(moment, 'Australia/Sydney')).toBe('1 Dec 2026, 6:33 am AEDT');
		expect(localTime(moment, 'UTC')).toBe('30 Nov 2026, 7:33 pm UTC');
		expect(localTime(moment, 'Not/AZone')).toBe('30 Nov 2026, 7:33 pm UTC');
		expect(localTime(moment, 'Australia/Sydney')).not.toMatch(/\d{4}-\d\d-\d\dT/);
	});
});
