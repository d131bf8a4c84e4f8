/** The poll trigger against the Hub emulator's Replies API: each reply handed over once, confirmed afterwards. */
import type { IDataObject, IPollFunctions } from 'n8n-workflow';

import { HubReplyPollTrigger } from '../../../nodes/HubReplyPollTrigger/HubReplyPollTrigger.node';
import { DEFAULT_HUB_ACCOUNT, startHubEmulator, type HubEmulator } from '../../emulators/hub';
import { hubContext } from '../helpers/hubContext';

const ACCOUNT = DEFAULT_HUB_ACCOUNT.accountId!;

describe('Hub Reply Poll Trigger', () => {
	let hub: HubEmulator;
	let staticData: IDataObject;
	const trigger = new HubReplyPollTrigger();
	const poll = (mode = 'trigger') => {
		const ctx = hubContext(hub, { apiKey: DEFAULT_HUB_ACCOUNT.apiKey, apiSecret: DEFAULT_HUB_ACCOUNT.apiSecret });
		return trigger.poll.call(Object.assign(ctx, { getWorkflowStaticData: () => staticData, getMode: () => mode }) as unknown as IPollFunctions);
	};
	const unconfirmed = () => hub.account(ACCOUNT).replies.filter((r) => !r.confirmed).length;

	beforeEach(async () => {
		hub = await startHubEmulator({ accounts: [DEFAULT_HUB_ACCOUNT] });
		staticData = {};
		hub.account(ACCOUNT).sendMessages({ messages: [{ content: 'Reply Y', destination_number: '+61491570156', metadata: { purpose: 'x' } }] });
	});
	afterEach(async () => {
		await hub.close();
	});

	it('hands new replies over, confirms them at the next poll, and never hands them over twice', async () => {
		expect(await poll()).toBeNull();
		await hub.inbound(ACCOUNT, { from: '+61491570156', content: 'Yes' });
		await hub.inbound(ACCOUNT, { from: '+61491570157', content: 'STOP', to: '+61400000000' });
		const first = await poll();
		expect(first?.[0].map((i) => (i.json.reply as { content: string; meaning: string; metadata: object }))).toEqual([
			expect.objectContaining({ content: 'Yes', meaning: 'confirm', metadata: { purpose: 'x' } }),
			expect.objectContaining({ content: 'STOP', meaning: 'opt-out' }),
		]);
		// Not confirmed until n8n took them (the static data with their ids is saved with the run).
		expect(unconfirmed()).toBe(2);
		expect(await poll()).toBeNull();
		expect(unconfirmed()).toBe(0);
		expect(staticData.handedOver).toEqual([]);
	});

	it('a manual test run (static data never saved) confirms what it fetched at once', async () => {
		await hub.inbound(ACCOUNT, { from: '+61491570156', content: 'y' });
		expect((await poll('manual'))?.[0]).toHaveLength(1);
		expect(unconfirmed()).toBe(0);
		expect(staticData.handedOver).toBeUndefined();
	});
});
