/** Cuts a list into consecutive batches of at most `size` (API request limits: ids per URL, per body). */
export function chunks<T>(items: T[], size: number): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
	return out;
}
