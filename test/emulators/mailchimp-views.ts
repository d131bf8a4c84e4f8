/**
 * What the Mailchimp emulator answers: the JSON objects of the Marketing API v3, built from the
 * state. Shapes follow real answers (empty strings for unset SMS fields and an unset address,
 * `+00:00` timestamps); `_links` are left out, which clients must tolerate anyway.
 */
import { Account, Audience, formatTime, Member, Segment, type IncludeFlags } from './mailchimp-state';

/** Mailchimp embeds at most this many tags in a member; `tags_count` has the real number. */
export const EMBEDDED_TAGS = 50;

const EMPTY_LOCATION = { latitude: 0, longitude: 0, gmtoff: 0, dstoff: 0, country_code: '', timezone: '', region: '' };
const EMPTY_STATS = { avg_open_rate: 0, avg_click_rate: 0 };

/** A member object's fields in Mailchimp's order, each built only when the answer will carry it. */
const MEMBER_FIELDS: Array<[string, (m: Member) => unknown]> = [
	['id', (m) => m.hash],
	['email_address', (m) => m.email],
	['unique_email_id', (m) => m.uniqueEmailId],
	['contact_id', (m) => m.contactId],
	['full_name', (m) => m.fullName],
	['web_id', (m) => m.webId],
	['email_type', (m) => m.emailType],
	['status', (m) => m.status],
	['unsubscribe_reason', (m) => (m.status === 'unsubscribed' ? m.unsubscribeReason : undefined)],
	['consents_to_one_to_one_messaging', () => true],
	['sms_phone_number', (m) => m.smsPhone],
	['sms_subscription_status', (m) => m.smsStatus],
	['sms_subscription_last_updated', (m) => (m.smsLastUpdated === undefined ? '' : formatTime(m.smsLastUpdated))],
	[
		'merge_fields',
		(m) => {
			const values: Record<string, unknown> = {};
			for (const field of m.audience.mergeFields) values[field.tag] = m.mergeFields[field.tag] ?? '';
			return values;
		},
	],
	['stats', () => ({ ...EMPTY_STATS })],
	['ip_signup', () => ''],
	['timestamp_signup', (m) => (m.signup === undefined ? '' : formatTime(m.signup))],
	['ip_opt', () => ''],
	['timestamp_opt', (m) => (m.opt === undefined ? '' : formatTime(m.opt))],
	['member_rating', () => 2],
	['last_changed', (m) => formatTime(m.lastChanged)],
	['language', (m) => m.language],
	['vip', (m) => m.vip],
	['email_client', () => ''],
	['location', () => ({ ...EMPTY_LOCATION })],
	['source', (m) => m.source],
	['tags_count', (m) => m.tags.length],
	['tags', (m) => m.tags.slice(0, EMBEDDED_TAGS).map((segment) => ({ id: segment.id, name: segment.name }))],
	['list_id', (m) => m.audience.id],
];

/** Which top-level member fields to build: all, or the keys a `fields` selection names. */
export type MemberFieldSelection = Set<string> | undefined;

export function memberView(m: Member, only?: MemberFieldSelection): Record<string, unknown> {
	const view: Record<string, unknown> = {};
	for (const [key, build] of MEMBER_FIELDS) {
		if (only && !only.has(key)) continue;
		const value = build(m);
		if (value !== undefined) view[key] = value;
	}
	return view;
}

export function segmentView(segment: Segment, flags: IncludeFlags): Record<string, unknown> {
	return {
		id: segment.id,
		name: segment.name,
		member_count: segment.audience.visibleSegmentMembers(segment, flags).length,
		type: segment.type,
		created_at: formatTime(segment.createdAt),
		updated_at: formatTime(segment.updatedAt),
		options: { match: 'any', conditions: [] },
		list_id: segment.audience.id,
	};
}

export function mergeFieldView(audience: Audience, field: Audience['mergeFields'][number]): Record<string, unknown> {
	return {
		merge_id: field.merge_id,
		tag: field.tag,
		name: field.name,
		type: field.type,
		required: field.required ?? false,
		default_value: field.default_value ?? '',
		public: field.public ?? true,
		display_order: field.display_order,
		options: field.options ?? {},
		help_text: field.help_text ?? '',
		list_id: audience.id,
	};
}

interface ListStats {
	member_count: number;
	unsubscribe_count: number;
	cleaned_count: number;
	last_sub_date: string;
	last_unsub_date: string;
	total_contacts: number;
}

function listStats(audience: Audience): ListStats {
	return audience.cached('stats', () => {
		let subscribed = 0;
		let unsubscribed = 0;
		let cleaned = 0;
		let total = 0;
		let lastSub = 0;
		let lastUnsub = 0;
		for (const m of audience.members.values()) {
			if (m.status === 'archived') continue;
			total++;
			if (m.status === 'subscribed') {
				subscribed++;
				lastSub = Math.max(lastSub, m.opt ?? 0);
			} else if (m.status === 'unsubscribed') {
				unsubscribed++;
				lastUnsub = Math.max(lastUnsub, m.lastChanged);
			} else if (m.status === 'cleaned') cleaned++;
		}
		return {
			member_count: subscribed,
			unsubscribe_count: unsubscribed,
			cleaned_count: cleaned,
			last_sub_date: lastSub ? formatTime(lastSub) : '',
			last_unsub_date: lastUnsub ? formatTime(lastUnsub) : '',
			total_contacts: total,
		};
	});
}

export function listView(audience: Audience, origin: string): Record<string, unknown> {
	const stats = listStats(audience);
	return {
		id: audience.id,
		web_id: audience.webId,
		name: audience.name,
		contact: { company: audience.company, addr1: '', addr2: '', city: '', state: '', zip: '', country: audience.country, phone: '' },
		permission_reminder: 'You are receiving this email because you opted in via our website.',
		use_archive_bar: true,
		campaign_defaults: { from_name: audience.fromName, from_email: audience.fromEmail, subject: '', language: 'en' },
		notify_on_subscribe: '',
		notify_on_unsubscribe: '',
		date_created: formatTime(audience.dateCreated),
		list_rating: 0,
		email_type_option: false,
		subscribe_url_short: `${origin}/s/${audience.webId}`,
		subscribe_url_long: `${origin}/subscribe?u=${audience.account.id}&id=${audience.id}`,
		beamer_address: `us-${audience.id}@inbound.mailchimp.example`,
		visibility: 'prv',
		double_optin: false,
		has_welcome: false,
		marketing_permissions: false,
		modules: [],
		stats: {
			member_count: stats.member_count,
			total_contacts: stats.total_contacts,
			unsubscribe_count: stats.unsubscribe_count,
			cleaned_count: stats.cleaned_count,
			member_count_since_send: stats.member_count,
			unsubscribe_count_since_send: stats.unsubscribe_count,
			cleaned_count_since_send: stats.cleaned_count,
			campaign_count: 0,
			campaign_last_sent: '',
			merge_field_count: audience.mergeFields.length,
			avg_sub_rate: 0,
			avg_unsub_rate: 0,
			target_sub_rate: 0,
			open_rate: 0,
			click_rate: 0,
			last_sub_date: stats.last_sub_date,
			last_unsub_date: stats.last_unsub_date,
		},
	};
}

export function accountRootView(account: Account): Record<string, unknown> {
	let subscribers = 0;
	for (const audience of account.audiences.values()) subscribers += listStats(audience).member_count;
	return {
		account_id: account.id,
		login_id: String(account.userId),
		account_name: account.name,
		email: account.loginEmail,
		first_name: '',
		last_name: '',
		username: account.loginEmail,
		avatar_url: '',
		role: 'owner',
		member_since: '2020-01-01T00:00:00+00:00',
		pricing_plan_type: 'monthly',
		first_payment: '',
		account_timezone: 'UTC',
		account_industry: '',
		contact: { company: account.name, addr1: '', addr2: '', city: '', state: '', zip: '', country: 'US' },
		pro_enabled: false,
		last_login: '',
		total_subscribers: subscribers,
	};
}
