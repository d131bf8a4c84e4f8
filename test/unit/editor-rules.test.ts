/**
 * Rules of n8n 2.41.1's editor that a node description must respect to be usable on screen. They are
 * not in n8n's typings, so a description can compile, load and run and still be broken in the panel;
 * the browser test (test/e2e/editor-browser.e2e.test.ts) shows the same on screen, these catch it in
 * a second.
 */
import type { INodeProperties, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { FetchTaggedMembers } from '../../nodes/FetchTaggedMembers/FetchTaggedMembers.node';
import { MapFields } from '../../nodes/MapFields/MapFields.node';
import { SyncLock } from '../../nodes/SyncLock/SyncLock.node';
import { UpsertHubContact } from '../../nodes/UpsertHubContact/UpsertHubContact.node';

const nodes: INodeType[] = [new FetchTaggedMembers(), new MapFields(), new SyncLock(), new UpsertHubContact()];
const descriptions: Array<[string, INodeTypeDescription]> = nodes.map((n) => [n.description.displayName, n.description]);

/** Parameters the credentials' display conditions name: the editor treats them as part of authentication. */
function authFields(description: INodeTypeDescription): INodeProperties[] {
	const names = new Set((description.credentials ?? []).flatMap((c) => Object.keys(c.displayOptions?.show ?? {})));
	return description.properties.filter((p) => names.has(p.name));
}

describe.each(descriptions)('%s in the editor', (_name, description) => {
	it('shows every parameter: none is named by the "show" condition of a parameter the credentials depend on', () => {
		// The editor hides each parameter that such an authentication-related parameter's `show` names
		// (it assumes it is one more authentication choice): Fetch's "Output" was hidden that way (issue 8, #3).
		const hidden = new Set(authFields(description).flatMap((p) => Object.keys(p.displayOptions?.show ?? {})));
		const names = description.properties.map((p) => p.name).filter((name) => hidden.has(name));
		expect(names).toEqual([]);
	});
});
