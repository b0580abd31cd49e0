import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { credentialOf, rateLimitPlugin } from '../../src/github/rate-limit-plugin.ts';
import { ProbotOctokit } from 'probot';
import { createMetrics, resetRateLimit } from '../../src/metrics/registry.ts';
import { emptyState } from '../../src/projections/state.ts';
import type { Projector } from '../../src/projections/projector.ts';

afterEach(() => {
  resetRateLimit();
  nock.cleanAll();
});

describe('rateLimitPlugin', () => {
  const Client = ProbotOctokit.plugin(rateLimitPlugin);
  const projector = { state: emptyState() } as unknown as Projector;
  const scrape = async () => (await createMetrics({ projector, clock: { now: () => new Date() } }).render()).toString();

  it('feeds the rate-limit gauges from successes and from failures', async () => {
    // Windows that have not reset yet (a reset reading shows as full again).
    const reset = Math.floor(Date.now() / 1000) + 1800;
    const api = nock('https://api.github.com')
      .get('/rate_limit')
      .reply(200, {}, { 'x-ratelimit-remaining': '4321', 'x-ratelimit-limit': '5000', 'x-ratelimit-reset': String(reset) })
      .get('/repos/a/b')
      .reply(403, { message: 'rate limited' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '5000', 'x-ratelimit-reset': String(reset + 100) });
    const client = new Client({ retry: { enabled: false }, throttle: { enabled: false }, log: { debug() {}, info() {}, warn() {}, error() {} } });
    await client.request('GET /rate_limit');
    expect(await scrape()).toMatch(/^leviathan_github_rate_limit_remaining 4321$/m);
    await expect(client.request('GET /repos/a/b')).rejects.toMatchObject({ status: 403 });
    const text = await scrape();
    expect(text).toMatch(/^leviathan_github_rate_limit_remaining 0$/m);
    expect(text).toMatch(/^leviathan_github_rate_limit_limit 5000$/m);
    expect(api.isDone()).toBe(true);
  });

  it('keeps one reading per installation and shows the most constrained, whichever answered last', async () => {
    const reset = String(Math.floor(Date.now() / 1000) + 1800);
    const headers = (remaining: number) => ({ 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-limit': '5000', 'x-ratelimit-reset': reset, 'x-ratelimit-resource': 'core' });
    const api = nock('https://api.github.com')
      .get('/repos/a/exhausted').reply(200, {}, headers(90))
      .get('/repos/b/idle').reply(200, {}, headers(4999))
      .get('/app').reply(200, {}, headers(4998));
    const quiet = { retry: { enabled: false }, throttle: { enabled: false }, log: { debug() {}, info() {}, warn() {}, error() {} } };
    // Token auth keeps the test offline; the budget comes from the `auth` options Probot gives each client.
    const ClientFor = (auth: Record<string, unknown>) =>
      new (ProbotOctokit.plugin((octokit: unknown) => rateLimitPlugin(octokit, { auth })))({ ...quiet, auth: 'ghs_test' });
    await ClientFor({ appId: 1, installationId: 11 }).request('GET /repos/a/exhausted');
    await ClientFor({ appId: 1, installationId: 22 }).request('GET /repos/b/idle');
    await ClientFor({ appId: 1 }).request('GET /app');
    const text = await scrape();
    expect(text).toMatch(/^leviathan_github_rate_limit_remaining 90$/m);
    expect(text).toMatch(/^leviathan_github_rate_limit_limit 5000$/m);
    expect(api.isDone()).toBe(true);
  });

  it('names the budget after the credential', () => {
    expect(credentialOf({ auth: { appId: '1', privateKey: 'k', installationId: 42 } })).toBe('installation:42');
    expect(credentialOf({ auth: { appId: '1', privateKey: 'k' } })).toBe('app');
    expect(credentialOf({ auth: 'ghp_x' })).toBe('token');
    expect(credentialOf(undefined)).toBe('token');
  });
});
