/**
 * Unit tests run the Hub client through the fake context's `httpRequestWithAuthentication`, which records
 * and lets tests intercept every request. The kept-alive wire that the real n8n uses by default has its
 * own tests (test/unit/shared/transport/hub-wire.test.ts, which turn it on per client) and runs in every
 * end-to-end test.
 */
import { HUB_TRANSPORT_ENV } from '../../../nodes/shared/transport/hub-wire';

process.env[HUB_TRANSPORT_ENV] = 'n8n';
