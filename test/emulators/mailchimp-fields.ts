/**
 * Mailchimp's `fields` / `exclude_fields` query parameters: comma lists of dot paths, relative to the
 * response root. A path into an array applies to each element, which is why a member list needs the
 * `members.` prefix (`fields=id` on `/members` answers `{}` — the pitfall n8n's node ran into).
 * Unknown paths are ignored, as by the real API.
 */

/** `true` = the whole value at this path; a map = only these keys below it. */
export type FieldTree = Map<string, FieldTree | true>;

export function parseFieldList(value: string | null | undefined): FieldTree | undefined {
	if (value === null || value === undefined || value.trim() === '') return undefined;
	const tree: FieldTree = new Map();
	for (const raw of value.split(',')) {
		const parts = raw.trim().split('.').filter((p) => p !== '');
		if (parts.length === 0) continue;
		let node = tree;
		parts.forEach((part, i) => {
			const existing = node.get(part);
			if (existing === true) return; // a shorter path already keeps the whole value
			if (i === parts.length - 1) {
				node.set(part, true);
				return;
			}
			const child: FieldTree = existing ?? new Map();
			node.set(part, child);
			node = child;
		});
	}
	return tree;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
	typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keeps only the paths in `tree`. */
export function includeFields(value: unknown, tree: FieldTree): unknown {
	if (Array.isArray(value)) return value.map((item) => includeFields(item, tree));
	if (!isPlainObject(value)) return value;
	const out: Record<string, unknown> = {};
	for (const [key, sub] of tree) {
		if (!(key in value)) continue;
		out[key] = sub === true ? value[key] : includeFields(value[key], sub);
	}
	return out;
}

/** Drops the paths in `tree`; works on a copy. */
export function excludeFields(value: unknown, tree: FieldTree): unknown {
	if (Array.isArray(value)) return value.map((item) => excludeFields(item, tree));
	if (!isPlainObject(value)) return value;
	const out: Record<string, unknown> = {};
	for (const key of Object.keys(value)) {
		const sub = tree.get(key);
		if (sub === true) continue;
		out[key] = sub === undefined ? value[key] : excludeFields(value[key], sub);
	}
	return out;
}

/** Applies both parameters of a query, `fields` first. */
export function projectFields(value: unknown, fields?: FieldTree, exclude?: FieldTree): unknown {
	let result = value;
	if (fields) result = includeFields(result, fields);
	if (exclude) result = excludeFields(result, exclude);
	return result;
}

/**
 * The sub-tree that applies to each element of the array at `key` (e.g. `members`), so a handler
 * can build only what will be returned. `undefined` = everything; an empty map = nothing.
 */
export function subTree(tree: FieldTree | undefined, key: string): FieldTree | true | undefined {
	if (!tree) return undefined;
	const sub = tree.get(key);
	return sub ?? new Map();
}
