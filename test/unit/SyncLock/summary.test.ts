import { summariseItems } from '../../../nodes/SyncLock/helpers';

describe('summariseItems', () => {
	const lease = { json: { lockName: 'aud1', runId: 'r1', token: 't1', expiresAt: 'later' } };

	it('counts members by change kind and errors, not the lease item merged in beside them', () => {
		const summary = summariseItems(
			[
				lease,
				{ json: { sync: { change: 'new' } } },
				{ json: { sync: { change: 'new' } } },
				{ json: { sync: { change: 'removed' } } },
				{ json: { error: 'Hub said no' } },
			],
			'sync.change',
			'auto',
			'',
		);
		expect(summary).toEqual({ outcome: 'partial', counts: { new: 2, removed: 1, errors: 1 }, errorSummary: '1 item failed: Hub said no' });
	});

	it('a run with nothing to do is a success with no counts', () => {
		expect(summariseItems([lease], 'sync.change', 'auto', '')).toEqual({ outcome: 'success', counts: {}, errorSummary: undefined });
	});
});
