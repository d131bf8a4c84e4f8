/**
 * Deterministic Mailchimp datasets for the emulator: the small demo audience (committed as
 * `data/demo.json`) and large generated audiences for benchmarks. Same seed, same bytes.
 *
 *   npx tsx test/emulators/datasets.ts --write-demo   regenerates data/demo.json
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type {
	DatasetAccount,
	DatasetMember,
	MailchimpAddress,
	MailchimpDataset,
	MemberStatus,
	SmsSubscriptionStatus,
} from './mailchimp-state';

export const DEMO_DATASET_PATH = path.join(__dirname, 'data', 'demo.json');

/** mulberry32: tiny, fast and good enough to make test data. */
export function seededRandom(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function hex(random: () => number, length: number): string {
	let out = '';
	for (let i = 0; i < length; i++) out += Math.floor(random() * 16).toString(16);
	return out;
}

const iso = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 19)}+00:00`;
const at = (date: string) => Math.floor(Date.parse(date) / 1000);
const address = (addr1: string, city: string, state: string, zip: string, country: string): MailchimpAddress => ({
	addr1,
	addr2: '',
	city,
	state,
	zip,
	country,
});

/** What a test or the demo needs to reach an account of a dataset. */
export interface DatasetCredentials {
	accountId: string;
	accountName: string;
	dc: string;
	apiKey?: string;
	oauthToken?: string;
	lists: Array<{ id: string; name: string }>;
}

export function credentialsOf(dataset: MailchimpDataset): DatasetCredentials[] {
	return dataset.accounts.map((a) => ({
		accountId: a.id,
		accountName: a.name,
		dc: a.dc,
		apiKey: a.apiKeys?.[0],
		oauthToken: a.oauthTokens?.[0],
		lists: a.lists.map((l) => ({ id: l.id, name: l.name })),
	}));
}

// ---------------------------------------------------------------------------------------------
// The demo dataset
// ---------------------------------------------------------------------------------------------

interface DemoPerson {
	first: string;
	last: string;
	email: string;
	status: MemberStatus;
	/** merge_fields.PHONE, free-form as people type it. */
	phone?: string;
	smsPhone?: string;
	sms?: SmsSubscriptionStatus;
	tags: string[];
	addr?: MailchimpAddress;
	birthday?: string;
}

const SMS = 'SMS Opt-in';

/** Harbour Coffee's customers: overlapping tags, every status, unicode names, messy phones. */
const HARBOUR_CUSTOMERS: DemoPerson[] = [
	{ first: 'Olivia', last: 'Nguyen', email: 'olivia.nguyen@example.com', status: 'subscribed', phone: '+61 412 345 678', smsPhone: '+61412345678', sms: 'subscribed', tags: [SMS, 'VIP', 'Sydney'], addr: address('1 George St', 'Sydney', 'NSW', '2000', 'AU'), birthday: '03/14' },
	{ first: 'Jack', last: 'Wilson', email: 'jack.wilson@example.com', status: 'subscribed', phone: '0412 345 679', tags: [SMS, 'Sydney'] },
	{ first: 'José', last: 'Álvarez', email: 'jose.alvarez@example.com', status: 'subscribed', phone: '+61 (0)412 345 680', tags: [SMS, 'Melbourne', 'Barista Course'] },
	{ first: 'Zoë', last: 'Ng', email: 'zoe.ng@example.com', status: 'subscribed', phone: '0011 61 412 345 681', tags: [SMS, 'VIP', 'Melbourne'] },
	{ first: 'Björn', last: 'Ødegård', email: 'bjorn.odegard@example.no', status: 'subscribed', phone: '+47 412 34 567', tags: [SMS, 'Newsletter'] },
	{ first: '小明', last: '李', email: 'xiaoming.li@example.cn', status: 'subscribed', phone: '+86 138 0013 8000', tags: [SMS, 'Newsletter'] },
	{ first: 'Siobhán', last: 'Ó Briain', email: 'siobhan.obriain@example.ie', status: 'subscribed', phone: '+353 85 123 4567', tags: ['VIP', 'Newsletter'] },
	{ first: 'Ngā', last: 'Parata', email: 'nga.parata@example.nz', status: 'subscribed', phone: '+64 21 123 4567', tags: [SMS, 'VIP'] },
	{ first: 'Renée', last: "D'Arcy", email: 'renee.darcy@example.com', status: 'subscribed', phone: '(415) 555-0132', smsPhone: '+14155550132', sms: 'subscribed', tags: [SMS, 'Wholesale'], addr: address('500 Market St', 'San Francisco', 'CA', '94105', 'US') },
	{ first: 'Marcus', last: 'Brown', email: 'Marcus.Brown@Example.com', status: 'subscribed', phone: '415.555.0199', smsPhone: '+14155550199', sms: 'unsubscribed', tags: [SMS, 'VIP'] },
	{ first: 'Ayşe', last: 'Yılmaz', email: 'ayse.yilmaz@example.com.tr', status: 'subscribed', phone: '00 61 412 345 682', tags: [SMS] },
	{ first: 'Đặng', last: 'Thu', email: 'dang.thu@example.vn', status: 'subscribed', phone: '12345', tags: [SMS, 'Sydney'] },
	{ first: 'Priya', last: 'Sharma', email: 'priya.sharma@example.in', status: 'subscribed', phone: 'call me after 5', tags: [SMS, 'Barista Course'] },
	{ first: 'Liam', last: "O'Connor", email: 'liam.oconnor@example.com', status: 'subscribed', phone: '', tags: [SMS, 'Newsletter'] },
	{ first: '', last: '', email: 'no.name@example.com', status: 'subscribed', phone: '0412 345 683', tags: [SMS] },
	{ first: '🌼 Daisy', last: 'Fields', email: 'daisy.fields@example.com', status: 'subscribed', phone: '+61 412 345 684', tags: [SMS, 'Melbourne'] },
	{ first: 'محمد', last: 'الأحمد', email: 'mohammed.alahmad@example.ae', status: 'subscribed', phone: '+971 50 123 4567', tags: ['Newsletter'] },
	{ first: 'Chloé', last: 'Martin', email: 'chloe.martin@example.fr', status: 'subscribed', phone: '+33 6 12 34 56 78', tags: [SMS, 'Newsletter', 'VIP'] },
	{ first: 'Tom', last: 'Baker', email: 'tom.baker@example.co.uk', status: 'subscribed', phone: '07700 900123', tags: [SMS] },
	{ first: 'Hannah', last: 'Schmidt', email: 'hannah.schmidt@example.de', status: 'subscribed', phone: '1-800-FLOWERS', tags: ['Wholesale'] },
	{ first: 'Ruby', last: 'Taylor', email: 'ruby.taylor@example.com', status: 'unsubscribed', phone: '0412 345 685', tags: [SMS, 'VIP'] },
	{ first: 'Noah', last: 'Smith', email: 'noah.smith@example.com', status: 'unsubscribed', phone: '+61 412 345 686', smsPhone: '+61412345686', sms: 'unsubscribed', tags: [SMS] },
	{ first: 'Mia', last: 'Jones', email: 'mia.jones@example.com', status: 'cleaned', phone: '0412 345 687', tags: [SMS, 'Sydney'] },
	{ first: 'Ethan', last: 'Lee', email: 'ethan.lee@example.com', status: 'cleaned', phone: '+61 412 345 688', tags: ['Newsletter'] },
	{ first: 'Grace', last: 'Kim', email: 'grace.kim@example.com', status: 'pending', phone: '0412 345 689', smsPhone: '+14155550150', sms: 'pending', tags: [SMS, 'Melbourne'] },
	{ first: 'Lucas', last: 'Silva', email: 'lucas.silva@example.br', status: 'pending', phone: '+55 11 91234 5678', tags: ['Newsletter'] },
	{ first: 'Ava', last: 'White', email: 'ava.white@example.com', status: 'transactional', phone: '0412 345 690', tags: [SMS] },
	{ first: 'Leo', last: 'Harris', email: 'leo.harris@example.com', status: 'transactional', phone: '+61 412 345 691', tags: ['Wholesale'] },
	{ first: 'Isla', last: 'Walker', email: 'isla.walker@example.com', status: 'archived', phone: '0412 345 692', tags: [SMS, 'VIP'] },
	{ first: 'Oscar', last: 'King', email: 'oscar.king@example.com', status: 'archived', phone: '+61 412 345 693', tags: [SMS] },
	{ first: 'Sofia', last: 'Rossi', email: 'sofia.rossi@example.it', status: 'subscribed', phone: '+39 312 345 6789', smsPhone: '+14155550177', sms: 'nonsubscribed', tags: [SMS, 'Sydney', 'Barista Course'] },
	{ first: 'Kai', last: 'Tanaka', email: 'kai.tanaka@example.jp', status: 'subscribed', phone: '090-1234-5678', tags: ['Melbourne'] },
];

/** A power user with 61 tags: `SMS Opt-in` is his 58th, beyond the 50 a member object embeds. */
function powerUser(): DemoPerson {
	const interests = Array.from({ length: 55 }, (_, i) => `Interest ${String(i + 1).padStart(2, '0')}`);
	return {
		first: 'Max',
		last: 'Power',
		email: 'max.power@example.com',
		status: 'subscribed',
		phone: '+61 412 999 000',
		smsPhone: '+61412999000',
		sms: 'subscribed',
		tags: ['VIP', ...interests.slice(0, 49), 'Newsletter', ...interests.slice(49), SMS, 'Sydney', 'Melbourne', 'Wholesale'],
	};
}

const WHOLESALE_PARTNERS: DemoPerson[] = [
	{ first: 'Ingrid', last: 'Larsen', email: 'ingrid@cafe-nord.example', status: 'subscribed', phone: '+45 20 12 34 56', tags: ['Partner', SMS] },
	{ first: 'Pedro', last: 'Gómez', email: 'pedro@tostadores.example', status: 'subscribed', phone: '+34 612 345 678', tags: ['Partner'] },
	{ first: 'Olivia', last: 'Nguyen', email: 'olivia.nguyen@example.com', status: 'subscribed', phone: '+61 412 345 678', tags: [SMS] },
	{ first: 'Wen', last: 'Zhao', email: 'wen@teahouse.example', status: 'unsubscribed', phone: '+61 2 9999 9999', tags: ['Partner', SMS] },
];

/** The second account: its members must never show up through the first account's credentials. */
const FERN_GULLY_FRIENDS: DemoPerson[] = [
	{ first: 'Olivia', last: 'Nguyen', email: 'olivia.nguyen@example.com', status: 'subscribed', phone: '0412 345 678', smsPhone: '+61412345678', sms: 'subscribed', tags: [SMS, 'Roses'] },
	{ first: 'Amelia', last: 'Clarke', email: 'amelia.clarke@example.com', status: 'subscribed', phone: '+61 413 111 222', tags: [SMS, 'Orchids'] },
	{ first: 'Hiro', last: 'Sato', email: 'hiro.sato@example.jp', status: 'subscribed', phone: '+81 90 1234 5678', tags: ['Roses'] },
	{ first: 'Fern', last: 'Gully', email: 'fern@example.com', status: 'cleaned', phone: '0413 111 333', tags: [SMS] },
	{ first: 'Ivy', last: 'Green', email: 'ivy.green@example.com', status: 'subscribed', phone: '+61 413 111 444', tags: [SMS, 'Orchids', 'Roses'] },
];

function demoMembers(people: DemoPerson[], random: () => number, base: number): DatasetMember[] {
	return people.map((p, i) => {
		const signup = base + i * 86_400 + Math.floor(random() * 3_600);
		const changed = signup + 30 * 86_400 + Math.floor(random() * 30 * 86_400);
		const member: DatasetMember = {
			email_address: p.email,
			status: p.status,
			merge_fields: {
				FNAME: p.first,
				LNAME: p.last,
				ADDRESS: p.addr ?? '',
				PHONE: p.phone ?? '',
				BIRTHDAY: p.birthday ?? '',
			},
			sms_phone_number: p.smsPhone ?? '',
			sms_subscription_status: p.sms ?? '',
			...(p.sms ? { sms_subscription_last_updated: iso(changed - 3_600) } : {}),
			tags: p.tags,
			timestamp_signup: iso(signup),
			...(p.status === 'pending' ? {} : { timestamp_opt: iso(signup + 60) }),
			last_changed: iso(changed),
			contact_id: hex(random, 32),
			unique_email_id: hex(random, 10),
			source: i % 3 === 0 ? 'Admin Add' : i % 3 === 1 ? 'Hosted Signup Form' : 'API - Generic',
			vip: p.tags.includes('VIP'),
		};
		return member;
	});
}

/** Mailchimp-shaped ids and credentials, drawn from the seeded generator. */
function demoAccount(random: () => number, name: string, dc: string, loginEmail: string): Omit<DatasetAccount, 'lists'> {
	return {
		id: hex(random, 25),
		name,
		dc,
		loginEmail,
		apiKeys: [`${hex(random, 32)}-${dc}`],
		oauthTokens: [hex(random, 32)],
	};
}

/** The committed sample: two accounts, three audiences, overlapping tags and every member status. */
export function demoDataset(): MailchimpDataset {
	const random = seededRandom(20_241_104);
	const base = at('2024-03-01T09:00:00Z');
	const harbour = demoAccount(random, 'Harbour Coffee Co', 'us6', 'owner@harbourcoffee.example');
	const fern = demoAccount(random, 'Fern Gully Florist', 'us19', 'hello@ferngully.example');
	const harbourCustomers = hex(random, 10);
	const wholesale = hex(random, 10);
	const friends = hex(random, 10);
	return {
		oauthApps: [{ clientId: `demo-client-${hex(random, 8)}`, clientSecret: hex(random, 40) }],
		accounts: [
			{
				...harbour,
				lists: [
					{
						id: harbourCustomers,
						name: 'Harbour Coffee Customers',
						date_created: iso(base - 90 * 86_400),
						company: 'Harbour Coffee Co',
						country: 'AU',
						merge_fields: [
							{ tag: 'FNAME', name: 'First Name', type: 'text', options: { size: 25 } },
							{ tag: 'LNAME', name: 'Last Name', type: 'text', options: { size: 25 } },
							{ tag: 'ADDRESS', name: 'Address', type: 'address', options: { default_country: 13 } },
							{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
							{ tag: 'BIRTHDAY', name: 'Birthday', type: 'birthday', options: { date_format: 'MM/DD' } },
						],
						segments: [
							{ name: SMS, type: 'static' },
							{ name: 'VIP', type: 'static' },
							{ name: 'Newsletter', type: 'static' },
							{ name: 'Sydney', type: 'static' },
							{ name: 'Melbourne', type: 'static' },
							{ name: 'Wholesale', type: 'static' },
							{ name: 'Barista Course', type: 'static' },
							{ name: 'Lapsed', type: 'static' },
							{ name: 'Recent buyers', type: 'saved', members: ['olivia.nguyen@example.com', 'jack.wilson@example.com', 'zoe.ng@example.com'] },
						],
						members: demoMembers([...HARBOUR_CUSTOMERS, powerUser()], random, base),
					},
					{
						id: wholesale,
						name: 'Wholesale Partners',
						date_created: iso(base - 30 * 86_400),
						company: 'Harbour Coffee Co',
						country: 'AU',
						merge_fields: [
							{ tag: 'FNAME', name: 'First Name', type: 'text' },
							{ tag: 'LNAME', name: 'Last Name', type: 'text' },
							{ tag: 'ADDRESS', name: 'Address', type: 'address' },
							{ tag: 'PHONE', name: 'Mobile', type: 'phone', options: { phone_format: 'International' } },
							{ tag: 'BIRTHDAY', name: 'Birthday', type: 'birthday', options: { date_format: 'MM/DD' } },
						],
						members: demoMembers(WHOLESALE_PARTNERS, random, base + 10 * 86_400),
					},
				],
			},
			{
				...fern,
				lists: [
					{
						id: friends,
						name: 'Fern Gully Friends',
						date_created: iso(base - 60 * 86_400),
						company: 'Fern Gully Florist',
						country: 'AU',
						members: demoMembers(FERN_GULLY_FRIENDS, random, base + 20 * 86_400),
					},
				],
			},
		],
	};
}

// ---------------------------------------------------------------------------------------------
// Large audiences for benchmarks
// ---------------------------------------------------------------------------------------------

export interface LargeAudienceOptions {
	members: number;
	/** Tag names (each on half of the members) or `{ name, share }` with share in [0, 1]. */
	tags?: Array<string | { name: string; share: number }>;
	seed?: number;
	/** Relative weights; default 90 % subscribed and a little of everything else. */
	statusMix?: Partial<Record<MemberStatus, number>>;
	listName?: string;
}

const FIRST_NAMES = ['Olivia', 'Jack', 'José', 'Zoë', 'Noah', 'Mia', 'Liam', 'Ava', 'Chloé', 'Kai', 'Priya', 'Björn', '小明', 'Ayşe', 'Ngā', 'Renée'];
const LAST_NAMES = ['Nguyen', 'Wilson', 'Álvarez', 'Ng', 'Smith', 'Jones', "O'Connor", 'White', 'Martin', 'Tanaka', 'Sharma', 'Ødegård', '李', 'Yılmaz', 'Parata', "D'Arcy"];
const DEFAULT_STATUS_MIX: Record<MemberStatus, number> = {
	subscribed: 90,
	unsubscribed: 4,
	cleaned: 2,
	pending: 2,
	transactional: 1,
	archived: 1,
};

/**
 * One account, one audience of `members` generated members. Built for 100,000 members in well under
 * a second: no hashing here (the emulator hashes on load), one small object per member.
 */
export function largeAudience(options: LargeAudienceOptions): MailchimpDataset {
	const random = seededRandom(options.seed ?? 42);
	const tags = (options.tags ?? ['SMS Opt-in']).map((t) => (typeof t === 'string' ? { name: t, share: 0.5 } : t));
	const mix = Object.entries({ ...DEFAULT_STATUS_MIX, ...(options.statusMix ?? {}) }) as Array<[MemberStatus, number]>;
	const totalWeight = mix.reduce((sum, [, w]) => sum + w, 0);
	const pickStatus = (): MemberStatus => {
		let roll = random() * totalWeight;
		for (const [status, weight] of mix) {
			if ((roll -= weight) < 0) return status;
		}
		return 'subscribed';
	};
	const start = at('2023-01-01T00:00:00Z');
	const year = 365 * 86_400;
	const members: DatasetMember[] = new Array(options.members);
	for (let i = 0; i < options.members; i++) {
		const signup = start + Math.floor(random() * year);
		const changed = signup + Math.floor(random() * year);
		const status = pickStatus();
		const memberTags: string[] = [];
		for (const tag of tags) if (random() < tag.share) memberTags.push(tag.name);
		const mobile = 400_000_000 + Math.floor(random() * 99_999_999);
		members[i] = {
			email_address: `member${i}@bench.example`,
			status,
			merge_fields: {
				FNAME: FIRST_NAMES[i % FIRST_NAMES.length],
				LNAME: LAST_NAMES[(i * 7) % LAST_NAMES.length],
				ADDRESS: '',
				PHONE: i % 10 === 9 ? `0${mobile}` : `+61${mobile}`,
				BIRTHDAY: '',
			},
			sms_phone_number: '',
			sms_subscription_status: '',
			tags: memberTags,
			timestamp_signup: iso(signup),
			...(status === 'pending' ? {} : { timestamp_opt: iso(signup + 60) }),
			last_changed: iso(changed),
		};
	}
	return {
		oauthApps: [{ clientId: `bench-client-${hex(random, 8)}`, clientSecret: hex(random, 40) }],
		accounts: [
			{
				id: hex(random, 25),
				name: 'Benchmark Co',
				dc: 'us1',
				apiKeys: [`${hex(random, 32)}-us1`],
				oauthTokens: [hex(random, 32)],
				lists: [
					{
						id: hex(random, 10),
						name: options.listName ?? `Benchmark audience (${options.members} members)`,
						date_created: iso(start - 86_400),
						segments: tags.map((t) => ({ name: t.name, type: 'static' as const, created_at: iso(start) })),
						members,
					},
				],
			},
		],
	};
}

if (require.main === module && process.argv.includes('--write-demo')) {
	writeFileSync(DEMO_DATASET_PATH, `${JSON.stringify(demoDataset(), null, '\t')}\n`);
	console.log(`Wrote ${path.relative(process.cwd(), DEMO_DATASET_PATH)}`);
}
