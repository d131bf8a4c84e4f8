/**
 * Rules of n8n 2.41.1's editor that a node description must respect to be usable on screen. They are
 * not in n8n's typings, so a description can compile, load and run and still be broken in the panel;
 * the browser test (test/e2e/editor-browser.e2e.test.ts) shows the same on screen, these catch it in
 * a second.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Workflow, type INode, type INodeProperties, type INodeType, type INodeTypeDescription, type INodeTypes } from 'n8n-workflow';

import { ApplyConsent } from '../../nodes/ApplyConsent/ApplyConsent.node';
import { FetchTaggedMembers } from '../../nodes/FetchTaggedMembers/FetchTaggedMembers.node';
import { HubReplyPollTrigger } from '../../nodes/HubReplyPollTrigger/HubReplyPollTrigger.node';
import { HubReplyTrigger } from '../../nodes/HubReplyTrigger/HubReplyTrigger.node';
import { MapFields } from '../../nodes/MapFields/MapFields.node';
import { SyncLock } from '../../nodes/SyncLock/SyncLock.node';
import { UpsertHubContact } from '../../nodes/UpsertHubContact/UpsertHubContact.node';

const nodes: INodeType[] = [
	new FetchTaggedMembers(),
	new MapFields(),
	new SyncLock(),
	new UpsertHubContact(),
	new ApplyConsent(),
	new HubReplyTrigger(),
	new HubReplyPollTrigger(),
];
const descriptions: Array<[string, INodeTypeDescription]> = nodes.map((n) => [n.description.displayName, n.description]);

/** Parameters the credentials' display conditions name: the editor treats them as part of authentication. */
function authFields(description: INodeTypeDescription): INodeProperties[] {
	const names = new Set((description.credentials ?? []).flatMap((c) => Object.keys(c.displayOptions?.show ?? {})));
	return description.properties.filter((p) => names.has(p.name));
}

describe.each(descriptions)('%s in the editor', (_name, description) => {
	it('offers each credential slot its own type', () => {
		// With an Authentication parameter, the editor offers that parameter's credential types in every slot
		// whose credential has no display condition, or one naming Authentication: Map Fields' Hub slot offered
		// only Mailchimp's credential (issue 8, #1). Only the Authentication choices may be such slots.
		const authentication = description.properties.find((p) => p.name === 'authentication');
		if (!authentication) return;
		const choices = new Set((authentication.options ?? []).map((o) => ('value' in o ? String(o.value) : '')));
		const mixed = (description.credentials ?? []).filter((c) => {
			const show = c.displayOptions?.show;
			if (show && !('authentication' in show)) return false;
			const chosenBy = (show?.authentication ?? []).map(String);
			return !(chosenBy.length === 1 && choices.has(chosenBy[0]));
		});
		expect(mixed.map((c) => c.name)).toEqual([]);
	});

	it('names its outputs apart from the Error output n8n adds under "On Error: continue (using error output)"', () => {
		// Upsert and Remove showed "Done / Error / Error" on the canvas (issue 8, #6).
		// A node whose outputs depend on its operation (Apply Consent) gives them as an expression holding one
		// JSON list per operation: each list is checked (Handle Reply showed "Error / Error", issue 8).
		const lists =
			typeof description.outputs === 'string'
				? [...description.outputs.matchAll(/\[\{.*?\}\]/g)].map((m) => (JSON.parse(m[0]) as Array<{ displayName: string }>).map((o) => o.displayName))
				: [(description.outputNames as string[] | undefined) ?? []];
		expect(lists.length).toBeGreaterThan(0);
		for (const list of lists) {
			const names = [...list, 'Error'];
			expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
		}
	});

	it('shows every parameter: none is named by the "show" condition of a parameter the credentials depend on', () => {
		// The editor hides each parameter that such an authentication-related parameter's `show` names
		// (it assumes it is one more authentication choice): Fetch's "Output" was hidden that way (issue 8, #3).
		const hidden = new Set(authFields(description).flatMap((p) => Object.keys(p.displayOptions?.show ?? {})));
		const names = description.properties.map((p) => p.name).filter((name) => hidden.has(name));
		expect(names).toEqual([]);
	});
});

/** The subtitle the canvas shows under a node, worked out as the editor does it (with the node's parameters). */
function subtitleOf(type: INodeType, node: INode): string {
	const nodeTypes = { getByName: () => type, getByNameAndVersion: () => type, getKnownTypes: () => ({}) } as unknown as INodeTypes;
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	return String(workflow.expression.getSimpleParameterValue(node, type.description.subtitle ?? '', 'internal', {}));
}

describe('subtitles on the canvas of the shipped template', () => {
	const template = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'workflows', 'mailchimp-hub-sync.json'), 'utf8')) as { nodes: INode[] };
	const ours = template.nodes.filter((n) => n.type.startsWith('n8n-nodes-mailchimp-hub-sync.'));
	it.each(ours.map((n) => [n.name, n] as [string, INode]))('%s: words, not "undefined" or raw option values (issue 8, #6)', (_name, node) => {
		const type = nodes.find((t) => node.type.endsWith(`.${t.description.name}`))!;
		const subtitle = subtitleOf(type, node);
		expect(subtitle).not.toMatch(/undefined|null|\[object/i);
		// Raw values: an operation as its value ("acquire: …") or a camelCase option value ("removeFromList").
		expect(subtitle).not.toMatch(/^[a-z]|\b[a-z]+[A-Z]\w*/);
	});
});
