/**
 * Items in and out. Every input item leaves exactly once, on Done or on Not Synced (its second output), paired with itself,
 * in input order; its `json` is passed on with `hub` (what happened in the Hub) or `error` added.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { memberKeyOf, type HubContactFields, type HubOutcome, type InvalidReason } from '../../shared/items';
import { HubApiError, HubInvalidInputError, HubUnavailableError, type HubInvalidField } from '../../shared/transport/hub';

export type { HubAction, HubOutcome } from '../../shared/items';

export interface ItemFailure {
	error: string;
	description?: string;
	/** The Hub's HTTP status, when the Hub answered. */
	hubStatus?: number;
	invalidFields?: HubInvalidField[];
	/** The run must be recorded as failed (CONTRACT §4), e.g. the removal guard refused. */
	fatal?: boolean;
}

/** A failure of one item that is not an HTTP error (a duplicate, a contact that belongs to another member). */
export class MemberProblem extends Error {
	constructor(
		message: string,
		readonly description?: string,
	) {
		super(message);
	}
}

const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';
const textOrNull = (v: unknown): string | null => (isText(v) ? v : null);

export interface UpsertInput {
	index: number;
	audienceId: string;
	memberKey: string;
	email: string | null;
	contact: HubContactFields;
	/** Mailchimp's sms_subscription_status is unsubscribed. */
	smsUnsubscribed: boolean;
	smsSubscribed: boolean;
	hubContactId: string | null;
	previousPhone: string | null;
	/** Both absent when the items did not come through change detection: then no ledger entry is written. */
	contentHash: string | null;
	syncName: string | null;
}

/** Map Fields' Valid output → what Upsert needs, or why the item cannot be used. */
export function readUpsertItem(item: INodeExecutionData, index: number): UpsertInput | string {
	const json = item.json;
	const contact = json.contact as IDataObject | undefined;
	const member = (json.member as IDataObject | undefined) ?? {};
	const sync = (json.sync as IDataObject | undefined) ?? {};
	if (!contact || typeof contact !== 'object' || !isText(contact.phone)) {
		const upstream = isText(json.error) ? ` (the previous node reported: ${json.error})` : '';
		return `This item has no Hub contact with a phone number${upstream}; connect Upsert Hub Contact to the Valid output of Map Fields`;
	}
	const memberKey = sync.memberKey ?? member.memberKey ?? memberKeyOf(member);
	const audienceId = sync.audienceId ?? member.audienceId;
	if (!isText(memberKey) || !isText(audienceId)) {
		return 'This item has no Mailchimp member key or audience (json.sync); connect Upsert Hub Contact after Fetch Tagged Members and Map Fields';
	}
	const customFields = Array.isArray(contact.customFields)
		? (contact.customFields as IDataObject[])
				.filter((f) => isText(f?.id))
				.map((f) => ({ id: f.id as string, value: f.value === null || f.value === undefined ? null : String(f.value) }))
		: [];
	const optional = (name: string) => (name in contact ? textOrNull(contact[name]) : undefined);
	const sms = member.smsSubscriptionStatus;
	return {
		index,
		audienceId,
		memberKey,
		email: textOrNull(member.email),
		contact: {
			phone: contact.phone as string,
			firstName: optional('firstName'),
			lastName: optional('lastName'),
			country: optional('country'),
			dateOfBirth: optional('dateOfBirth'),
			email: optional('email'),
			customFields,
		},
		smsUnsubscribed: sms === 'unsubscribed',
		smsSubscribed: sms === 'subscribed',
		hubContactId: textOrNull(sync.hubContactId),
		previousPhone: textOrNull(sync.previousPhone),
		contentHash: textOrNull(sync.contentHash),
		syncName: textOrNull(sync.syncName),
	};
}

export interface RemoveInput {
	index: number;
	syncName: string;
	audienceId: string;
	memberKey: string;
	/** Left the selection, or still selected but without a usable phone (Map Fields' Invalid, CONTRACT §3). */
	change: 'removed' | 'invalid';
	invalidReason: InvalidReason | null;
	/** Mailchimp's sms_subscription_status is unsubscribed (invalid rows). */
	smsUnsubscribed: boolean;
	hubContactId: string | null;
	phone: string | null;
}

/** Fetch Tagged Members' Removed output or Map Fields' Invalid output → what Remove needs, or why the item cannot be used. */
export function readRemoveItem(item: INodeExecutionData, index: number): RemoveInput | string {
	const sync = (item.json.sync as IDataObject | undefined) ?? {};
	const memberKey = sync.memberKey ?? item.json.memberKey;
	// A member who is still selected and valid must never reach a removal by a wiring mistake.
	if (!isText(memberKey) || !isText(sync.audienceId) || !isText(sync.syncName) || (sync.change !== 'removed' && sync.change !== 'invalid')) {
		return 'This item is not a removed member or an invalid row (json.sync with syncName, audienceId, memberKey and change "removed" or "invalid"); connect Remove to the Removed output of Fetch Tagged Members and the Invalid output of Map Fields';
	}
	const reason = sync.invalidReason;
	return {
		index,
		syncName: sync.syncName,
		audienceId: sync.audienceId,
		memberKey,
		change: sync.change,
		invalidReason: reason === 'phone-missing' || reason === 'phone-invalid' || reason === 'other' ? reason : sync.change === 'invalid' ? 'other' : null,
		smsUnsubscribed: sync.smsUnsubscribed === true,
		hubContactId: textOrNull(sync.hubContactId),
		// Fetch's removals carry the ledger's number as `phone`; Map Fields' invalid rows as `previousPhone`.
		phone: textOrNull(sync.phone) ?? textOrNull(sync.previousPhone),
	};
}

/** A Hub error → the item's failure, with the Hub's own reason. */
export function failureOf(error: unknown): ItemFailure {
	if (error instanceof HubInvalidInputError) {
		return { error: error.message, description: error.description ?? undefined, hubStatus: error.status, invalidFields: error.invalidFields };
	}
	if (error instanceof HubApiError) {
		return { error: error.message, description: error.description ?? undefined, hubStatus: error.status };
	}
	if (error instanceof MemberProblem) return { error: error.message, description: error.description };
	return { error: (error as Error).message ?? String(error) };
}

/** A Hub that stopped answering fails the run, not just these members (the run is recorded failed). */
export const notAttempted = (cause: HubUnavailableError): ItemFailure => ({
	error: 'Not attempted: the Sinch MessageMedia Hub stopped answering during this run; the next run carries this member again',
	description: cause.description ?? undefined,
	fatal: true,
});

/** Collects each item's one result and hands them out in input order. */
export class Outcomes {
	private readonly done = new Map<number, INodeExecutionData>();
	private readonly failed = new Map<number, INodeExecutionData>();

	constructor(private readonly items: INodeExecutionData[]) {}

	has(index: number): boolean {
		return this.done.has(index) || this.failed.has(index);
	}

	succeed(index: number, hub: HubOutcome): void {
		const json = this.items[index].json;
		const sync = json.sync && typeof json.sync === 'object' ? { ...(json.sync as IDataObject) } : undefined;
		if (sync && hub.contactId && hub.action !== 'deleted') sync.hubContactId = hub.contactId;
		// What happened, in the field Sync Lock Release can count a run by (Count Items By: sync.result).
		// An invalid row stays counted as invalid; what its contact went through is in `hub.action`.
		if (sync && sync.change !== 'invalid') sync.result = hub.action;
		this.done.set(index, {
			json: { ...json, ...(sync ? { sync } : {}), hub: hub as unknown as IDataObject },
			pairedItem: { item: index },
		});
	}

	fail(index: number, failure: ItemFailure): void {
		const given = Object.fromEntries(Object.entries(failure).filter(([, v]) => v !== undefined));
		this.failed.set(index, { json: { ...this.items[index].json, ...given } as IDataObject, pairedItem: { item: index } });
	}

	/** Every item fails with this, those already done too (their ledger entries were not saved). */
	failAll(failure: ItemFailure): void {
		this.done.clear();
		for (let i = 0; i < this.items.length; i++) if (!this.failed.has(i)) this.fail(i, failure);
	}

	/** Items no result was recorded for (after a node-level failure) fail with this. */
	failRest(failure: ItemFailure): void {
		for (let i = 0; i < this.items.length; i++) if (!this.has(i)) this.fail(i, failure);
	}

	outputs(): INodeExecutionData[][] {
		const ordered = (m: Map<number, INodeExecutionData>) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, item]) => item);
		return [ordered(this.done), ordered(this.failed)];
	}
}
