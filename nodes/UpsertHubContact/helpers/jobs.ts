/**
 * What Upsert and Remove both do around their Hub writes: take each member once, run the per-member
 * writes side by side until the Hub is down, and change list membership in bulk batches.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { chunks } from '../../shared/chunks';
import { HUB_MEMBERSHIP_BATCH, HubApiError, HubAuthError, HubUnavailableError, type HubClient } from '../../shared/transport/hub';
import { changeListBatch } from './hub';
import { MemberProblem, failureOf, notAttempted, type ItemFailure, type Outcomes } from './items';

type Limit = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * Reads every item; one that cannot be used, or repeats a member already read (same audience and
 * member key), fails on its own and the rest go on.
 */
export function uniqueInputs<T extends { index: number; audienceId: string; memberKey: string }>(
	items: INodeExecutionData[],
	read: (item: INodeExecutionData, index: number) => T | string,
	outcomes: Outcomes,
	repeated: (input: T, first: T) => string,
): T[] {
	const inputs: T[] = [];
	const seen = new Map<string, T>();
	for (let i = 0; i < items.length; i++) {
		const input = read(items[i], i);
		if (typeof input === 'string') {
			outcomes.fail(i, { error: input });
			continue;
		}
		const key = `${input.audienceId}\n${input.memberKey}`;
		const first = seen.get(key);
		if (first) outcomes.fail(i, { error: repeated(input, first) });
		else {
			seen.set(key, input);
			inputs.push(input);
		}
	}
	return inputs;
}

/**
 * Runs one Hub job per member, `limit` at a time. A member's Hub or member problem fails that
 * member; once the Hub is down the members not started yet fail as "not attempted" (the next run
 * carries them). A rejected credential or a bug is thrown after the running jobs have settled, once
 * `beforeThrow` (flushing the ledger) has run.
 */
export async function runHubJobs<J>(
	jobs: J[],
	limit: Limit,
	outcomes: Outcomes,
	indexOf: (job: J) => number,
	work: (job: J) => Promise<void>,
	beforeThrow: () => Promise<void>,
	/** Before each job's writes, e.g. the lease check; what it throws stops the run like a bug would. */
	beforeEach: () => Promise<void> = async () => undefined,
): Promise<void> {
	let hubDown: HubUnavailableError | undefined;
	let fatal: unknown;
	await Promise.all(
		jobs.map((job) =>
			limit(async () => {
				if (fatal !== undefined) return;
				if (hubDown) return outcomes.fail(indexOf(job), notAttempted(hubDown));
				try {
					await beforeEach();
					await work(job);
				} catch (error) {
					if (error instanceof HubAuthError || !(error instanceof HubApiError || error instanceof MemberProblem)) {
						fatal ??= error;
						return;
					}
					if (error instanceof HubUnavailableError) hubDown ??= error;
					outcomes.fail(indexOf(job), failureOf(error));
				}
			}),
		),
	);
	if (fatal !== undefined) {
		// What stopped the run is the error to report, even if saving the ledger fails too.
		await beforeThrow().catch(() => undefined);
		throw fatal;
	}
}

/**
 * Adds contacts to the list, or takes them out, in batches of the Hub's bulk limit. `done` hears each
 * batch with the ids the Hub did not know (deleted meanwhile); `failed` hears a batch the Hub refused.
 * A rejected credential is thrown, after `beforeThrow`.
 */
export async function changeListInBatches<E>(
	client: HubClient,
	listId: string,
	side: 'add' | 'remove',
	entries: E[],
	contactIdOf: (entry: E) => string,
	handlers: {
		done: (batch: E[], unknown: Set<string>) => void;
		failed: (batch: E[], failure: ItemFailure) => void;
		beforeThrow: () => Promise<void>;
		/** Before each batch's write, e.g. the lease check; what it throws ends the run. */
		beforeBatch?: () => Promise<void>;
	},
): Promise<void> {
	for (const batch of chunks(entries, HUB_MEMBERSHIP_BATCH)) {
		try {
			await handlers.beforeBatch?.();
		} catch (error) {
			await handlers.beforeThrow().catch(() => undefined);
			throw error;
		}
		let unknown: Set<string>;
		try {
			unknown = await changeListBatch(client, listId, side, batch.map(contactIdOf));
		} catch (error) {
			if (error instanceof HubAuthError) {
				await handlers.beforeThrow().catch(() => undefined);
				throw error;
			}
			handlers.failed(batch, failureOf(error));
			continue;
		}
		handlers.done(batch, unknown);
	}
}
