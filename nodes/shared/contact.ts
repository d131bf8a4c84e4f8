/**
 * The contact a member should become, as Map Fields emits it (`json.contact`) and Upsert Hub Contact
 * reads it: the item contract between the two nodes. A mapped field the member has no value for is
 * `null`; a field that is not mapped is absent.
 */
export interface HubContactFields {
	/** E.164. */
	phone: string;
	firstName?: string | null;
	lastName?: string | null;
	/** ISO 3166-1 alpha-2. */
	country?: string | null;
	/** YYYY-MM-DD. */
	dateOfBirth?: string | null;
	/** The Hub has no email property; Upsert Hub Contact puts it into its email custom field. */
	email?: string | null;
	customFields: Array<{ id: string; value: string | null }>;
}
