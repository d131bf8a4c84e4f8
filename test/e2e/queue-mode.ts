/**
 * What n8n's queue mode needs besides n8n: a PostgreSQL database for n8n itself, one for the sync store,
 * and Redis. Each test run gets fresh databases (dropped afterwards) and its own Bull key prefix in Redis
 * (its keys deleted afterwards), so runs never see each other's jobs or rows.
 *
 *   const backends = await QueueBackends.create('queue');
 *   const n8n = await N8nSuite.create({ name: 'queue', env: backends.n8nEnv });
 *   ... backends.storeCredential, backends.store.query(...)
 *   await backends.dispose();
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';

import { Client } from 'pg';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const REDIS = { host: '127.0.0.1', port: 6379 };

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
	const client = new Client({ ...PG, database: 'postgres' });
	await client.connect().catch((error: Error) => {
		throw new Error(`PostgreSQL is not reachable on ${PG.host}:${PG.port} as ${PG.user} (${error.message}); .ci/run starts it`);
	});
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

/** True when Redis answers PING on 127.0.0.1:6379. */
export function redisAnswers(): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = new Socket();
		const done = (ok: boolean) => {
			socket.destroy();
			resolve(ok);
		};
		socket.setTimeout(2000, () => done(false));
		socket.once('error', () => done(false));
		socket.connect(REDIS.port, REDIS.host, () => socket.write('PING\r\n'));
		socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
	});
}

/** Deletes every Redis key under a prefix (redis-cli ships with Debian's redis-server). */
function deleteRedisKeys(prefix: string): Promise<void> {
	const script = `redis-cli -h ${REDIS.host} -p ${REDIS.port} --scan --pattern '${prefix}*' | xargs -r redis-cli -h ${REDIS.host} -p ${REDIS.port} del >/dev/null`;
	return new Promise((resolve, reject) => {
		const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
		child.on('error', reject);
		child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`deleting Redis keys ${prefix}* exited with ${code}`))));
	});
}

export class QueueBackends {
	private constructor(
		readonly n8nDatabase: string,
		readonly storeDatabase: string,
		readonly bullPrefix: string,
		/** An open connection to the sync store's database, for the tests to read the ledger and runs. */
		readonly store: Client,
	) {}

	static async create(name: string): Promise<QueueBackends> {
		if (!(await redisAnswers())) throw new Error(`Redis does not answer on ${REDIS.host}:${REDIS.port}; .ci/run starts it`);
		const id = `${name.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${randomBytes(4).toString('hex')}`;
		const n8nDatabase = `e2e_n8n_${id}`;
		const storeDatabase = `e2e_store_${id}`;
		await admin(async (client) => {
			await client.query(`CREATE DATABASE ${n8nDatabase}`);
			await client.query(`CREATE DATABASE ${storeDatabase}`);
		});
		const store = new Client({ ...PG, database: storeDatabase });
		await store.connect();
		return new QueueBackends(n8nDatabase, storeDatabase, `e2e-bull-${id}`, store);
	}

	/** For every n8n process of the suite: queue mode, n8n's database on PostgreSQL, Bull on Redis. */
	get n8nEnv(): Record<string, string> {
		return {
			EXECUTIONS_MODE: 'queue',
			DB_TYPE: 'postgresdb',
			DB_POSTGRESDB_HOST: PG.host,
			DB_POSTGRESDB_PORT: String(PG.port),
			DB_POSTGRESDB_DATABASE: this.n8nDatabase,
			DB_POSTGRESDB_USER: PG.user,
			DB_POSTGRESDB_PASSWORD: '',
			QUEUE_BULL_REDIS_HOST: REDIS.host,
			QUEUE_BULL_REDIS_PORT: String(REDIS.port),
			QUEUE_BULL_PREFIX: this.bullPrefix,
			// Pub/sub channels and other keys n8n keeps in Redis go under the same per-run prefix.
			N8N_REDIS_KEY_PREFIX: this.bullPrefix,
		};
	}

	/** The Sync Store (Postgres) credential's data. */
	get storeCredential(): Record<string, unknown> {
		return { host: PG.host, port: PG.port, database: this.storeDatabase, user: PG.user, password: '', schema: '', ssl: 'disable' };
	}

	/** Rows of n8n's own executions table. */
	async n8nQuery(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
		const client = new Client({ ...PG, database: this.n8nDatabase });
		await client.connect();
		try {
			return (await client.query(sql, params)).rows as Array<Record<string, unknown>>;
		} finally {
			await client.end();
		}
	}

	async dispose(): Promise<void> {
		await this.store.end().catch(() => undefined);
		await admin(async (client) => {
			for (const database of [this.n8nDatabase, this.storeDatabase]) {
				await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
			}
		});
		await deleteRedisKeys(this.bullPrefix);
	}
}
