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
