/** Small pieces both backends share, so they cannot drift apart. */
import { createHash, randomBytes, randomUUID } from 'crypto';

import { E164 } from '../phone';
import { assertName, invalidInput, SyncStoreError } from './errors';
import { OPT_OUT_SOURCES, type LeaseRefusal, type LedgerEntry, type OptOutRecord, type OptOutSource, type RunOutcome, type RunRecord, type StoredOptOut } from './types';

/** Owner token = execution id + 128 random bits; the id makes it recognisable, the random part unguessable. */
export function newOwnerToken(holder: string): string {
	return `${holder}.${randomBytes(16).toString('hex')}`;
}

/** The store keeps only a hash of each token, so reading the database is not enough to release a lease. */
export function hashToken(token: string): string {
	return createHash('sha256').update(token).digest('hex');
}

export function newRunId(): string {
	return randomUUID();
}

export const RUN_OUTCOMES: readonly RunOutcome[] = [
	'running',
	'success',
	'partial',
	'failed',
	'cancelled',
	'busy',
	'expired',
	'forced',
];

export const DEFAULT_RUN_LIMIT = 10;
export const MAX_RUN_LIMIT = 1000;

export function clampRunLimit(limit: number | undefined): number {
	if (limit === undefined) return DEFAULT_RUN_LIMIT;
	if (!Number.isInteger(limit) || limit < 0) throw invalidInput(`The number of runs to show must be 0 or more; got ${limit}`);
	return Math.min(limit, MAX_RUN_LIMIT);
}

/** Counts must be plain non-negative integers: they are summed and shown, never interpreted. */
export function cleanCounts(counts: Record<string, number> | undefined): Record<string, number> {
	const clean: Record<string, number> = {};
	for (const [kind, value] of Object.entries(counts ?? {})) {
		if (!Number.isFinite(value) || value < 0) throw invalidInput(`The count "${kind}" must be a non-negative number; got ${value}`);
		clean[kind] = Math.floor(value);
	}
	return clean;
}

/** Long error texts are cut: the run record is a summary, the execution log has the rest. */
export function clipSummary(text: string | undefined): string | null {
	if (text === undefined || text === '') return null;
	return text.length > 2000 ? `${text.slice(0, 1997)}...` : text;
}

/** Validates a batch and keeps the last entry per member, as one upsert may touch a row only once. */
export function dedupeLedger(entries: LedgerEntry[]): LedgerEntry[] {
	const byKey = new Map<string, LedgerEntry>();
	for (const entry of entries) {
		assertName('ledger sync name', entry.syncName);
		assertName('ledger audience id', entry.audienceId);
		assertName('ledger member key', entry.memberKey);
		assertName('ledger content hash', entry.contentHash);
		if (!(entry.syncedAt instanceof Date) || Number.isNaN(entry.syncedAt.getTime())) {
			throw invalidInput(`The ledger entry for member ${entry.memberKey} has no valid synced-at time`);
		}
		byKey.set(`${entry.syncName}\u0000${entry.audienceId}\u0000${entry.memberKey}`, entry);
	}
	return [...byKey.values()];
}

/**
 * Validates a batch of opt-outs (E.164 numbers, known sources) before any is written, and keeps the
 * first record per number: the store keeps the first anyway, and one statement may touch a row once.
 */
export function cleanOptOuts(records: OptOutRecord[]): OptOutRecord[] {
	const byPhone = new Map<string, OptOutRecord>();
	for (const record of records) {
		if (typeof record?.phone !== 'string' || !E164.test(record.phone)) {
			throw invalidInput(`An opt-out needs the number in E.164 form (e.g. +61491570156); got ${JSON.stringify(record?.phone)}`);
		}
		if (!OPT_OUT_SOURCES.includes(record.source)) {
			throw invalidInput(
				`The opt-out of ${record.phone} has an unknown source ${JSON.stringify(record.source)}; expected one of ${OPT_OUT_SOURCES.join(', ')}`,
			);
		}
		if (record.audienceId !== undefined && (typeof record.audienceId !== 'string' || record.audienceId.trim() === '')) {
			throw invalidInput(`The opt-out of ${record.phone} has an empty audience id; leave it out instead`);
		}
		if (!byPhone.has(record.phone)) byPhone.set(record.phone, record);
	}
	return [...byPhone.values()];
}

/** A row of hub_sync_ledger (content_hash, hub_contact_id, phone, synced_at), its time already a Date. */
export function toLedgerEntry(syncName: string, audienceId: string, memberKey: string, row: Record<string, unknown>): LedgerEntry {
	return {
		syncName,
		audienceId,
		memberKey,
		contentHash: row.content_hash as string,
		hubContactId: (row.hub_contact_id as string | null) ?? null,
		phone: (row.phone as string | null) ?? null,
		syncedAt: row.synced_at as Date,
	};
}

/** A row of hub_sync_opt_out, its time already a Date. */
export function toOptOut(row: Record<string, unknown>): StoredOptOut {
	return {
		phone: row.phone as string,
		source: row.source as OptOutSource,
		audienceId: (row.audience_id as string | null) ?? null,
		recordedAt: row.recorded_at as Date,
	};
}

export function uniquePhones(phones: string[]): string[] {
	for (const phone of phones) assertName('phone number', phone);
	return [...new Set(phones)];
}

/** Splits work into slices so one transaction (and, on SQLite, one blocking stretch) stays short. */
export function* chunks<T>(items: T[], size: number): Generator<T[]> {
	for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

export function notClaimed(phone: string): SyncStoreError {
	return new SyncStoreError(
		'invalid-input',
		`The consent request to ${phone} was not claimed for asking (or was already marked as asked); claim it before sending`,
	);
}

/** Why a token got nowhere, told from its run record (the lease row itself may be gone). */
export function refusalReason(run: RunRecord | null, leaseStillThere: boolean): LeaseRefusal {
	if (!run) return 'unknown-token';
	if (leaseStillThere || run.outcome === 'running' || run.outcome === 'expired') return 'expired';
	if (run.outcome === 'forced') return 'force-released';
	return 'already-released';
}
