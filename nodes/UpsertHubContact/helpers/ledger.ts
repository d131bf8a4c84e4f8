/**
 * Ledger writes in small batches (DESIGN decision 6). An entry is handed in only after the Hub
 * accepted the member's write (or had nothing to change), and batches go out every `batchSize`
 * entries and at the end, so a run killed half-way loses at most one batch: those members look
 * changed to the next run, which finds their contacts by phone and writes nothing twice.
 */
import type { INode } from 'n8n-workflow';

import { leaseLostNodeError } from '../../shared/lease';
import { LeaseLostError, type LeaseFence, type LedgerEntry, type SyncStore } from '../../shared/store';

export const LEDGER_BATCH = 50;

export class LedgerBatches {
	private written: LedgerEntry[] = [];
	/** Member keys by sync name and audience. */
	private forgotten = new Map<string, { syncName: string; audienceId: string; keys: string[] }>();
	private forgottenCount = 0;
	/** Store calls run one after another; a failed one fails every later flush. */
	private chain: Promise<void> = Promise.resolve();

	constructor(
		private readonly openStore: () => Promise<SyncStore>,
		/** The run's lease (CONTRACT §1): the store writes only while it holds, in the same transaction. */
		private readonly fence?: LeaseFence,
		/** Names the node in a lost-lease error. */
		private readonly node?: INode,
		private readonly batchSize = LEDGER_BATCH,
	) {}

	/** The member's contact is as the sync wants it. */
	write(entry: LedgerEntry): void {
		this.written.push(entry);
		if (this.written.length >= this.batchSize) void this.flush().catch(() => undefined);
	}

	/** The member was removed in the Hub (or deliberately let go): the sync forgets it. */
	forget(syncName: string, audienceId: string, memberKey: string): void {
		const scope = `${syncName}\n${audienceId}`;
		const pending = this.forgotten.get(scope);
		if (pending) pending.keys.push(memberKey);
		else this.forgotten.set(scope, { syncName, audienceId, keys: [memberKey] });
		if (++this.forgottenCount >= this.batchSize) void this.flush().catch(() => undefined);
	}

	/** Sends what is pending; rejects if this or any earlier store call failed. */
	flush(): Promise<void> {
		const written = this.written;
		const forgotten = this.forgotten;
		this.written = [];
		this.forgotten = new Map();
		this.forgottenCount = 0;
		if (written.length > 0 || forgotten.size > 0) {
			this.chain = this.chain.then(async () => {
				const store = await this.openStore();
				try {
					if (written.length > 0) await store.upsertLedger(written, this.fence);
					for (const { syncName, audienceId, keys } of forgotten.values()) await store.deleteLedger(syncName, audienceId, keys, this.fence);
				} catch (error) {
					// Another run holds the lock now: nothing of this batch was written, and the node says why.
					if (error instanceof LeaseLostError && this.node) throw leaseLostNodeError(this.node, error);
					throw error;
				}
			});
		}
		return this.chain;
	}
}
