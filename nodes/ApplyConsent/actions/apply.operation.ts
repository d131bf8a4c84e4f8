/**
 * Apply to Members: the consent mode of the sync, as the Hub's Mailchimp integration offers it.
 *
 * The node has two positions in a sync, because the modes act at two moments:
 * - Before Upsert Hub Contact (where consent is configured): double opt-in holds back every member
 *   whose number has not confirmed, asks it once, and lets only confirmed numbers on to Upsert; the
 *   other modes pass every member on, carrying the settings.
 * - After Upsert Hub Contact (its Done output): the confirmation notification goes only to contacts
 *   the Hub has accepted, so a failed upsert never leads to a message. It reads the settings the items
 *   carry from the node before Upsert, so consent is configured in one place.
 *
 * Opt-out always wins: a number SMS-unsubscribed in Mailchimp, UNSUBSCRIBED in the Hub, on the Hub's
 * blacklist, or recorded as opted out in the store gets no message (and, in double opt-in, no contact).
 */
import {
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
	type NodeHint,
} from 'n8n-workflow';

import { memberKeyOf } from '../../shared/items';
import { RunLease } from '../../shared/lease';
import { hubClientFor, isPreview, markPreview, storeFor } from '../../shared/preview';
import { chunks } from '../../shared/chunks';
import type { ConsentRecord, LedgerEntry, OptOutRecord, SyncStore } from '../../shared/store';
import { openStoreForNode } from '../../shared/store/node';
import type { HubClient } from '../../shared/transport/hub';
import { sendOnce, type Recipient, type SendResult } from '../helpers/send';
import {
	COMPANY_PLACEHOLDER,
	CTIA_CONFIRMATION_TEXT,
	CTIA_REQUEST_TEXT,
	HUB_CONFIRMATION_TEXT,
	HUB_REQUEST_TEXT,
	countSegments,
	templateFor,
	renderText,
	segmentSummary,
	segmentsExpression,
	senderKind,
	senderNumberType,
	type ConsentMode,
	type TextPreset,
} from '../helpers/texts';

/**
 * The outputs of this operation, in order. Items whose message or member check failed go to Not Sent, not to
 * an output called Error: n8n adds its own Error output under "On Error: continue (using error output)".
 */
export const outputNames = ['Continue', 'Awaiting Reply', 'Skipped', 'Not Sent'];
/** Ledger entries written per store call. */
const LEDGER_BATCH = 1000;
const CONTINUE = 0;
const AWAITING = 1;
const SKIPPED = 2;
const ERROR = 3;

/** The one value of the SMS Segments dropdown, whose label is the count (see getSegmentCount). */
export const SEGMENT_COUNT = 'text';

const show = (extra: IDataObject = {}) => ({ show: { operation: ['apply'], ...extra } });
const configured = (modes: ConsentMode[], extra: IDataObject = {}) => show({ position: ['before'], mode: modes, ...extra });

export const description: INodeProperties[] = [
	{
		displayName: 'Position',
		name: 'position',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Before Upsert Hub Contact (Consent Settings)',
				value: 'before',
				description: 'Between Map Fields and Upsert: the consent mode and texts are set here; double opt-in asks and holds members back here',
			},
			{
				name: 'After Upsert Hub Contact (Send Confirmations)',
				value: 'after',
				description: "On Upsert's Done output: sends the confirmation notification to contacts the Hub accepted, with the settings of the node before Upsert",
			},
		],
		default: 'before',
		displayOptions: show(),
	},
	{
		displayName:
			'Uses the consent settings of the Apply Consent node before Upsert Hub Contact (the items carry them). In Confirmation Notification mode it messages newly synced contacts once; in the other modes it passes the items on.',
		name: 'afterNotice',
		type: 'notice',
		default: '',
		displayOptions: show({ position: ['after'] }),
	},
	{
		displayName: 'Consent Mode',
		name: 'mode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Confirmation Notification',
				value: 'confirmation',
				description:
					'Syncs your selected contacts across as subscribed by default and sends a confirmation message to alert each contact and provide an opt-out option (1 credit per message segment)',
			},
			{
				name: 'Double Opt-In',
				value: 'doubleOptIn',
				description:
					"Only syncs a contact after they've provided explicit consent by replying YES to the confirmation message (1 credit per message segment)",
			},
			{
				name: 'None (Inferred Consent)',
				value: 'none',
				description:
					'If your regional legislation allows, automatically opt in your contacts using inferred (or implied) consent: syncs them without a confirmation message',
			},
		],
		default: 'confirmation',
		description:
			"How contacts consent to SMS. The right option depends on your region's rules, and choosing it is your responsibility.",
		displayOptions: show({ position: ['before'] }),
	},
	{
		displayName: 'Company Name',
		name: 'companyName',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. Acme Coffee',
		description: `Put into the texts where they say ${COMPANY_PLACEHOLDER}`,
		displayOptions: configured(['confirmation', 'doubleOptIn']),
	},
	{
		displayName: 'Texts',
		name: 'textPreset',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: "The Hub's Texts", value: 'hub', description: `"${HUB_CONFIRMATION_TEXT}" / "${HUB_REQUEST_TEXT}"` },
			{ name: 'US (CTIA)', value: 'ctia', description: 'Adds brand, message frequency, "Msg & data rates may apply" and HELP, as CTIA asks for US programs' },
			{ name: 'Custom', value: 'custom', description: 'Your own words' },
		],
		default: 'hub',
		displayOptions: configured(['confirmation', 'doubleOptIn']),
	},
	{
		displayName: 'Confirmation Text',
		name: 'confirmationText',
		type: 'string',
		typeOptions: { rows: 3 },
		default: HUB_CONFIRMATION_TEXT,
		description: `${COMPANY_PLACEHOLDER} becomes the company name; nothing of the member is put in`,
		displayOptions: configured(['confirmation'], { textPreset: ['custom'] }),
	},
	{
		displayName: 'Request Text',
		name: 'requestText',
		type: 'string',
		typeOptions: { rows: 3 },
		default: HUB_REQUEST_TEXT,
		description: `${COMPANY_PLACEHOLDER} becomes the company name; nothing of the member is put in. Y or YES confirms, STOP opts out.`,
		displayOptions: configured(['doubleOptIn'], { textPreset: ['custom'] }),
	},
	{
		displayName:
			'Each message costs 1 credit per SMS segment: 160 characters (70 if any character is outside the GSM alphabet, e.g. an emoji or curly quote). SMS Segments below counts the text as it is sent, with the company name in.',
		name: 'segmentNotice',
		type: 'notice',
		default: '',
		displayOptions: configured(['confirmation', 'doubleOptIn']),
	},
	{
		// A dropdown with one entry, worked out by the server with countSegments each time the text, the
		// company name or the mode changes: n8n's editor evaluates no expression in a notice or hint text.
		// eslint-disable-next-line n8n-nodes-base/node-param-display-name-wrong-for-dynamic-options -- not a choice of names or IDs: it shows the count
		displayName: 'SMS Segments',
		name: 'segmentCount',
		type: 'options',
		noDataExpression: true,
		typeOptions: { loadOptionsMethod: 'getSegmentCount', loadOptionsDependsOn: ['mode', 'textPreset', 'companyName', 'confirmationText', 'requestText'] },
		default: SEGMENT_COUNT,
		// eslint-disable-next-line n8n-nodes-base/node-param-description-wrong-for-dynamic-options -- nothing to choose: the count of the text above
		description: 'The segments, and so the credits, one message of the text above takes; it follows the text as you type',
		displayOptions: configured(['confirmation', 'doubleOptIn']),
	},
	{
		displayName: 'Sender',
		name: 'sender',
		type: 'string',
		default: '',
		placeholder: 'e.g. +61491570156',
		description:
			"The number messages come from and replies go back to; empty uses the Hub's shared numbers. An alphanumeric sender ID cannot receive replies: refused for double opt-in, and STOP replies cannot reach you from it.",
		displayOptions: configured(['confirmation', 'doubleOptIn']),
	},
	{
		displayName: 'Ask Again After (Days)',
		name: 'reaskAfterDays',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description:
			'Ask a member who never answered once more after this many days (another paid message). 0: never ask again. A number that replied STOP is never asked again.',
		displayOptions: configured(['doubleOptIn']),
	},
	{
		displayName: 'Credit Budget per Run',
		name: 'creditBudget',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description: 'The most credits one run may spend on consent messages; members beyond it go to Skipped and get their message on a later run. 0: no limit.',
		displayOptions: configured(['confirmation', 'doubleOptIn']),
	},
];

/** The text as sent (templateFor + renderText, company name trimmed as readSettings does), as an expression for the hints. */
const TEXT_IN_PANEL =
	`($parameter.textPreset === "custom" ? ($parameter.mode === "doubleOptIn" ? $parameter.requestText : $parameter.confirmationText) : ` +
	`$parameter.textPreset === "ctia" ? ($parameter.mode === "doubleOptIn" ? ${JSON.stringify(CTIA_REQUEST_TEXT)} : ${JSON.stringify(CTIA_CONFIRMATION_TEXT)}) : ` +
	`($parameter.mode === "doubleOptIn" ? ${JSON.stringify(HUB_REQUEST_TEXT)} : ${JSON.stringify(HUB_CONFIRMATION_TEXT)}))` +
	`.split(${JSON.stringify(COMPANY_PLACEHOLDER)}).join(String($parameter.companyName || "").trim())`;
const IN_PANEL = `$parameter.operation === "apply" && $parameter.position === "before"`;

const SEGMENTS_IN_PANEL = segmentsExpression(TEXT_IN_PANEL);
/** Hints naming the exact segments up to this many; above it one hint says "more than". */
const SEGMENT_HINTS_UP_TO = 10;

/**
 * Warnings the editor shows in the panel while the parameters are edited. The editor evaluates only
 * their conditions (never the message), so a text of N segments shows the hint written for N.
 */
export const hints: NodeHint[] = [
	...Array.from({ length: SEGMENT_HINTS_UP_TO - 1 }, (_, i) => i + 2).map(
		(segments): NodeHint => ({
			message: `This text is ${segments} SMS segments: each message costs ${segments} credits. A shorter text, without emoji or curly quotes, costs less.`,
			type: 'warning',
			location: 'ndv',
			whenToDisplay: 'always',
			displayCondition: `={{ ${IN_PANEL} && $parameter.mode !== "none" && ${SEGMENTS_IN_PANEL} === ${segments} }}`,
		}),
	),
	{
		message: `This text is more than ${SEGMENT_HINTS_UP_TO} SMS segments: each message costs ${SEGMENT_HINTS_UP_TO + 1} credits or more. A shorter text, without emoji or curly quotes, costs less.`,
		type: 'warning',
		location: 'ndv',
		whenToDisplay: 'always',
		displayCondition: `={{ ${IN_PANEL} && $parameter.mode !== "none" && ${SEGMENTS_IN_PANEL} > ${SEGMENT_HINTS_UP_TO} }}`,
	},
	{
		message: 'Double opt-in needs a sender that can receive replies: an alphanumeric sender ID is refused. Enter a number, or leave Sender empty.',
		type: 'danger',
		location: 'ndv',
		whenToDisplay: 'always',
		displayCondition: `={{ ${IN_PANEL} && $parameter.mode === "doubleOptIn" && /[^+0-9]/.test(($parameter.sender || "").trim()) }}`,
	},
	{
		message: 'An alphanumeric sender ID cannot receive replies: contacts cannot reply STOP to the confirmation. Use a number if you can.',
		type: 'warning',
		location: 'ndv',
		whenToDisplay: 'always',
		displayCondition: `={{ ${IN_PANEL} && $parameter.mode === "confirmation" && /[^+0-9]/.test(($parameter.sender || "").trim()) }}`,
	},
];

/** What the node before Upsert hands to the one after it (json.consent.settings). */
interface CarriedSettings {
	mode: ConsentMode;
	content?: string;
	sender?: string;
	creditBudget?: number;
}

interface Settings extends CarriedSettings {
	content: string;
	sender: string;
	creditBudget: number;
	/** Double opt-in: days after which an unanswered request is sent again; 0 never. */
	reaskAfterDays?: number;
}

interface Member extends Recipient {
	smsUnsubscribed: boolean;
	json: IDataObject;
}

type Results = INodeExecutionData[][];

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<Results> {
	const out = await applyTo(this, items);
	// Each output in input order, whatever order the members were settled in.
	const indexOf = (item: INodeExecutionData) => (item.pairedItem as { item: number }).item;
	const sorted = out.map((output) => output.sort((a, b) => indexOf(a) - indexOf(b)));
	return isPreview(items) ? markPreview(sorted) : sorted;
}

async function applyTo(ctx: IExecuteFunctions, items: INodeExecutionData[]): Promise<Results> {
	const out: Results = outputNames.map(() => []);
	if (items.length === 0) return out;
	const position = ctx.getNodeParameter('position', 0, 'before') as 'before' | 'after';
	const emit = (output: number, index: number, json: IDataObject) => out[output].push({ json, pairedItem: { item: index } });

	if (position === 'before') {
		const settings = readSettings(ctx);
		if (settings.mode !== 'doubleOptIn') {
			const carried: CarriedSettings =
				settings.mode === 'confirmation' ? { mode: 'confirmation', content: settings.content, sender: settings.sender, creditBudget: settings.creditBudget } : { mode: 'none' };
			items.forEach((item, i) => emit(CONTINUE, i, passOn(item.json, settings.mode, carried)));
			return out;
		}
		await askForConsent(ctx, items, settings, emit);
		return out;
	}

	// After Upsert: the settings come with the items, from the node before Upsert.
	const carried = items.map((item) => carriedSettingsOf(item.json));
	const first = carried.find((c): c is CarriedSettings => c !== undefined);
	if (!first || carried.some((c) => c === undefined)) {
		throw new NodeOperationError(ctx.getNode(), 'The items carry no consent settings (json.consent.settings)', {
			description:
				'Put an Apply Consent node with Position "Before Upsert Hub Contact" between Map Fields and Upsert Hub Contact, and connect this node to the Done output of Upsert Hub Contact.',
		});
	}
	if (first.mode !== 'confirmation') {
		items.forEach((item, i) => emit(CONTINUE, i, withConsent(item.json, { status: 'passed' })));
		return out;
	}
	const settings: Settings = { mode: 'confirmation', content: String(first.content ?? ''), sender: String(first.sender ?? ''), creditBudget: Number(first.creditBudget ?? 0) };
	checkSettings(ctx, settings);
	await sendConfirmations(ctx, items, settings, emit, out);
	return out;
}

/**
 * Before Upsert, in confirmation mode, a new member's content hash travels in `consent.ledgerHash`
 * instead of `sync.contentHash`, so Upsert writes no ledger entry for them: Send Confirmations writes
 * it once the member's confirmation is settled. A run that stops in between leaves the member new to
 * the ledger, and the next run brings them back for their confirmation (the store's claim keeps it to one).
 */
function passOn(json: IDataObject, mode: ConsentMode, carried: CarriedSettings): IDataObject {
	const sync = json.sync && typeof json.sync === 'object' ? (json.sync as IDataObject) : undefined;
	const consent: IDataObject = { mode, status: 'passed', settings: carried as unknown as IDataObject };
	if (mode !== 'confirmation' || !sync || sync.change !== 'new' || typeof sync.contentHash !== 'string') return withConsent(json, consent);
	const { contentHash, ...rest } = sync;
	return withConsent({ ...json, sync: rest }, { ...consent, ledgerHash: contentHash });
}

function readSettings(ctx: IExecuteFunctions): Settings {
	const mode = ctx.getNodeParameter('mode', 0, 'confirmation') as ConsentMode;
	if (mode === 'none') return { mode, content: '', sender: '', creditBudget: 0 };
	const companyName = String(ctx.getNodeParameter('companyName', 0, '') ?? '').trim();
	const preset = ctx.getNodeParameter('textPreset', 0, 'hub') as TextPreset;
	const template = templateFor(mode, preset, {
		confirmation: String(ctx.getNodeParameter('confirmationText', 0, HUB_CONFIRMATION_TEXT) ?? ''),
		request: String(ctx.getNodeParameter('requestText', 0, HUB_REQUEST_TEXT) ?? ''),
	});
	if (!companyName && template.includes(COMPANY_PLACEHOLDER)) {
		throw new NodeOperationError(ctx.getNode(), 'The company name is empty', {
			description: `Enter the name your contacts know you by; the text says ${COMPANY_PLACEHOLDER} where it goes.`,
		});
	}
	const settings: Settings = {
		mode,
		content: renderText(template, companyName),
		sender: String(ctx.getNodeParameter('sender', 0, '') ?? '').trim(),
		creditBudget: Number(ctx.getNodeParameter('creditBudget', 0, 0) ?? 0),
		reaskAfterDays: mode === 'doubleOptIn' ? Number(ctx.getNodeParameter('reaskAfterDays', 0, 0) ?? 0) : 0,
	};
	checkSettings(ctx, settings);
	return settings;
}

function checkSettings(ctx: IExecuteFunctions, settings: Settings): void {
	if (settings.content.trim() === '') {
		throw new NodeOperationError(ctx.getNode(), 'The consent text is empty', { description: 'Enter the text, or choose the Hub\'s texts.' });
	}
	if (!Number.isFinite(settings.creditBudget) || settings.creditBudget < 0) {
		throw new NodeOperationError(ctx.getNode(), `The credit budget must be 0 or more, not ${String(settings.creditBudget)}`, {
			description: 'Enter the most credits a run may spend on consent messages, or 0 for no limit.',
		});
	}
	const reask = settings.reaskAfterDays ?? 0;
	if (!Number.isFinite(reask) || reask < 0) {
		throw new NodeOperationError(ctx.getNode(), `Ask Again After must be 0 or more days, not ${String(reask)}`, {
			description: 'Enter the days after which an unanswered member is asked once more, or 0 to never ask again.',
		});
	}
	const kind = senderKind(settings.sender);
	if (settings.mode === 'doubleOptIn' && kind === 'alphanumeric') {
		throw new NodeOperationError(ctx.getNode(), `The sender "${settings.sender}" is an alphanumeric sender ID, which cannot receive replies`, {
			description: "Double opt-in needs the member's Y or YES to come back: enter a number that receives replies, or leave Sender empty for the Hub's shared numbers.",
		});
	}
	const segments = countSegments(settings.content);
	const hints: Array<{ message: string; type: 'info' | 'warning' }> = [
		{
			message: `The consent text takes ${segmentSummary(segments)}.`,
			type: segments.segments > 1 ? 'warning' : 'info',
		},
	];
	if (settings.mode === 'confirmation' && kind === 'alphanumeric') {
		hints.push({
			message: `The sender "${settings.sender}" is an alphanumeric sender ID: contacts cannot reply STOP to it. Use a number that receives replies.`,
			type: 'warning',
		});
	}
	ctx.addExecutionHints?.(...hints.map((h) => ({ ...h, location: 'outputPane' as const })));
}

function carriedSettingsOf(json: IDataObject): CarriedSettings | undefined {
	const consent = json.consent as IDataObject | undefined;
	const settings = consent && typeof consent === 'object' ? (consent.settings as IDataObject | undefined) : undefined;
	if (!settings || typeof settings !== 'object') return undefined;
	const mode = settings.mode;
	if (mode !== 'confirmation' && mode !== 'doubleOptIn' && mode !== 'none') return undefined;
	return settings as unknown as CarriedSettings;
}

function withConsent(json: IDataObject, consent: IDataObject, sync?: IDataObject): IDataObject {
	const previous = json.consent && typeof json.consent === 'object' ? (json.consent as IDataObject) : {};
	return { ...json, ...(sync ? { sync: { ...((json.sync as IDataObject) ?? {}), ...sync } } : {}), consent: { ...previous, ...consent } };
}

function readMember(json: IDataObject, index: number): Member | string {
	const contact = json.contact as IDataObject | undefined;
	const member = (json.member as IDataObject | undefined) ?? {};
	const sync = (json.sync as IDataObject | undefined) ?? {};
	const phone = contact && typeof contact === 'object' ? contact.phone : undefined;
	if (typeof phone !== 'string' || !/^\+\d{8,15}$/.test(phone)) {
		return 'This item has no Hub contact with an E.164 phone number (json.contact.phone); connect Apply Consent after the Valid output of Map Fields, or after the Done output of Upsert Hub Contact';
	}
	const memberKey = memberKeyOf(json as { sync?: unknown }) ?? memberKeyOf(member as { contactId?: unknown; memberId?: unknown });
	const audienceId = sync.audienceId ?? member.audienceId;
	if (typeof memberKey !== 'string' || typeof audienceId !== 'string' || audienceId === '') {
		return 'This item has no Mailchimp member key or audience (json.sync); connect Apply Consent after Fetch Tagged Members and Map Fields';
	}
	const syncName = typeof sync.syncName === 'string' && sync.syncName !== '' ? sync.syncName : undefined;
	return { index, audienceId, memberKey, phone, ...(syncName ? { syncName } : {}), smsUnsubscribed: member.smsSubscriptionStatus === 'unsubscribed' || sync.smsUnsubscribed === true, json };
}

/**
 * Why each member's number must not be messaged (opt-out wins), from Mailchimp, the store and the
 * Hub; the opt-outs seen in Mailchimp and the Hub are recorded in the store.
 */
async function optOutReasons(client: HubClient, store: SyncStore, members: Member[], consent: Map<string, ConsentRecord>): Promise<Map<number, string>> {
	const reasons = new Map<number, string>();
	const phones = [...new Set(members.map((m) => m.phone))];
	if (phones.length === 0) return reasons;
	const recorded = await store.readOptOuts(phones);
	const contacts = await client.findContactsByPhone(phones);
	const authorised = await client.checkAuthorised(phones);
	const seen: OptOutRecord[] = [];
	for (const m of members) {
		const hubUnsubscribed = (contacts.get(m.phone) ?? []).some((c) =>
			c.channels.some((ch) => ch.channelId === m.phone && ch.type === 'SMS' && ch.subscriptionState === 'UNSUBSCRIBED'),
		);
		const blacklisted = authorised.get(m.phone) === false;
		const state = consent.get(key(m))?.state;
		let reason: string | undefined;
		if (m.smsUnsubscribed) reason = 'SMS-unsubscribed in Mailchimp';
		else if (blacklisted) reason = "on the Hub's blacklist";
		else if (hubUnsubscribed) reason = 'UNSUBSCRIBED in the Hub';
		else if (recorded.has(m.phone) || state === 'opted-out') reason = 'opted out before (recorded in the sync store)';
		if (m.smsUnsubscribed) seen.push({ phone: m.phone, source: 'mailchimp-sms-unsubscribed', audienceId: m.audienceId });
		if (blacklisted) seen.push({ phone: m.phone, source: 'hub-blacklist', audienceId: m.audienceId });
		if (hubUnsubscribed) seen.push({ phone: m.phone, source: 'hub-unsubscribed', audienceId: m.audienceId });
		if (reason) reasons.set(m.index, reason);
	}
	if (seen.length > 0) await store.recordOptOuts(seen);
	return reasons;
}

const key = (r: { audienceId: string; phone: string }) => `${r.audienceId}\n${r.phone}`;

async function consentRecords(store: SyncStore, members: Member[]): Promise<Map<string, ConsentRecord>> {
	const records = new Map<string, ConsentRecord>();
	for (const audienceId of new Set(members.map((m) => m.audienceId))) {
		for (const record of await store.readConsent(audienceId)) records.set(key(record), record);
	}
	return records;
}

interface Setup {
	store: SyncStore;
	lease: RunLease;
	client: HubClient;
}

async function setUp(ctx: IExecuteFunctions, items: INodeExecutionData[]): Promise<Setup> {
	const store = storeFor(items, await openStoreForNode(ctx, 0));
	const lease = new RunLease(store, RunLease.tokenOf(items, ctx.getNode()), ctx.getNode());
	const client = await hubClientFor(ctx, items);
	await lease.check();
	return { store, lease, client };
}

/** The members the budget allows (in input order), and those beyond it. */
function withinBudget<T>(members: T[], settings: Settings): { send: T[]; over: T[]; reason: string } {
	const credits = countSegments(settings.content).segments;
	if (settings.creditBudget <= 0) return { send: members, over: [], reason: '' };
	const fits = Math.floor(settings.creditBudget / credits);
	return {
		send: members.slice(0, fits),
		over: members.slice(fits),
		reason: `Over this run's credit budget of ${settings.creditBudget} credit${settings.creditBudget === 1 ? '' : 's'} (${credits} per message): the message goes out on a later run`,
	};
}

type Emit = (output: number, index: number, json: IDataObject) => void;

function sentConsent(result: SendResult): IDataObject {
	switch (result.status) {
		case 'sent':
			return { status: 'sent', messageId: result.messageId, requestId: result.requestId, credits: result.credits };
		case 'already-claimed':
			return { status: 'already-asked', note: 'Another run asked this number already; not sent again' };
		case 'unknown':
			return { status: 'claimed-unknown', requestId: result.requestId, note: result.error };
		case 'failed':
			return { status: 'failed' };
	}
}

async function sendConfirmations(ctx: IExecuteFunctions, items: INodeExecutionData[], settings: Settings, emit: Emit, out: Results): Promise<void> {
	const members: Member[] = [];
	for (const [i, item] of items.entries()) {
		const hub = (item.json.hub as IDataObject | undefined) ?? {};
		const sync = (item.json.sync as IDataObject | undefined) ?? {};
		if (!item.json.hub) {
			emit(ERROR, i, { ...item.json, error: 'This item has no Hub outcome (json.hub); connect this node to the Done output of Upsert Hub Contact' });
			continue;
		}
		// Newly synced: the Hub created the contact now, or the member is new to the ledger (e.g. kept
		// back by the budget last run). A rename or a later run is neither.
		const newlySynced = hub.action === 'created' || sync.change === 'new';
		if (!newlySynced || hub.subscription !== 'SUBSCRIBED') {
			emit(CONTINUE, i, withConsent(item.json, { status: 'not-needed' }));
			continue;
		}
		const member = readMember(item.json, i);
		if (typeof member === 'string') emit(ERROR, i, { ...item.json, error: member });
		else members.push(member);
	}
	const deferred = items.some((item) => typeof (item.json.consent as IDataObject | undefined)?.ledgerHash === 'string');
	if (members.length === 0 && !deferred) return;
	const { store, lease, client } = await setUp(ctx, items);
	await confirm(store, lease, client, members, settings, emit);
	// The members whose confirmation is settled (sent, not needed, opted out, asked before) join the
	// ledger now; those kept back by the budget or failed stay new, so the next run brings them back.
	await writeDeferredLedger(store, lease, out[CONTINUE]);
}

async function writeDeferredLedger(store: SyncStore, lease: RunLease, settled: INodeExecutionData[]): Promise<void> {
	const entries: LedgerEntry[] = [];
	for (const item of settled) {
		const consent = item.json.consent as IDataObject | undefined;
		const sync = (item.json.sync as IDataObject | undefined) ?? {};
		const hub = (item.json.hub as IDataObject | undefined) ?? {};
		const contact = (item.json.contact as IDataObject | undefined) ?? {};
		const hash = consent?.ledgerHash;
		if (typeof hash !== 'string' || typeof sync.syncName !== 'string' || typeof sync.audienceId !== 'string' || typeof sync.memberKey !== 'string') continue;
		entries.push({
			syncName: sync.syncName,
			audienceId: sync.audienceId,
			memberKey: sync.memberKey,
			contentHash: hash,
			hubContactId: typeof hub.contactId === 'string' ? hub.contactId : null,
			phone: typeof contact.phone === 'string' ? contact.phone : null,
			syncedAt: new Date(),
		});
	}
	for (const batch of chunks(entries, LEDGER_BATCH)) await store.upsertLedger(batch, lease.fence);
}

async function confirm(store: SyncStore, lease: RunLease, client: HubClient, members: Member[], settings: Settings, emit: Emit): Promise<void> {
	if (members.length === 0) return;
	const consent = await consentRecords(store, members);
	const optedOut = await optOutReasons(client, store, members, consent);
	const fresh: Member[] = [];
	for (const m of members) {
		const reason = optedOut.get(m.index);
		const record = consent.get(key(m));
		if (reason) emit(CONTINUE, m.index, withConsent(m.json, { status: 'opted-out', reason: `Not messaged: the number is ${reason}` }));
		else if (record) emit(CONTINUE, m.index, withConsent(m.json, { status: record.state === 'claimed' ? 'claimed-unknown' : 'already-asked', reason: `This number was messaged for this audience before (${record.state})` }));
		else fresh.push(m);
	}
	const { send, over, reason } = withinBudget(fresh, settings);
	// Kept back by the budget: the contact stays as the Hub has it, and the member leaves the ledger,
	// so the next run carries them again (as new) and sends their confirmation then.
	const bySync = new Map<string, Member[]>();
	for (const m of over) {
		const syncName = (m.json.sync as IDataObject | undefined)?.syncName;
		if (typeof syncName === 'string' && syncName !== '') bySync.set(`${syncName}\n${m.audienceId}`, [...(bySync.get(`${syncName}\n${m.audienceId}`) ?? []), m]);
	}
	for (const [k, group] of bySync) {
		const [syncName, audienceId] = k.split('\n');
		await store.deleteLedger(syncName, audienceId, group.map((m) => m.memberKey), lease.fence);
	}
	for (const m of over) emit(SKIPPED, m.index, withConsent(m.json, { status: 'skipped', reason }));
	const segments = countSegments(settings.content).segments;
	const byIndex = new Map(send.map((m) => [m.index, m]));
	await sendOnce(client, store, lease, send, { content: settings.content, sender: settings.sender, senderType: senderNumberType(settings.sender), kind: 'consent-confirmation', credits: segments }, (r, result) => {
		const m = byIndex.get(r.index)!;
		if (result.status === 'failed') emit(ERROR, r.index, { ...withConsent(m.json, sentConsent(result)), error: result.error, ...(result.description ? { description: result.description } : {}) });
		else emit(CONTINUE, r.index, withConsent(m.json, sentConsent(result)));
	});
}

async function askForConsent(ctx: IExecuteFunctions, items: INodeExecutionData[], settings: Settings, emit: Emit): Promise<void> {
	const members: Member[] = [];
	for (const [i, item] of items.entries()) {
		const member = readMember(item.json, i);
		if (typeof member === 'string') emit(ERROR, i, { ...item.json, error: member });
		else members.push(member);
	}
	if (members.length === 0) return;
	const base = { mode: 'doubleOptIn', settings: { mode: 'doubleOptIn' } };
	const { store, lease, client } = await setUp(ctx, items);
	const consent = await consentRecords(store, members);
	const optedOut = await optOutReasons(client, store, members, consent);
	const toAsk: Member[] = [];
	const reaskDays = settings.reaskAfterDays ?? 0;
	const askedBefore = reaskDays > 0 ? new Date(Date.now() - reaskDays * 86_400_000) : undefined;
	for (const m of members) {
		const reason = optedOut.get(m.index);
		const record = consent.get(key(m));
		if (reason) {
			emit(SKIPPED, m.index, withConsent(m.json, { ...base, status: 'opted-out', reason: `Not synced and not asked: the number is ${reason}` }, { result: 'consent-opted-out' }));
		} else if (record?.state === 'confirmed') {
			emit(CONTINUE, m.index, withConsent(m.json, { ...base, status: 'confirmed', answeredAt: record.answeredAt?.toISOString() ?? null }));
		} else if (record?.state === 'asked' && askedBefore && record.askedAt && record.askedAt < askedBefore) {
			toAsk.push({ ...m, reaskIfAskedBefore: askedBefore });
		} else if (record?.state === 'asked' || record?.state === 'claimed') {
			const note =
				record.state === 'claimed'
					? 'The request may not have gone out (its answer was lost); it is not sent again. Check the Hub\'s sent messages for this number.'
					: `Asked ${record.askedAt?.toISOString() ?? ''}; waiting for Y or YES`;
			emit(AWAITING, m.index, withConsent(m.json, { ...base, status: record.state === 'claimed' ? 'claimed-unknown' : 'awaiting-reply', note }, { result: 'awaiting-reply' }));
		} else if (record) {
			emit(SKIPPED, m.index, withConsent(m.json, { ...base, status: record.state, reason: `Not synced: the member answered "${record.answer ?? ''}" (${record.state})` }, { result: 'consent-declined' }));
		} else toAsk.push(m);
	}
	const { send, over, reason } = withinBudget(toAsk, settings);
	for (const m of over) emit(SKIPPED, m.index, withConsent(m.json, { ...base, status: 'skipped', reason }, { result: 'consent-skipped' }));
	const segments = countSegments(settings.content).segments;
	const byIndex = new Map(send.map((m) => [m.index, m]));
	await sendOnce(client, store, lease, send, { content: settings.content, sender: settings.sender, senderType: senderNumberType(settings.sender), kind: 'consent-request', credits: segments }, (r, result) => {
		const m = byIndex.get(r.index)!;
		const json = withConsent(m.json, { ...base, ...sentConsent(result) }, { result: 'awaiting-reply' });
		if (result.status === 'failed') emit(ERROR, r.index, { ...json, error: result.error, ...(result.description ? { description: result.description } : {}) });
		else emit(AWAITING, r.index, json);
	});
}
