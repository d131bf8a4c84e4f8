/**
 * The real n8n editor in a real browser: Debian's Chromium driven by playwright-core, against `n8n start`
 * with the package installed as a user installs it. What a user sees and clicks is tested here, not
 * through the REST API alone: a panel the API fills correctly can still be unusable on screen.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

import { REPO_ROOT, type N8nServer } from './harness';

/** Debian's chromium package; `.ci/run` installs it. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Where the browser tests write their screenshots (the README shows a few of them). */
export const SCREENSHOTS = path.join(REPO_ROOT, 'test', 'e2e', 'screenshots');

/**
 * Console messages of n8n's own that are not our package's fault, each with why. Anything else the page
 * logs as an error fails the test.
 */
export const KNOWN_CONSOLE_ERRORS: Array<{ pattern: RegExp; why: string }> = [
	{ pattern: /schemas?\b.*404|404.*schema/i, why: "n8n asks for node output schemas that community nodes do not ship (404)" },
	{ pattern: /Failed to load resource: the server responded with a status of 404/i, why: 'the 404 of those schema requests, as Chromium logs it' },
];

export class EditorSession {
	/** Console errors and uncaught page errors, apart from the known ones. */
	readonly errors: string[] = [];

	private constructor(
		readonly browser: Browser,
		readonly context: BrowserContext,
		readonly page: Page,
		readonly server: N8nServer,
	) {
		page.on('console', (message) => {
			if (message.type() !== 'error') return;
			const text = message.text();
			if (!KNOWN_CONSOLE_ERRORS.some((known) => known.pattern.test(text))) this.errors.push(text);
		});
		page.on('pageerror', (error) => this.errors.push(`uncaught: ${error.message}`));
	}

	/** Opens the editor signed in as the server's owner, through the sign-in page as a user does. */
	static async open(server: N8nServer, options: { width?: number; height?: number } = {}): Promise<EditorSession> {
		const browser = await chromium.launch({
			executablePath: CHROMIUM,
			headless: true,
			// No GPU, no background traffic: the machine has no network but loopback.
			args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
		});
		const context = await browser.newContext({
			viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
			timezoneId: 'Australia/Sydney',
			locale: 'en-AU',
		});
		context.setDefaultTimeout(30_000);
		const page = await context.newPage();
		const session = new EditorSession(browser, context, page, server);
		await page.goto(`${server.url}/signin`);
		await page.getByLabel('Email').fill(server.owner.email);
		await page.getByLabel('Password').fill(server.owner.password);
		await page.getByRole('button', { name: 'Sign in' }).click();
		await page.waitForURL((url) => !url.pathname.startsWith('/signin'));
		// The sign-in page asks n8n who is signed in before anyone is, and Chromium logs that 401 as an error.
		// Nothing of ours has run yet, so what was logged before signing in is not the package's.
		session.errors.splice(0);
		return session;
	}

	/** A full-page screenshot under test/e2e/screenshots/<name>.png; returns its path. */
	async screenshot(name: string): Promise<string> {
		mkdirSync(SCREENSHOTS, { recursive: true });
		const file = path.join(SCREENSHOTS, `${name}.png`);
		await this.page.screenshot({ path: file });
		return file;
	}

	async close(): Promise<void> {
		await this.browser.close().catch(() => undefined);
	}
}

/** A box on the canvas, in screen pixels. */
interface Box {
	name: string;
	left: number;
	top: number;
	right: number;
	bottom: number;
}

/** A node: its box with its name and subtitle, and its extent with its outputs' labels and "+" buttons. */
interface NodeBox extends Box {
	extent: Box;
}

/*
 * canvasGeometry's function runs in the page (page.evaluate), where the DOM is; the tests compile without the
 * DOM library (its globals clash with Node's), so the few DOM names it uses are declared here, loosely.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const Node: { TEXT_NODE: number };
type DOMRect = { left: number; top: number; right: number; bottom: number; width: number };
type SVGPathElement = any;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** What the canvas shows, measured in the page: node footprints (box and name), sticky notes, wires. */
export interface CanvasGeometry {
	nodes: NodeBox[];
	stickies: Box[];
	edges: Array<{ source: string; target: string; points: Array<[number, number]> }>;
}

/**
 * Reads the rendered canvas: each node's box together with its name and subtitle under it, each sticky
 * note, and each wire as points along its SVG path (in the page's pixels, as the user sees them).
 */
export async function canvasGeometry(page: Page): Promise<CanvasGeometry> {
	return await page.evaluate(() => {
		const box = (name: string, rects: DOMRect[]) => ({
			name,
			left: Math.min(...rects.map((r) => r.left)),
			top: Math.min(...rects.map((r) => r.top)),
			right: Math.max(...rects.map((r) => r.right)),
			bottom: Math.max(...rects.map((r) => r.bottom)),
		});
		const nodes = [...document.querySelectorAll('[data-test-id="canvas-node"]:not([data-node-type="n8n-nodes-base.stickyNote"])')].map((node) => {
			// The name and subtitle under the box count as the node; handle labels ("Done", "Error") and the
			// hover toolbar do not.
			const texts = [...node.querySelectorAll('*')].filter(
				(e) =>
					[...e.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && (c.textContent ?? '').trim() !== '') &&
					!e.closest('[data-test-id="canvas-node-output-handle"], [data-test-id="canvas-node-input-handle"], [data-test-id="canvas-node-toolbar"]'),
			);
			const main = node.querySelector('[data-test-id="canvas-default-node"], [data-test-id="canvas-trigger-node"]') ?? node;
			const name = node.getAttribute('data-node-name') ?? '?';
			const footprint = [main.getBoundingClientRect(), ...texts.map((t) => t.getBoundingClientRect())];
			// What the node takes up next to other nodes: its outputs' labels and "+" buttons too.
			const handles = [...node.querySelectorAll('[data-test-id="canvas-node-output-handle"] *')].map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0);
			return { ...box(name, footprint), extent: box(name, [...footprint, ...handles]) };
		});
		const stickies = [...document.querySelectorAll('[data-test-id="sticky"]')].map((s) => box((s.textContent ?? '').trim().slice(0, 40), [s.getBoundingClientRect()]));
		const edges = [...document.querySelectorAll('[data-test-id="edge"]')].map((edge) => {
			const path = edge.querySelector('path.vue-flow__edge-path') as SVGPathElement;
			const matrix = path.getScreenCTM()!;
			const length = path.getTotalLength();
			const points: Array<[number, number]> = [];
			for (let i = 0; i <= 60; i++) {
				const p = path.getPointAtLength((length * i) / 60);
				points.push([matrix.a * p.x + matrix.c * p.y + matrix.e, matrix.b * p.x + matrix.d * p.y + matrix.f]);
			}
			return { source: edge.getAttribute('data-source-node-name') ?? '?', target: edge.getAttribute('data-target-node-name') ?? '?', points };
		});
		return { nodes, stickies, edges };
	});
}

const overlaps = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
const inside = ([x, y]: [number, number], b: Box, margin: number) =>
	x > b.left + margin && x < b.right - margin && y > b.top + margin && y < b.bottom - margin;

function segmentsCross(a: [number, number], b: [number, number], c: [number, number], d: [number, number]): boolean {
	const side = (p: [number, number], q: [number, number], r: [number, number]) => (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
	const d1 = side(c, d, a);
	const d2 = side(c, d, b);
	const d3 = side(a, b, c);
	const d4 = side(a, b, d);
	return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
}

/**
 * What makes a canvas hard to read, from its measured geometry: wires that cross (apart from where they
 * meet at a handle they share), wires through a node they do not connect, nodes that overlap each other,
 * and sticky notes over nodes or over each other. Each problem is one line in words.
 */
export function layoutProblems(geometry: CanvasGeometry, options: { near?: number } = {}): string[] {
	const near = options.near ?? 6;
	const problems: string[] = [];
	const { nodes, stickies, edges } = geometry;
	const label = (e: CanvasGeometry['edges'][number]) => `${e.source} → ${e.target}`;
	const distance = (p: [number, number], q: [number, number]) => Math.hypot(p[0] - q[0], p[1] - q[1]);
	for (let i = 0; i < edges.length; i++) {
		for (let j = i + 1; j < edges.length; j++) {
			const a = edges[i];
			const b = edges[j];
			const ends = [a.points[0], a.points[a.points.length - 1], b.points[0], b.points[b.points.length - 1]];
			let crossed = false;
			for (let s = 0; s < a.points.length - 1 && !crossed; s++) {
				for (let t = 0; t < b.points.length - 1 && !crossed; t++) {
					if (!segmentsCross(a.points[s], a.points[s + 1], b.points[t], b.points[t + 1])) continue;
					// Wires that leave the same output or enter the same input meet there: that is not a crossing.
					if (ends.some((end) => distance(end, a.points[s]) < near || distance(end, b.points[t]) < near)) continue;
					crossed = true;
				}
			}
			if (crossed) problems.push(`wires cross: ${label(a)} and ${label(b)}`);
		}
		const through = nodes.filter((n) => n.name !== edges[i].source && n.name !== edges[i].target && edges[i].points.some((p) => inside(p, n, 2)));
		for (const n of through) problems.push(`wire ${label(edges[i])} runs through ${n.name}`);
	}
	for (let i = 0; i < nodes.length; i++) {
		for (let j = i + 1; j < nodes.length; j++) {
			if (overlaps(nodes[i].extent, nodes[j].extent)) problems.push(`nodes overlap: ${nodes[i].name} and ${nodes[j].name}`);
		}
		for (const s of stickies) if (overlaps(nodes[i].extent, s)) problems.push(`sticky note "${s.name}" covers ${nodes[i].name}`);
	}
	for (let i = 0; i < stickies.length; i++) {
		for (let j = i + 1; j < stickies.length; j++) if (overlaps(stickies[i], stickies[j])) problems.push(`sticky notes overlap: "${stickies[i].name}" and "${stickies[j].name}"`);
	}
	return problems;
}
