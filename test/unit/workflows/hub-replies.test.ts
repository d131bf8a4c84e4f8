/**
 * The shipped reply template (workflows/hub-replies.json): a reply trigger → Apply Consent's Handle
 * Reply → (Confirmed) Map Fields → (Valid) Upsert Hub Contact; the poll trigger ships disabled, so an
 * activated copy never receives each reply twice.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface TemplateNode {
	name: string;
	type: string;
	disabled?: boolean;
	webhookId?: string;
	parameters: Record<string, unknown>;
}
const root = path.join(__dirname, '..', '..', '..');
const template = JSON.parse(readFileSync(path.join(root, 'workflows', 'hub-replies.json'), 'utf8')) as {
	nodes: TemplateNode[];
	connections: Record<string, { main: Array<Array<{ node: string; index: number }>> }>;
	settings: { executionOrder?: string };
};
const PACKAGE = 'n8n-nodes-mailchimp-hub-sync.';
const byType = (type: string) => template.nodes.filter((n) => n.type === PACKAGE + type);
const targets = (source: string, output: number) => (template.connections[source]?.main[output] ?? []).map((t) => `${t.node}#${t.index}`);

describe('the reply template', () => {
	const [webhook] = byType('hubReplyTrigger');
	const [poll] = byType('hubReplyPollTrigger');
	const [handle] = byType('applyConsent');
	const [map] = byType('mapFields');
	const [upsert] = byType('upsertHubContact');

	it('has one of each node, the webhook trigger enabled with a webhook id, the poll trigger disabled', () => {
		expect([webhook, poll, handle, map, upsert].every(Boolean)).toBe(true);
		expect(webhook.disabled).toBeFalsy();
		expect(webhook.webhookId).toMatch(/^[0-9a-f-]{36}$/);
		expect(poll.disabled).toBe(true);
		expect(template.settings.executionOrder).toBe('v1');
	});

	it('runs trigger → Handle Reply → Confirmed → Map Fields → Valid → Upsert Hub Contact', () => {
		expect(targets(webhook.name, 0)).toEqual([`${handle.name}#0`]);
		expect(targets(poll.name, 0)).toEqual([`${handle.name}#0`]);
		expect(handle.parameters.operation).toBe('handleReply');
		expect(targets(handle.name, 0)).toEqual([`${map.name}#0`]);
		expect(targets(handle.name, 1)).toEqual([]);
		expect(targets(map.name, 0)).toEqual([`${upsert.name}#0`]);
		expect(upsert.parameters.operation).toBe('upsert');
		expect(upsert.parameters.listName).toBe('MAILCHIMP');
	});

	it('ships nodes the package registers', () => {
		const registered = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { n8n: { nodes: string[] } }).n8n.nodes;
		for (const type of ['hubReplyTrigger', 'hubReplyPollTrigger', 'applyConsent']) {
			const file = type[0].toUpperCase() + type.slice(1);
			expect(registered).toContain(`dist/nodes/${file}/${file}.node.js`);
		}
	});
});
