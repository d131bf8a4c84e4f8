/**
 * Release and Renew group their items by owner token. The token parameter is an expression; n8n evaluates
 * each evaluation in its expression sandbox, so one that reads no item is evaluated once, not per item.
 */
import type { IExecuteFunctions } from 'n8n-workflow';

import { itemsByToken, tokenPerItem } from '../../../../nodes/SyncLock/actions/common';

/** A context whose token parameter is `raw`; `value(i)` is what n8n would evaluate it to for item i. */
function contextWith(raw: string, value: (itemIndex: number) => string) {
	const getNodeParameter = jest.fn((name: string, itemIndex: number) => (name === 'token' ? value(itemIndex) : undefined));
	const context = { getNode: () => ({ parameters: { token: raw } }), getNodeParameter } as unknown as IExecuteFunctions;
	return { context, getNodeParameter };
}

describe('itemsByToken', () => {
	it("evaluates the template's token expression once for all items of the run", () => {
		const { context, getNodeParameter } = contextWith("={{ $('Acquire Sync Lock').first().json.token }}", () => 'exec-1.abc');
		const groups = itemsByToken(context, 10_000);
		expect([...groups.keys()]).toEqual(['exec-1.abc']);
		expect(groups.get('exec-1.abc')).toHaveLength(10_000);
		expect(groups.get('exec-1.abc')![9_999]).toBe(9_999);
		expect(getNodeParameter).toHaveBeenCalledTimes(1);
	});

	it('evaluates a fixed token once', () => {
		const { context, getNodeParameter } = contextWith('exec-1.abc', () => 'exec-1.abc');
		expect([...itemsByToken(context, 50).keys()]).toEqual(['exec-1.abc']);
		expect(getNodeParameter).toHaveBeenCalledTimes(1);
	});

	it.each([
		'={{ $json.token }}',
		'={{ $json.sync.lease }}',
		"={{ $('Acquire').item.json.token }}",
		'={{ $input.item.json.token }}',
		'={{ $node["Acquire"].json.token }}',
		"={{ $('Acquire').itemMatching($itemIndex).json.token }}",
	])('evaluates an expression that reads its item (%s) for each item, and groups by the values', (raw) => {
		expect(tokenPerItem(contextWith(raw, () => '').context)).toBe(true);
		const { context, getNodeParameter } = contextWith(raw, (i) => (i < 3 ? 'run-a' : 'run-b'));
		const groups = itemsByToken(context, 5);
		expect([...groups]).toEqual([
			['run-a', [0, 1, 2]],
			['run-b', [3, 4]],
		]);
		expect(getNodeParameter).toHaveBeenCalledTimes(5);
	});

	it('has no group for no items', () => {
		const { context, getNodeParameter } = contextWith("={{ $('Acquire').first().json.token }}", () => 'x');
		expect(itemsByToken(context, 0).size).toBe(0);
		expect(getNodeParameter).not.toHaveBeenCalled();
	});
});
