/**
 * The sync template's optional result email (issue 8): n8n's own Send Email node after Release, shipped
 * switched off, then a check and n8n's Stop and Error so a failed sync fails the execution, email or not.
 * The messages and the failing execution themselves are proven in the real n8n (test/e2e/notify.e2e.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface TemplateNode {
	name: string;
	type: string;
	typeVersion: number;
	position: [number, number];
	parameters: Record<string, unknown>;
	disabled?: boolean;
	credentials?: unknown;
	notes?: string;
}
interface Connection {
	node: string;
	index: number;
}
const template = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'workflows', 'mailchimp-hub-sync.json'), 'utf8')) as {
	nodes: TemplateNode[];
	connections: Record<string, { main: Array<Array<Connection>> }>;
};
const node = (name: string) => {
	const found = template.nodes.find((n) => n.name === name);
	if (!found) throw new Error(`The template has no node "${name}"`);
	return found;
};
const outputs = (name: string) => template.connections[name]?.main.map((targets) => targets.map((t) => `${t.node}#${t.index}`)) ?? [];

const RELEASE = 'Release Sync Lock';
const EMAIL = 'Email the Result';
const CHECK = 'Did the Sync Fail?';
const STOP = 'Stop: Sync Failed';

describe('the sync template notifies by email when switched on', () => {
	it("uses n8n's Send Email node, shipped switched off, with no credential and no addresses of ours", () => {
		const email = node(EMAIL);
		expect({ type: email.type, typeVersion: email.typeVersion, disabled: email.disabled }).toEqual({
			type: 'n8n-nodes-base.emailSend',
			typeVersion: 2.1,
			disabled: true,
		});
		expect(email.credentials).toBeUndefined();
		expect(email.parameters).toMatchObject({ fromEmail: '', toEmail: '', emailFormat: 'text', options: { appendAttribution: false } });
		expect(email.notes).toMatch(/^Off/);
	});

	it('chains Release → the email → the failure check → Stop and Error, and nothing else after Release', () => {
		expect(outputs(RELEASE)).toEqual([[`${EMAIL}#0`]]);
		expect(outputs(EMAIL)).toEqual([[`${CHECK}#0`]]);
		// True: the sync failed; false: it finished (or Release refused, as before, without failing).
		expect(outputs(CHECK)).toEqual([[`${STOP}#0`], []]);
		expect(outputs(STOP)).toEqual([]);
		expect(node(CHECK).type).toBe('n8n-nodes-base.if');
		expect(node(STOP).type).toBe('n8n-nodes-base.stopAndError');
	});

	it('lets Release record the failed run and pass it on; the rest of Release is as before', () => {
		expect(node(RELEASE).parameters).toEqual({
			operation: 'release',
			token: "={{ $('Acquire Sync Lock').first().json.token }}",
			outcome: 'auto',
			store: 'sqlite',
			storePath: '',
			releaseOptions: { countBy: 'sync.result', failExecution: false },
		});
	});

	it("fails only on a released run whose outcome is failed, reading Release's item (the email's own output replaces it)", () => {
		const { conditions } = node(CHECK).parameters as {
			conditions: { combinator: string; conditions: Array<{ leftValue: string; rightValue: unknown; operator: { type: string; operation: string } }> };
		};
		expect(conditions.combinator).toBe('and');
		expect(conditions.conditions.map((c) => [c.leftValue, c.operator.type, c.operator.operation, c.rightValue])).toEqual([
			["={{ $('Release Sync Lock').first().json.outcome ?? '' }}", 'string', 'equals', 'failed'],
			["={{ $('Release Sync Lock').first().json.released === true }}", 'boolean', 'true', ''],
		]);
	});

	it("fails the execution with Release's own words: the audience, then the recorded error", () => {
		const message = String(node(STOP).parameters.errorMessage);
		expect(message).toMatch(/^=\{\{ 'The sync of ' \+ /);
		expect(message).toContain("$('Acquire Sync Lock').first().json.audienceName");
		expect(message).toContain("' failed: ' + ($('Release Sync Lock').first().json.errorSummary");
	});

	it('says the audience, outcome, counts, credits, error and local times', () => {
		const { subject, text } = node(EMAIL).parameters as { subject: string; text: string };
		expect(subject).toContain("$json.outcome === 'failed' ? 'FAILED'");
		// A preview's email says so first: its counts are what a sync would do, nothing was written.
		expect(subject.startsWith("={{ $json.preview ? 'Preview (nothing written) ' : '' }}")).toBe(true);
		expect(text.startsWith("={{ $json.preview ? 'PREVIEW: nothing was written")).toBe(true);
		for (const label of ['Created', 'Updated', 'Unchanged', 'Removed', 'Invalid', 'Errors', 'Credits spent', 'All counts', 'Started', 'Finished']) {
			expect(text).toMatch(new RegExp(`\\n${label}: \\{\\{`));
		}
		expect(text).toContain("'\\nError: ' + $json.errorSummary");
		expect(text).toContain('setZone($now.zoneName)');
		expect(text).toContain("$('Acquire Sync Lock').first().json.audienceName");
	});

	it('sits right of Release, under a sticky note that says how to switch it on', () => {
		const release = node(RELEASE).position;
		for (const name of [EMAIL, CHECK, STOP]) expect(node(name).position[0]).toBeGreaterThan(release[0]);
		const note = node('Note: Notify');
		expect(note.position[0]).toBeGreaterThan(release[0]);
		expect(String(note.parameters.content)).toMatch(/SMTP.*From Email.*To Email.*press \*\*D\*\*/s);
	});
});
