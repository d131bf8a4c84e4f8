/**
 * The "Sync now + status page" template: a page that reads the sync's lock and starts the sync workflow
 * itself (never a copy of it), so the schedule and the button share one configuration, one lock and one ledger.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface TemplateNode {
	name: string;
	type: string;
	typeVersion: number;
	parameters: Record<string, unknown>;
}
const read = (file: string) =>
	JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'workflows', file), 'utf8')) as {
		nodes: TemplateNode[];
		connections: Record<string, { main: Array<Array<{ node: string }>> }>;
	};
const page = read('mailchimp-hub-sync-now.json');
const sync = read('mailchimp-hub-sync.json');
const node = (name: string) => {
	const found = page.nodes.find((n) => n.name === name);
	if (!found) throw new Error(`no node "${name}" in the page template`);
	return found;
};
const next = (name: string, output = 0) => page.connections[name]?.main[output]?.map((t) => t.node) ?? [];

describe('the sync now + status page template', () => {
	it('serves one page: GET shows the status, POST (the button) asks for a sync, both answered by Show Page', () => {
		const get = node('Open Status Page');
		const post = node('Start Sync Button');
		expect(get.type).toBe('n8n-nodes-base.webhook');
		expect(post.type).toBe('n8n-nodes-base.webhook');
		expect(get.parameters.path).toBe(post.parameters.path);
		expect(get.parameters.httpMethod ?? 'GET').toBe('GET');
		expect(post.parameters.httpMethod).toBe('POST');
		for (const hook of [get, post]) expect(hook.parameters.responseMode).toBe('responseNode');
		expect(next('Build Page')).toEqual(['Show Page']);
		expect(node('Show Page').type).toBe('n8n-nodes-base.respondToWebhook');
	});

	it('reads the same lock and store as the sync: the audience ID, in the default SQLite store', () => {
		const status = node('Read Sync Status');
		expect(status.type).toBe('n8n-nodes-mailchimp-hub-sync.syncLock');
		expect(status.parameters).toMatchObject({ operation: 'status', lockName: '={{ $json.audienceId }}' });
		const acquire = sync.nodes.find((n) => n.name === 'Acquire Sync Lock')!;
		expect(acquire.parameters.lockName).toBe("={{ $('Fetch Tagged Members').params.audience.value }}");
		expect(status.parameters.store).toBe(acquire.parameters.store);
		expect(status.parameters.storePath).toBe(acquire.parameters.storePath);
	});

	it('starts the sync workflow itself, without waiting, and only when the button was pressed and the lock is free', () => {
		expect(next('Read Sync Status')).toEqual(['Start Asked and Idle?']);
		expect(next('Start Asked and Idle?', 0)).toEqual(['Run Sync Workflow']);
		expect(next('Start Asked and Idle?', 1)).toEqual(['Build Page']);
		const run = node('Run Sync Workflow');
		expect(run.type).toBe('n8n-nodes-base.executeWorkflow');
		expect(run.parameters.workflowId).toMatchObject({ __rl: true, mode: 'list' });
		expect(run.parameters.options).toMatchObject({ waitForSubWorkflow: false });
	});

	it('holds none of the sync: no Fetch, Map, Upsert or Acquire of its own (one configuration, one ledger)', () => {
		const own = page.nodes.filter((n) => n.type.startsWith('n8n-nodes-mailchimp-hub-sync.')).map((n) => n.name);
		expect(own).toEqual(['Read Sync Status']);
	});

	it('says on the page what the user meets: running since, last run, next run, the busy answer and the button', () => {
		const html = String((node('Build Page').parameters.assignments as { assignments: Array<{ value: string }> }).assignments[0].value);
		for (const words of ['Running since', 'Last run:', 'Next scheduled run:', 'A sync is already running since', 'Start sync now', 'setZone($now.zoneName)']) {
			expect(html).toContain(words);
		}
	});

	it('has sticky notes naming each node to set', () => {
		const notes = page.nodes.filter((n) => n.type === 'n8n-nodes-base.stickyNote').map((n) => String(n.parameters.content));
		expect(notes.some((c) => c.includes('**Run Sync Workflow**'))).toBe(true);
		expect(notes.some((c) => c.includes('**Page Settings**') && c.includes('audienceId'))).toBe(true);
	});
});
