/**
 * The mapping itself: Mailchimp fields offered, the defaults, reading a member, and one member →
 * Hub contact fields or the reasons it cannot be one.
 */
import type { TaggedMember } from '../../../../nodes/shared/items';
import {
	customFieldKey,
	fitCustomField,
	mapMember,
	mappingFromDefaults,
	mappingSchema,
	type HubCustomField,
	type Mapping,
	type MappingContext,
} from '../../../../nodes/MapFields/helpers/mapping';
import {
	defaultMapping,
	isSourceKey,
	mailchimpFieldOptions,
	memberAddressCountry,
	readSource,
} from '../../../../nodes/MapFields/helpers/sources';
import type { MergeField } from '../../../../nodes/shared/transport/mailchimp';

const MERGE_FIELDS: MergeField[] = [
	{ tag: 'FNAME', name: 'First Name', type: 'text' },
	{ tag: 'LNAME', name: 'Last Name', type: 'text' },
	{ tag: 'ADDRESS', name: 'Address', type: 'address', options: { default_country: 164 } },
	{ tag: 'PHONE', name: 'Phone Number', type: 'phone', options: { phone_format: 'International' } },
	{ tag: 'BIRTHDAY', name: 'Birthday', type: 'birthday', options: { date_format: 'MM/DD' } },
	{ tag: 'DOB', name: 'Date of Birth', type: 'date', options: { date_format: 'DD/MM/YYYY' } },
	{ tag: 'USPHONE', name: 'US Phone', type: 'phone', options: { phone_format: 'US' } },
	{ tag: 'POINTS', name: 'Points', type: 'number' },
];

const CUSTOM: HubCustomField[] = [
	{ id: '0b6f3c2e-1d4a-4c5b-9a8e-7f6d5c4b3a21', label: 'Points', mergeTag: 'points', type: 'NUMBER', maxLength: 10 },
	{ id: '1c7a4d3f-2e5b-4d6c-8b9f-8a7e6d5c4b32', label: 'City', mergeTag: 'city', type: 'TEXT', maxLength: 5 },
	{ id: '2d8b5e4a-3f6c-4e7d-9cab-9b8f7e6d5c43', label: 'Renewal', mergeTag: 'renewal', type: 'DATE', maxLength: 10 },
	{ id: '3e9c6f5b-4a7d-4f8e-8dbc-ac9a8f7e6d54', label: 'Office phone', mergeTag: 'office', type: 'PHONE', maxLength: 20 },
];

function member(overrides: Partial<TaggedMember> = {}, mergeFields: Record<string, unknown> = {}): TaggedMember {
	return {
		memberId: 'a1b2c3',
		contactId: 'contact-1',
		email: 'ana@example.com',
		status: 'subscribed',
		fullName: 'Ana López',
		mergeFields: {
			FNAME: 'Ana',
			LNAME: 'López',
			PHONE: '0491 570 156',
			ADDRESS: { addr1: '1 Harbour St', addr2: '', city: 'Sydney', state: 'NSW', zip: '2000', country: 'AU' },
			BIRTHDAY: '07/04',
			DOB: '04/07/1990',
			...mergeFields,
		},
		smsPhone: null,
		smsSubscriptionStatus: null,
		tags: ['VIP'],
		lastChanged: '2026-01-01T00:00:00+00:00',
		audienceId: 'aud1',
		...overrides,
	};
}

const context = (overrides: Partial<MappingContext> = {}): MappingContext => ({
	mergeFields: MERGE_FIELDS,
	customFields: new Map(CUSTOM.map((f) => [f.id, f])),
	defaultCountry: 'AU',
	useAddressCountry: true,
	yearForBirthdays: 0,
	today: new Date('2026-06-15T00:00:00Z'),
	...overrides,
});

const from = (key: string) => ({ kind: 'mailchimp' as const, key });

describe('the Mailchimp side', () => {
	it("offers the member's own fields, every merge field and each part of an address", () => {
		const values = mailchimpFieldOptions(MERGE_FIELDS).map((o) => o.value);
		expect(values.slice(0, 4)).toEqual(['none', 'email', 'smsPhone', 'fullName']);
		expect(values).toEqual(
			expect.arrayContaining([
				'smsPhone||merge:PHONE',
				'smsPhone||merge:USPHONE',
				'merge:FNAME',
				'merge:ADDRESS',
				'merge:ADDRESS.city',
				'merge:ADDRESS.country',
				'merge:BIRTHDAY',
				'merge:POINTS',
			]),
		);
		expect(new Set(values).size).toBe(values.length);
	});

	it('fills in FNAME, LNAME, the SMS phone else PHONE, the address country, a birth date and the email', () => {
		expect(defaultMapping(MERGE_FIELDS)).toEqual({
			firstName: 'merge:FNAME',
			lastName: 'merge:LNAME',
			phone: 'smsPhone||merge:PHONE',
			country: 'merge:ADDRESS.country',
			dateOfBirth: 'merge:DOB',
			email: 'email',
		});
	});

	it('assumes nothing about an audience whose default fields were renamed or deleted', () => {
		const fields: MergeField[] = [
			{ tag: 'MMERGE1', name: 'Given name', type: 'text' },
			{ tag: 'MOBILE', name: 'Mobile', type: 'phone' },
		];
		expect(defaultMapping(fields)).toEqual({
			firstName: 'merge:MMERGE1',
			lastName: 'none',
			phone: 'smsPhone||merge:MOBILE',
			country: 'none',
			dateOfBirth: 'none',
			email: 'email',
		});
		expect(defaultMapping([]).phone).toBe('smsPhone');
	});

	it('reads a source, the first non-empty one of a chain, and address parts', () => {
		const m = member({ smsPhone: '+61491570110' });
		expect(readSource(m, 'smsPhone||merge:PHONE')).toEqual({ value: '+61491570110', key: 'smsPhone' });
		expect(readSource(member(), 'smsPhone||merge:PHONE')).toEqual({ value: '0491 570 156', key: 'merge:PHONE' });
		expect(readSource(member({}, { PHONE: '  ' }), 'smsPhone||merge:PHONE').value).toBe('  ');
		expect(readSource(member(), 'merge:ADDRESS.city').value).toBe('Sydney');
		expect(readSource(member(), 'merge:NOPE').value).toBeUndefined();
		expect(readSource(member(), 'none').value).toBeUndefined();
		expect(memberAddressCountry(member(), MERGE_FIELDS)).toBe('AU');
	});

	it('tells source keys from values', () => {
		expect(isSourceKey('smsPhone||merge:PHONE')).toBe(true);
		expect(isSourceKey('merge:ADDRESS.zip')).toBe(true);
		expect(isSourceKey('none')).toBe(true);
		expect(isSourceKey('Ana')).toBe(false);
		expect(isSourceKey('merge:')).toBe(false);
	});
});

describe('the mapping form', () => {
	it('has a row per Hub field, the phone required, each a dropdown with its default', () => {
		const schema = mappingSchema(MERGE_FIELDS, CUSTOM);
		expect(schema.map((f) => f.id)).toEqual([
			'firstName',
			'lastName',
			'phone',
			'country',
			'dateOfBirth',
			'email',
			customFieldKey(CUSTOM[1].id),
			customFieldKey(CUSTOM[3].id),
			customFieldKey(CUSTOM[0].id),
			customFieldKey(CUSTOM[2].id),
		]);
		const phone = schema.find((f) => f.id === 'phone')!;
		expect(phone).toMatchObject({ required: true, type: 'options', defaultValue: 'smsPhone||merge:PHONE', display: true });
		expect(phone.options?.map((o) => o.value)).toContain('merge:PHONE');
		expect(schema.find((f) => f.id === customFieldKey(CUSTOM[0].id))).toMatchObject({ displayName: 'Custom Field: Points', defaultValue: 'none' });
		expect(schema.filter((f) => f.required).map((f) => f.id)).toEqual(['phone']);
	});
});

describe('one member', () => {
	const mapping = mappingFromDefaults(MERGE_FIELDS);

	it('becomes the Hub contact fields', () => {
		expect(mapMember(member(), mapping, context())).toEqual({
			ok: true,
			contact: {
				phone: '+61491570156',
				firstName: 'Ana',
				lastName: 'López',
				country: 'AU',
				dateOfBirth: '1990-07-04',
				email: 'ana@example.com',
				customFields: [],
			},
			warnings: [],
		});
	});

	it("prefers Mailchimp's SMS phone and reads a US-format field as American", () => {
		const sms = mapMember(member({ smsPhone: '+1 201-555-0123' }), mapping, context());
		expect(sms.ok && sms.contact.phone).toBe('+12015550123');
		const us = mapMember(member({}, { USPHONE: '201-555-0199' }), { phone: from('merge:USPHONE') }, context({ defaultCountry: 'AU' }));
		expect(us.ok && us.contact.phone).toBe('+12015550199');
	});

	it("reads a national number with the member's address country, unless told not to", () => {
		const uk = member({}, { PHONE: '07400 123456', ADDRESS: { addr1: 'x', city: 'London', country: 'GB' } });
		const withAddress = mapMember(uk, mapping, context());
		expect(withAddress.ok && withAddress.contact.phone).toBe('+447400123456');
		const without = mapMember(uk, mapping, context({ useAddressCountry: false }));
		expect(without.ok).toBe(false);
	});

	it('is invalid without a phone, and says which fields were empty', () => {
		const result = mapMember(member({}, { PHONE: '' }), mapping, context());
		expect(result).toEqual({
			ok: false,
			invalidReason: 'phone-missing',
			problems: [{ field: 'phone', reason: 'The member has no phone number (the SMS phone number and the PHONE field are empty)' }],
		});
	});

	it('is invalid with a landline, with the reason', () => {
		const result = mapMember(member({}, { PHONE: '02 5550 1234' }), mapping, context());
		expect(result.ok).toBe(false);
		expect(!result.ok && result.invalidReason).toBe('phone-invalid');
		expect(!result.ok && result.problems[0].reason).toBe('"02 5550 1234" is a landline in Australia, which cannot receive SMS');
	});

	it('is invalid when no field is mapped to the phone', () => {
		const result = mapMember(member(), { firstName: from('merge:FNAME') }, context());
		expect(!result.ok && result.invalidReason).toBe('other');
		expect(!result.ok && result.problems[0].reason).toContain('No Mailchimp field is mapped to the phone');
	});

	it('leaves out unusable optional values, with a warning, and keeps the member valid', () => {
		const result = mapMember(
			member({ email: 'not-an-email' }, { DOB: '31/02/1990', ADDRESS: { addr1: 'x', country: 'Narnia' }, FNAME: 'A'.repeat(150) }),
			mapping,
			context(),
		);
		expect(result.ok).toBe(true);
		if (!result.ok) return;
		expect(result.contact).toEqual({ phone: '+61491570156', firstName: 'A'.repeat(100), lastName: 'López', customFields: [] });
		expect(result.warnings).toEqual([
			"First Name was shortened to 100 characters, the Hub's limit",
			'Country "Narnia" is not a country the sync knows; left out',
			'Date of birth "31/02/1990" is not a real date; left out',
			'Email "not-an-email" is not an email address; left out',
		]);
	});

	it('gives null for a mapped field the member has no value in, and leaves unmapped fields out', () => {
		const result = mapMember(member({}, { LNAME: '' }), { phone: from('merge:PHONE'), lastName: from('merge:LNAME') }, context());
		expect(result.ok && result.contact).toEqual({ phone: '+61491570156', lastName: null, customFields: [] });
	});

	it('uses a Mailchimp birthday as date of birth only with a year for birthdays', () => {
		const birthday = { phone: from('merge:PHONE'), dateOfBirth: from('merge:BIRTHDAY') };
		const without = mapMember(member(), birthday, context());
		expect(without.ok && without.contact.dateOfBirth).toBeUndefined();
		expect(without.ok && without.warnings[0]).toContain('has no year');
		const withYear = mapMember(member(), birthday, context({ yearForBirthdays: 1904 }));
		expect(withYear.ok && withYear.contact.dateOfBirth).toBe('1904-07-04');
	});

	it('takes the values of expressions as they are', () => {
		const result = mapMember(
			member(),
			{ phone: { kind: 'value', value: '+64 21 123 4567' }, firstName: { kind: 'value', value: '  Zoë  ' }, country: { kind: 'value', value: 'New Zealand' } },
			context(),
		);
		expect(result.ok && result.contact).toEqual({ phone: '+64211234567', firstName: 'Zoë', country: 'NZ', customFields: [] });
		const empty = mapMember(member(), { phone: { kind: 'value', value: '' } }, context());
		expect(!empty.ok && empty.problems[0].reason).toBe('The member has no phone number (the expression gave none)');
	});

	it('fills custom fields by their type and length', () => {
		const custom: Mapping = {
			phone: from('merge:PHONE'),
			[customFieldKey(CUSTOM[0].id)]: from('merge:POINTS'),
			[customFieldKey(CUSTOM[1].id)]: from('merge:ADDRESS.city'),
			[customFieldKey(CUSTOM[3].id)]: { kind: 'value', value: '02 5550 1234' },
		};
		const result = mapMember(member({}, { POINTS: 1250 }), custom, context());
		expect(result.ok && result.contact.customFields).toEqual([
			{ id: CUSTOM[0].id, value: '1250' },
			{ id: CUSTOM[1].id, value: 'Sydne' },
			{ id: CUSTOM[3].id, value: '+61255501234' },
		]);
		expect(result.ok && result.warnings).toEqual([`Custom field "City" was shortened to 5 characters, the Hub's limit`]);
	});

	it('reports a mapped custom field the Hub no longer has', () => {
		const result = mapMember(member(), { phone: from('merge:PHONE'), [customFieldKey('gone')]: from('merge:FNAME') }, context());
		expect(result.ok && result.warnings[0]).toContain('The Hub has no custom field with ID gone');
	});

	it('fits a date custom field without the date-of-birth limits', () => {
		expect(fitCustomField('2031-01-15', CUSTOM[2], undefined, { yearForBirthdays: 0 })).toEqual({ ok: true, value: '2031-01-15' });
		expect(fitCustomField('15/01/2031', CUSTOM[2], MERGE_FIELDS[5], { yearForBirthdays: 0 })).toEqual({ ok: true, value: '2031-01-15' });
	});
});

describe('the phone of a member with several phone fields', () => {
	const mapping = mappingFromDefaults(MERGE_FIELDS);

	it('takes the first field that holds a valid mobile, not the first that holds something, and says why', () => {
		const result = mapMember(member({ smsPhone: '12345' }, { PHONE: '0412 345 703' }), mapping, context());
		expect(result.ok && result.contact.phone).toBe('+61412345703');
		expect(result.ok && result.warnings).toEqual([
			'The SMS phone number was skipped ("12345" is not a valid phone number in Australia); the PHONE field was used',
		]);
	});

	it('skips a landline in the SMS phone number for a mobile in the PHONE field', () => {
		const result = mapMember(member({ smsPhone: '02 5550 1234' }, { PHONE: '+44 7400 123456' }), mapping, context());
		expect(result.ok && result.contact.phone).toBe('+447400123456');
		expect(result.ok && result.warnings[0]).toContain('"02 5550 1234" is a landline in Australia');
	});

	it('keeps the SMS phone number when it is a valid mobile, whatever the PHONE field holds', () => {
		const result = mapMember(member({ smsPhone: '0491 570 110' }, { PHONE: '0412 345 703' }), mapping, context());
		expect(result.ok && result.contact.phone).toBe('+61491570110');
		expect(result.ok && result.warnings).toEqual([]);
	});

	it('gives every reason when no field holds a valid mobile', () => {
		const result = mapMember(member({ smsPhone: '12345' }, { PHONE: '02 5550 1234' }), mapping, context());
		expect(result).toEqual({
			ok: false,
			invalidReason: 'phone-invalid',
			problems: [
				{
					field: 'phone',
					reason:
						'The SMS phone number: "12345" is not a valid phone number in Australia; the PHONE field: "02 5550 1234" is a landline in Australia, which cannot receive SMS',
				},
			],
		});
	});

	it('reads each field by its own format: a US-format field as American', () => {
		const usMapping = { phone: from('smsPhone||merge:USPHONE') };
		const result = mapMember(member({ smsPhone: 'n/a' }, { USPHONE: '201-555-0199' }), usMapping, context());
		expect(result.ok && result.contact.phone).toBe('+12015550199');
	});
});

describe('a phone with an extension, a tel: URI or digits from another script', () => {
	const mapping = mappingFromDefaults(MERGE_FIELDS);

	it.each([
		['+61 412 345 681 ext. 12', '+61412345681', '12'],
		['(415) 555-2671 x99', '+14155552671', '99'],
		['tel:+61-412-345-681;ext=7', '+61412345681', '7'],
	])('syncs %s as %s and warns that the extension %s was dropped', (phone, expected, extension) => {
		const us = phone.startsWith('(') ? { ADDRESS: { addr1: 'x', country: 'US' } } : {};
		const result = mapMember(member({}, { PHONE: phone, ...us }), mapping, context());
		expect(result.ok && result.contact.phone).toBe(expected);
		expect(result.ok && result.warnings).toEqual([
			`The phone number's extension (${extension}) was dropped: an SMS goes to the number itself`,
		]);
	});

	it.each([
		['tel:+61-412-345-681', '+61412345681'],
		['＋６１ ４１２ ３４５ ６８１', '+61412345681'],
		['٠٤١٢ ٣٤٥ ٦٨١', '+61412345681'],
	])('syncs %s as %s without a warning', (phone, expected) => {
		const result = mapMember(member({}, { PHONE: phone }), mapping, context());
		expect(result.ok && result.contact.phone).toBe(expected);
		expect(result.ok && result.warnings).toEqual([]);
	});
});
