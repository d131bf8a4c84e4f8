/**
 * Every credential of the package can be tested from n8n's credential dialog. n8n 2.x finds a test in this
 * order: the credential's own `test` request; for an OAuth2 credential, its own "is there a token" check; else
 * the `testedBy` of the FIRST node that lists the credential, looked up in that node's `methods.credentialTest`
 * (a node that names a test it does not carry ends the search with "No testing function found"). This file
 * checks the package against that rule; the end-to-end credentials test runs the tests in the real n8n.
 */
import path from 'node:path';
import type { ICredentialType, INodeType } from 'n8n-workflow';

import manifest from '../../../package.json';

const REPO = path.resolve(__dirname, '..', '..', '..');

/** The source module behind a `dist/...js` entry of package.json's `n8n` section. */
function load<T>(distPath: string): T {
	const source = path.join(REPO, distPath.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
	// eslint-disable-next-line @typescript-eslint/no-var-requires
	const exports = require(source) as Record<string, new () => T>;
	const classes = Object.values(exports).filter((value) => typeof value === 'function');
	expect(classes).toHaveLength(1);
	return new classes[0]();
}

const credentials = manifest.n8n.credentials.map((p) => load<ICredentialType>(p));
const nodes = manifest.n8n.nodes.map((p) => load<INodeType>(p));

describe('credential tests as n8n looks them up', () => {
	it.each(nodes.map((n) => [n.description.name, n] as const))('%s carries every test it names', (_name, node) => {
		for (const credential of node.description.credentials ?? []) {
			if (typeof credential.testedBy !== 'string') continue;
			expect({ credential: credential.name, test: credential.testedBy, present: credential.testedBy in (node.methods?.credentialTest ?? {}) }).toEqual({
				credential: credential.name,
				test: credential.testedBy,
				present: true,
			});
		}
	});

	it.each(credentials.map((c) => [c.name, c] as const))('%s has a test n8n will find', (name, credential) => {
		if (credential.test) return;
		if ((credential.extends ?? []).includes('oAuth2Api')) return; // n8n's own token check
		const listing = nodes.filter((n) => (n.description.credentials ?? []).some((c) => c.name === name));
		expect(listing.length).toBeGreaterThan(0);
		for (const node of listing) {
			const entry = node.description.credentials!.find((c) => c.name === name)!;
			expect({ node: node.description.name, testedBy: entry.testedBy }).toEqual({ node: node.description.name, testedBy: expect.any(String) });
		}
	});
});
