/**
 * A fake n8n context whose `sinchHubApi` credential points at a Hub emulator, and a Hub client on it.
 * Retries wait through `waits` instead of sleeping (the test decides what happens between attempts).
 */
import type { RetryPolicy } from '../../../nodes/shared/retry';
import { HubClient, createHubClient } from '../../../nodes/shared/transport/hub';
import { SinchHubApi } from '../../../credentials/SinchHubApi.credentials';
import type { HubEmulator } from '../../emulators/hub';
import { fakeExecuteContext, type FakeExecuteContext } from './fakeExecuteContext';

export interface HubTestCredential {
	apiKey: string;
	apiSecret: string;
	/** Sent as the Account header (the credential's Sub-Account ID). */
	subAccount?: string;
	/** Defaults to the emulator's URL (region "custom"). */
	baseUrl?: string;
}

/** The `credentials` of a fake context whose Hub credential points at the emulator. */
export function hubCredentials(emu: Pick<HubEmulator, 'url'>, credential: HubTestCredential) {
	return {
		sinchHubApi: {
			type: new SinchHubApi(),
			data: { region: 'custom', baseUrl: credential.baseUrl ?? emu.url, apiKey: credential.apiKey, apiSecret: credential.apiSecret, accountId: credential.subAccount ?? '' },
		},
	};
}

export function hubContext(emu: Pick<HubEmulator, 'url'>, credential: HubTestCredential): FakeExecuteContext {
	return fakeExecuteContext({ credentials: hubCredentials(emu, credential) });
}

export interface TestHubClient {
	ctx: FakeExecuteContext;
	client: HubClient;
	/** Every wait the retry policy asked for, in order. */
	waits: number[];
}

export async function testHubClient(
	emu: Pick<HubEmulator, 'url'>,
	credential: HubTestCredential,
	options: { onWait?: (ms: number) => void | Promise<void>; retryPolicy?: RetryPolicy; timeoutMs?: number; keepAlive?: boolean } = {},
): Promise<TestHubClient> {
	const ctx = hubContext(emu, credential);
	const waits: number[] = [];
	const client = await createHubClient(ctx, {
		sleep: async (ms) => {
			waits.push(ms);
			await options.onWait?.(ms);
		},
		random: () => 0.5,
		retryPolicy: options.retryPolicy,
		timeoutMs: options.timeoutMs,
		keepAlive: options.keepAlive,
	});
	return { ctx, client, waits };
}

/**
 * A 5xx, a dropped connection and a timeout, one after the other, each answered correctly on its retry:
 * the scenario every way of sending Hub requests must pass. Returns the retry waits.
 */
export async function retryEachFaultOnce(
	emu: Pick<HubEmulator, 'url' | 'faults'>,
	credential: HubTestCredential,
	options: { keepAlive?: boolean } = {},
): Promise<number[]> {
	const clear = () => void Object.assign(emu.faults, { rate5xx: 0, dropRate: 0, latencyMs: 0 });
	const { client, waits } = await testHubClient(emu, credential, { timeoutMs: 200, onWait: clear, keepAlive: options.keepAlive });
	for (const fault of [{ rate5xx: 1 }, { dropRate: 1 }, { latencyMs: 1000 }]) {
		Object.assign(emu.faults, fault);
		await client.checkReplies();
	}
	return waits;
}
