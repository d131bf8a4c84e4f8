/** What the editor asks of Fetch Tagged Members: the audience search, the tag dropdown, credential tests. */
import { getTags, mailchimpCredentialTest, searchAudiences } from '../../shared/methods/mailchimp';
import { hubSyncStorePostgresTest } from '../../shared/store/node';

export const methods = {
	listSearch: { searchAudiences },
	loadOptions: { getTags },
	// n8n looks a credential's test up in the first node that lists the credential: each node needs both.
	credentialTest: { mailchimpCredentialTest, hubSyncStorePostgresTest },
};
