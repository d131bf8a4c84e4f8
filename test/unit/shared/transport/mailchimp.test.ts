/**
 * The Mailchimp transport against the Mailchimp emulator, through the official client: credential
 * isolation, complete paging, the concurrency cap, retries, and errors that name the problem and
 * never the secret.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { INode } from 'n8n-workflow';

import {
	MailchimpClient,
	accountKeyOf,
	classifyMailchimpError,
	dataCenterOfApiKey,
	resolveMailchimpAuth,
	type MailchimpAuth,
} from '../../../../nodes/shared/transport/mailchimp';
import { NO_FAULTS } from '../../../emulators/common';
import { credentialsOf, demoDataset, largeAudience } from '../../../emulators/datasets';
import { startMailchimpEmulator, type MailchimpEmulator } from '../../../emulators/mailchimp';

const node: INode = {
	id: 'n1',
	name: 'Fetch Tagged Members',
	type: 'n8n-nodes-mailchimp-hub-sync.fetchTaggedMembers',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};
const noWait = async () => {};

let emulator: MailchimpEmulator;
const dataset = demoDataset();
const [harbour, fern] = credentialsOf(dataset);
const audienceId = harbour.lists[0].id;

beforeAll(async () => {
	emulator = await startMailchimpEmulator({ dataset });
});
afterAll(() => emulator.close());
beforeEach(() => {
	Object.assign(emulator.faults, NO_FAULTS);
	emulator.requests.length = 0;
});

const apiKeyAuth = (apiKey = harbour.apiKey!): Promise<MailchimpAuth> =>
	resolveMailchimpAuth('apiKey', { apiKey, apiBaseUrl: emulator.url }, node);
const oauthAuth = (token = fern.oauthToken!): Promise<MailchimpAuth> =>
	resolveMailchimpAuth(
		'oAuth2',
		{ oauthTokenData: { access_token: token }, metadataUrl: `${emulator.url}/oauth2/metadata`, apiBaseUrl: emulator.url },
		node,
	);

function errorOf(promise: Promise<unknown>): Promise<Error & { description?: string; httpCode?: string }> {
	return promise.then(
		() => {
			throw new Error('expected a failure');
		},
		(e) => e,
	);
}

describe('credentials', () => {
	it('validates the data center of an API key before building a host name', () => {
		expect(dataCenterOfApiKey('abc-us6', node)).toBe('us6');
		for (const bad of ['abc', 'abc-evil.example.com/x', 'abc-US6', 'abc-us']) {
			expect(() => dataCenterOfApiKey(bad, node)).toThrow('no valid data center');
		}
	});

	it('builds the real host from the key when no base URL is set', async () => {
		const auth = await resolveMailchimpAuth('apiKey', { apiKey: 'k-us19' }, node);
		expect(auth.baseUrl).toBe('https://us19.api.mailchimp.com/3.0');
	});

	it('looks up the OAuth data center once per token and caches it', async () => {
		const before = emulator.counters.get('GET /oauth2/metadata') ?? 0;
		const token = credentialsOf(demoDataset())[0].oauthToken!;
		await oauthAuth(token);
		await oauthAuth(token);
		expect((emulator.counters.get('GET /oauth2/metadata') ?? 0) - before).toBe(1);
	});

	it('turns the metadata endpoint\'s "200 with error" into "reconnect the credential"', async () => {
		const error = await errorOf(oauthAuth('not-a-real-token'));
		expect(error.message).toBe('Mailchimp rejected the OAuth access token; reconnect the credential');
		expect(error.description).toContain('invalid_token');
		expect(JSON.stringify(error)).not.toContain('not-a-real-token');
	});

	it('says an unconnected OAuth credential must be connected', async () => {
		const error = await errorOf(resolveMailchimpAuth('oAuth2', { oauthTokenData: {} }, node));
		expect(error.message).toContain('not connected');
	});
});

describe('reading', () => {
	it('lists every tag of the audience, not the default first 10', async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		const tags = await client.getTags(audienceId);
		const expected = emulator.state.dump().accounts[0].lists[0].segments!.filter((s) => (s.type ?? 'static') === 'static');
		expect(tags.length).toBe(expected.length);
		expect(tags.length).toBeGreaterThan(10);
	});

	it('reads all pages of a large tag, each member once', async () => {
		const big = await startMailchimpEmulator({ dataset: largeAudience({ members: 5500, tags: ['VIP'], seed: 7 }) });
		try {
			const [account] = credentialsOf(big.state.dump());
			const auth = await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: big.url }, node);
			const client = new MailchimpClient(auth, node);
			const [tag] = await client.getTags(account.lists[0].id);
			const members = await client.getTagMembers(account.lists[0].id, tag);
			expect(new Set(members.map((m) => m.id)).size).toBe(members.length);
			expect(members.length).toBe(tag.memberCount);
			expect(members.length).toBeGreaterThan(1000);
			// First page, then the rest: ceil(n / 1000) requests, every one with count=1000.
			const pages = big.requests.filter((r) => r.route?.endsWith('/members'));
			expect(pages.length).toBe(Math.ceil(members.length / 1000));
		} finally {
			await big.close();
		}
	});

	it('reads the pages over kept-alive connections, at most one per request in flight, and keeps no cookies', async () => {
		const big = await startMailchimpEmulator({ dataset: largeAudience({ members: 12_000, tags: ['VIP'], seed: 11 }) });
		let connections = 0;
		const cookies: string[] = [];
		big.server.on('connection', () => connections++);
		big.server.on('request', (req) => void (req.headers.cookie !== undefined && cookies.push(req.headers.cookie)));
		try {
			const [account] = credentialsOf(big.state.dump());
			const auth = await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: big.url }, node);
			const client = new MailchimpClient(auth, node, { concurrency: 4 });
			const [tag] = await client.getTags(account.lists[0].id);
			await client.getTagMembers(account.lists[0].id, tag);
			await client.getTagMembers(account.lists[0].id, tag);
			const requests = big.requests.filter((r) => !r.path.startsWith('/_control'));
			expect(requests.length).toBe(1 + 2 * Math.ceil(tag.memberCount! / 1000));
			expect(requests.length).toBeGreaterThan(10);
			// The official client alone opens one connection per request.
			expect(connections).toBeLessThanOrEqual(4);
			expect(cookies).toEqual([]);
		} finally {
			await big.close();
		}
	});

	it("asks for every page of a tag at once, without waiting for the first page's total", async () => {
		const big = await startMailchimpEmulator({ dataset: largeAudience({ members: 4500, tags: [{ name: 'All', share: 1 }], seed: 8 }) });
		try {
			big.faults.latencyMs = 50;
			const [account] = credentialsOf(big.state.dump());
			const auth = await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: big.url }, node);
			const client = new MailchimpClient(auth, node);
			const [tag] = await client.getTags(account.lists[0].id);
			big.requests.length = 0;
			const members = await client.getTagMembers(account.lists[0].id, tag);
			expect(members.length).toBe(tag.memberCount);
			// All pages went out before any answer came back (the emulator records a request as it arrives).
			const pages = big.requests.filter((r) => r.route?.endsWith('/members'));
			expect(pages.length).toBe(Math.ceil(tag.memberCount! / 1000));
			expect(Math.max(...pages.map((p) => p.at)) - Math.min(...pages.map((p) => p.at))).toBeLessThan(50);
		} finally {
			await big.close();
		}
	});

	it('reads the pages a stale count left out, and copes with pages a shrunken one made empty', async () => {
		const total = { now: 2500 };
		const asked: number[] = [];
		const readPage = async (offset: number, count: number) => {
			asked.push(offset);
			const items = Array.from({ length: Math.max(0, Math.min(count, total.now - offset)) }, (_, i) => offset + i);
			return { items, total: total.now };
		};
		const client = new MailchimpClient(await apiKeyAuth(), node);
		// The count said 1,500; the tag has 2,500 members by now.
		expect(await client.readAll(readPage, { expectedTotal: 1500 })).toEqual(Array.from({ length: 2500 }, (_, i) => i));
		expect(asked).toEqual([0, 1000, 2000]);
		asked.length = 0;
		total.now = 900;
		expect(await client.readAll(readPage, { expectedTotal: 2500 })).toEqual(Array.from({ length: 900 }, (_, i) => i));
		expect(asked).toEqual([0, 1000, 2000]);
	});

	it('reads merge fields, audiences and a member\'s full tag list', async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		const fields = await client.getMergeFields(audienceId);
		expect(fields.map((f) => f.tag)).toEqual(expect.arrayContaining(['FNAME', 'LNAME', 'PHONE']));
		const audiences = await client.getAudiences();
		expect(audiences.map((a) => a.id).sort()).toEqual(harbour.lists.map((l) => l.id).sort());
		const crowded = emulator.state
			.dump()
			.accounts[0].lists[0].members.find((m) => (m.tags?.length ?? 0) > 50)!;
		const tags = await client.getMemberTags(audienceId, crowded.email_address);
		expect(tags.length).toBe(crowded.tags!.length);
	});

	it('reads a last_changed window oldest first', async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		const members = await client.getMembers(audienceId, { sortField: 'last_changed', sortDir: 'ASC' });
		const stamps = members.map((m) => m.last_changed!);
		expect([...stamps].sort()).toEqual(stamps);
		expect(members.length).toBeGreaterThan(10);
	});
});

describe('merge fields shared within a run', () => {
	const reads = () => emulator.counters.get('GET /3.0/lists/{list_id}/merge-fields') ?? 0;

	it('are read once per run and account, and again for another run or account', async () => {
		const before = reads();
		const fetch = new MailchimpClient(await apiKeyAuth(), node, { runId: 'run-a' });
		const map = new MailchimpClient(await apiKeyAuth(), node, { runId: 'run-a' });
		const fields = await fetch.getMergeFields(audienceId);
		expect(await map.getMergeFields(audienceId)).toBe(fields);
		expect(reads() - before).toBe(1);

		await new MailchimpClient(await apiKeyAuth(), node, { runId: 'run-b' }).getMergeFields(audienceId);
		await new MailchimpClient(await apiKeyAuth(), node).getMergeFields(audienceId);
		expect(reads() - before).toBe(3);
		// Another account's client never takes this account's answer.
		const other = new MailchimpClient(await oauthAuth(), node, { runId: 'run-a' });
		await other.getMergeFields(fern.lists[0].id);
		expect(reads() - before).toBe(4);
	});

	it('are not kept when the read failed: the next node reads again', async () => {
		const failing = new MailchimpClient(await apiKeyAuth(), node, {
			runId: 'run-c',
			sleep: noWait,
			retryPolicy: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxTotalWaitMs: 1 },
		});
		emulator.faults.rate5xx = 1;
		await expect(failing.getMergeFields(audienceId)).rejects.toThrow();
		emulator.faults.rate5xx = 0;
		const before = reads();
		const fields = await new MailchimpClient(await apiKeyAuth(), node, { runId: 'run-c' }).getMergeFields(audienceId);
		expect(fields.length).toBeGreaterThan(0);
		expect(reads() - before).toBe(1);
	});
});

describe('isolation', () => {
	it("never sends one account's credential with another's requests, interleaved and concurrent", async () => {
		const clientA = new MailchimpClient(await apiKeyAuth(), node);
		const clientB = new MailchimpClient(await oauthAuth(), node);
		const fernAudience = fern.lists[0].id;
		emulator.faults.latencyMs = 5;
		emulator.requests.length = 0;
		const rounds = Array.from({ length: 12 }, (_, i) =>
			i % 2 === 0 ? clientA.getTags(audienceId).then(() => 'A') : clientB.getTags(fernAudience).then(() => 'B'),
		);
		await Promise.all(rounds);
		const byPath = emulator.requests.filter((r) => r.path.includes('/segments'));
		expect(byPath.length).toBeGreaterThanOrEqual(12);
		for (const request of byPath) {
			expect(request.outcome).toBe('ok');
			const owner = request.path.includes(audienceId) ? harbour.accountId : fern.accountId;
			expect(request.accountId).toBe(owner);
		}
		expect(new Set(byPath.map((r) => r.scheme))).toEqual(new Set(['basic', 'bearer']));
	});
});

describe('throttling and faults', () => {
	it('keeps at most `concurrency` requests in flight per credential', async () => {
		const big = await startMailchimpEmulator({
			dataset: largeAudience({ members: 9000, tags: ['A'], seed: 3 }),
			maxConnections: 3,
		});
		try {
			big.faults.latencyMs = 30;
			const [account] = credentialsOf(big.state.dump());
			const auth = await resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: big.url }, node);
			const client = new MailchimpClient(auth, node, { concurrency: 3, sleep: noWait });
			const [tag] = await client.getTags(account.lists[0].id);
			await client.getTagMembers(account.lists[0].id, tag);
			expect(big.requests.filter((r) => r.outcome === 'too-many-connections')).toEqual([]);
		} finally {
			await big.close();
		}
	});

	it("two nodes with different Concurrency settings share the account's 10 connections, never exceed them", async () => {
		const big = await startMailchimpEmulator({ dataset: largeAudience({ members: 9000, tags: [{ name: 'A', share: 1 }], seed: 3 }) });
		try {
			big.faults.latencyMs = 40;
			const [account] = credentialsOf(big.state.dump());
			const auth = () => resolveMailchimpAuth('apiKey', { apiKey: account.apiKey, apiBaseUrl: big.url }, node);
			const six = new MailchimpClient(await auth(), node, { concurrency: 6, sleep: noWait });
			const seven = new MailchimpClient(await auth(), { ...node, id: 'n2' }, { concurrency: 7, sleep: noWait });
			const [tag] = await six.getTags(account.lists[0].id);
			let peak = 0;
			const probe = setInterval(() => (peak = Math.max(peak, big.state.account(account.accountId)!.inFlight)), 2);
			const [a, b] = await Promise.all([six.getTagMembers(account.lists[0].id, tag), seven.getTagMembers(account.lists[0].id, tag)]);
			clearInterval(probe);
			expect(a.length).toBe(b.length);
			// Nine pages each: both nodes had more work than the account allows at once.
			expect(big.requests.filter((r) => r.outcome === 'too-many-connections')).toEqual([]);
			expect(peak).toBeGreaterThan(7);
			expect(peak).toBeLessThanOrEqual(10);
		} finally {
			await big.close();
		}
	});

	it('knows the account by its address and a hash of the key, never the key', async () => {
		const auth = await apiKeyAuth();
		const key = accountKeyOf(auth);
		expect(key).toContain(emulator.url);
		expect(key).not.toContain(harbour.apiKey!);
		expect(key).not.toContain(harbour.apiKey!.split('-')[0]);
		expect(accountKeyOf(await apiKeyAuth())).toBe(key);
		expect(accountKeyOf(await apiKeyAuth(fern.apiKey!))).not.toBe(key);
	});

	it('retries through 429s, 5xx, body-less 403s and dropped connections', async () => {
		const retries: number[] = [];
		const client = new MailchimpClient(await apiKeyAuth(), node, {
			sleep: noWait,
			retryPolicy: { maxAttempts: 30, baseDelayMs: 1, maxDelayMs: 1, maxTotalWaitMs: 1000 },
			onRetry: ({ attempt }) => retries.push(attempt),
		});
		const expected = await client.getTags(audienceId);
		Object.assign(emulator.faults, { rate429: 0.2, rate5xx: 0.1, rate403NoBody: 0.1, dropRate: 0.1, seed: 3 });
		for (let i = 0; i < 10; i++) expect(await client.getTags(audienceId)).toEqual(expected);
		expect(retries.length).toBeGreaterThan(0);
	});

	it('gives up on a 429 storm with a message that says so', async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node, {
			sleep: noWait,
			retryPolicy: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1, maxTotalWaitMs: 1000 },
		});
		emulator.faults.rate429 = 1;
		const error = await errorOf(client.getTags(audienceId));
		expect(error.message).toBe('Mailchimp kept failing while trying to list the tags of the audience');
		expect(error.description).toContain('answered 429');
		expect(error.description).toContain('4 attempts');
	});

	it('classifies what is worth retrying', () => {
		expect(classifyMailchimpError({ status: 429 }).retryable).toBe(true);
		expect(classifyMailchimpError({ status: 503 }).retryable).toBe(true);
		expect(classifyMailchimpError({ status: 403, response: { body: {} } }).retryable).toBe(true);
		expect(classifyMailchimpError({ status: 403, response: { body: { title: 'Forbidden' } } }).retryable).toBe(false);
		expect(classifyMailchimpError({ status: 400, response: { body: { title: 'Invalid Resource' } } }).retryable).toBe(false);
		expect(classifyMailchimpError({ code: 'ECONNRESET' }).retryable).toBe(true);
		expect(classifyMailchimpError({ timeout: 120000, code: 'ECONNABORTED' }).retryable).toBe(true);
		expect(classifyMailchimpError({ status: 429, response: { headers: { 'retry-after': '2' } } }).retryAfterMs).toBe(2000);
	});
});

describe('unexpected answers (HTTP 200 with the wrong shape)', () => {
	const garbled = [
		['an HTML page', { rateHtml200: 1 }, 'an HTML page instead of JSON'],
		['{}', { rateEmpty200: 1 }, 'members is missing, not a list'],
		['a malformed page', { rateMalformed200: 1 }, 'members is an object, not a list'],
	] as const;

	it.each(garbled)('a tag page that is %s is an error naming the endpoint, never "no members"', async (_name, fault, problem) => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		const [tag] = await client.getTags(audienceId);
		Object.assign(emulator.faults, { ...fault, routeFilter: 'segments/\\{segment_id\\}/members', seed: 1 });
		const error = await errorOf(client.getTagMembers(audienceId, tag));
		expect(error.message).toBe(
			`Mailchimp gave an unexpected answer to GET /lists/${audienceId}/segments/${tag.id}/members: ${problem}`,
		);
		expect(error.description).toContain(`read the members of tag '${tag.name}'`);
		expect(error.description).toContain('nothing was synced or removed');
	});

	it.each(garbled)('a member lookup answered with %s is an error, never "deleted"', async (_name, fault) => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		const email = dataset.accounts[0].lists[0].members.find((m) => m.status === 'subscribed')!.email_address;
		Object.assign(emulator.faults, { ...fault, routeFilter: 'members/\\{', seed: 1 });
		const error = await errorOf(client.findMember(audienceId, email));
		expect(error.message).toMatch(new RegExp(`^Mailchimp gave an unexpected answer to GET /lists/${audienceId}/members/`));
	});

	it('a member page whose total_items is not a count, and the other listings, are checked too', async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		Object.assign(emulator.faults, { rateMalformed200: 1, seed: 1 });
		expect((await errorOf(client.getMembers(audienceId))).message).toMatch(/GET \/lists\/\w+\/members: members is an object/);
		expect((await errorOf(client.getTags(audienceId))).message).toMatch(/GET \/lists\/\w+\/segments: segments is an object/);
		expect((await errorOf(client.getMergeFields(audienceId))).message).toMatch(/GET \/lists\/\w+\/merge-fields: merge_fields is an object/);
		expect((await errorOf(client.getAudiences())).message).toMatch(/GET \/lists: lists is an object/);
		expect((await errorOf(client.getAudience(audienceId))).message).toMatch(/GET \/lists\/\w+: id is number 0/);
		Object.assign(emulator.faults, { rateMalformed200: 0, rateEmpty200: 1 });
		expect((await errorOf(client.getMemberTags(audienceId, dataset.accounts[0].lists[0].members[0].email_address))).message).toMatch(
			/GET \/lists\/\w+\/members\/[^/]+\/tags: tags is missing/,
		);
	});

	it('a bare 404 (a page from something in between, not Mailchimp\'s problem+json) is an error, never "deleted"', async () => {
		const stranger = createServer((_req, res) => {
			res.writeHead(404, { 'content-type': 'text/html' });
			res.end('<html><body>Not Found</body></html>');
		});
		await new Promise<void>((resolve) => stranger.listen(0, '127.0.0.1', resolve));
		try {
			const { port } = stranger.address() as AddressInfo;
			const auth = await resolveMailchimpAuth('apiKey', { apiKey: harbour.apiKey, apiBaseUrl: `http://127.0.0.1:${port}` }, node);
			const client = new MailchimpClient(auth, node);
			const error = await errorOf(client.findMember(audienceId, 'someone@example.com'));
			expect(error.httpCode).toBe('404');
		} finally {
			await new Promise((resolve) => stranger.close(resolve));
		}
	});

	it('a member that Mailchimp says does not exist (its problem+json 404) is null: deleted', async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		await expect(client.findMember(audienceId, 'nobody-here@example.com')).resolves.toBeNull();
	});
});

describe('errors', () => {
	it('names an unknown audience', async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		const error = await errorOf(client.getTags('nosuchlist'));
		expect(error.message).toBe("Mailchimp has no audience with ID 'nosuchlist'");
		expect(error.httpCode).toBe('404');
	});

	it("does not reach another account's audience", async () => {
		const client = new MailchimpClient(await apiKeyAuth(), node);
		const error = await errorOf(client.getTags(fern.lists[0].id));
		expect(error.message).toBe(`Mailchimp has no audience with ID '${fern.lists[0].id}'`);
	});

	it('says a revoked key must be checked, and never shows it', async () => {
		const dataset2 = demoDataset();
		const own = await startMailchimpEmulator({ dataset: dataset2 });
		try {
			const key = credentialsOf(dataset2)[0].apiKey!;
			const client = new MailchimpClient(await resolveMailchimpAuth('apiKey', { apiKey: key, apiBaseUrl: own.url }, node), node);
			own.state.revokeCredential(key);
			const error = await errorOf(client.getTags(audienceId));
			expect(error.message).toBe('Mailchimp rejected the API key; check it in the credential');
			const everything = JSON.stringify({ ...error, message: error.message, stack: error.stack, description: error.description });
			expect(everything).not.toContain(key);
			expect(everything).not.toContain(key.split('-')[0]);
		} finally {
			await own.close();
		}
	});

	it('refuses a concurrency above Mailchimp\'s connection limit', async () => {
		const auth = await apiKeyAuth();
		expect(() => new MailchimpClient(auth, node, { concurrency: 11 })).toThrow('between 1 and 10');
	});
});
