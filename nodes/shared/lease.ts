/**
 * The run's lease as the writing nodes (Upsert, Remove) use it. Sync Lock's Acquire hands out an owner
 * token; Fetch stamps it on every item as `json.sync.lease`. A node that writes to the Hub checks the
 * lease before each batch (which also renews it, so a long run keeps it) and passes `fence` with its
 * ledger writes, which the store checks in the same transaction. A run whose lease lapsed or was
 * taken over therefore stops instead of racing the lock's next holder.
 */
import { NodeOperationError, type INode, type INodeExecutionData } from 'n8n-workflow';

import { LeaseLostError, type LeaseFence, type SyncStore } from './store';

/**
 * A renewal is a store write; a run of 100,000 members checks before every batch, so the store is
 * asked at most this often (and sooner when half the lease's remaining time has gone).
 */
export const RENEW_EVERY_MS = 5_000;

export interface RunLeaseOptions {
	/** How often at most a check renews the lease in the store. */
	renewEveryMs?: number;
	/** The clock, for tests. */
	now?: () => number;
}

export class RunLease {
	/** What ledger writes pass on, so the store checks the lease in the same transaction. */
	readonly fence: LeaseFence | undefined;
	private readonly renewEveryMs: number;
	private readonly now: () => number;
	/** When the store may next be asked: until then the last renewal stands. */
	private nextRenewAt = 0;
	private lost: NodeOperationError | undefined;

	/**
	 * The token the items carry (all must agree; two different tokens → error). null: not fenced.
	 * Items without a token are allowed next to items with one: the batch is then fenced by that one
	 * token, which only ever stops more writes, never fewer.
	 */
	static tokenOf(items: INodeExecutionData[], node?: INode): string | null {
		let token: string | null = null;
		for (const [index, item] of items.entries()) {
			const sync = item.json?.sync as { lease?: unknown } | undefined;
			const lease = sync && typeof sync === 'object' ? sync.lease : undefined;
			if (lease === undefined || lease === null) continue;
			if (typeof lease !== 'string' || lease.trim() === '') {
				throw itemsError(node, `Item ${index} carries a lease that is not a token (sync.lease is ${JSON.stringify(lease)})`, index);
			}
			if (token !== null && lease !== token) {
				throw itemsError(
					node,
					`The items carry two different leases (item ${index} differs from the items before it): they come from two runs`,
					index,
				);
			}
			token = lease;
		}
		return token;
	}

	constructor(
		private readonly store: SyncStore,
		private readonly token: string | null,
		private readonly node: INode,
		options: RunLeaseOptions = {},
	) {
		this.fence = token === null ? undefined : { ownerToken: token };
		this.renewEveryMs = options.renewEveryMs ?? RENEW_EVERY_MS;
		this.now = options.now ?? Date.now;
	}

	/**
	 * Before each batch of Hub writes: renews the lease (with the lease's own TTL), at most once every
	 * few seconds; throws a NodeOperationError caused by `LeaseLostError` when it lapsed or was taken over.
	 */
	async check(): Promise<void> {
		if (this.token === null) return;
		if (this.lost) throw this.lost;
		const now = this.now();
		if (now < this.nextRenewAt) return;
		const result = await this.store.renew(this.token);
		if (!result.renewed) {
			const holder = result.run ? await this.currentHolder(result.run.lockName) : null;
			this.lost = leaseLostNodeError(this.node, new LeaseLostError(result.reason, result.run, holder));
			throw this.lost;
		}
		// Ask again after the interval, or once half the remaining lease has gone if that comes first.
		const remaining = result.lease.expiresAt.getTime() - now;
		this.nextRenewAt = now + Math.max(0, Math.min(this.renewEveryMs, remaining / 2));
	}

	/** Who took the lock, for the message; a failure to find out must not hide the lost lease. */
	private async currentHolder(lockName: string) {
		try {
			return (await this.store.status(lockName, 0)).holder;
		} catch {
			return null;
		}
	}
}

/** True for a lost lease, as the store throws it or as a node reports it. */
export function isLeaseLost(error: unknown): boolean {
	return error instanceof LeaseLostError || (error instanceof Error && error.cause instanceof LeaseLostError);
}

/** The store's LeaseLostError as the node's error, keeping its message (which says what to do). */
export function leaseLostNodeError(node: INode, error: LeaseLostError): NodeOperationError {
	const failure = new NodeOperationError(node, error, {
		description:
			'The lease is the Sync Lock that keeps two runs of this sync apart. Another run may now hold it; this one wrote nothing more.',
	});
	failure.message = error.message;
	return failure;
}

function itemsError(node: INode | undefined, message: string, itemIndex: number): Error {
	const what =
		'Each run must write under its own Sync Lock lease: feed one node execution the items of one run only.';
	return node ? new NodeOperationError(node, message, { itemIndex, description: what }) : new Error(`${message}. ${what}`);
}
