import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * Where the sync store lives when several n8n processes share the work (queue mode, several
 * instances): a PostgreSQL database. Tested by opening a real connection, which an HTTP test request
 * cannot do, so the test is the `testedBy` function of the nodes that use it (see
 * nodes/shared/store/node.ts).
 */
// eslint-disable-next-line n8n-nodes-base/cred-class-name-unsuffixed -- a database connection, not an API; the name is fixed across the package
export class HubSyncStorePostgres implements ICredentialType {
	// eslint-disable-next-line n8n-nodes-base/cred-class-field-name-unsuffixed -- as above: the type name hubSyncStorePostgres is part of the package's contract
	name = 'hubSyncStorePostgres';

	displayName = 'Sync Store (Postgres)';

	documentationUrl = 'https://www.postgresql.org/docs/current/libpq-connect.html';

	icon = 'file:syncStore.svg' as const;

	properties: INodeProperties[] = [
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: 'localhost',
			required: true,
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 5432,
			required: true,
		},
		{
			displayName: 'Database',
			name: 'database',
			type: 'string',
			default: 'postgres',
			required: true,
			description: 'The tables (hub_sync_*) are created here on first use',
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: 'postgres',
			required: true,
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
		},
		{
			displayName: 'Schema',
			name: 'schema',
			type: 'string',
			default: '',
			placeholder: 'e.g. mailchimp_sync',
			description:
				"Optional: keep the tables in this schema (created if missing): lower-case letters, digits and underscores, starting with a letter or underscore. Empty uses the user's search path, usually public.",
		},
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'options',
			options: [
				{ name: 'Disable', value: 'disable', description: 'Plain connection' },
				{ name: 'Allow', value: 'allow', description: 'SSL when the server offers it, plain otherwise' },
				{ name: 'Require', value: 'require', description: 'SSL or no connection' },
			],
			default: 'disable',
		},
		{
			displayName: 'Ignore SSL Issues (Insecure)',
			name: 'allowUnauthorizedCerts',
			type: 'boolean',
			default: false,
			description: 'Whether to connect even if the server certificate cannot be verified (e.g. self-signed)',
			displayOptions: { show: { ssl: ['allow', 'require'] } },
		},
	];
}
