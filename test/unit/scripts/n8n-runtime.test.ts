/** The first install of n8n takes minutes with npm silent: it must say it is still at work (issue 8, #11). */
import { PROGRESS_EVERY_MS, timed } from '../../../scripts/n8n-runtime';

describe('a long install step', () => {
	beforeEach(() => jest.useFakeTimers());
	afterEach(() => jest.useRealTimers());

	it('says it is still at work every 20 seconds, with its progress, and stops saying so when done', async () => {
		const lines: string[] = [];
		let finish: () => void = () => undefined;
		const step = timed((line) => lines.push(line), 'npm ci', () => new Promise<void>((resolve) => (finish = resolve)), () => '42 packages in place');
		jest.advanceTimersByTime(PROGRESS_EVERY_MS * 3);
		expect(lines).toEqual([
			'npm ci ...',
			'npm ci: still at it after 20 s, 42 packages in place',
			'npm ci: still at it after 40 s, 42 packages in place',
			'npm ci: still at it after 60 s, 42 packages in place',
		]);
		finish();
		await step;
		jest.advanceTimersByTime(PROGRESS_EVERY_MS * 3);
		expect(lines).toHaveLength(5);
		expect(lines[4]).toMatch(/^npm ci: done in 60\.0 s$/);
	});
});
