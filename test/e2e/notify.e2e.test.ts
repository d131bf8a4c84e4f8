/**
 * The sync template's optional result email (issue 8), in the real n8n 2.41.1 against both emulators and
 * a tiny SMTP receiver on loopback: shipped off, a sync sends nothing and a failed sync still fails the
 * execution; switched on the way a user does it (an SMTP credential, From and To, the node activated),
 * a finished sync sends one message with its counts and a failed one sends one failure message while
 * the execution still ends as failed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../emulators/hub';
import { startMailchimpEmulator, type DatasetMember, type MailchimpDataset, type MailchimpEmulator } from '../emulators/mailchimp';
import type { DatasetAccount } from '../emulators/mailchimp-state';
import { E2E_TIMEOUT_MS, N8nSuite, REPO_ROOT, type ExecutionResult, type WorkflowFixture } from './harness';
import { startSmtpReceiver, type SmtpReceiver } from './smtp';
import { SYNC_TEMPLATE, configureSyncTemplate, releaseSummary } from './templates';

jest.setTimeout(E2E_TIMEOUT_MS);

const EMAIL_NODE = 'Email the Result';
const STOP_NODE = 'Stop: Sync Failed';
const TIME_ZONE = 'Australia/Sydney';
const FROM = 'n8n@example.com';
const TO = 'marketing@example.com';

/** Two accounts, one audience each: the workflow without notification syncs one, the one with it the other. */
const AUDIENCES = {
	off: { id: 'e5f6a7b8c9', name: 'Quiet Audience', apiKey: `${'1a2b3c4d5e6f7a8b'.repeat(2)}-us8`, members: 4 },
	on: { id: 'f6a7b8c9d0', name: 'Notified Audience', apiKey: `${'9f8e7d6c5b4a3928'.repeat(2)}-us8`, members: 5 },
};
const CREDENTIALS = {
	mailchimpOff: { id: 'notifyMailchimpOff', name: 'Mailchimp (quiet account)', type: 'mailchimpHubSyncApi' },
	mailchimpOn: { id: 'notifyMailchimpOn', name: 'Mailchimp (notified account)', type: 'mailchimpHubSyncApi' },
	hub: { id: 'notifyHub', name: 'Hub (emulator)', type: 'sinchHubApi' },
	smtp: { id: 'notifySmtp', name: 'SMTP (test receiver)', type: 'smtp' },
};

function dataset(): MailchimpDataset {
	const audience = (key: 'off' | 'on', range: string): DatasetAccount => {
		const { id, name, apiKey, members } = AUDIENCES[key];
		return {
			id: `acct-${key}`,
			name: `Example ${key}`,
			dc: 'us8',
			apiKeys: [apiKey],
			lists: [
				{
					id,
					name,
					merge_fields: [
						{ tag: 'FNAME', name: 'First Name', type: 'text' },
						{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
					],
					segments: [{ name: 'SMS Opt-in', type: 'static' }],
					members: [
						...Array.from(
							{ length: members },
							(_, i) =>
								({
									email_address: `${key}.${i}@example.com`,
									status: 'subscribed',
									merge_fields: { FNAME: `Member${i}`, PHONE: `+614915${range}${10 + i}` },
									tags: ['SMS Opt-in'],
								}) as DatasetMember,
						),
						// A landline: Invalid, so the counts have more than one kind.
						{ email_address: `${key}.landline@example.com`, status: 'subscribed', merge_fields: { FNAME: 'Land', PHONE: '02 5550 1234' }, tags: ['SMS Opt-in'] } as DatasetMember,
					],
				},
			],
		};
	};
	return { accounts: [audience('off', '701'), audience('on', '702')] };
}

/** The template as a user sets it up: credentials, audience picked from the list (so its name is known), tag. */
function configured(key: 'off' | 'on', notify: boolean): (workflow: WorkflowFixture) => WorkflowFixture {
	const { id, name, members } = AUDIENCES[key];
	const base = configureSyncTemplate({
		audienceId: id,
		tags: ['SMS Opt-in'],
		mailchimp: key === 'off' ? CREDENTIALS.mailchimpOff : CREDENTIALS.mailchimpOn,
		hub: CREDENTIALS.hub,
	});
	return (template) => {
		const workflow = base(template);
		return {
			...workflow,
			name: `${workflow.name} (${key})`,
			settings: { ...workflow.settings, timezone: TIME_ZONE },
			nodes: workflow.nodes.map((node) => {
				const parameters = node.parameters as Record<string, unknown>;
				if (node.name === 'Fetch Tagged Members') {
					const audience = { ...(parameters.audience as object), mode: 'list', cachedResultName: `${name} (${members + 1} members)` };
					return { ...node, parameters: { ...parameters, audience } };
				}
				if (node.name !== EMAIL_NODE || !notify) return node;
				// What the sticky note asks for: a credential, From and To, then activate the node.
				const { disabled: _off, ...enabled } = node;
				return {
					...enabled,
					parameters: { ...parameters, fromEmail: FROM, toEmail: TO },
					credentials: { smtp: { id: CREDENTIALS.smtp.id, name: CREDENTIALS.smtp.name } },
				};
			}),
		};
	};
}

/** The line "<label>: <value>" of a message. */
function line(text: string, label: string): string | undefined {
	return new RegExp(`^${label}: (.*)$`, 'm').exec(text)?.[1];
}

/** "1 Dec 2026, 9:05 AM" in the time zone: how the message words a time, before the zone's name. */
function localTime(iso: string, timeZone: string): string {
	const parts = Object.fromEntries(
		new Intl.DateTimeFormat('en-US', { timeZone, day: 'numeric', month: 'short', year: 'numeric', hour: 'numeric', minute: '2-digit', hour12: true })
			.formatToParts(new Date(iso))
			.map((p) => [p.type, p.value]),
	);
	return `${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute} ${parts.dayPeriod}`;
}

const ran = (run: ExecutionResult) => Object.keys(run.run?.data.resultData.runData ?? {});

describe('the sync template emails its result when switched on, in the real n8n', () => {
	let mailchimp: MailchimpEmulator;
	let hub: HubEmulator;
	let smtp: SmtpReceiver;
	let n8n: N8nSuite;
	let quiet: string;
	let notified: string;

	beforeAll(async () => {
		mailchimp = await startMailchimpEmulator({ dataset: dataset() });
		hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
		smtp = await startSmtpReceiver();
		n8n = await N8nSuite.create({ name: 'notify' });
		const hubData = { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret, region: 'custom', baseUrl: hub.url };
		await n8n.importCredentials([
			{ ...CREDENTIALS.mailchimpOff, data: { apiKey: AUDIENCES.off.apiKey, apiBaseUrl: mailchimp.url } },
			{ ...CREDENTIALS.mailchimpOn, data: { apiKey: AUDIENCES.on.apiKey, apiBaseUrl: mailchimp.url } },
			{ ...CREDENTIALS.hub, data: hubData },
			// A plain SMTP server on loopback: no TLS, no login.
			{ ...CREDENTIALS.smtp, data: { host: '127.0.0.1', port: smtp.port, secure: false, disableStartTls: true, user: '', password: '' } },
		]);
		quiet = await n8n.importWorkflowFile(SYNC_TEMPLATE, configured('off', false));
		notified = await n8n.importWorkflowFile(SYNC_TEMPLATE, configured('on', true));
	});
	afterAll(async () => {
		await n8n?.dispose();
		await smtp?.close();
		await hub?.close();
		await mailchimp?.close();
	});

	it('1. shipped off: a sync sends nothing and ends as before', async () => {
		const run = await n8n.execute(quiet);
		expect(releaseSummary(run)).toMatchObject({ released: true, outcome: 'success', counts: expect.objectContaining({ created: AUDIENCES.off.members, invalid: 1 }) });
		// The switched-off node passes Release's item on; the failure check lets it through.
		expect(run.itemsOf(EMAIL_NODE)[0]).toMatchObject({ released: true, outcome: 'success' });
		expect(ran(run)).not.toContain(STOP_NODE);
		expect(smtp.messages).toEqual([]);
	});

	it('2. switched on: a finished sync sends one message with its counts, credits and local time', async () => {
		const run = await n8n.execute(notified);
		const summary = releaseSummary(run);
		expect(summary).toMatchObject({ released: true, outcome: 'success', counts: expect.objectContaining({ created: AUDIENCES.on.members, invalid: 1 }) });
		expect(summary.counts.credits).toBeGreaterThan(0); // the template's confirmations, one per created contact
		expect(ran(run)).not.toContain(STOP_NODE);
		expect(smtp.messages).toHaveLength(1);
		const [mail] = smtp.messages;
		expect({ from: mail.from, to: mail.to }).toEqual({ from: FROM, to: [TO] });
		expect(mail.subject).toBe(`Finished: Mailchimp to Hub sync of ${AUDIENCES.on.name} (success)`);
		expect(mail.text).toContain(`The Mailchimp to Hub sync of ${AUDIENCES.on.name} (${AUDIENCES.on.id}) finished: success.`);
		expect(line(mail.text, 'Created')).toBe(String(AUDIENCES.on.members));
		expect(line(mail.text, 'Updated')).toBe('0');
		expect(line(mail.text, 'Removed')).toBe('0');
		expect(line(mail.text, 'Invalid')).toBe('1');
		expect(line(mail.text, 'Errors')).toBe('0');
		expect(line(mail.text, 'Credits spent')).toBe(String(summary.counts.credits));
		expect(line(mail.text, 'Error')).toBeUndefined();
		// In the workflow's time zone, as people read it (n8n itself runs in UTC here).
		expect(line(mail.text, 'Started')).toMatch(new RegExp(`^${localTime(String(summary.startedAt), TIME_ZONE)} (AE[DS]T|GMT\\+1[01])$`));
		expect(mail.text).not.toContain('sent automatically with');
	});

	it('3. shipped off: a failed sync sends nothing and still fails the execution with the same error', async () => {
		mailchimp.state.revokeCredential(AUDIENCES.off.apiKey);
		const run = await n8n.tryExecute(quiet);
		expect(run.ok).toBe(false);
		expect(releaseSummary(run)).toMatchObject({ released: true, outcome: 'failed' });
		expect(run.error?.message).toMatch(new RegExp(`^The sync of "${AUDIENCES.off.name}" \\(${AUDIENCES.off.id}\\) failed: .*Mailchimp rejected the API key`));
		expect(run.run?.data.resultData.lastNodeExecuted).toBe(STOP_NODE);
		expect(smtp.messages).toHaveLength(1); // only the message of test 2
		const row = (await n8n.executions()).filter((e) => e.workflowId === quiet).pop();
		expect(row?.status).toBe('error');
	});

	it('4. switched on: a failed sync sends one failure message and the execution still ends as failed', async () => {
		mailchimp.state.revokeCredential(AUDIENCES.on.apiKey);
		const run = await n8n.tryExecute(notified);
		expect(run.ok).toBe(false);
		const summary = releaseSummary(run);
		expect(summary).toMatchObject({ released: true, outcome: 'failed' });
		expect(run.error?.message).toMatch(new RegExp(`^The sync of "${AUDIENCES.on.name}" \\(${AUDIENCES.on.id}\\) failed: .*Mailchimp rejected the API key`));
		expect(run.run?.data.resultData.lastNodeExecuted).toBe(STOP_NODE);
		expect(smtp.messages).toHaveLength(2);
		const mail = smtp.messages[1];
		expect(mail.subject).toBe(`FAILED: Mailchimp to Hub sync of ${AUDIENCES.on.name} (failed)`);
		expect(mail.text).toContain(`The Mailchimp to Hub sync of ${AUDIENCES.on.name} (${AUDIENCES.on.id}) FAILED.`);
		expect(line(mail.text, 'Error')).toBe(summary.errorSummary);
		expect(line(mail.text, 'Error')).toContain('Mailchimp rejected the API key');
		expect(line(mail.text, 'Created')).toBe('0');
		expect(line(mail.text, 'Credits spent')).toBe('0');
		expect(mail.raw).not.toContain(AUDIENCES.on.apiKey);
		const row = (await n8n.executions()).filter((e) => e.workflowId === notified).pop();
		expect(row?.status).toBe('error');
	});

	it('5. the shipped template imports unchanged into a fresh n8n, with the email node off', async () => {
		const fresh = await N8nSuite.create({ name: 'notify-import' });
		try {
			const shipped = JSON.parse(readFileSync(path.join(REPO_ROOT, SYNC_TEMPLATE), 'utf8')) as WorkflowFixture;
			const id = await fresh.importWorkflowFile(SYNC_TEMPLATE);
			const exported = await fresh.exportWorkflow(id);
			const shape = (w: WorkflowFixture) =>
				Object.fromEntries(
					w.nodes.map((n) => [n.name, { type: n.type, typeVersion: n.typeVersion, parameters: n.parameters, disabled: n.disabled ?? false, position: n.position }]),
				);
			expect(shape(exported)).toEqual(shape(shipped));
			expect(exported.connections).toEqual(shipped.connections);
			expect(exported.nodes.find((n) => n.name === EMAIL_NODE)).toMatchObject({ disabled: true });
		} finally {
			await fresh.dispose();
		}
	});
});
