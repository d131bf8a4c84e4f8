/**
 * The shipped sync template's execution order. n8n 2.x ("v1" order) runs the branches after a node from the
 * topmost destination node down, so the template places Remove From Hub above Map Fields: departures are
 * handled first, and a number a departed member held moves to the member who has it now in the same run.
 * Members whose phone became invalid leave the list through a Remove node of their own (see below).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface TemplateNode {
	name: string;
	type: string;
	position: [number, number];
	parameters: Record<string, unknown>;
}
interface Connection {
	node: string;
	index: number;
}
const template = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'workflows', 'mailchimp-hub-sync.json'), 'utf8')) as {
	nodes: TemplateNode[];
	connections: Record<string, { main: Array<Array<Connection>> }>;
	settings: { executionOrder?: string; saveDataSuccessExecution?: string; saveDataErrorExecution?: string; saveManualExecutions?: unknown };
};
const node = (name: string) => template.nodes.find((n) => n.name === name)!;
/** Every connection into a node, as "source#output → input". */
const into = (name: string) =>
	Object.entries(template.connections).flatMap(([source, { main }]) =>
		main.flatMap((targets, output) => targets.filter((t) => t.node === name).map((t) => ({ source, output, input: t.index }))),
	);

describe('the sync template', () => {
	it('uses the v1 execution order', () => {
		expect(template.settings.executionOrder).toBe('v1');
	});

	it("runs once a day with an interval n8n's Schedule Trigger accepts (hours only go from 1 to 23)", () => {
		const schedule = node('Every 24 Hours') as TemplateNode & { parameters: { rule: { interval: Array<Record<string, unknown>> } } };
		expect(schedule.parameters.rule.interval).toEqual([{ field: 'days', daysInterval: 1, triggerAtHour: 2 }]);
	});

	it('does not keep the data of successful scheduled runs, but keeps failed runs and runs started by hand', () => {
		// Saving a first sync's run data (every member's items on every node) costs n8n more memory than the
		// run itself; the sync keeps its own record of every run (Sync Lock Status), and failures stay in full.
		expect(template.settings.saveDataSuccessExecution).toBe('none');
		expect(template.settings.saveDataErrorExecution).toBeUndefined();
		expect(template.settings.saveManualExecutions).toBeUndefined();
	});

	it("sends Fetch's Removed output to Remove From Hub and its members to Map Fields", () => {
		const [members, removed] = template.connections['Fetch Tagged Members'].main;
		expect(members.map((c) => c.node)).toEqual(['Map Fields']);
		expect(removed.map((c) => c.node)).toEqual(['Remove From Hub']);
	});

	it('runs the removals before the new and changed members', () => {
		expect(node('Remove From Hub').position[1]).toBeLessThan(node('Map Fields').position[1]);
	});

	it("sends Map Fields' Invalid output to a Remove node of its own, which runs before Upsert", () => {
		const [valid, invalid] = template.connections['Map Fields'].main;
		expect(valid.map((c) => c.node)).toEqual(['Apply Consent']);
		expect(invalid.map((c) => c.node)).toEqual(['Remove Invalid From Hub']);
		const remove = node('Remove Invalid From Hub');
		expect(remove.type).toBe(node('Remove From Hub').type);
		expect(remove.parameters).toEqual(node('Remove From Hub').parameters);
		expect(remove.position[1]).toBeLessThan(node('Upsert Hub Contact').position[1]);
	});

	it('applies consent in two positions configured in one place: the mode and texts before Upsert, the confirmations after its Done output', () => {
		const before = node('Apply Consent');
		const after = node('Send Confirmations');
		expect(before.parameters).toMatchObject({ operation: 'apply', position: 'before', mode: 'confirmation', textPreset: 'hub' });
		expect(after.parameters).toEqual({ operation: 'apply', position: 'after', store: before.parameters.store, storePath: before.parameters.storePath });
		// Only members that passed consent reach Upsert; only contacts the Hub accepted reach the confirmations.
		expect(into('Upsert Hub Contact')).toEqual([{ source: 'Apply Consent', output: 0, input: 0 }]);
		expect(into('Send Confirmations')).toEqual([{ source: 'Upsert Hub Contact', output: 0, input: 0 }]);
		// The company name is the user's to enter, as in the Hub's own setup: an empty one stops the first run.
		expect(before.parameters.companyName).toBe('');
	});

	it('feeds each node that reaches Collect Results from one output only, so Collect Results and Release run once', () => {
		// A node fed from two outputs runs twice; its second results would open a second run of the
		// merge, and so a second Release of the same lease.
		for (const name of Object.keys(template.connections)) {
			if (name === 'Collect Results' || node(name).type.endsWith('Trigger')) continue;
			if (name === 'Acquire Sync Lock') continue;
			expect([name, into(name).length]).toEqual([name, 1]);
		}
	});

	it('gives every output its own Collect Results input, and nothing twice', () => {
		const inputs = into('Collect Results').map((c) => c.input).sort((a, b) => a - b);
		expect(inputs).toEqual([...Array(node('Collect Results').parameters.numberInputs as number).keys()]);
		// An Invalid member reaches Release once: as Remove's result, not also as Map Fields' own item.
		expect(into('Collect Results').filter((c) => c.source === 'Map Fields').map((c) => c.output)).toEqual([2]);
	});

	it('orders the Collect Results inputs by the height of the node they come from, so their wires do not cross (issue 8, #10)', () => {
		const inputs = into('Collect Results').sort((a, b) => a.input - b.input);
		const heights = inputs.map((c) => [node(c.source).position[1], c.output]);
		const sorted = [...heights].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
		expect(heights).toEqual(sorted);
	});

	it('stands the three triggers in one column left of Acquire, and the notify chain in line right of Release (#10)', () => {
		// The browser test measures the rendered canvas; this says where the nodes belong, without a browser.
		const triggers = Object.entries(template.connections).filter(([, { main }]) => main[0]?.some((c) => c.node === 'Acquire Sync Lock')).map(([name]) => name);
		expect(triggers.sort()).toEqual(['Every 24 Hours', 'Preview Sync', 'Start Sync Now']);
		for (const name of triggers) expect({ name, x: node(name).position[0] }).toEqual({ name, x: node('Start Sync Now').position[0] });
		expect(node('Start Sync Now').position[0]).toBeLessThan(node('Acquire Sync Lock').position[0]);
		const chain = ['Release Sync Lock', 'Email the Result', 'Did the Sync Fail?', 'Stop: Sync Failed'];
		for (const name of chain) expect({ name, y: node(name).position[1] }).toEqual({ name, y: node('Release Sync Lock').position[1] });
		const xs = chain.map((name) => node(name).position[0]);
		expect(xs).toEqual([...xs].sort((a, b) => a - b));
	});
});
