/** Forks lock-worker.ts processes (same Node binary, TypeScript through tsx) and talks to them. */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import type { StoreConfig } from '../../../../nodes/shared/store';

const WORKER = join(__dirname, 'lock-worker.ts');

export interface Worker {
	id: number;
	child: ChildProcess;
	/** Sends one message and resolves with the worker's next answer of the expected type. */
	request<T = Record<string, unknown>>(message: object, answer: string): Promise<T>;
	kill(signal?: NodeJS.Signals): void;
}

function startWorker(id: number, config: StoreConfig): Promise<Worker> {
	const child = fork(WORKER, [], {
		execPath: process.execPath,
		execArgv: ['--import', 'tsx'],
		env: { ...process.env, HUB_SYNC_WORKER_CONFIG: JSON.stringify(config), HUB_SYNC_WORKER_ID: String(id) },
		stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
	});
	const waiters: Array<{ answer: string; resolve: (value: never) => void; reject: (error: Error) => void }> = [];
	child.on('message', (message: { type: string; message?: string }) => {
		const waiter = waiters.shift();
		if (!waiter) return;
		if (message.type === 'error') waiter.reject(new Error(`worker ${id}: ${message.message}`));
		else if (message.type !== waiter.answer) waiter.reject(new Error(`worker ${id}: expected ${waiter.answer}, got ${message.type}`));
		else waiter.resolve(message as never);
	});
	child.on('exit', (code, signal) => {
		for (const waiter of waiters.splice(0)) waiter.reject(new Error(`worker ${id} exited (${signal ?? code})`));
	});
	const worker: Worker = {
		id,
		child,
		request(message, answer) {
			return new Promise((resolve, reject) => {
				waiters.push({ answer, resolve, reject });
				if (Object.keys(message).length > 0) child.send(message);
			});
		},
		kill(signal = 'SIGTERM') {
			if (child.exitCode === null && child.signalCode === null) child.kill(signal);
		},
	};
	return worker.request({}, 'ready').then(() => worker);
}

/** Starts `count` workers at once; they open (and so migrate) the store concurrently. */
export async function startWorkers(count: number, config: StoreConfig): Promise<Worker[]> {
	const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startWorker(i, config)));
	const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
	const failed = started.find((s) => s.status === 'rejected');
	if (failed) {
		await stopWorkers(workers);
		throw (failed as PromiseRejectedResult).reason;
	}
	return workers;
}

export async function stopWorkers(workers: Worker[]): Promise<void> {
	await Promise.all(
		workers.map(
			(w) =>
				new Promise<void>((resolve) => {
					if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
					w.child.once('exit', () => resolve());
					w.child.disconnect();
					setTimeout(() => w.kill('SIGKILL'), 5_000).unref();
				}),
		),
	);
}
