/**
 * The Mailchimp emulator's state: accounts with their credentials, audiences, tags (static
 * segments), members and merge fields, plus the indexes that keep a 1,000-member page cheap even in
 * a 100,000-member audience. The HTTP layer (mailchimp.ts) only reads views from here; tests and the
 * `/_control` API change it through the mutation methods, which keep `last_changed` honest.
 *
 * The dataset (`MailchimpDataset`) is plain JSON. Account-level keys are the emulator's own
 * (camelCase); lists, segments, members and merge fields use Mailchimp's own field names.
 */
import { createHash } from 'node:crypto';

export const MEMBER_STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional', 'archived'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];
export const SMS_STATUSES = ['subscribed', 'unsubscribed', 'nonsubscribed', 'pending'] as const;
export type SmsSubscriptionStatus = (typeof SMS_STATUSES)[number];
export type SegmentType = 'static' | 'saved' | 'fuzzy';

export interface MailchimpAddress {
	addr1: string;
	addr2: string;
	city: string;
	state: string;
	zip: string;
	country: string;
}
export type MergeValue = string | number | MailchimpAddress;

// ---------------------------------------------------------------------------------------------
// Dataset (JSON)
// ---------------------------------------------------------------------------------------------

export interface DatasetMergeField {
	tag: string;
	name: string;
	type: 'text' | 'number' | 'address' | 'phone' | 'date' | 'url' | 'imageurl' | 'radio' | 'dropdown' | 'birthday' | 'zip';
	merge_id?: number;
	required?: boolean;
	default_value?: string;
	public?: boolean;
	display_order?: number;
	options?: Record<string, unknown>;
	help_text?: string;
}

export interface DatasetSegment {
	/** Generated when absent. */
	id?: number;
	name: string;
	/** `static` = a tag (the default). */
	type?: SegmentType;
	created_at?: string;
	updated_at?: string;
	/** Saved/fuzzy segments only: their members' emails (conditions are not evaluated). */
	members?: string[];
}

export interface DatasetMember {
	email_address: string;
	status: MemberStatus;
	merge_fields?: Record<string, MergeValue>;
	/** Overrides the full name otherwise built from FNAME and LNAME. */
	full_name?: string;
	sms_phone_number?: string;
	sms_subscription_status?: SmsSubscriptionStatus | '';
	sms_subscription_last_updated?: string;
	/** Tag names; a tag that is not in `segments` is created as a static segment. */
	tags?: string[];
	last_changed?: string;
	timestamp_signup?: string;
	timestamp_opt?: string;
	contact_id?: string;
	unique_email_id?: string;
	web_id?: number;
	email_type?: 'html' | 'text';
	source?: string;
	language?: string;
	vip?: boolean;
	unsubscribe_reason?: string;
}

export interface DatasetList {
	/** 10 hex characters, like Mailchimp's. */
	id: string;
	name: string;
	web_id?: number;
	date_created?: string;
	company?: string;
	country?: string;
	from_name?: string;
	from_email?: string;
	/** Defaults to Mailchimp's FNAME, LNAME, ADDRESS, PHONE, BIRTHDAY. */
	merge_fields?: DatasetMergeField[];
	segments?: DatasetSegment[];
	members: DatasetMember[];
}

export interface DatasetAccount {
	id: string;
	name: string;
	/** Data center, e.g. `us6`; API keys end with `-<dc>`. */
	dc: string;
	loginEmail?: string;
	/** `<32 hex>-<dc>`. */
	apiKeys?: string[];
	/** OAuth access tokens (they never expire at Mailchimp). */
	oauthTokens?: string[];
	lists: DatasetList[];
}

export interface DatasetOAuthApp {
	clientId: string;
	clientSecret: string;
}

export interface MailchimpDataset {
	accounts: DatasetAccount[];
	oauthApps?: DatasetOAuthApp[];
}

// ---------------------------------------------------------------------------------------------
// Time and ids
// ---------------------------------------------------------------------------------------------

/** Mailchimp timestamps: second precision, `+00:00`. */
export function formatTime(seconds: number): string {
	return `${new Date(seconds * 1000).toISOString().slice(0, 19)}+00:00`;
}

/** Epoch seconds (floored), or NaN. A `+` that a careless client left unencoded arrives as a space. */
export function parseTime(value: string): number {
	let ms = Date.parse(value);
	if (Number.isNaN(ms)) ms = Date.parse(value.replace(' ', '+'));
	return Math.floor(ms / 1000);
}

export const md5 = (text: string) => createHash('md5').update(text).digest('hex');
/** A member's id and subscriber hash: MD5 of the lower-cased email (same in every audience). */
export const subscriberHash = (email: string) => md5(email.trim().toLowerCase());
const numberFrom = (text: string) => parseInt(md5(text).slice(0, 8), 16) % 900_000_000 + 100_000_000;

export const DEFAULT_MERGE_FIELDS: DatasetMergeField[] = [
	{ tag: 'FNAME', name: 'First Name', type: 'text', options: { size: 25 } },
	{ tag: 'LNAME', name: 'Last Name', type: 'text', options: { size: 25 } },
	{ tag: 'ADDRESS', name: 'Address', type: 'address', options: { default_country: 164 } },
	{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
	{ tag: 'BIRTHDAY', name: 'Birthday', type: 'birthday', options: { date_format: 'MM/DD' } },
];

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

export class Member {
	hash: string;
	email: string;
	/** Tags in the order they were added, and when each was added (epoch s). Arrays, not a Map:
	 *  a 100,000-member audience must stay light. */
	readonly tags: Segment[] = [];
	readonly tagAddedAt: number[] = [];
	/** Saved segments the member belongs to (rare, so created on demand). */
	savedSegments?: Set<Segment>;

	constructor(
		readonly audience: Audience,
		email: string,
		hash: string,
		public status: MemberStatus,
		public mergeFields: Record<string, MergeValue>,
		public fullNameOverride: string | undefined,
		public smsPhone: string,
		public smsStatus: SmsSubscriptionStatus | '',
		public smsLastUpdated: number | undefined,
		public lastChanged: number,
		public signup: number | undefined,
		public opt: number | undefined,
		readonly contactId: string,
		readonly uniqueEmailId: string,
		readonly webId: number,
		public emailType: 'html' | 'text',
		public source: string,
		public language: string,
		public vip: boolean,
		public unsubscribeReason: string | undefined,
		/** Insertion order, the order of unsorted listings. */
		readonly seq: number,
	) {
		this.email = email;
		this.hash = hash;
	}

	hasTag(segment: Segment): boolean {
		return this.tags.includes(segment);
	}

	addTag(segment: Segment, at: number): boolean {
		if (this.hasTag(segment)) return false;
		this.tags.push(segment);
		this.tagAddedAt.push(at);
		return true;
	}

	removeTag(segment: Segment): boolean {
		const i = this.tags.indexOf(segment);
		if (i === -1) return false;
		this.tags.splice(i, 1);
		this.tagAddedAt.splice(i, 1);
		return true;
	}

	get fullName(): string {
		if (this.fullNameOverride !== undefined) return this.fullNameOverride;
		const first = this.mergeFields.FNAME;
		const last = this.mergeFields.LNAME;
		return [first, last].filter((p) => typeof p === 'string' && p !== '').join(' ');
	}
}

export class Segment {
	readonly members = new Set<Member>();
	constructor(
		readonly audience: Audience,
		readonly id: number,
		public name: string,
		readonly type: SegmentType,
		readonly createdAt: number,
		public updatedAt: number,
	) {}
}

/** Which extra statuses a segment listing includes (unsubscribed/cleaned/transactional are hidden by default). */
export interface IncludeFlags {
	unsubscribed: boolean;
	cleaned: boolean;
	transactional: boolean;
}

export class Audience {
	readonly members = new Map<string, Member>();
	readonly byContactId = new Map<string, Member>();
	readonly segments = new Map<number, Segment>();
	/** Static segments by lower-cased name. */
	readonly tagsByName = new Map<string, Segment>();
	/** Bumped by every change; the caches below are only valid for the version they were built at. */
	version = 0;
	private cacheVersion = -1;
	private readonly cache = new Map<string, unknown>();

	constructor(
		readonly account: Account,
		readonly id: string,
		public name: string,
		readonly webId: number,
		readonly dateCreated: number,
		readonly company: string,
		readonly country: string,
		readonly fromName: string,
		readonly fromEmail: string,
		readonly mergeFields: Array<Required<Pick<DatasetMergeField, 'merge_id' | 'display_order'>> & DatasetMergeField>,
	) {}

	touch(): void {
		this.version++;
	}

	/** Memoises `build` under `key` until the audience changes. */
	cached<T>(key: string, build: () => T): T {
		if (this.cacheVersion !== this.version) {
			this.cache.clear();
			this.cacheVersion = this.version;
		}
		if (!this.cache.has(key)) {
			// Keep the cache bounded: many different member queries between two changes are rare.
			if (this.cache.size > 64) this.cache.clear();
			this.cache.set(key, build());
		}
		return this.cache.get(key) as T;
	}

	tagByName(name: string): Segment | undefined {
		return this.tagsByName.get(name.trim().toLowerCase());
	}

	/** A member by subscriber hash, email address or contact id (the API accepts all three). */
	findMember(key: string): Member | undefined {
		return this.members.get(key.toLowerCase()) ?? this.members.get(subscriberHash(key)) ?? this.byContactId.get(key);
	}

	/** The members a segment listing shows by default plus the flagged statuses; never archived ones. */
	visibleSegmentMembers(segment: Segment, flags: IncludeFlags): Member[] {
		const key = `segment:${segment.id}:${+flags.unsubscribed}${+flags.cleaned}${+flags.transactional}`;
		return this.cached(key, () => {
			const out: Member[] = [];
			for (const member of segment.members) if (isVisibleInSegment(member.status, flags)) out.push(member);
			return out;
		});
	}
}

export function isVisibleInSegment(status: MemberStatus, flags: IncludeFlags): boolean {
	switch (status) {
		case 'subscribed':
		case 'pending':
			return true;
		case 'unsubscribed':
			return flags.unsubscribed;
		case 'cleaned':
			return flags.cleaned;
		case 'transactional':
			return flags.transactional;
		default:
			return false;
	}
}

export class Account {
	readonly apiKeys: Set<string>;
	readonly oauthTokens: Set<string>;
	readonly audiences = new Map<string, Audience>();
	/** Requests being answered right now (Mailchimp allows 10 at a time per account). */
	inFlight = 0;

	constructor(
		readonly id: string,
		readonly name: string,
		readonly dc: string,
		readonly loginEmail: string,
		apiKeys: string[],
		oauthTokens: string[],
	) {
		this.apiKeys = new Set(apiKeys);
		this.oauthTokens = new Set(oauthTokens);
	}

	/** A stable numeric id for OAuth metadata (`user_id`, `login_id`). */
	get userId(): number {
		return numberFrom(`user:${this.id}`);
	}
}

/** A change to a member made through the control API (what a user would do in Mailchimp's UI). */
export interface MemberPatch {
	email_address?: string;
	/** Merged into the member's merge fields. */
	merge_fields?: Record<string, MergeValue>;
	full_name?: string;
	sms_phone_number?: string;
	sms_subscription_status?: SmsSubscriptionStatus | '';
	status?: MemberStatus;
	unsubscribe_reason?: string;
	vip?: boolean;
	language?: string;
}

export class StateError extends Error {
	constructor(
		readonly status: number,
		message: string,
	) {
		super(message);
	}
}

export interface StateSettings {
	/**
	 * Whether adding or removing a tag changes a member's `last_changed`. Mailchimp does not document
	 * it (see the reference sheet), so the default is the pessimistic answer — no — and tests can
	 * switch it to prove the sync is correct either way.
	 */
	tagChangesUpdateLastChanged: boolean;
}

export class MailchimpState {
	readonly accounts: Account[] = [];
	readonly oauthApps: DatasetOAuthApp[] = [];
	readonly settings: StateSettings = { tagChangesUpdateLastChanged: false };
	private frozenNow: number | undefined;
	private nextSegmentId = 10_001;
	private nextSeq = 0;

	constructor(dataset: MailchimpDataset) {
		this.load(dataset);
	}

	// --- clock ---------------------------------------------------------------------------------

	/** Epoch seconds; frozen with `setNow` so tests can place changes on exact seconds. */
	now(): number {
		return this.frozenNow ?? Math.floor(Date.now() / 1000);
	}

	/** Freezes the clock at `iso` (or an epoch-seconds number); `undefined` returns to real time. */
	setNow(value: string | number | undefined): void {
		if (value === undefined) {
			this.frozenNow = undefined;
			return;
		}
		const seconds = typeof value === 'number' ? value : parseTime(value);
		if (Number.isNaN(seconds)) throw new StateError(400, `Not a date: ${value}`);
		this.frozenNow = seconds;
	}

	// --- loading and dumping -------------------------------------------------------------------

	load(dataset: MailchimpDataset): void {
		this.accounts.length = 0;
		this.oauthApps.length = 0;
		this.oauthApps.push(...(dataset.oauthApps ?? []));
		for (const a of dataset.accounts) {
			const account = new Account(
				a.id,
				a.name,
				a.dc,
				a.loginEmail ?? `owner@${a.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.example`,
				a.apiKeys ?? [],
				a.oauthTokens ?? [],
			);
			this.accounts.push(account);
			for (const list of a.lists) this.loadList(account, list);
		}
	}

	private loadList(account: Account, list: DatasetList): void {
		if (this.findAudience(list.id)) throw new StateError(400, `Duplicate list id ${list.id}`);
		const created = list.date_created ? parseTime(list.date_created) : this.now();
		const mergeFields = (list.merge_fields ?? DEFAULT_MERGE_FIELDS).map((f, i) => ({
			...f,
			merge_id: f.merge_id ?? i + 1,
			display_order: f.display_order ?? i + 2,
		}));
		const audience = new Audience(
			account,
			list.id,
			list.name,
			list.web_id ?? numberFrom(`list:${list.id}`),
			created,
			list.company ?? account.name,
			list.country ?? 'US',
			list.from_name ?? account.name,
			list.from_email ?? account.loginEmail,
			mergeFields,
		);
		account.audiences.set(audience.id, audience);
		const saved: Array<[Segment, string[]]> = [];
		for (const s of list.segments ?? []) {
			const segment = this.addSegment(audience, s.name, s.type ?? 'static', s.id, s.created_at, s.updated_at);
			if (s.members) saved.push([segment, s.members]);
		}
		for (const m of list.members) this.insertMember(audience, m);
		for (const [segment, emails] of saved) {
			for (const email of emails) {
				const member = audience.findMember(email);
				if (!member) continue;
				segment.members.add(member);
				(member.savedSegments ??= new Set()).add(segment);
			}
		}
	}

	private addSegment(audience: Audience, name: string, type: SegmentType, id?: number, createdAt?: string, updatedAt?: string): Segment {
		const segmentId = id ?? this.nextSegmentId++;
		if (id !== undefined && id >= this.nextSegmentId) this.nextSegmentId = id + 1;
		const created = createdAt ? parseTime(createdAt) : audience.dateCreated;
		const segment = new Segment(audience, segmentId, name, type, created, updatedAt ? parseTime(updatedAt) : created);
		audience.segments.set(segmentId, segment);
		if (type === 'static') audience.tagsByName.set(name.trim().toLowerCase(), segment);
		audience.touch();
		return segment;
	}

	private insertMember(audience: Audience, m: DatasetMember): Member {
		if (!MEMBER_STATUSES.includes(m.status)) throw new StateError(400, `Unknown member status "${m.status}" for ${m.email_address}`);
		const email = m.email_address.trim();
		const hash = subscriberHash(email);
		if (audience.members.has(hash)) throw new StateError(400, `${email} is already a list member`);
		const now = this.now();
		const lastChanged = m.last_changed ? parseTime(m.last_changed) : now;
		const member = new Member(
			audience,
			email,
			hash,
			m.status,
			{ ...(m.merge_fields ?? {}) },
			m.full_name,
			m.sms_phone_number ?? '',
			m.sms_subscription_status ?? '',
			m.sms_subscription_last_updated ? parseTime(m.sms_subscription_last_updated) : undefined,
			lastChanged,
			m.timestamp_signup ? parseTime(m.timestamp_signup) : undefined,
			m.timestamp_opt ? parseTime(m.timestamp_opt) : m.status === 'pending' ? undefined : lastChanged,
			// Derived ids cost one hash, not three: loading 100,000 members must stay quick.
			m.contact_id ?? md5(`contact:${audience.account.id}:${hash}`),
			m.unique_email_id ?? hash.slice(22),
			m.web_id ?? (parseInt(hash.slice(0, 8), 16) % 900_000_000) + 100_000_000,
			m.email_type ?? 'html',
			m.source ?? 'API - Generic',
			m.language ?? '',
			m.vip ?? false,
			m.unsubscribe_reason ?? (m.status === 'unsubscribed' ? 'N/A (Unsubscribed by an admin)' : undefined),
			this.nextSeq++,
		);
		audience.members.set(hash, member);
		audience.byContactId.set(member.contactId, member);
		for (const name of m.tags ?? []) this.attachTag(member, name, lastChanged);
		audience.touch();
		return member;
	}

	/** Adds the tag (creating it if new); false when the member already had it. */
	private attachTag(member: Member, name: string, at: number): boolean {
		const audience = member.audience;
		const segment = audience.tagByName(name) ?? this.addSegment(audience, name.trim(), 'static', undefined, formatTime(at), formatTime(at));
		if (!member.addTag(segment, at)) return false;
		segment.members.add(member);
		segment.updatedAt = Math.max(segment.updatedAt, at);
		audience.touch();
		return true;
	}

	/** The current state as a dataset; loading it again gives the same API answers. */
	dump(): MailchimpDataset {
		return {
			accounts: this.accounts.map((account) => ({
				id: account.id,
				name: account.name,
				dc: account.dc,
				loginEmail: account.loginEmail,
				apiKeys: [...account.apiKeys],
				oauthTokens: [...account.oauthTokens],
				lists: [...account.audiences.values()].map((audience) => ({
					id: audience.id,
					name: audience.name,
					web_id: audience.webId,
					date_created: formatTime(audience.dateCreated),
					company: audience.company,
					country: audience.country,
					from_name: audience.fromName,
					from_email: audience.fromEmail,
					merge_fields: audience.mergeFields.map((f) => ({ ...f })),
					segments: [...audience.segments.values()].map((s) => ({
						id: s.id,
						name: s.name,
						type: s.type,
						created_at: formatTime(s.createdAt),
						updated_at: formatTime(s.updatedAt),
						...(s.type === 'static' ? {} : { members: [...s.members].map((m) => m.email) }),
					})),
					members: [...audience.members.values()].map((m) => dumpMember(m)),
				})),
			})),
			oauthApps: this.oauthApps.map((app) => ({ ...app })),
		};
	}

	// --- lookups -------------------------------------------------------------------------------

	/** The account an API key or OAuth token belongs to. */
	accountForCredential(secret: string): Account | undefined {
		return this.accounts.find((a) => a.apiKeys.has(secret) || a.oauthTokens.has(secret));
	}

	account(id: string): Account | undefined {
		return this.accounts.find((a) => a.id === id);
	}

	findAudience(listId: string): Audience | undefined {
		for (const account of this.accounts) {
			const audience = account.audiences.get(listId);
			if (audience) return audience;
		}
		return undefined;
	}

	audience(listId: string): Audience {
		const audience = this.findAudience(listId);
		if (!audience) throw new StateError(404, `No list ${listId}`);
		return audience;
	}

	member(listId: string, key: string): Member {
		const member = this.audience(listId).findMember(key);
		if (!member) throw new StateError(404, `No member ${key} in list ${listId}`);
		return member;
	}

	/** Revokes an API key or OAuth token wherever it is; false when unknown. */
	revokeCredential(secret: string): boolean {
		for (const account of this.accounts) {
			if (account.apiKeys.delete(secret) || account.oauthTokens.delete(secret)) return true;
		}
		return false;
	}

	// --- mutations (each one is what a user or Mailchimp itself would do) ------------------------

	/** Adds members, or updates those already in the audience (an archived one comes back). */
	addMembers(listId: string, members: DatasetMember[]): Member[] {
		const audience = this.audience(listId);
		return members.map((m) => {
			const existing = audience.members.get(subscriberHash(m.email_address));
			if (!existing) return this.insertMember(audience, { ...m, last_changed: m.last_changed ?? formatTime(this.now()) });
			this.updateMember(listId, existing.hash, {
				merge_fields: m.merge_fields,
				full_name: m.full_name,
				sms_phone_number: m.sms_phone_number,
				sms_subscription_status: m.sms_subscription_status,
				status: m.status,
			});
			this.tagMember(listId, existing.hash, { add: m.tags ?? [] });
			return existing;
		});
	}

	/** Changes profile fields, email, SMS fields or status; `last_changed` moves when anything did. */
	updateMember(listId: string, key: string, patch: MemberPatch): Member {
		const member = this.member(listId, key);
		const audience = member.audience;
		const now = this.now();
		let changed = false;
		if (patch.email_address !== undefined && patch.email_address.trim() !== member.email) {
			const email = patch.email_address.trim();
			const hash = subscriberHash(email);
			if (hash !== member.hash && audience.members.has(hash)) throw new StateError(400, `${email} is already a list member`);
			// The id is the hash of the email, so a new address means a new id (the contact id stays).
			audience.members.delete(member.hash);
			member.email = email;
			member.hash = hash;
			audience.members.set(hash, member);
			changed = true;
		}
		if (patch.merge_fields) {
			for (const [tag, value] of Object.entries(patch.merge_fields)) {
				if (JSON.stringify(member.mergeFields[tag] ?? '') === JSON.stringify(value)) continue;
				member.mergeFields[tag] = value;
				changed = true;
			}
		}
		if (patch.full_name !== undefined && patch.full_name !== member.fullName) {
			member.fullNameOverride = patch.full_name;
			changed = true;
		}
		if (patch.sms_phone_number !== undefined && patch.sms_phone_number !== member.smsPhone) {
			member.smsPhone = patch.sms_phone_number;
			changed = true;
		}
		if (patch.sms_subscription_status !== undefined && patch.sms_subscription_status !== member.smsStatus) {
			if (patch.sms_subscription_status !== '' && !SMS_STATUSES.includes(patch.sms_subscription_status)) {
				throw new StateError(400, `Unknown SMS subscription status "${patch.sms_subscription_status}"`);
			}
			member.smsStatus = patch.sms_subscription_status;
			member.smsLastUpdated = now;
			changed = true;
		}
		if (patch.vip !== undefined && patch.vip !== member.vip) {
			member.vip = patch.vip;
			changed = true;
		}
		if (patch.language !== undefined && patch.language !== member.language) {
			member.language = patch.language;
			changed = true;
		}
		if (patch.status !== undefined && patch.status !== member.status) {
			this.applyStatus(member, patch.status, patch.unsubscribe_reason, now);
			changed = true;
		}
		if (changed) {
			member.lastChanged = now;
			audience.touch();
		}
		return member;
	}

	private applyStatus(member: Member, status: MemberStatus, reason: string | undefined, now: number): void {
		if (!MEMBER_STATUSES.includes(status)) throw new StateError(400, `Unknown member status "${status}"`);
		member.status = status;
		if (status === 'unsubscribed') member.unsubscribeReason = reason ?? 'N/A (Unsubscribed by an admin)';
		else if (status !== 'archived') member.unsubscribeReason = undefined;
		if (status === 'subscribed') member.opt = now;
	}

	/** Sets a member's status: unsubscribe, clean, archive, resubscribe, … */
	setStatus(listId: string, key: string, status: MemberStatus, reason?: string): Member {
		return this.updateMember(listId, key, { status, unsubscribe_reason: reason });
	}

	/** Erases a member: no tombstone, gone from every tag and listing. */
	deletePermanently(listId: string, key: string): void {
		const member = this.member(listId, key);
		const audience = member.audience;
		audience.members.delete(member.hash);
		audience.byContactId.delete(member.contactId);
		const now = this.now();
		for (const segment of [...member.tags, ...(member.savedSegments ?? [])]) {
			segment.members.delete(member);
			segment.updatedAt = now;
		}
		audience.touch();
	}

	/** Adds and removes tags by name (a new name creates the tag, as in Mailchimp). */
	tagMember(listId: string, key: string, change: { add?: string[]; remove?: string[] }): Member {
		const member = this.member(listId, key);
		const audience = member.audience;
		const now = this.now();
		let changed = false;
		for (const name of change.add ?? []) changed = this.attachTag(member, name, now) || changed;
		for (const name of change.remove ?? []) {
			const segment = audience.tagByName(name);
			if (!segment || !member.removeTag(segment)) continue;
			segment.members.delete(member);
			segment.updatedAt = now;
			changed = true;
		}
		if (changed) {
			if (this.settings.tagChangesUpdateLastChanged) member.lastChanged = now;
			audience.touch();
		}
		return member;
	}

	/** Creates a tag (static segment) or returns the existing one of that name. */
	createTag(listId: string, name: string): Segment {
		const audience = this.audience(listId);
		return audience.tagByName(name) ?? this.addSegment(audience, name.trim(), 'static', undefined, formatTime(this.now()), formatTime(this.now()));
	}
}

export function dumpMember(m: Member): DatasetMember {
	return {
		email_address: m.email,
		status: m.status,
		merge_fields: { ...m.mergeFields },
		...(m.fullNameOverride !== undefined ? { full_name: m.fullNameOverride } : {}),
		sms_phone_number: m.smsPhone,
		sms_subscription_status: m.smsStatus,
		...(m.smsLastUpdated !== undefined ? { sms_subscription_last_updated: formatTime(m.smsLastUpdated) } : {}),
		tags: m.tags.map((s) => s.name),
		last_changed: formatTime(m.lastChanged),
		...(m.signup !== undefined ? { timestamp_signup: formatTime(m.signup) } : {}),
		...(m.opt !== undefined ? { timestamp_opt: formatTime(m.opt) } : {}),
		contact_id: m.contactId,
		unique_email_id: m.uniqueEmailId,
		web_id: m.webId,
		email_type: m.emailType,
		source: m.source,
		language: m.language,
		vip: m.vip,
		...(m.unsubscribeReason !== undefined ? { unsubscribe_reason: m.unsubscribeReason } : {}),
	};
}
