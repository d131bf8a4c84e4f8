/**
 * The shipped workflow templates, pointed at an audience and at credentials the way a user does it
 * in the editor: pick the credentials, the audience and the tags. Used by the end-to-end tests, the
 * demo and the benchmark, so all three run the templates exactly as shipped otherwise.
 */
import type { CredentialFixture, ExecutionResult, WorkflowFixture } from './harness';

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
		// The template keeps no data of successful runs (n8n's memory); the tests read their runs back from
		// n8n's database when `n8n execute` cuts a large run's printout short, so here n8n keeps them.
		settings: { ...workflow.settings, saveDataSuccessExecution: 'all' },
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

export interface ReleaseSummary {
	outcome: string;
	released: boolean;
	counts: Record<string, number>;
	errorSummary?: string;
	[key: string]: unknown;
}

/**
 * What Release Sync Lock recorded for a run: its item. The template's Release records a failed run and
 * passes it on (Stop: Sync Failed then fails the execution); a Release that fails the execution itself
 * (its default) carries the recorded run in its error's context.
 */
export function releaseSummary(run: ExecutionResult): ReleaseSummary {
	if (run.ok) return run.itemsOf('Release Sync Lock')[0] as ReleaseSummary;
	const task = run.run?.data.resultData.runData['Release Sync Lock']?.at(-1);
	const passedOn = task?.data?.main?.[0]?.[0]?.json as ReleaseSummary | undefined;
	const recorded = passedOn ?? (task?.error as { context?: { run?: ReleaseSummary } } | undefined)?.context?.run;
	if (!recorded) throw new Error(`The run failed before Release Sync Lock recorded it: ${run.error?.message ?? 'no error'}`);
	return recorded;
}
