import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';

import { isPreviewRun } from '../../shared/preview';
import { openStoreForNode } from '../../shared/store/node';

/** How many more runs Status reads than it shows, so that left-out previews do not shorten the list. */
const PREVIEWS_READ_AHEAD = 50;
import { leaseJson, runJson, statusMessage } from '../helpers';
import { asNodeError, lockName, lockNameProperty } from './common';

const show = { operation: ['status'] };

export const description: INodeProperties[] = [
	lockNameProperty(['status']),
	{
		displayName: 'Runs to Show',
		name: 'runLimit',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 1000 },
		default: 10,
		description: 'How many of the latest runs to list, newest first',
		displayOptions: { show },
	},
	{
		displayName: 'Include Previews',
		name: 'includePreviews',
		type: 'boolean',
		default: false,
		description:
			'Whether to list previews (dry runs) among the runs. Either way the last run is the last real sync, and the last preview is shown apart.',
		displayOptions: { show },
	},
	{
		displayName: 'Include Refused Attempts',
		name: 'includeBusy',
		type: 'boolean',
		default: true,
		description: 'Whether to list the attempts that found the lock busy (outcome "busy") among the runs',
		displayOptions: { show },
	},
];

/** The user's "sync status": who runs now, and how the last runs went. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[][]> {
	const out: INodeExecutionData[] = [];
	for (let i = 0; i < items.length; i++) {
		try {
			const name = lockName(this, i);
			const limit = Number(this.getNodeParameter('runLimit', i, 10));
			const includeBusy = this.getNodeParameter('includeBusy', i, true) as boolean;
			const includePreviews = this.getNodeParameter('includePreviews', i, false) === true;
			const store = await openStoreForNode(this, i);
			// Previews are left out after reading, so some more runs are read to still show `limit` of the others.
			const status = await store.status(name, Math.min(limit + PREVIEWS_READ_AHEAD, 1000), { includeBusy });
			const runs = status.runs.filter((run) => includePreviews || !isPreviewRun(run)).slice(0, limit);
			// A preview writes nothing: it is never the last sync, and a lock only a preview holds is no sync running.
			const lastRun = status.runs.find((run) => run.outcome !== 'busy' && !isPreviewRun(run));
			const lastPreview = status.runs.find((run) => isPreviewRun(run));
			const previewRunning = status.holder !== null && lastPreview?.id === status.holder.runId;
			// Consent messages claimed but never marked sent: a run stopped between the Hub's answer and the
			// store (or the answer was lost). They are never resent; the operator checks them in the Hub.
			const audienceId = lastRun?.audienceId ?? name;
			const unconfirmed = (await store.readConsent(audienceId)).filter((record) => record.state === 'claimed').map((record) => record.phone);
			const consentNote = unconfirmed.length
				? `; ${unconfirmed.length} consent message${unconfirmed.length === 1 ? '' : 's'} may have gone out without the Hub's answer reaching us (never resent): check ${unconfirmed.length === 1 ? 'it' : 'them'} in the Hub's sent messages`
				: '';
			out.push({
				json: {
					lockName: name,
					running: status.holder !== null && !previewRunning,
					holder: status.holder ? leaseJson(status.holder) : null,
					previewRunning,
					message: statusMessage(name, status.holder, status.runs, this.getTimezone()) + consentNote,
					lastRun: lastRun ? runJson(lastRun) : null,
					lastPreview: lastPreview ? runJson(lastPreview) : null,
					runs: runs.map(runJson) as IDataObject[],
					consentClaimedUnknown: unconfirmed,
				},
				pairedItem: { item: i },
			});
		} catch (error) {
			const failure = asNodeError(this, error, i);
			if (!this.continueOnFail()) throw failure;
			out.push({ json: { error: failure.message }, pairedItem: { item: i } });
		}
	}
	return [out];
}
