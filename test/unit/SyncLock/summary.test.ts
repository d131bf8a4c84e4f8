import { describeCounts, summariseItems } from '../../../nodes/SyncLock/helpers';

describe('summariseItems', () => {
	const lease = { json: { lockName: 'aud1', runId: 'r1', token: 't1', expiresAt: 'later' } };

	it('counts members by change kind and errors, not the lease item merged in beside them', () => {
		const summary = summariseItems(
			[
				lease,
				{ json: { sync: { change: 'new' } } },
				{ json: { sync: { change: 'new' } } },
				{ json: { sync: { change: 'removed' } } },
				{ json: { error: 'Hub said no', sync: { memberKey: 'm4', change: 'new' } } },
			],
			'sync.change',
			'auto',
			'',
		);
		expect(summary).toEqual({ outcome: 'partial', counts: { new: 2, removed: 1, errors: 1 }, errorSummary: '1 item failed: Hub said no' });
	});

	it("fails the run when an error names no member: a whole step stopped (n8n's error output, Continue On Fail)", () => {
		const summary = summariseItems(
			[lease, { json: { sync: { memberKey: 'm1', result: 'created' } } }, { json: { error: 'Mailchimp did not answer the merge fields' } }],
			'sync.result',
			'auto',
			'',
		);
		expect(summary.outcome).toBe('failed');
		expect(summary.errorSummary).toBe('The run failed: Mailchimp did not answer the merge fields');
	});

	it('adds up the credits Apply Consent spent (json.consent.credits) into counts.credits', () => {
		const summary = summariseItems(
			[
				lease,
				{ json: { sync: { result: 'created' }, consent: { status: 'sent', credits: 1 } } },
				{ json: { sync: { result: 'created' }, consent: { status: 'sent', credits: 2 } } },
				{ json: { sync: { result: 'created' }, consent: { status: 'skipped' } } },
				{ json: { sync: { result: 'created' }, consent: { credits: 'many' } } },
			],
			'sync.result',
			'auto',
			'',
		);
		expect(summary.counts).toEqual({ created: 4, credits: 3 });
	});

	it('counts the lease item when a node failed on it and sent it on with the error', () => {
		const failed = { json: { ...lease.json, error: 'Mailchimp rejected the API key; check it in the credential' } };
		expect(summariseItems([lease, failed], 'sync.change', 'auto', '')).toEqual({
			outcome: 'failed',
			counts: { errors: 1 },
			errorSummary: 'The run failed: Mailchimp rejected the API key; check it in the credential',
		});
	});

	it('a run with nothing to do is a success with no counts', () => {
		expect(summariseItems([lease], 'sync.change', 'auto', '')).toEqual({ outcome: 'success', counts: {}, errorSummary: undefined });
	});

	it('fails the run when an item is fatal, and says why first', () => {
		const summary = summariseItems(
			[lease, { json: { sync: { result: 'created' } } }, { json: { error: 'Guard refused', fatal: true } }, { json: { error: 'Other', sync: { memberKey: 'm2' } } }],
			'sync.result',
			'auto',
			'',
		);
		expect(summary).toEqual({ outcome: 'failed', counts: { created: 1, errors: 2 }, errorSummary: 'The run failed: Guard refused. 2 items failed: Guard refused; Other' });
		// An explicit outcome still wins.
		expect(summariseItems([{ json: { error: 'Guard refused', fatal: true } }], 'sync.result', 'partial', '').outcome).toBe('partial');
	});
});

describe('describeCounts', () => {
	it('tells the counts in one order, whatever order the items arrived in', () => {
		const arrived = { invalid: 2, errors: 1, 'zz-new-kind': 3, updated: 4, created: 5, credits: 7, messages: 6, 'removed-from-list': 1 };
		expect(describeCounts(arrived)).toBe('created 5, updated 4, removed-from-list 1, invalid 2, errors 1, messages 6, credits 7, zz-new-kind 3');
		const reversed = Object.fromEntries(Object.entries(arrived).reverse());
		expect(describeCounts(reversed)).toBe(describeCounts(arrived));
	});

	it("puts a preview's would-… counts beside their real kinds, and leaves out zeros", () => {
		expect(describeCounts({ invalid: 2, 'would-create': 21, credits: 20, messages: 20, unchanged: 0 })).toBe('would-create 21, invalid 2, messages 20, credits 20');
		expect(describeCounts({})).toBe('nothing');
	});
});
