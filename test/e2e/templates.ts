/**
 * The shipped workflow templates, pointed at an audience and at credentials the way a user does it
 * in the editor: pick the credentials, the audience and the tags. Used by the end-to-end tests, the
 * demo and the benchmark, so all three run the templates exactly as shipped otherwise.
 */
import type { CredentialFixture, WorkflowFixture } from './harness';

export const SYNC_TEMPLATE = 'workflows/mailchimp-hub-sync.json';
const PACKAGE = 'n8n-nodes-mailchimp-hub-sync.';

export interface SyncSetup {
	audienceId: string;
	/** Tag names (an expression could give ids too). */
	tags: string[];
	mailchimp: Pick<CredentialFixture, 'id' | 'name' | 'type'>;
	hub: Pick<CredentialFixture, 'id' | 'name' | 'type'>;
	/** Extra parameters per node name, e.g. a Remove action. */
	parameters?: Record<string, Record<string, unknown>>;
}

export function configureSyncTemplate(setup: SyncSetup): (workflow: WorkflowFixture) => WorkflowFixture {
	const ref = (c: { id: string; name: string }) => ({ id: c.id, name: c.name });
	const audience = { __rl: true, mode: 'id', value: setup.audienceId };
	const authentication = setup.mailchimp.type === 'mailchimpHubSyncOAuth2Api' ? 'oAuth2' : 'apiKey';
	return (workflow) => ({
		...workflow,
		nodes: workflow.nodes.map((node) => {
			const type = String(node.type);
			const parameters = { ...(node.parameters as Record<string, unknown>), ...setup.parameters?.[String(node.name)] };
			const credentials: Record<string, unknown> = {};
			if (type === `${PACKAGE}fetchTaggedMembers` || type === `${PACKAGE}mapFields`) {
				parameters.authentication = authentication;
				credentials[setup.mailchimp.type] = ref(setup.mailchimp);
			}
			if (type === `${PACKAGE}fetchTaggedMembers`) Object.assign(parameters, { audience, tags: setup.tags });
			if (type === `${PACKAGE}mapFields` || type === `${PACKAGE}upsertHubContact` || type === `${PACKAGE}applyConsent`) {
				credentials[setup.hub.type] = ref(setup.hub);
			}
			// The company name the user enters in the consent settings (the template ships it empty).
			if (type === `${PACKAGE}applyConsent` && parameters.position === 'before' && !parameters.companyName) parameters.companyName = 'Demo Company';
			return Object.keys(credentials).length > 0 ? { ...node, parameters, credentials } : { ...node, parameters };
		}),
	});
}
