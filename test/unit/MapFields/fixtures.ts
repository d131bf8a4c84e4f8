/**
 * A small audience for the Map Fields tests (unit and end-to-end): one member per case the node
 * must handle. Phones come from ranges kept for examples and fiction.
 */
import type { DatasetMember, MailchimpDataset } from '../../emulators/mailchimp';

export const AUDIENCE = 'a1b2c3d4e5';
export const API_KEY = `${'0123456789abcdef'.repeat(2)}-us6`;
export const HUB_KEY = { apiKey: 'map-fields-key', apiSecret: 'map-fields-secret', accountId: 'MapFieldsAccount' };
export const POINTS_FIELD = '5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f';
export const CITY_FIELD = '6a1d2e3f-4b5c-4d6e-9f70-8b9c0d1e2f3a';

const address = (city: string, country: string) => ({ addr1: '1 Example St', addr2: '', city, state: '', zip: '', country });

/** All tagged VIP. */
export const MEMBERS: DatasetMember[] = [
	{ email_address: 'ana@example.com', status: 'subscribed', merge_fields: { FNAME: 'Ana', LNAME: 'López', PHONE: '0491 570 156', ADDRESS: address('Sydney', 'AU'), DOB: '04/07/1990', POINTS: 1250 } },
	{ email_address: 'ben@example.com', status: 'subscribed', merge_fields: { FNAME: 'Ben', LNAME: 'Okafor', PHONE: '', ADDRESS: address('Perth', 'AU') }, sms_phone_number: '+61491570110', sms_subscription_status: 'subscribed' },
	{ email_address: 'chloe@example.com', status: 'subscribed', merge_fields: { FNAME: 'Chloé', LNAME: 'Martin', PHONE: '07400 123456', ADDRESS: address('London', 'GB') } },
	{ email_address: 'dev@example.com', status: 'subscribed', merge_fields: { FNAME: 'Dev', LNAME: 'Patel', PHONE: '02 5550 1234' } },
	{ email_address: 'emma@example.com', status: 'subscribed', merge_fields: { FNAME: 'Emma', LNAME: '', PHONE: '' } },
	{ email_address: 'finn@example.com', status: 'subscribed', merge_fields: { FNAME: '山田', LNAME: '太郎', PHONE: '00 61 491 570 157' } },
].map((m) => ({ ...m, tags: ['VIP'] }) as DatasetMember);

export function dataset(): MailchimpDataset {
	return {
		accounts: [
			{
				id: 'acct-map-fields',
				name: 'Example Coffee',
				dc: 'us6',
				apiKeys: [API_KEY],
				lists: [
					{
						id: AUDIENCE,
						name: 'Customers',
						merge_fields: [
							{ tag: 'FNAME', name: 'First Name', type: 'text' },
							{ tag: 'LNAME', name: 'Last Name', type: 'text' },
							{ tag: 'ADDRESS', name: 'Address', type: 'address', options: { default_country: 13 } },
							{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
							{ tag: 'DOB', name: 'Date of Birth', type: 'date', options: { date_format: 'DD/MM/YYYY' } },
							{ tag: 'POINTS', name: 'Points', type: 'number' },
						],
						segments: [{ name: 'VIP', type: 'static' }],
						members: MEMBERS,
					},
				],
			},
		],
	};
}

/** The Hub's custom fields: a number, and a text short enough to show cutting. */
export const HUB_CUSTOM_FIELDS = [
	{ id: POINTS_FIELD, label: 'Loyalty points', mergeTag: 'points', type: 'NUMBER' as const, maxLength: 10 },
	{ id: CITY_FIELD, label: 'City', mergeTag: 'city', type: 'TEXT' as const, maxLength: 4 },
];
