import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { pino } from 'pino';
import { ProbotOctokit } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenAuth } from '../../src/api/auth.ts';
import { Router } from '../../src/api/http.ts';
import { createHttpServer } from '../../src/api/server.ts';
import { octokitPolicyPort, policyProposalRoutes } from '../../src/console/policy-proposal.ts';
import { READ_TOKEN, startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';

const T = 'acme/radix';
const GH = 'https://api.github.com';
const NOW = new Date('2026-11-27T21:00:00Z');

async function seed(cp: TestControlPlane): Promise<void> {
  const res = await cp.api('/v1/events', {
    method: 'POST',
    json: [
      { type: 'target.registered', target: T, subject: `target:${T}`, data: { installation_id: 42, default_branch: 'trunk' } },
      { type: 'backlog.synced', target: T, subject: `target:${T}`, data: { tasks: [] } },
    ],
  });
  expect(res.status).toBe(200);
}

describe('POST /v1/targets/:owner/:repo/policy/proposals', () => {
  let cp: TestControlPlane;
  let base: string;
  let close: () => Promise<void>;
  const installations: number[] = [];

  beforeEach(async () => {
    cp = await startTestControlPlane();
    await seed(cp);
    // The route on its own server with a GitHub port over an installation client (nock answers).
    const auth = new TokenAuth(`${WRITE_TOKEN},read:${READ_TOKEN}`);
    const router = new Router();
    policyProposalRoutes(
      router,
      {
        store: cp.store,
        projector: cp.projector,
        authenticate: (req) => auth.authenticate(req.headers.authorization),
        clock: { now: () => NOW },
        logger: pino({ level: 'silent' }),
        version: 'test',
        sseHeartbeatMs: 15_000,
      },
      async (installationId) => {
        installations.push(installationId);
        return octokitPolicyPort(new ProbotOctokit({ auth: { token: 'ghs_installation' }, retry: { enabled: false }, throttle: { enabled: false } }));
      },
    );
    const server = createHttpServer({ router, mounts: [], logger: pino({ level: 'silent' }) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    };
  });

  afterEach(async () => {
    await close();
    await cp.destroy();
    nock.cleanAll();
    installations.length = 0;
  });

  const propose = (body: unknown, token = WRITE_TOKEN) =>
    fetch(`${base}/v1/targets/${T}/policy/proposals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('opens a pull request with the new policy.yaml on a branch (never the default branch) and records who asked', async () => {
    // The time of the proposal, then a random suffix so two in one second never collide.
    const branch = /^leviathan\/policy-20261127T210000-[0-9a-f]{6}$/;
    const yaml = 'max_open_prs: 3\n';
    nock(GH, { reqheaders: { authorization: 'token ghs_installation' } })
      .get('/repos/acme/radix/git/ref/heads%2Ftrunk')
      .reply(200, { object: { sha: 'base-sha' } })
      .post('/repos/acme/radix/git/refs', (b: Record<string, string>) => branch.test(b.ref!.replace('refs/heads/', '')) && b.sha === 'base-sha')
      .reply(201, {})
      .get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml')
      .query((q) => branch.test(String(q.ref)))
      .reply(200, { sha: 'old-blob', type: 'file' })
      .put('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml', (b: Record<string, string>) => {
        return branch.test(b.branch!) && b.sha === 'old-blob' && Buffer.from(b.content!, 'base64').toString('utf8') === yaml && b.message!.includes('Allow three PRs');
      })
      .reply(200, {})
      .post('/repos/acme/radix/pulls', (b: Record<string, string>) => branch.test(b.head!) && b.base === 'trunk' && b.body!.includes('Allow three PRs'))
      .reply(201, { number: 31, html_url: 'https://github.com/acme/radix/pull/31' });

    const res = await propose({ policy_yaml: yaml, reason: 'Allow three PRs', via: 'console' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { pull_request: { number: number; url: string }; branch: string };
    expect(body.pull_request).toEqual({ number: 31, url: 'https://github.com/acme/radix/pull/31' });
    expect(installations).toEqual([42]);
    expect(nock.isDone()).toBe(true);

    const events = (await (await cp.api('/v1/graph/events?type=policy.change_proposed')).json()) as { events: Array<{ actor: string; data: Record<string, unknown> }> };
    expect(events.events).toHaveLength(1);
    expect(events.events[0]!.actor).toMatch(/^token:/);
    expect(events.events[0]!.data).toMatchObject({ reason: 'Allow three PRs', via: 'console', pr_number: 31, branch: expect.stringMatching(branch) });
  });

  it.each([
    ['the file cannot be written', 'put', 409],
    ['the pull request cannot be opened', 'pulls', 502],
  ] as const)('deletes its branch again when %s, and records nothing', async (_name, failing, status) => {
    const branch = /^leviathan\/policy-20261127T210000-[0-9a-f]{6}$/;
    let created = '';
    const gh = nock(GH)
      .get('/repos/acme/radix/git/ref/heads%2Ftrunk')
      .reply(200, { object: { sha: 'base-sha' } })
      .post('/repos/acme/radix/git/refs', (b: Record<string, string>) => {
        created = b.ref!.replace('refs/heads/', '');
        return branch.test(created);
      })
      .reply(201, {})
      .get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml')
      .query(true)
      .reply(404, { message: 'Not Found' });
    if (failing === 'put') {
      gh.put('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml').reply(422, { message: 'Invalid request' });
    } else {
      gh.put('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml').reply(201, {}).post('/repos/acme/radix/pulls').reply(500, { message: 'Server Error' });
    }
    gh.delete((path) => path === `/repos/acme/radix/git/refs/heads%2F${encodeURIComponent(created)}` || path === `/repos/acme/radix/git/refs/heads/${created}`).reply(204);

    const res = await propose({ policy_yaml: 'max_open_prs: 3\n', reason: 'Allow three PRs' });
    expect(res.status).toBe(status);
    expect(nock.isDone()).toBe(true);
    const events = (await (await cp.api('/v1/graph/events?type=policy.change_proposed')).json()) as { events: unknown[] };
    expect(events.events).toEqual([]);
  });

  it('refuses an invalid policy (422), a missing reason (422) and a read-only token (403) before calling GitHub', async () => {
    const bad = await propose({ policy_yaml: 'max_open_prs: lots\n', reason: 'r' });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/policy_yaml/);
    expect((await propose({ policy_yaml: 'max_open_prs: 3\n', reason: ' ' })).status).toBe(422);
    expect((await propose({ policy_yaml: 'max_open_prs: 3\n', reason: 'r' }, READ_TOKEN)).status).toBe(403);
    expect(installations).toEqual([]);
  });

  const OLD_BLOB = 'a'.repeat(40);
  const HEAD = 'c'.repeat(40);
  const owned = '# Owned by the platform team.\nmax_open_prs: 2 # keep it low\ncode_style: strict\n';
  /** The contents API's JSON answer for a file (the form that carries the blob sha). */
  const contents = (text: string, sha: string) => ({ type: 'file', encoding: 'base64', sha, content: Buffer.from(text, 'utf8').toString('base64') });

  it('GET …/policy/file answers the file on the default branch byte for byte, with its blob sha', async () => {
    nock(GH, { reqheaders: { authorization: 'token ghs_installation' } })
      .get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml')
      .query({ ref: 'trunk' })
      .reply(200, contents(owned, OLD_BLOB));
    const res = await fetch(`${base}/v1/targets/${T}/policy/file`, { headers: { authorization: `Bearer ${WRITE_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: '.leviathan/policy.yaml', ref: 'trunk', file: { text: owned, sha: OLD_BLOB } });
    expect(nock.isDone()).toBe(true);
  });

  it('GET …/policy/file answers file: null when the target has none, and 403 to a read-only token without asking GitHub', async () => {
    nock(GH).get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml').query({ ref: 'trunk' }).reply(404, { message: 'Not Found' });
    const res = await fetch(`${base}/v1/targets/${T}/policy/file`, { headers: { authorization: `Bearer ${WRITE_TOKEN}` } });
    expect(((await res.json()) as { file: unknown }).file).toBeNull();
    expect(nock.isDone()).toBe(true);
    installations.length = 0;
    const ro = await fetch(`${base}/v1/targets/${T}/policy/file`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(ro.status).toBe(403);
    expect(installations).toEqual([]);
  });

  it('with base_sha, branches from the very commit whose policy.yaml it compared', async () => {
    const edited = owned.replace('max_open_prs: 2', 'max_open_prs: 3');
    nock(GH)
      .get('/repos/acme/radix/git/ref/heads%2Ftrunk')
      .reply(200, { object: { sha: HEAD } })
      .get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml')
      .query({ ref: HEAD })
      .reply(200, contents(owned, OLD_BLOB))
      .post('/repos/acme/radix/git/refs', (b: Record<string, string>) => b.sha === HEAD)
      .reply(201, {})
      .get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml')
      .query((q) => String(q.ref).startsWith('leviathan/policy-'))
      .reply(200, contents(owned, OLD_BLOB))
      .put('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml', (b: Record<string, string>) => b.sha === OLD_BLOB && Buffer.from(b.content!, 'base64').toString('utf8') === edited)
      .reply(200, {})
      .post('/repos/acme/radix/pulls')
      .reply(201, { number: 32, html_url: 'https://github.com/acme/radix/pull/32' });
    const res = await propose({ policy_yaml: edited, reason: 'three', base_sha: OLD_BLOB });
    expect(res.status).toBe(201);
    expect(nock.isDone()).toBe(true);
  });

  it.each([
    ['changed', OLD_BLOB, contents(owned, 'b'.repeat(40)), 'has changed'],
    ['deleted', OLD_BLOB, null, 'has been deleted'],
    ['created', null, contents(owned, 'b'.repeat(40)), 'has been created'],
  ])('refuses (409) when policy.yaml was %s since it was loaded, writing nothing', async (_what, baseSha, now, words) => {
    const scope = nock(GH).get('/repos/acme/radix/git/ref/heads%2Ftrunk').reply(200, { object: { sha: HEAD } });
    const read = scope.get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml').query({ ref: HEAD });
    if (now) read.reply(200, now);
    else read.reply(404, { message: 'Not Found' });
    const res = await propose({ policy_yaml: 'max_open_prs: 3\n', reason: 'r', base_sha: baseSha });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(words);
    // Only the two reads were answered; a branch, a file or a PR would have had no mock.
    expect(nock.isDone()).toBe(true);
    const events = (await (await cp.api('/v1/graph/events?type=policy.change_proposed')).json()) as { events: unknown[] };
    expect(events.events).toEqual([]);
  });

  it('refuses (422) a proposal identical to the current file', async () => {
    nock(GH)
      .get('/repos/acme/radix/git/ref/heads%2Ftrunk')
      .reply(200, { object: { sha: HEAD } })
      .get('/repos/acme/radix/contents/.leviathan%2Fpolicy.yaml')
      .query({ ref: HEAD })
      .reply(200, contents(owned, OLD_BLOB));
    const res = await propose({ policy_yaml: owned, reason: 'r', base_sha: OLD_BLOB });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('nothing to propose');
    expect(nock.isDone()).toBe(true);
  });

  it('answers 501 not_configured on a control plane without the GitHub App', async () => {
    const res = await cp.api(`/v1/targets/${T}/policy/proposals`, { method: 'POST', json: { policy_yaml: 'max_open_prs: 3\n', reason: 'r' } });
    expect(res.status).toBe(501);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_configured');
  });
});
