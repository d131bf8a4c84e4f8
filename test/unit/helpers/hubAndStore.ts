/**
 * The set-up the Hub-writing node tests share: one Hub emulator per test file, reset before each test, and
 * a fresh SQLite store folder per test, removed after it (with every store the test opened closed first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { closeAllSyncStores, openSyncStore, type SyncStore } from '../../../nodes/shared/store';
import { startHubEmulator, type HubEmulator, type HubEmulatorOptions } from '../../emulators/hub';

export interface StoreDir {
	path: string;
	open(): Promise<SyncStore>;
	cleanup(): Promise<void>;
}

export function tempStore(prefix = 'hub-sync-'): StoreDir {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	const path = join(dir, 'store.sqlite');
	return {
		path,
		open: async () => await openSyncStore({ kind: 'sqlite', path }),
		async cleanup() {
			await closeAllSyncStores();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** Registers the file's hooks; `use` receives the emulator once and a new store before each test. */
export function useHubAndStore(options: HubEmulatorOptions, use: (hub: HubEmulator, store: StoreDir) => void): void {
	let hub: HubEmulator | undefined;
	let store: StoreDir | undefined;
	beforeAll(async () => {
		hub = await startHubEmulator(options);
	});
	afterAll(async () => hub?.close());
	beforeEach(() => {
		hub!.reset();
		hub!.counters.clear();
		store = tempStore();
		use(hub!, store);
	});
	afterEach(async () => store?.cleanup());
}
