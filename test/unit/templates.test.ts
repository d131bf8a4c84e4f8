/**
 * The shipped sync template's execution order. n8n 2.x ("v1" order) runs the branches after a node from the
 * topmost destination node down, so the template places Remove From Hub above Map Fields: departures are
 * handled first, and a number a departed member held moves to the member who has it now in the same run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface TemplateNode {
	name: string;
	position: [number, number];
}
const template = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'workflows', 'mailchimp-hub-sync.json'), 'utf8')) as {
	nodes: TemplateNode[];
	connections: Record<string, { main: Array<Array<{ node: string }>> }>;
	settings: { executionOrder?: string };
};
const node = (name: string) => template.nodes.find((n) => n.name === name)!;

describe('the sync template', () => {
	it('uses the v1 execution order', () => {
		expect(template.settings.executionOrder).toBe('v1');
	});

	it("sends Fetch's Removed output to Remove From Hub and its members to Map Fields", () => {
		const [members, removed] = template.connections['Fetch Tagged Members'].main;
		expect(members.map((c) => c.node)).toEqual(['Map Fields']);
		expect(removed.map((c) => c.node)).toEqual(['Remove From Hub']);
	});

	it('runs the removals before the new and changed members', () => {
		expect(node('Remove From Hub').position[1]).toBeLessThan(node('Map Fields').position[1]);
	});
});
