import { settledInOrder } from '../../../../nodes/UpsertHubContact/helpers/identity';

const after = <T>(ms: number, run: () => T) => new Promise<T>((resolve, reject) => setTimeout(() => {
	try {
		resolve(run());
	} catch (error) {
		reject(error);
	}
}, ms));

describe('settledInOrder (side-by-side Hub reads judged in a fixed order)', () => {
	it('resolves with the values in the order given', async () => {
		await expect(settledInOrder([after(20, () => 'a'), after(1, () => 2)] as const)).resolves.toEqual(['a', 2]);
	});

	it('throws the first failure in the order given, not the first to arrive, and only once all have settled', async () => {
		let lateDone = false;
		const work = [
			after(30, () => {
				throw new Error('first in order');
			}),
			after(1, () => {
				throw new Error('first to arrive');
			}),
			after(40, () => {
				lateDone = true;
			}),
		] as const;
		await expect(settledInOrder(work)).rejects.toThrow('first in order');
		expect(lateDone).toBe(true);
	});
});
