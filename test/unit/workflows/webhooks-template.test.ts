/**
 * The Mailchimp webhooks template: every call is answered by a Respond node; nothing runs before the
 * secret is checked (and nothing at all until a secret is set); an event runs the sync workflow itself,
 * for the members it names, waiting for its end; a busy lock is waited for briefly, then answered 503.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface TemplateNode {
	name: string;
	type: string;
	parameters: Record<string, unknown>;
}
type Template = { nodes: TemplateNode[]; connections: Record<string, { main: Array<Array<{ node: string }>> }>; settings: Record<string, unknown> };
const read = (file: string) => JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'workflows', file), 'utf8')) as Template;
const hooks = read('mailchimp-webhooks.json');
const sync = read('mailchimp-hub-sync.json');
const node = (name: string) => hooks.nodes.find((n) => n.name === name) ?? (() => { throw new Error(`no node "${name}"`); })();
const next = (name: string, output = 0) => hooks.connections[name]?.main[output]?.map((t) => t.node) ?? [];
const RESPOND = 'n8n-nodes-base.respondToWebhook';
const code = (name: string) => (node(name).parameters.options as { responseCode: number }).responseCode;
const assignments = (name: string) =>
	Object.fromEntries(((node(name).parameters.assignments as { assignments: Array<{ name: string; value: unknown }> }).assignments).map((a) => [a.name, a.value]));

describe('the Mailchimp webhooks template', () => {
	it('listens for GET and POST on one path with a secret segment, answered by Respond nodes', () => {
		const hook = node('Mailchimp Calls');
		expect(hook.parameters).toMatchObject({ multipleMethods: true, httpMethod: ['GET', 'POST'], path: 'mailchimp-hub-events/:secret', responseMode: 'responseNode' });
		expect(next('Mailchimp Calls', 0)).toEqual(['Webhook Settings']);
		expect(next('Mailchimp Calls', 1)).toEqual(['Webhook Settings']);
		for (const name of ['Refuse', 'Answer URL Check', 'Not For This Sync', 'Applied', 'Busy, Retry Later']) expect(node(name).type).toBe(RESPOND);
		expect([code('Refuse'), code('Answer URL Check'), code('Not For This Sync'), code('Applied'), code('Busy, Retry Later')]).toEqual([401, 200, 400, 200, 503]);
		// The secret leaves the items before anything else runs.
		expect(node('Check Call').parameters.includeOtherFields).toBeUndefined();
		expect(Object.keys(assignments('Check Call'))).toEqual(['authorized', 'type', 'forThisAudience', 'members']);
	});

	it('ships without a secret or audience, so every call is refused until both are set', () => {
		expect(assignments('Webhook Settings')).toEqual({ secret: '', audienceId: '' });
		expect(assignments('Check Call').authorized).toBe('={{ $json.secret.length >= 16 && $json.params.secret === $json.secret }}');
		expect(next('Authorized?', 1)).toEqual(['Refuse']);
		expect(next('Authorized?', 0)).toEqual(['Mailchimp Event?']);
	});

	it('runs the sync workflow for member events of the audience only, waiting for it; busy → a bounded wait, then 503', () => {
		expect(next('Member Event of This Audience?', 0)).toEqual(['Event Members']);
		expect(next('Member Event of This Audience?', 1)).toEqual(['Not For This Sync']);
		const run = node('Run Sync Workflow');
		expect(run.type).toBe('n8n-nodes-base.executeWorkflow');
		expect(run.parameters).toMatchObject({ mode: 'once', options: { waitForSubWorkflow: true } });
		expect(next('Event Members')).toEqual(['Run Sync Workflow']);
		expect(next('Sync Busy?', 0)).toEqual(['Waited Long Enough?']);
		expect(next('Waited Long Enough?', 0)).toEqual(['Busy, Retry Later']);
		expect(next('Waited Long Enough?', 1)).toEqual(['Wait a Second']);
		expect(next('Wait a Second')).toEqual(['Event Members']);
		expect(hooks.settings.saveDataSuccessExecution).toBe('none');
	});

	it("the sync template's Fetch reads only the members a caller names, and everyone on its own triggers", () => {
		const fetch = sync.nodes.find((n) => n.name === 'Fetch Tagged Members')!;
		expect((fetch.parameters.options as { onlyMembers: string }).onlyMembers).toBe(
			"={{ $('Start Sync Now').isExecuted ? ($('Start Sync Now').first().json.members ?? '') : '' }}",
		);
		// n8n starts a called workflow at its first trigger in node order: Start Sync Now.
		expect(sync.nodes.find((n) => /Trigger$/.test(n.type) || n.type === 'n8n-nodes-base.manualTrigger')?.name).toBe('Start Sync Now');
	});
});
