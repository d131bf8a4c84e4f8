/**
 * The sync store as nodes present it: the "Store" parameters, the Postgres credential entry with its
 * connection test, and one function that opens the store a node's parameters point at. Every node
 * that uses the store (Sync Lock now; Fetch, Apply Consent and Upsert later) takes these as they are,
 * so users choose the store the same way everywhere.
 */
import type {
	ICredentialDataDecryptedObject,
	ICredentialsDecrypted,
	ICredentialTestFunctions,
	IExecuteFunctions,
	INodeCredentialDescription,
	INodeCredentialTestResult,
	INodeProperties,
} from 'n8n-workflow';

import { SyncStoreError } from './errors';
import { openSyncStore, testPostgresConnection, type PostgresSslMode, type PostgresStoreOptions, type SyncStore } from './index';
import { isWithin, n8nDataFolder, realPathOf, resolveSqlitePath } from './place';

export const STORE_CREDENTIAL = 'hubSyncStorePostgres';
export const STORE_CREDENTIAL_TEST = 'hubSyncStorePostgresTest';

export const storeCredentials: INodeCredentialDescription[] = [
	{
		name: STORE_CREDENTIAL,
		required: true,
		testedBy: STORE_CREDENTIAL_TEST,
		displayOptions: { show: { store: ['postgres'] } },
	},
];

export const storeProperties: INodeProperties[] = [
	{
		displayName: 'Store',
		name: 'store',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Embedded (SQLite)',
				value: 'sqlite',
				description: 'A file in the n8n user folder; for one n8n process or several on one host',
			},
			{
				name: 'PostgreSQL',
				value: 'postgres',
				description: 'For queue mode or several n8n instances sharing the work',
			},
		],
		default: 'sqlite',
		description: 'Where leases, run records, the ledger and consent records are kept. Every node of one sync must use the same store.',
	},
	{
		displayName: 'Store File',
		name: 'storePath',
		type: 'string',
		default: '',
		placeholder: 'e.g. /data/mailchimp-hub-sync.sqlite',
		description:
			'Leave empty for mailchimp-hub-sync.sqlite in the n8n data folder (~/.n8n). A relative path is taken from that folder and must stay in it (a .sqlite file, never n8n\'s own database); elsewhere n8n\'s file access rules apply.',
		displayOptions: { show: { store: ['sqlite'] } },
	},
];

/** The credential's fields as the store wants them. */
export function postgresOptions(data: ICredentialDataDecryptedObject): PostgresStoreOptions {
	return {
		host: String(data.host ?? '').trim(),
		port: Number(data.port ?? 5432),
		database: String(data.database ?? '').trim(),
		user: String(data.user ?? '').trim(),
		password: String(data.password ?? ''),
		schema: String(data.schema ?? '').trim() || undefined,
		ssl: (data.ssl as PostgresSslMode | undefined) ?? 'disable',
		rejectUnauthorized: data.allowUnauthorizedCerts !== true,
	};
}

/** Opens (once per process) the store chosen by the node's Store parameters for this item. */
export async function openStoreForNode(context: IExecuteFunctions, itemIndex: number): Promise<SyncStore> {
	const store = context.getNodeParameter('store', itemIndex, 'sqlite') as string;
	if (store === 'postgres') {
		const credentials = await context.getCredentials(STORE_CREDENTIAL, itemIndex);
		return openSyncStore({ kind: 'postgres', ...postgresOptions(credentials) });
	}
	const path = context.getNodeParameter('storePath', itemIndex, '') as string;
	assertFileAccessAllowed(context, resolveSqlitePath(path));
	return openSyncStore({ kind: 'sqlite', path });
}

/**
 * A store file outside the n8n folder obeys the same rules as n8n's own file nodes (the folders in
 * N8N_RESTRICT_FILE_ACCESS_TO, n8n's blocked files and patterns), asked of n8n itself. Inside the n8n
 * folder, which n8n's rules close to file nodes as a whole, the store's own rule applies (place.ts).
 */
function assertFileAccessAllowed(context: IExecuteFunctions, path: string): void {
	const real = realPathOf(path);
	if (isWithin(realPathOf(n8nDataFolder()), real)) return;
	// Older n8n versions lack the helper; the store's own checks still apply.
	if (typeof context.helpers?.isFilePathBlocked !== 'function') return;
	if (context.helpers.isFilePathBlocked(real as Parameters<IExecuteFunctions['helpers']['isFilePathBlocked']>[0])) {
		throw new SyncStoreError(
			'permission',
			`n8n does not allow access to the store file ${path} (see N8N_RESTRICT_FILE_ACCESS_TO and N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES). ` +
				'Choose a file in a folder n8n allows, or leave the Store File empty for the default file in the n8n folder.',
		);
	}
}

/** The credential test: opens a real connection with the entered values and runs one query. */
export async function hubSyncStorePostgresTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted<ICredentialDataDecryptedObject>,
): Promise<INodeCredentialTestResult> {
	try {
		const version = await testPostgresConnection(postgresOptions(credential.data ?? {}));
		return { status: 'OK', message: `Connected (${version})` };
	} catch (error) {
		return { status: 'Error', message: (error as Error).message };
	}
}
