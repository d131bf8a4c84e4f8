/** What Sync Lock puts into items: leases and runs as JSON, sentences for people, run summaries. */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import type { FinishedOutcome, LeaseInfo, LeaseRefusal, RunRecord, RunSummary } from '../shared/store';
import { isPreviewRun } from '../shared/preview';
import { localTime } from '../shared/words';

export const MINUTE = 60_000;

export function leaseJson(lease: LeaseInfo): IDataObject {
	return {
		holder: lease.holder,
		since: lease.acquiredAt.toISOString(),
		expiresAt: lease.expiresAt.toISOString(),
		runId: lease.runId,
	};
}

export function runJson(run: RunRecord): IDataObject {
	return {
		runId: run.id,
		outcome: run.outcome,
		trigger: run.triggerKind,
		holder: run.holder,
		audienceId: run.audienceId,
		startedAt: run.startedAt.toISOString(),
		finishedAt: run.finishedAt?.toISOString() ?? null,
		durationSeconds: run.finishedAt ? Math.round((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000) : null,
		counts: run.counts,
		errorSummary: run.errorSummary,
		forcedRelease: run.forcedRelease,
		...(isPreviewRun(run) ? { preview: true } : {}),
	};
}

/** "new 3, changed 1, errors 2", or "nothing" for an empty run. */
/**
 * The order counts are told in, whatever order the items arrived in (Collect Results' inputs follow the
 * canvas, not the story): what was written, then what was left, then what went wrong, then the cost.
 * A preview's would-… kinds stand beside their real ones; kinds not named here follow, alphabetically.
 */
const COUNT_ORDER = [
	'created',
	'would-create',
	'updated',
	'would-update',
	'unchanged',
	'removed-from-list',
	'would-remove-from-list',
	'unsubscribed',
	'would-unsubscribe',
	'deleted',
	'would-delete',
	'kept',
	'invalid',
	'awaiting-reply',
	'consent-skipped',
	'consent-opted-out',
	'consent-declined',
	'errors',
	'messages',
	'credits',
];

function countRank(kind: string): number {
	const at = COUNT_ORDER.indexOf(kind);
	return at === -1 ? COUNT_ORDER.length : at;
}

export function describeCounts(counts: Record<string, number>): string {
	const parts = Object.entries(counts)
		.filter(([, n]) => n > 0)
		.sort(([a], [b]) => countRank(a) - countRank(b) || a.localeCompare(b))
		.map(([kind, n]) => `${kind} ${n}`);
	return parts.length ? parts.join(', ') : 'nothing';
}

/** Times in the sentences are for people: in the workflow's time zone (the items' ISO fields are for machines). */
export function busyMessage(lockName: string, lease: LeaseInfo | null, timeZone?: string): string {
	if (!lease) return `The lock "${lockName}" was busy a moment ago; try again`;
	return `A sync of "${lockName}" is already running since ${localTime(lease.acquiredAt, timeZone)} (execution ${lease.holder}); its lease ends at ${localTime(lease.expiresAt, timeZone)} at the latest`;
}

export function refusalMessage(action: 'released' | 'renewed', reason: LeaseRefusal, run: RunRecord | null): string {
	const nothing = `Nothing ${action}`;
	switch (reason) {
		case 'unknown-token':
			return `${nothing}: this token never held a lease in this store. Check that it comes from the Acquire of this run and that both nodes use the same store.`;
		case 'expired':
			return `${nothing}: the lease ran out before this (run ${run?.id ?? 'unknown'}); another sync may have started since. Choose a longer lease duration, or renew during long runs.`;
		case 'force-released':
			return `${nothing}: an operator force-released this lease${run?.finishedAt ? ` at ${run.finishedAt.toISOString()}` : ''}.`;
		case 'already-released':
			return `${nothing}: this run already released its lease (${run?.outcome ?? 'finished'}${
				run?.finishedAt ? ` at ${run.finishedAt.toISOString()}` : ''
			}).`;
	}
}

export function statusMessage(lockName: string, holder: LeaseInfo | null, runs: RunRecord[], timeZone?: string): string {
	if (holder && runs.some((run) => run.id === holder.runId && isPreviewRun(run))) {
		return `A preview (dry run, writes nothing) is running since ${localTime(holder.acquiredAt, timeZone)} (execution ${holder.holder}); a sync started now takes the lock over`;
	}
	if (holder) {
		return `Running since ${localTime(holder.acquiredAt, timeZone)} (execution ${holder.holder}); lease until ${localTime(holder.expiresAt, timeZone)}`;
	}
	const last = runs.find((run) => run.outcome !== 'busy' && !isPreviewRun(run));
	if (!last) return `Idle; no sync of "${lockName}" has run yet`;
	const when = localTime(last.finishedAt ?? last.startedAt, timeZone);
	return `Idle; last run ${last.outcome} at ${when} (${describeCounts(last.counts)})`;
}

function valueAt(json: IDataObject, path: string): unknown {
	let value: unknown = json;
	for (const key of path.split('.')) {
		if (value === null || typeof value !== 'object') return undefined;
		value = (value as IDataObject)[key];
	}
	return value;
}

/**
 * Summarises the items that reach Release: one count per kind found at `countBy` (by default
 * `sync.result`: created, updated, unchanged, removed-from-list, invalid, …), and `errors` for items
 * that carry an error (from an error output or Continue On Fail). Items with neither, such as an
 * empty item, are not counted. One item with `fatal: true` makes the run failed.
 */
function isLeaseItem(item: INodeExecutionData): boolean {
	const { token, runId, lockName, sync, error } = item.json;
	// A node that failed on the lease item sends it on with an `error`: that one counts.
	const failed = item.error !== undefined || (error !== undefined && error !== null && error !== '');
	return !failed && typeof token === 'string' && typeof runId === 'string' && typeof lockName === 'string' && sync === undefined;
}

/** `json.consent.credits`: what the consent message sent for this member cost. */
function creditsOf(json: IDataObject): number {
	const consent = json.consent;
	const credits = consent && typeof consent === 'object' ? (consent as IDataObject).credits : undefined;
	return typeof credits === 'number' && Number.isFinite(credits) && credits > 0 ? credits : 0;
}

export function summariseItems(
	items: INodeExecutionData[],
	countBy: string,
	outcome: FinishedOutcome | 'auto',
	errorSummary: string,
): RunSummary {
	const counts: Record<string, number> = {};
	const errorMessages = new Set<string>();
	let errors = 0;
	let succeeded = 0;
	// An item that must make the run fail (e.g. Remove's removal guard refused), CONTRACT §4.
	let fatal: string | undefined;
	// Credits spent on consent messages (Apply Consent puts them on each item it sent one for).
	let credits = 0;
	// In a preview: the consent messages the run would send (their credits are counted as above).
	let messages = 0;
	for (const item of items) {
		// The Acquired item itself is usually merged in, so Release runs even when a run has nothing
		// to do; it is the lease, not a member, and is not counted.
		if (isLeaseItem(item)) continue;
		credits += creditsOf(item.json);
		if ((item.json.consent as IDataObject | undefined)?.status === 'would-send') messages++;
		const error = item.error ?? item.json.error;
		if (error !== undefined && error !== null && error !== '') {
			errors++;
			const message = typeof error === 'string' ? error : ((error as { message?: string }).message ?? JSON.stringify(error));
			// An error that names no member is a whole step's failure (n8n's error output of a node that stopped,
			// or its Continue On Fail item): the run failed, whatever the other items say.
			const member = valueAt(item.json, 'sync.memberKey') ?? item.json.memberKey;
			if (item.json.fatal === true || member === undefined || member === null) fatal ??= message;
			if (errorMessages.size < 3) errorMessages.add(message);
			continue;
		}
		const kind = countBy ? valueAt(item.json, countBy) : undefined;
		if (typeof kind === 'string' ? kind !== '' : typeof kind === 'number' || typeof kind === 'boolean') {
			counts[String(kind)] = (counts[String(kind)] ?? 0) + 1;
			succeeded++;
		} else if (Object.keys(item.json).length > 0) {
			counts.other = (counts.other ?? 0) + 1;
			succeeded++;
		}
	}
	if (errors > 0) counts.errors = errors;
	if (messages > 0) counts.messages = messages;
	if (credits > 0) counts.credits = credits;
	const chosen: FinishedOutcome =
		outcome !== 'auto' ? outcome : fatal !== undefined ? 'failed' : errors === 0 ? 'success' : succeeded > 0 ? 'partial' : 'failed';
	const summary =
		errorSummary.trim() ||
		(errors > 0
			? fatal !== undefined && errors === 1
				? `The run failed: ${fatal}`
				: `${fatal !== undefined ? `The run failed: ${fatal}. ` : ''}${errors} item${errors === 1 ? '' : 's'} failed: ${[...errorMessages].join('; ')}`
			: undefined);
	return { outcome: chosen, counts, errorSummary: summary };
}
