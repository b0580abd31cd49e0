import { generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { BacklogReadError, GitHubBacklogRefresher, isStale } from '../../src/scheduler/backlog-refresh.ts';
import { buildSnapshot, type TargetSnapshot } from '../../src/scheduler/snapshot.ts';
import { minutes, project, target, task } from './given.ts';

const API = 'https://api.github.com';
const A = 'acme/widgets';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

function snapshotTarget(etag: string | null = '"b1" - -', installation: number | null = 7): TargetSnapshot {
  const events = target(A, [task('docs-a')], etag ? { etag } : {});
  if (installation === null) events[0]!.data = { default_branch: 'main' };
  return buildSnapshot(project(events), minutes(0)).targets[0]!;
}

function installationToken() {
  return nock(API).post('/app/installations/7/access_tokens').reply(201, { token: 'ghs_installation', expires_at: '2099-01-01T00:00:00Z', permissions: { contents: 'read' } });
}

const BACKLOG = 'tasks:\n  - id: fresh\n    ready: true\n    allowed_paths: [docs/]\n';

describe('GitHubBacklogRefresher', () => {
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending).toEqual([]);
  });

  const refresher = () => new GitHubBacklogRefresher({ appId: '123', privateKey, baseUrl: API });

  it('asks with If-None-Match and records nothing when GitHub answers 304 for every file', async () => {
    installationToken();
    const scope = nock(API, { reqheaders: { 'if-none-match': '"b1"' } })
      .get('/repos/acme/widgets/contents/.leviathan/backlog.yaml')
      .query({ ref: 'main' })
      .reply(304);
    nock(API).get('/repos/acme/widgets/contents/.leviathan/policy.yaml').query({ ref: 'main' }).reply(404);
    nock(API).get('/repos/acme/widgets/contents/.leviathan/contract.yaml').query({ ref: 'main' }).reply(404);

    expect(await refresher().refresh(snapshotTarget())).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('records backlog.synced when the file changed', async () => {
    installationToken();
    nock(API).get('/repos/acme/widgets/contents/.leviathan/backlog.yaml').query({ ref: 'main' }).reply(200, BACKLOG, { etag: '"b2"' });
    nock(API).get('/repos/acme/widgets/contents/.leviathan/policy.yaml').query({ ref: 'main' }).reply(404);
    nock(API).get('/repos/acme/widgets/contents/.leviathan/contract.yaml').query({ ref: 'main' }).reply(404);

    const e = await refresher().refresh(snapshotTarget());
    expect(e).toMatchObject({ type: 'backlog.synced', actor: 'scheduler', target: A, data: { etag: '"b2" - -', tasks: [expect.objectContaining({ id: 'fresh' })] } });
  });

  it('maps refused App credentials (401 when minting the installation token) to github_auth_failed', async () => {
    nock(API).post('/app/installations/7/access_tokens').reply(401, { message: 'A JSON web token could not be decoded' });
    const err = await refresher().refresh(snapshotTarget()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BacklogReadError);
    expect((err as BacklogReadError).reason).toBe('github_auth_failed');
    expect((err as BacklogReadError).message).toMatch(/HTTP 401/);
  });

  it.each([
    [403, {}, 'github_auth_failed'],
    [403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1800000000' }, 'github_rate_limited'],
    [403, { 'retry-after': '60' }, 'github_rate_limited'],
    [429, {}, 'github_rate_limited'],
    [502, {}, 'backlog_unreadable'],
  ])('maps HTTP %i with headers %j to %s', async (status, headers, reason) => {
    installationToken();
    nock(API).get('/repos/acme/widgets/contents/.leviathan/backlog.yaml').query(true).reply(status, { message: 'nope' }, headers);
    nock(API).get('/repos/acme/widgets/contents/.leviathan/policy.yaml').query(true).reply(404);
    nock(API).get('/repos/acme/widgets/contents/.leviathan/contract.yaml').query(true).reply(404);
    const err = await refresher().refresh(snapshotTarget()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BacklogReadError);
    expect((err as BacklogReadError).reason).toBe(reason);
  });

  it.each([
    ['backlog', 502],
    ['policy', 502],
    ['policy', 500],
  ])('names the file that failed: %s.yaml answering HTTP %i', async (failing, status) => {
    installationToken();
    for (const key of ['backlog', 'policy', 'contract']) {
      const scope = nock(API).get(`/repos/acme/widgets/contents/.leviathan/${key}.yaml`).query(true);
      if (key === failing) scope.reply(status, { message: 'nope' });
      else if (key === 'backlog') scope.reply(200, BACKLOG, { etag: '"b2"' });
      else scope.reply(404);
    }
    const err = await refresher().refresh(snapshotTarget()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BacklogReadError);
    expect(err).toMatchObject({ reason: 'backlog_unreadable', message: `Could not read .leviathan/${failing}.yaml of acme/widgets (HTTP ${status}).` });
  });

  it('maps an exhausted rate limit on policy.yaml to github_rate_limited, as on the backlog', async () => {
    installationToken();
    nock(API).get('/repos/acme/widgets/contents/.leviathan/backlog.yaml').query(true).reply(200, BACKLOG, { etag: '"b2"' });
    nock(API).get('/repos/acme/widgets/contents/.leviathan/policy.yaml').query(true).reply(403, { message: 'rate limited' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1800000000' });
    nock(API).get('/repos/acme/widgets/contents/.leviathan/contract.yaml').query(true).reply(404);
    const err = await refresher().refresh(snapshotTarget()).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'github_rate_limited' });
  });

  it('does not blame a file when the installation token could not be had', async () => {
    nock(API).post('/app/installations/7/access_tokens').reply(500, { message: 'boom' });
    const err = await refresher().refresh(snapshotTarget()).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'backlog_unreadable', message: 'Could not read the .leviathan/ files of acme/widgets (HTTP 500).' });
  });

  it.each([
    ['HTTP 502', (i: nock.Interceptor) => i.reply(502, { message: 'Bad Gateway' }), /^could not be read from GitHub \(HTTP 502\)/],
    ['a network error', (i: nock.Interceptor) => i.replyWithError('connect ECONNRESET'), /^could not be read from GitHub \(.+\)/],
  ])('does not hold the target for contract.yaml failing with %s: the backlog syncs and the contract error is recorded', async (_what, answer, reason) => {
    installationToken();
    nock(API).get('/repos/acme/widgets/contents/.leviathan/backlog.yaml').query({ ref: 'main' }).reply(200, BACKLOG, { etag: '"b2"' });
    nock(API).get('/repos/acme/widgets/contents/.leviathan/policy.yaml').query({ ref: 'main' }).reply(404);
    answer(nock(API).get('/repos/acme/widgets/contents/.leviathan/contract.yaml').query({ ref: 'main' }));

    const e = await refresher().refresh(snapshotTarget());
    expect(e).toMatchObject({
      type: 'backlog.synced',
      data: { etag: '"b2" - !', tasks: [expect.objectContaining({ id: 'fresh' })], contract_error: { line: null, reason: expect.stringMatching(reason) } },
    });
  });

  it('fails github_auth_failed without an installation', async () => {
    const err = await refresher().refresh(snapshotTarget('"b1" - -', null)).catch((e: unknown) => e);
    expect((err as BacklogReadError).reason).toBe('github_auth_failed');
  });
});

describe('isStale', () => {
  it('is stale when never synced or older than the limit', () => {
    const t = snapshotTarget();
    expect(isStale(t, minutes(30))).toBe(false);
    expect(isStale(t, minutes(61))).toBe(true);
    expect(isStale({ ...t, backlog: { ...t.backlog, synced_at: null } }, minutes(0))).toBe(true);
  });
});
