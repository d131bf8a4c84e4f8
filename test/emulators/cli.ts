/**
 * `npm run emulators [-- options]`: starts the Mailchimp and Hub emulators on loopback, seeded from a
 * JSON dataset, prints their URLs and the sample credentials, and runs until Ctrl-C.
 *
 *   --dataset <path>        a MailchimpDataset, or { "mailchimp": MailchimpDataset, "hub": { "accounts": [...] } }
 *                           (default: test/emulators/data/demo.json and the Hub's demo account)
 *   --mailchimp-port <n>    default 0 = any free port
 *   --hub-port <n>          default 0 = any free port
 *   --host <address>        default 127.0.0.1
 *   --json                  print one JSON line (URLs and credentials) for scripts, instead of the text
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { credentialsOf, DEMO_DATASET_PATH } from './datasets';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubAccountSeed } from './hub';
import { startMailchimpEmulator, type MailchimpDataset } from './mailchimp';

interface CombinedDataset {
	mailchimp?: MailchimpDataset;
	hub?: { accounts: HubAccountSeed[] };
}

function usage(message: string): never {
	console.error(`${message}\nUsage: npm run emulators -- [--dataset file.json] [--mailchimp-port n] [--hub-port n] [--host address] [--json]`);
	process.exit(2);
}

function port(value: string | undefined, name: string): number {
	if (value === undefined) return 0;
	const n = Number(value);
	if (!Number.isInteger(n) || n < 0 || n > 65_535) usage(`--${name} must be a port number, got "${value}"`);
	return n;
}

/** Reads either a bare Mailchimp dataset or one with `mailchimp` and `hub` sections. */
export function readDataset(file: string): { mailchimp: MailchimpDataset; hub: HubAccountSeed[] } {
	let parsed: MailchimpDataset & CombinedDataset;
	try {
		parsed = JSON.parse(readFileSync(file, 'utf8'));
	} catch (error) {
		throw new Error(`Cannot read the dataset ${file}: ${(error as Error).message}`);
	}
	const mailchimp = parsed.mailchimp ?? (Array.isArray(parsed.accounts) ? parsed : undefined);
	if (!mailchimp) throw new Error(`${file} has no Mailchimp accounts: expected "accounts" or "mailchimp.accounts"`);
	return { mailchimp, hub: parsed.hub?.accounts ?? [DEFAULT_HUB_ACCOUNT] };
}

async function main(): Promise<void> {
	let values;
	try {
		({ values } = parseArgs({
			options: {
				dataset: { type: 'string' },
				'mailchimp-port': { type: 'string' },
				'hub-port': { type: 'string' },
				host: { type: 'string' },
				json: { type: 'boolean' },
			},
		}));
	} catch (error) {
		usage((error as Error).message);
	}
	const file = path.resolve(values.dataset ?? DEMO_DATASET_PATH);
	const dataset = readDataset(file);
	const host = values.host ?? '127.0.0.1';

	const mailchimp = await startMailchimpEmulator({ host, port: port(values['mailchimp-port'], 'mailchimp-port'), dataset: dataset.mailchimp });
	const hub = await startHubEmulator({ host, port: port(values['hub-port'], 'hub-port'), accounts: dataset.hub });

	const mailchimpAccounts = credentialsOf(dataset.mailchimp);
	const oauthApp = dataset.mailchimp.oauthApps?.[0];
	const hubAccounts = dataset.hub.map((a) => ({ apiKey: a.apiKey, apiSecret: a.apiSecret, accountId: a.accountId }));

	if (values.json) {
		console.log(
			JSON.stringify({
				mailchimp: { url: mailchimp.url, apiUrl: mailchimp.apiUrl, accounts: mailchimpAccounts, oauthApp },
				hub: { url: hub.url, accounts: hubAccounts },
			}),
		);
	} else {
		const lines = [
			`Dataset: ${path.relative(process.cwd(), file) || file}`,
			'',
			`Mailchimp emulator  ${mailchimp.url}   (API base URL ${mailchimp.apiUrl}, control ${mailchimp.url}/_control/state)`,
			`  OAuth: authorize ${mailchimp.url}/oauth2/authorize · token ${mailchimp.url}/oauth2/token · metadata ${mailchimp.url}/oauth2/metadata`,
			...(oauthApp ? [`  OAuth app: client id ${oauthApp.clientId} · client secret ${oauthApp.clientSecret}`] : []),
			...mailchimpAccounts.flatMap((a) => [
				`  Account "${a.accountName}" (dc ${a.dc})`,
				...(a.apiKey ? [`    API key       ${a.apiKey}`] : []),
				...(a.oauthToken ? [`    OAuth token   ${a.oauthToken}`] : []),
				...a.lists.map((l) => `    audience      ${l.id}  ${l.name}`),
			]),
			'',
			`Hub emulator        ${hub.url}`,
			...hubAccounts.map((a) => `  Account ${a.accountId ?? '(derived)'}: API key ${a.apiKey} · secret ${a.apiSecret}`),
			'',
			'These are sample credentials of local emulators only. Ctrl-C stops both.',
		];
		console.log(lines.join('\n'));
	}

	let stopping = false;
	const stop = async () => {
		if (stopping) return;
		stopping = true;
		await Promise.all([mailchimp.close(), hub.close()]);
		process.exit(0);
	};
	process.on('SIGINT', () => void stop());
	process.on('SIGTERM', () => void stop());
}

if (require.main === module) {
	main().catch((error) => {
		console.error((error as Error).message);
		process.exit(1);
	});
}
