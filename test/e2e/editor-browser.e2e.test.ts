/**
 * The sync set up and run the way a new user does it, on screen: n8n 2.41.1's editor in Debian's Chromium,
 * `n8n start` with the package installed as users install it, and the Mailchimp and Hub emulators.
 *
 * The user imports the shipped template, opens every node, picks the credentials, the audience and the tags
 * from the dropdowns, looks at the mapping, clicks "Execute workflow" and reads the outcome on the canvas.
 * Each numbered problem of issue 8 has the assertion that would have caught it, named "(#n)". Console errors
 * of the page fail the test, apart from n8n's own known ones (browser.ts names them and why).
 *
 * Screenshots go to test/e2e/screenshots/ (the README shows some of them).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { isValidPhoneNumber } from 'libphonenumber-js/max';
import type { Locator, Page } from 'playwright-core';

import { HUB_CONFIRMATION_TEXT, countSegments, renderText } from '../../nodes/ApplyConsent/helpers/texts';
import { credentialsOf, largeAudience } from '../emulators/datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type MailchimpEmulator } from '../emulators/mailchimp';
import { EditorSession, canvasGeometry, layoutProblems } from './browser';
import { E2E_TIMEOUT_MS, N8nSuite, REPO_ROOT, type N8nServer, type WorkflowFixture } from './harness';
import { SYNC_TEMPLATE } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const TAG = 'SMS Opt-in';
const HUB_ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;
const MAILCHIMP = { id: 'uiMailchimp', name: 'Mailchimp (emulator)', type: 'mailchimpHubSyncApi' };
const HUB = { id: 'uiHub', name: 'Hub (emulator)', type: 'sinchHubApi' };
/** A second Hub account, connected during the Map Fields step: each account has a custom field of its own. */
const SECOND_HUB = { name: 'Hub (second account)' };
const SECOND_HUB_ACCOUNT = { apiKey: 'hub-second-key', apiSecret: 'hub-second-secret', accountId: 'SecondAccount' };
const FIRST_CUSTOM_FIELD = 'Favourite Store';
const SECOND_CUSTOM_FIELD = 'Loyalty Tier';
/** An ISO time as machines write it (2026-11-30T19:33:21.212Z): people expect their local time. */
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

/** The other shipped templates, each checked for a readable canvas like the sync template. */
const OTHER_TEMPLATES = ['fetch-tagged-members.json', 'hub-replies.json', 'mailchimp-hub-sync-now.json'];

const dataset = largeAudience({ members: 40, tags: [{ name: TAG, share: 0.5 }, { name: 'VIP', share: 0.3 }], seed: 8 });
const audience = credentialsOf(dataset)[0].lists[0];
/**
 * Who should end up in the Hub's MAILCHIMP list: subscribed members with the tag whose number is a real
 * Australian mobile (the generator's random numbers include unallocated ranges, e.g. 0495…).
 */
const expectedMembers = dataset.accounts[0].lists[0].members!.filter(
	(m) => m.status === 'subscribed' && m.tags?.includes(TAG) && isValidPhoneNumber(String(m.merge_fields?.PHONE ?? ''), 'AU'),
);

describe('a new user sets the sync up in the real editor and runs it', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let n8n: N8nSuite;
	let server: N8nServer;
	let session: EditorSession;
	let page: Page;
	let workflowId: string;
	const started = Date.now();

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset });
		hub = await startHubEmulator({
			accounts: [
				{ ...DEFAULT_HUB_ACCOUNT, customFields: [{ label: FIRST_CUSTOM_FIELD, mergeTag: 'favouriteStore', type: 'TEXT' }] },
				{ ...SECOND_HUB_ACCOUNT, customFields: [{ label: SECOND_CUSTOM_FIELD, mergeTag: 'loyaltyTier', type: 'TEXT' }] },
			],
		});
		n8n = await N8nSuite.create({ name: 'editor-browser' });
		// Credentials exist before the template comes in, as they do for a user who connected the accounts first.
		await n8n.importCredentials([
			{ ...MAILCHIMP, data: { apiKey: credentialsOf(dataset)[0].apiKey, apiBaseUrl: mailchimp.url } },
			{ ...HUB, data: { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url } },
		]);
		server = await n8n.startServer({ ui: true });
		// The template exactly as shipped, through the editor's own REST call for "Import from File".
		const template = JSON.parse(readFileSync(path.join(REPO_ROOT, SYNC_TEMPLATE), 'utf8')) as WorkflowFixture;
		const created = await server.rest('POST', '/rest/workflows', { name: template.name, nodes: template.nodes, connections: template.connections, settings: template.settings ?? {} });
		expect(created.status).toBe(200);
		workflowId = (created.body as { data: { id: string } }).data.id;
		session = await EditorSession.open(server);
		page = session.page;
		await page.goto(`${server.url}/workflow/${workflowId}`);
		await page.locator('[data-test-id="canvas-node"]').first().waitFor();
		await page.waitForLoadState('networkidle');
	});

	afterEach(() => {
		// Console errors of this step fail it; the next step starts clean.
		const errors = session?.errors.splice(0) ?? [];
		expect(errors).toEqual([]);
	});

	afterAll(async () => {
		process.stderr.write(`[editor-browser] whole suite ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
		await session?.close();
		await server?.stop();
		await n8n?.dispose();
		await hub?.close();
		await mailchimp?.close();
	});

	// ----------------------------------------------------------------------------------------------------------
	// What the user does

	const canvasNode = (name: string) => page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`);
	const panel = () => page.locator('[data-test-id="ndv"]');
	const parameter = (name: string) => panel().locator(`[data-test-id="parameter-input-${name}"]`);
	/** The options of the dropdown that is open (n8n renders them outside the panel). */
	const openOptions = () => page.locator('.el-select-dropdown__item:visible');

	/** Opens a node's panel: select it on the canvas, then Enter (a double-click lands on the wires above it). */
	async function openNode(name: string): Promise<Locator> {
		if (await panel().isVisible()) await closeNode();
		await canvasNode(name).click({ force: true });
		await page.keyboard.press('Enter');
		await panel().waitFor();
		await page.waitForLoadState('networkidle');
		return panel();
	}

	async function closeNode(): Promise<void> {
		await page.locator('[data-test-id="ndv-close-button"]').click();
		await panel().waitFor({ state: 'hidden' });
	}

	/** Opens the dropdown of a select and picks the option that starts with `label`. */
	async function pick(select: Locator, label: string): Promise<void> {
		const option = openOptions().filter({ hasText: label }).first();
		// A click that lands while another dropdown is still closing does not open this one: try again.
		for (let attempt = 0; attempt < 3 && !(await option.isVisible()); attempt++) {
			await select.locator('input').first().click({ force: true });
			await option.waitFor({ timeout: 5_000 }).catch(() => undefined);
		}
		if (!(await option.isVisible())) {
			await session.screenshot('failed-pick');
			throw new Error(`"${label}" is not among the options offered: ${JSON.stringify(await openOptions().allTextContents())}`);
		}
		await page.waitForTimeout(300); // the list slides open; an option is clickable once it stands still
		await option.click();
		await openOptions().first().waitFor({ state: 'hidden', timeout: 2_000 }).catch(() => undefined); // a multi-select stays open
	}

	/** The mapping form's own menu entry, "Refresh Hub Field List" (its options show on hover). */
	async function refreshMapping(): Promise<void> {
		const mapper = panel().locator('[data-test-id="resource-mapper-container"]');
		await mapper.getByText('Hub Contact Fields').first().hover();
		await mapper.locator('[data-test-id="action-toggle"]').first().click();
		const refresh = page.getByText(/Refresh Hub Fields? List/i).locator('visible=true').first();
		await refresh.waitFor({ timeout: 5_000 }).catch(async () => {
			await session.screenshot('failed-refresh');
			throw new Error('the mapping form offers no "Refresh Hub Field List"');
		});
		await refresh.click();
		await page.waitForLoadState('networkidle');
	}

	async function save(): Promise<void> {
		await page.keyboard.press('Control+s');
		await page.waitForLoadState('networkidle');
	}

	/** Parameters the panel shows, by name. */
	async function visibleParameters(): Promise<string[]> {
		const ids = await panel()
			.locator('[data-test-id^="parameter-input-"]')
			.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-test-id')!.slice('parameter-input-'.length)));
		return [...new Set(ids)];
	}

	async function executeWorkflow(): Promise<void> {
		if (await panel().isVisible()) await closeNode();
		const before = new Set((await executions()).map((row) => row.id));
		await page.locator('[data-test-id="execute-workflow-button"]').click();
		// Finished when n8n has stored a new manual execution that is no longer running.
		const deadline = Date.now() + 3 * 60_000;
		for (;;) {
			const started = (await executions()).filter((row) => !before.has(row.id) && row.mode === 'manual');
			if (started.length > 0 && started.every((row) => !['running', 'new', 'waiting'].includes(row.status))) break;
			if (Date.now() > deadline) throw new Error('the manual execution did not finish within 3 minutes');
			await page.waitForTimeout(300);
		}
		await page.waitForTimeout(1000); // the canvas takes the result over the push connection
	}

	/** The workflow's executions, newest first, as n8n's executions list reads them. */
	async function executions(): Promise<Array<{ id: string; status: string; mode: string }>> {
		const { body } = await server.rest('GET', `/rest/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId }))}`);
		return (body as { data: { results: Array<{ id: string; status: string; mode: string }> } }).data.results;
	}

	const canvasText = async (name: string) => ((await canvasNode(name).textContent()) ?? '').replace(/\s+/g, ' ');
	const hubListMembers = () => {
		const state = hub.account(HUB_ACCOUNT).dump();
		const list = state.lists.find((l) => (l as { name?: string }).name === 'MAILCHIMP');
		return list ? list.contactIds.length : 0;
	};

	// ----------------------------------------------------------------------------------------------------------

	it('shows the imported template as a readable canvas: no wires crossing, nothing covering a node (#10)', async () => {
		await page.locator('[data-test-id="zoom-to-fit"]').click();
		await page.waitForTimeout(500); // the zoom animates
		await session.screenshot('canvas');
		const names = await page.locator('[data-test-id="canvas-node"]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-node-name')));
		const template = JSON.parse(readFileSync(path.join(REPO_ROOT, SYNC_TEMPLATE), 'utf8')) as WorkflowFixture;
		const sticky = (n: Record<string, unknown>) => String(n.type).endsWith('stickyNote');
		// Every node and sticky note of the template is on the canvas, so the check below measures all of them.
		expect([...names].sort()).toEqual(template.nodes.filter((n) => !sticky(n)).map((n) => n.name).sort());
		const geometry = await canvasGeometry(page);
		expect(geometry.stickies).toHaveLength(template.nodes.filter(sticky).length);
		// The three triggers stand together left of Acquire Sync Lock, one above the other; the optional notify
		// chain continues Release's line to the right.
		const box = (name: string) => geometry.nodes.find((n) => n.name === name)!;
		const centre = (b: { left: number; right: number }) => (b.left + b.right) / 2; // names are centred under the box
		const triggers = ['Start Sync Now', 'Every 24 Hours', 'Preview Sync'].map(box);
		for (const trigger of triggers) {
			expect({ trigger: trigger.name, inColumn: Math.abs(centre(trigger) - centre(triggers[0])) <= 2 }).toEqual({ trigger: trigger.name, inColumn: true });
			expect(trigger.extent.right).toBeLessThan(box('Acquire Sync Lock').left);
		}
		let previous = box('Release Sync Lock');
		for (const name of ['Email the Result', 'Did the Sync Fail?', 'Stop: Sync Failed']) {
			// Clear of the node before it, its outputs' labels and "+" included.
			expect({ name, after: previous.name, clear: box(name).left > previous.extent.right }).toEqual({ name, after: previous.name, clear: true });
			// In line: the node's box starts level with Release's (its name under it may take more lines).
			expect({ name, level: Math.abs(box(name).top - box('Release Sync Lock').top) <= 2 }).toEqual({ name, level: true });
			previous = box(name);
		}
		// (#10) Measured on the rendered canvas: the wires into Collect Results come in the order of the nodes they
		// leave, and nothing crosses, runs through a node or covers one, apart from the two crossings n8n's
		// execution order forces: a branch that must run first has to sit higher (see the template's unit test),
		// so the wire of the upper output (Members, Valid) goes down past the one of the lower (Removed, Invalid).
		expect(layoutProblems(geometry)).toEqual([
			'wires cross: Fetch Tagged Members → Map Fields and Fetch Tagged Members → Remove From Hub',
			'wires cross: Map Fields → Apply Consent and Map Fields → Remove Invalid From Hub',
		]);
	});

	it('shows the other templates as readable canvases too (#10)', async () => {
		try {
			for (const file of OTHER_TEMPLATES) {
				const template = JSON.parse(readFileSync(path.join(REPO_ROOT, 'workflows', file), 'utf8')) as WorkflowFixture;
				const created = await server.rest('POST', '/rest/workflows', { name: template.name, nodes: template.nodes, connections: template.connections, settings: template.settings ?? {} });
				expect(created.status).toBe(200);
				await page.goto(`${server.url}/workflow/${(created.body as { data: { id: string } }).data.id}`);
				const last = template.nodes.filter((n) => !String(n.type).endsWith('stickyNote')).pop()!;
				await canvasNode(String(last.name)).waitFor();
				await page.locator('[data-test-id="zoom-to-fit"]').click();
				await page.waitForTimeout(500); // the zoom animates
				await session.screenshot(`canvas-${file.replace(/\.json$/, '')}`);
				expect({ file, problems: layoutProblems(await canvasGeometry(page)) }).toEqual({ file, problems: [] });
			}
		} finally {
			await page.goto(`${server.url}/workflow/${workflowId}`);
			await page.locator('[data-test-id="canvas-node"]').first().waitFor();
			await page.waitForLoadState('networkidle');
		}
	});

	it('names the outputs and shows subtitles in words, not raw values', async () => {
		// (#6) Upsert and Remove: every output has its own name (no "Done / Error / Error").
		for (const name of ['Upsert Hub Contact', 'Remove From Hub']) {
			const labels = await canvasNode(name).locator('[data-test-id="canvas-node-output-handle"]').allTextContents();
			const named = labels.map((l) => l.trim()).filter(Boolean);
			expect({ name, duplicates: named.filter((l, i) => named.indexOf(l) !== i) }).toEqual({ name, duplicates: [] });
		}
		// (#6) Subtitles read as words: no "undefined", no raw operation or option values.
		const subtitles = [await canvasText('Fetch Tagged Members'), await canvasText('Acquire Sync Lock'), await canvasText('Remove From Hub'), await canvasText('Release Sync Lock')];
		expect(subtitles.filter((s) => /undefined|acquire:|removeFromList|\brelease\b/.test(s))).toEqual([]);
	});

	it('Fetch Tagged Members: the credential, the audience and the tags come from the dropdowns, and every parameter is there', async () => {
		await openNode('Fetch Tagged Members');
		await pick(panel().locator('[data-test-id="node-credentials-select"]').first(), MAILCHIMP.name);
		await panel().locator('[data-test-id="rlc-input-container"]').first().click();
		const audienceItem = page.locator('[data-test-id="rlc-item"]').filter({ hasText: audience.name }).first();
		await audienceItem.waitFor();
		await audienceItem.click();
		await pick(parameter('tags'), TAG);
		await panel().locator('[data-test-id="input-label"]').first().click(); // closes the tag list
		await expect(parameter('tags').textContent()).resolves.toContain(TAG);
		await session.screenshot('fetch-tagged-members');
		// (#3) "Output" (changes / all members) is shown and can be changed, and changed back.
		expect(await visibleParameters()).toEqual(expect.arrayContaining(['audience', 'tags', 'match', 'statuses', 'output', 'store']));
		await pick(parameter('output'), 'All Selected Members');
		await pick(parameter('output'), 'New and Changed');
		await closeNode();
		await save();
		// (#6) The subtitle says in words what the node gives.
		expect(await canvasText('Fetch Tagged Members')).toContain('New, changed and removed members');
	});

	it('Map Fields: the audience is picked by its name, and the mapping follows the Hub credential in the open panel', async () => {
		// A second Hub account, with custom fields of its own, is connected while the workflow is open; it goes
		// again after this step, so the Hub nodes opened later keep the one Hub credential (#1 below).
		const second = await server.rest('POST', '/rest/credentials', {
			name: SECOND_HUB.name,
			type: HUB.type,
			data: { apiKey: SECOND_HUB_ACCOUNT.apiKey, apiSecret: SECOND_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url },
		});
		expect(second.status).toBe(200);
		const secondId = (second.body as { data: { id: string } }).data.id;
		try {
			await openNode('Map Fields');
			await session.screenshot('map-fields-opened');
			// (#7) The audience reads as a choice in words: no object dump, no "Mode..." box, no expression.
			const opened = ((await panel().textContent()) ?? '').replace(/\s+/g, ' ');
			expect(opened).not.toMatch(/\[Object|__rl|Mode\.\.\./);
			expect(await panel().locator('[data-test-id="inline-expression-editor-input"]').count()).toBe(0);
			// (#2) Before the Hub credential is chosen, the mapping area says what is missing instead of staying blank.
			const mapper = panel().locator('[data-test-id="resource-mapper-container"]');
			expect(((await mapper.textContent()) ?? '').trim()).not.toBe('');

			// (#1) The Hub's slot offers the Hub credentials (not only Mailchimp's), and the user picks both.
			const slots = panel().locator('[data-test-id="node-credentials-slot"]');
			const hubSlot = slots.filter({ hasText: /Hub/ }).first();
			const mailchimpSlot = slots.filter({ hasNotText: /Hub/ }).first();
			await pick(hubSlot, HUB.name); // fails, listing what is offered, when the Hub credential is not
			await pick(mailchimpSlot, MAILCHIMP.name);
			// (#2) With both credentials, the mapping shows the Hub fields in the same panel, without reopening it.
			await mapper.getByText('Phone (SMS)').first().waitFor({ timeout: 15_000 });
			await mapper.getByText(`Custom Field: ${FIRST_CUSTOM_FIELD}`).first().waitFor({ timeout: 15_000 });

			// (#7) The audience is picked from a dropdown of names, and shown by its name.
			await panel().locator('[data-test-id="rlc-input-container"]').first().click();
			const audienceItem = page.locator('[data-test-id="rlc-item"]').filter({ hasText: audience.name }).first();
			await audienceItem.waitFor();
			await audienceItem.click();
			await expect(panel().locator('[data-test-id="rlc-input"]').first().inputValue()).resolves.toContain(audience.name);

			// (#2) Another Hub account: its own custom fields replace the first one's, in the open panel. n8n 2.41.1's
			// mapping form reloads by itself on a change of a parameter, never of a credential (no parameter changes
			// with the Hub account), so the user takes the form's own "Refresh Hub Field List", as its hint says.
			await pick(hubSlot, SECOND_HUB.name);
			await refreshMapping();
			await mapper.getByText(`Custom Field: ${SECOND_CUSTOM_FIELD}`).first().waitFor({ timeout: 15_000 });
			expect(await mapper.getByText(`Custom Field: ${FIRST_CUSTOM_FIELD}`).count()).toBe(0);
			await session.screenshot('map-fields-second-hub');
			// Back to the account the run below syncs into.
			await pick(hubSlot, HUB.name);
			await refreshMapping();
			await mapper.getByText(`Custom Field: ${FIRST_CUSTOM_FIELD}`).first().waitFor({ timeout: 15_000 });
			expect(await mapper.getByText(`Custom Field: ${SECOND_CUSTOM_FIELD}`).count()).toBe(0);
			await session.screenshot('map-fields');
			await closeNode();
			await save();
		} finally {
			await server.rest('DELETE', `/rest/credentials/${secondId}`);
		}
	});

	it('opens every other node with its parameters visible and settable', async () => {
		for (const [name, expected] of [
			['Acquire Sync Lock', ['operation', 'lockName', 'leaseMinutes', 'store']],
			['Upsert Hub Contact', ['operation', 'listName', 'store']],
			['Remove From Hub', ['operation', 'removeAction', 'listName', 'store']],
			['Release Sync Lock', ['operation', 'token', 'outcome', 'store']],
		] as Array<[string, string[]]>) {
			await openNode(name);
			await session.screenshot(name.toLowerCase().replace(/\s+/g, '-'));
			expect({ name, parameters: await visibleParameters() }).toEqual({ name, parameters: expect.arrayContaining(expected) });
			// (#1) The Hub nodes keep the one Hub credential (no duplicate was created and switched to).
			if (name.includes('Hub')) expect(await panel().locator('[data-test-id="node-credentials-select"] input').first().inputValue()).toBe(HUB.name);
		}
		await closeNode();
	});

	it('Apply Consent: the mode, the texts with their segment cost, the sender and the budget are set from the panel, without expressions', async () => {
		await openNode('Apply Consent');
		expect(await visibleParameters()).toEqual(expect.arrayContaining(['position', 'mode', 'companyName', 'textPreset', 'sender', 'creditBudget']));
		// The user types the company name first, as the template's sticky note and the node's warning ask; what
		// follows is checked on the node as it stands then, not on one still missing a required value.
		await parameter('companyName').locator('input').first().fill('Acme Coffee');
		await panel().locator('[data-test-id="input-label"]').first().click(); // leaves the field, so it is taken
		await page.keyboard.press('Escape');
		expect(await panel().locator('[data-test-id="parameter-issues"]').count()).toBe(0);
		// The mode dropdown offers the three modes, each with what it does.
		await parameter('mode').locator('input').first().click({ force: true });
		await openOptions().filter({ hasText: 'Double Opt-In' }).first().waitFor();
		const modes = (await openOptions().allTextContents()).map((o) => o.replace(/\s+/g, ' '));
		expect(modes).toEqual([
			expect.stringMatching(/^Confirmation Notification.*sends a confirmation message/),
			expect.stringMatching(/^Double Opt-In.*replying YES/),
			expect.stringMatching(/^None \(Inferred Consent\).*without a confirmation message/),
		]);
		await page.keyboard.press('Escape');
		await openOptions().first().waitFor({ state: 'hidden' });
		await pick(parameter('mode'), 'Double Opt-In');
		expect(await visibleParameters()).toContain('reaskAfterDays');
		await pick(parameter('mode'), 'Confirmation Notification');
		// A budget above this audience's members, so the run below sends to all of them.
		await parameter('creditBudget').locator('input').first().fill('100');
		await panel().locator('[data-test-id="input-label"]').first().click(); // leaves the field, so it is taken
		// The text and what each message costs: the preset names its words, the notice the segments.
		await expect(parameter('textPreset').locator('input').first().inputValue()).resolves.toBe("The Hub's Texts");
		// Any other list left open (the label click can open Operation's) must not be read as the texts' list.
		await page.keyboard.press('Escape');
		await parameter('textPreset').locator('input').first().click({ force: true });
		const presets = page.locator('.el-select-dropdown:visible').filter({ hasText: 'US (CTIA)' }).first();
		await presets.waitFor();
		expect(((await presets.textContent()) ?? '').replace(/\s+/g, ' ')).toContain('You are subscribed to receive messages from {Company Name}. Reply STOP to cancel.');
		await page.keyboard.press('Escape');
		await openOptions().first().waitFor({ state: 'hidden' });
		const text = ((await panel().textContent()) ?? '').replace(/\s+/g, ' ');
		expect(text).toContain('1 credit per SMS segment');
		expect(text).toContain('Sender');
		expect(text).toContain('Credit Budget per Run');
		await expect(parameter('sender').locator('input').first().getAttribute('placeholder')).resolves.toMatch(/^e\.g\. \+\d+/);
		await session.screenshot('apply-consent');
		// Words on screen, never raw values or "undefined".
		expect(text).not.toMatch(/undefined|doubleOptIn|\[object|\{\{/);
		// Plain values typed into the fields, not expressions.
		await expect(parameter('companyName').locator('input').first().inputValue()).resolves.toBe('Acme Coffee');
		await expect(parameter('creditBudget').locator('input').first().inputValue()).resolves.toBe('100');
		expect(await panel().locator('[data-test-id="inline-expression-editor-input"]').count()).toBe(0);
		await closeNode();
		await save();
	});

	// ----------------------------------------------------------------------------------------------------------
	// Apply Consent's segment count while editing (issue 9): its own step, so it merges apart from the others.

	it('Apply Consent: the panel counts the SMS segments of the text as it is typed, and warns above one', async () => {
		await openNode('Apply Consent');
		const count = parameter('segmentCount').locator('input').first();
		/** Waits until the SMS Segments field reads `expected` (the server counts after each change), and returns it. */
		const countReads = async (expected: RegExp): Promise<string> => {
			const deadline = Date.now() + 15_000;
			let value = await count.inputValue();
			while (!expected.test(value) && Date.now() < deadline) {
				await page.waitForTimeout(200);
				value = await count.inputValue();
			}
			return value;
		};
		const warnings = () => panel().locator('[data-test-id="node-hint"]').filter({ hasText: /This text is .*SMS segments/ });
		const companyName = parameter('companyName').locator('input').first();
		await companyName.fill('Acme Coffee');
		const hubText = renderText(HUB_CONFIRMATION_TEXT, 'Acme Coffee');
		await expect(countReads(/^1 SMS segment/)).resolves.toBe(`1 SMS segment, 1 credit per message (${hubText.length} GSM-7 characters)`);
		expect(await warnings().count()).toBe(0);
		await session.screenshot('apply-consent-segments-1');

		// A longer company name, typed key by key: the count follows it past 160 characters.
		await companyName.fill('');
		await companyName.pressSequentially(`Acme Coffee ${'Roasters '.repeat(10)}`, { delay: 5 });
		const longer = renderText(HUB_CONFIRMATION_TEXT, `Acme Coffee ${'Roasters '.repeat(10)}`.trim());
		expect(countSegments(longer).segments).toBe(2);
		await expect(countReads(/^⚠ 2 SMS segments/)).resolves.toBe(`⚠ 2 SMS segments, 2 credits per message (${longer.length} GSM-7 characters)`);
		await warnings().first().waitFor({ timeout: 10_000 });
		expect(((await warnings().first().textContent()) ?? '').replace(/\s+/g, ' ')).toContain('This text is 2 SMS segments: each message costs 2 credits');
		await companyName.fill('Acme Coffee');
		await expect(countReads(/^1 SMS segment/)).resolves.toMatch(/^1 SMS segment/);

		// A custom text of 80 GSM-7 characters is one segment; an emoji makes it UCS-2, 70 a segment, so 82 take 2.
		await pick(parameter('textPreset'), 'Custom');
		const custom = parameter('confirmationText').locator('textarea').first();
		await custom.fill('{Company Name}: you are subscribed to our weekly coffee news. Reply STOP to cancel.');
		await expect(countReads(/\(80 GSM-7/)).resolves.toBe('1 SMS segment, 1 credit per message (80 GSM-7 characters)');
		await custom.press('End');
		await custom.pressSequentially(' ☕', { delay: 20 });
		await expect(countReads(/UCS-2/)).resolves.toBe('⚠ 2 SMS segments, 2 credits per message (82 UCS-2 characters)');
		await warnings().first().waitFor({ timeout: 10_000 });
		await session.screenshot('apply-consent-segments-2');
		expect(await panel().locator('[data-test-id="inline-expression-editor-input"]').count()).toBe(0);

		// Back to the Hub's text, which the run below sends.
		await pick(parameter('textPreset'), "The Hub's Texts");
		await expect(countReads(/^1 SMS segment/)).resolves.toBe(`1 SMS segment, 1 credit per message (${hubText.length} GSM-7 characters)`);
		await closeNode();
		await save();
	});

	it('"Execute step" on Acquire Sync Lock leaves no lease behind that turns the next run away (#4)', async () => {
		await openNode('Acquire Sync Lock');
		await panel().locator('[data-test-id="node-execute-button"]').click();
		await panel().locator('[data-test-id="output-panel"]').getByText(/item/).first().waitFor({ timeout: 60_000 });
		await session.screenshot('acquire-execute-step');
		await closeNode();
		await executeWorkflow();
		// (#4) The workflow's run acquired the lock (it was not turned away as "already running") and ran to the
		// end. Apply Consent is set up by now (above): a node with issues stops the run before it starts, and the
		// check would pass without a run.
		expect(await canvasNode('Already Running').locator('[data-test-id="canvas-node-status-success"]').count()).toBe(0);
		expect((await executions()).filter((row) => row.mode === 'manual')[0].status).toBe('success');
		expect(await canvasNode('Release Sync Lock').locator('[data-test-id="canvas-node-status-success"]').count()).toBe(1);
	});

	it('"Execute workflow" syncs the tagged members into the Hub, and the canvas shows the run succeeded', async () => {
		await executeWorkflow();
		await session.screenshot('after-run');
		// Every tagged, subscribed member with a valid mobile is in the Hub's list, once.
		expect(hubListMembers()).toBe(expectedMembers.length);
		expect((await executions()).filter((row) => row.mode === 'manual')[0].status).toBe('success');
		expect(await canvasNode('Release Sync Lock').locator('[data-test-id="canvas-node-status-success"]').count()).toBe(1);
		// (#8) Counts read as words ("1 member", "5 members"), never "1 members".
		await openNode('Release Sync Lock');
		await panel().locator('[data-test-id="output-panel"]').getByText(/Released/).first().waitFor();
		const output = (await panel().locator('[data-test-id="output-panel"]').textContent()) ?? '';
		expect(output).not.toMatch(/\b1 members\b/);
		// (#8) Release names the audience by its name, not only by its id.
		expect(output).toContain(audience.name);
		await session.screenshot('release-after-run');
		await closeNode();
	});

	/** Picks the trigger "Execute workflow" starts from, in the menu beside the button. */
	async function startFrom(trigger: string): Promise<void> {
		if (await panel().isVisible()) await closeNode();
		await page.keyboard.press('Escape');
		await panel().waitFor({ state: 'hidden' });
		await page.locator('[aria-label="Select trigger node"]').click({ timeout: 10_000 }).catch(async (error: unknown) => {
			await session.screenshot('failed-trigger-menu');
			throw error;
		});
		await page.getByRole('menuitem').filter({ hasText: trigger }).first().click();
		await page.locator('[data-test-id="execute-workflow-button"]').filter({ hasText: trigger }).waitFor();
	}

	it('"Execute workflow" from Preview Sync shows what a sync would do, and writes nothing', async () => {
		mailchimp.state.addMembers(audience.id, [{ email_address: 'preview.joiner@example.com', status: 'subscribed', merge_fields: { PHONE: '+61412999002' }, tags: [TAG] }]);
		hub.counters.clear();
		const messages = hub.account(HUB_ACCOUNT).messages.size;
		await startFrom('Preview Sync');
		try {
			await executeWorkflow();
			expect(await canvasNode('Release Sync Lock').locator('[data-test-id="canvas-node-status-success"]').count()).toBe(1);
			await openNode('Release Sync Lock');
			const sentence = panel().locator('[data-test-id="output-panel"]').getByText(/Preview of/).first();
			await sentence.waitFor();
			// The newcomer would be created and sent its confirmation; the members without a mobile are invalid as in every run.
			const invalid = dataset.accounts[0].lists[0].members!.filter((m) => m.status === 'subscribed' && m.tags?.includes(TAG)).length - expectedMembers.length;
			// Release lists the counts in the order their items reach it (Collect Results' inputs, ordered by the
			// canvas), so the sentence is compared count by count.
			const summary = /nothing written: success \((.*)\)/.exec((await sentence.textContent()) ?? '');
			expect(summary?.[1].split(', ').sort()).toEqual(['credits 1', ...(invalid > 0 ? [`invalid ${invalid}`] : []), 'messages 1', 'would-create 1']);
			// For the README's picture: the summary as JSON, where the whole sentence is in view.
			await panel().locator('[data-test-id="output-panel"]').getByText('JSON', { exact: true }).first().click();
			await panel().locator('[data-test-id="output-panel"]').getByText(/"would-create"/).first().waitFor();
			await session.screenshot('preview');
			await closeNode();
			expect([...hub.counters].filter(([route]) => /^(POST|PATCH|PUT|DELETE) \/(api|v1)\//.test(route))).toEqual([]);
			expect(hub.account(HUB_ACCOUNT).messages.size).toBe(messages);
			expect(hubListMembers()).toBe(expectedMembers.length);
		} finally {
			await startFrom('Start Sync Now');
		}
	});

	it('after a run, Map Fields does not claim its Hub fields are outdated (#5)', async () => {
		await openNode('Map Fields');
		await page.waitForTimeout(1500);
		await session.screenshot('map-fields-after-run');
		expect(await panel().textContent()).not.toMatch(/outdated/i);
		await closeNode();
	});

	it('a click while another run holds the lock shows the busy answer, in local time (#8)', async () => {
		// A run of the same workflow (as the schedule would start it) is slowed down at the Hub so it holds the lock.
		mailchimp.state.addMembers(audience.id, [{ email_address: 'late.joiner@example.com', status: 'subscribed', merge_fields: { PHONE: '+61412999001' }, tags: [TAG] }]);
		hub.faults.latencyMs = 4_000;
		hub.counters.clear();
		const other = n8n.startExecution(workflowId);
		try {
			const deadline = Date.now() + 120_000;
			while ((hub.counters.get('POST /api/v1/contacts/contacts') ?? 0) === 0 && Date.now() < deadline) await page.waitForTimeout(200);
			await executeWorkflow();
			await session.screenshot('busy');
			expect(await canvasNode('Already Running').locator('[data-test-id="canvas-node-status-success"]').count()).toBe(1);
			await openNode('Already Running');
			// The sentence for people; the item's since/expiresAt fields stay ISO for machines.
			const sentence = panel().locator('[data-test-id="output-panel"]').getByText(/already running since/i).first();
			await sentence.waitFor();
			const output = (await sentence.textContent()) ?? '';
			const message = /A sync[^.]*already running since.*?\./i.exec(output)?.[0] ?? output;
			expect(message).toMatch(/already running since/i);
			expect(message).not.toMatch(ISO_TIME);
			await closeNode();
		} finally {
			hub.faults.latencyMs = 0;
			await other.result;
		}
	});

	it('a failed sync (Mailchimp refuses the key) ends the n8n execution as failed, so the executions list and error workflows see it (#9)', async () => {
		mailchimp.state.revokeCredential(credentialsOf(dataset)[0].apiKey!);
		await executeWorkflow();
		await session.screenshot('failed-run');
		// The lock is released and the run recorded (Release ran and passed the failed run on); Stop: Sync Failed
		// then fails the execution, whether the result email is on or off (it is off here).
		expect(await canvasNode('Release Sync Lock').locator('[data-test-id="canvas-node-status-success"]').count()).toBe(1);
		expect(await canvasNode('Stop: Sync Failed').count()).toBe(1);
		expect(await canvasNode('Stop: Sync Failed').locator('[data-test-id="canvas-node-status-success"]').count()).toBe(0);
		expect((await executions()).filter((row) => row.mode === 'manual')[0].status).toBe('error');
	});
});
