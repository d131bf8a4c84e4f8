// The official client ships no types; this declares the part of its API this package uses.
declare module '@mailchimp/mailchimp_marketing/src/ApiClient' {
	interface HttpResult<T> {
		data: T;
		response: { status: number; headers: Record<string, string> };
	}
	type Opts = Record<string, unknown>;

	class ApiClient {
		basePath: string;
		timeout: number;
		defaultHeaders: Record<string, string>;
		/** When true, `agent.attachCookies` is called with each superagent request before it is sent. */
		enableCookies: boolean;
		agent: { attachCookies(request: { agent(agent: unknown): unknown }): void; saveCookies(response: unknown): void };
		setConfig(config: { apiKey?: string; accessToken?: string; server?: string }): void;
		ping: { getWithHttpInfo(): Promise<HttpResult<unknown>> };
		lists: {
			getAllListsWithHttpInfo(opts: Opts): Promise<HttpResult<unknown>>;
			getListWithHttpInfo(listId: string, opts: Opts): Promise<HttpResult<unknown>>;
			listSegmentsWithHttpInfo(listId: string, opts: Opts): Promise<HttpResult<unknown>>;
			getSegmentMembersListWithHttpInfo(listId: string, segmentId: string, opts: Opts): Promise<HttpResult<unknown>>;
			getListMembersInfoWithHttpInfo(listId: string, opts: Opts): Promise<HttpResult<unknown>>;
			getListMemberWithHttpInfo(listId: string, subscriberHash: string, opts: Opts): Promise<HttpResult<unknown>>;
			getListMergeFieldsWithHttpInfo(listId: string, opts: Opts): Promise<HttpResult<unknown>>;
			getListMemberTagsWithHttpInfo(listId: string, subscriberHash: string, opts: Opts): Promise<HttpResult<unknown>>;
		};
	}
	export = ApiClient;
}
