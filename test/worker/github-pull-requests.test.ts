import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { staticToken } from '../../src/worker/credentials.ts';
import { GitHubApiError, MAX_RATE_LIMIT_RETRIES, OctokitPullRequests, rateLimitRetry } from '../../src/worker/github-pull-requests.ts';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const pr = { owner: 'acme', repo: 'widgets', title: 'T', body: 'B', head: 'leviathan/t', base: 'main' };

afterEach(() => {
  const unused = nock.pendingMocks();
  nock.cleanAll();
  expect(unused).toEqual([]);
});

describe('rateLimitRetry', () => {
  it('waits out a limit that resets before the deadline', () => {
    expect(rateLimitRetry({ limit: 'secondary rate limit', retryAfterSeconds: 60, retryCount: 0, now: NOW, deadline: NOW + 5 * 60_000 })).toEqual({ retry: true });
  });

  it("refuses one that resets at or after the deadline, saying when each is", () => {
    expect(rateLimitRetry({ limit: 'rate limit', retryAfterSeconds: 3600, retryCount: 0, now: NOW, deadline: NOW + 15 * 60_000 })).toEqual({
      retry: false,
      reason: "GitHub rate limit: retry allowed in 3600s (2026-12-01T11:00:00.000Z), after the attempt's deadline (2026-12-01T10:15:00.000Z); not waiting",
    });
  });

  it(`retries ${MAX_RATE_LIMIT_RETRIES} times at most, however early the limit resets`, () => {
    const at = (retryCount: number) => rateLimitRetry({ limit: 'secondary rate limit', retryAfterSeconds: 1, retryCount, now: NOW, deadline: NOW + 60 * 60_000 });
    expect(at(MAX_RATE_LIMIT_RETRIES - 1).retry).toBe(true);
    expect(at(MAX_RATE_LIMIT_RETRIES)).toEqual({ retry: false, reason: `GitHub secondary rate limit hit ${MAX_RATE_LIMIT_RETRIES + 1} times in a row; not retried again` });
  });
});

describe('OctokitPullRequests with the throttle on, as in a worker', () => {
  const client = (deadline: number) =>
    new OctokitPullRequests({ credentials: staticToken('ghs_test'), retry: false, throttle: true, deadline, retryAfterBaseValue: 10 });

  it('a primary rate limit resetting in an hour, with 15 minutes left: fails at once with the reason, marked rate-limited', async () => {
    nock('https://api.github.com')
      .post('/repos/acme/widgets/pulls')
      .reply(403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 3600) });
    const started = Date.now();
    const err = await client(Date.now() + 15 * 60_000).openPullRequest(pr).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(GitHubApiError);
    expect(err).toMatchObject({ status: 403, rateLimited: true, message: expect.stringMatching(/^GitHub rate limit: retry allowed in \d+s .*after the attempt's deadline .*not waiting \(API rate limit exceeded/) });
  });

  it('a secondary rate limit that clears well before the deadline: waited out and retried', async () => {
    nock('https://api.github.com')
      .post('/repos/acme/widgets/pulls')
      .reply(403, { message: 'You have exceeded a secondary rate limit' }, { 'retry-after': '1' })
      .post('/repos/acme/widgets/pulls')
      .reply(201, { number: 5, html_url: 'https://github.com/acme/widgets/pull/5' });
    expect(await client(Date.now() + 15 * 60_000).openPullRequest(pr)).toEqual({ number: 5, url: 'https://github.com/acme/widgets/pull/5', created: true });
  });

  it('a request still unanswered at the deadline is abandoned', async () => {
    nock('https://api.github.com').post('/repos/acme/widgets/pulls').delay(10_000).reply(201, { number: 5, html_url: 'x' });
    const started = Date.now();
    await expect(client(Date.now() + 500).openPullRequest(pr)).rejects.toMatchObject({ message: expect.stringMatching(/^GitHub request abandoned: no answer before the attempt's deadline/) });
    // Octokit's throttle may first hold a write for up to 3 s (its spacing of notifying requests).
    expect(Date.now() - started).toBeLessThan(5_000);
    // Never answered, by design.
    nock.cleanAll();
  });
});
