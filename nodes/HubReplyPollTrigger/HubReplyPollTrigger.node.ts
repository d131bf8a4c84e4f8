import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
	type IPollFunctions,
} from 'n8n-workflow';

import { consentReplyFrom } from '../shared/consent/replies';
import { HUB_CREDENTIAL_TYPE, createHubClient } from '../shared/transport/hub';

interface PollState extends IDataObject {
	/** Replies handed to the workflow by the previous poll, confirmed to the Hub at the next one. */
	handedOver?: string[];
}

/**
 * The reply trigger for n8n instances the Hub cannot reach: asks the Replies API for unconfirmed
 * replies on n8n's polling schedule. Each reply is handed over once: its id is kept in the trigger's
 * static data (saved once n8n took the items) and confirmed to the Hub at the next poll. A poll that fails hands nothing over and confirms nothing.
 */
export class HubReplyPollTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Hub Reply Poll Trigger',
		name: 'hubReplyPollTrigger',
		icon: 'file:hubReplyPollTrigger.svg',
		group: ['trigger'],
		version: 1,
		description: 'Starts the workflow with new replies from the Sinch MessageMedia Hub Replies API (for n8n instances the Hub cannot call)',
		defaults: { name: 'Hub Reply Poll Trigger' },
		polling: true,
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: HUB_CREDENTIAL_TYPE, required: true }],
		properties: [
			{
				displayName: 'Replies are confirmed to the Hub after they were handed to this workflow, so each one starts it once',
				name: 'notice',
				type: 'notice',
				default: '',
			},
		],
	};

	async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
		const state = this.getWorkflowStaticData('node') as PollState;
		const hub = await createHubClient(this);
		const handedOver = state.handedOver ?? [];
		if (handedOver.length > 0) {
			await hub.confirmReplies(handedOver);
			state.handedOver = [];
		}
		const items: INodeExecutionData[] = [];
		const ids: string[] = [];
		for (const raw of await hub.checkReplies()) {
			const reply = consentReplyFrom(raw);
			if (typeof reply === 'string') {
				throw new NodeOperationError(this.getNode(), `GET /v1/replies answered a reply that cannot be read: ${reply}`, {
					description: "Nothing was handed over or confirmed; the same replies come back at the next poll. Check the Hub account's Replies API.",
				});
			}
			items.push({ json: { reply: { ...reply } } });
			ids.push(reply.replyId);
		}
		if (items.length === 0) return null;
		// Manual runs (the editor's "Fetch Test Event") never save static data: confirm right away there,
		// or the same replies would come back on every test.
		if (this.getMode() === 'manual') await hub.confirmReplies(ids);
		else state.handedOver = ids;
		return [items];
	}
}
