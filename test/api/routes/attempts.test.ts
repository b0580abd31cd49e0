import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbotOctokit } from 'probot';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mintWorkerToken } from '../../../src/api/worker-token.ts';
import { newEvent } from '../../../src/events/envelope.ts';
import { WORKER_TOKEN_PERMISSIONS } from '../../../src/github/installation-token.ts';
import { READ_TOKEN, startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../../helpers/control-plane.ts';
import { GitHubMock } from '../../helpers/github-mock.ts';
import { APP_ID, PRIVATE_KEY, TestOctokit, WEBHOOK_SECRET } from '../../github/harness.ts';

type Json = Record<string, any>;

const T = 'acme/widgets';
const MINTED = 'ghs_mintedForAtt1MINTEDminted0123456789';
const HOUR = 3_600_000;

/** A worker's attempt token, as the executor mints it (signed with the write token). */
const workerToken = (attemptId = 'att-1', nowMs = Date.now(), target = T) =>
  mintWorkerToken(WRITE_TOKEN, { target, attempt_id: attemptId, task: { id: 'docs-guide' }, timeout_seconds: 2 * HOUR / 1000 }, nowMs);

const asJson = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

/** GitHub minting one token for installation 42; the request body is kept in `gh.effects`. */
function githubMints(gh: GitHubMock, token = MINTED, expiresAt = new Date(Date.now() + HOUR).toISOString().replace(/\.\d+Z$/, 'Z')): string {
  gh.on(
    'POST',
    '/app/installations/42/access_tokens',
    201,
    { token, expires_at: expiresAt, permissions: { contents: 'write', pull_requests: 'write', metadata: 'read' }, repository_selection: 'selected' },
    { reqheaders: { authorization: /^bearer ey/i }, effect: asJson },
  );
  return expiresAt;
}

let cp: TestControlPlane;
let gh: GitHubMock;
let logLines: string[];

async function start(env: Record<string, string>): Promise<TestControlPlane> {
  logLines = [];
  return startTestControlPlane({
    env,
    overrides: {
      logger: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }),
      executor: null,
      github: { Octokit: TestOctokit as typeof ProbotOctokit, reconcileOnStart: false },
    },
  });
}

const ask = (attemptId: string, token: string | null) => cp.api(`/v1/attempts/${encodeURIComponent(attemptId)}/github-token`, { method: 'POST', token });

/** The attempt.token_refreshed events stored. */
async function refreshed() {
  return (await cp.store.read({ type: 'attempt.token_refreshed', limit: 100 })).events;
}

/** Every stored event, and every file of the data dir, as one string. */
async function everythingStored(): Promise<string> {
  const page = await cp.store.read({ limit: 10_000 });
  const files = await readdir(cp.dataDir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(files.filter((f) => f.isFile()).map((f) => readFile(join(f.parentPath, f.name), 'utf8')));
  return JSON.stringify(page.events) + texts.join('\n');
}

describe('POST /v1/attempts/:attempt_id/github-token with the GitHub App', () => {
  beforeEach(async () => {
    gh = new GitHubMock();
    cp = await start({ APP_ID, PRIVATE_KEY, WEBHOOK_SECRET });
    await cp.store.append([
      newEvent({ type: 'target.registered', actor: 'github', target: T, subject: `target:${T}`, data: { installation_id: 42, default_branch: 'main' } }),
      newEvent({ type: 'task.selected', actor: 'scheduler', target: T, data: { task_id: 'docs-guide', attempt_id: 'att-1' } }),
    ]);
  });
  afterEach(async () => {
    await cp.destroy();
    // Every mock used, and no request to GitHub without one.
    await gh.done();
  });

  it("mints a token for the attempt's own repository with the workers' permissions, answers it uncached and records only its expiry", async () => {
    const expiresAt = githubMints(gh);
    const res = await ask('att-1', workerToken());
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ token: MINTED, expires_at: new Date(expiresAt).toISOString() });

    // Exactly that one repository, exactly the permissions every worker gets.
    expect(gh.effects.map((b) => JSON.parse(b) as unknown)).toEqual([{ repositories: ['widgets'], permissions: WORKER_TOKEN_PERMISSIONS }]);

    const [event, ...more] = await refreshed();
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      actor: 'worker:att-1',
      target: T,
      subject: 'attempt:att-1',
      data: { attempt_id: 'att-1', task_id: 'docs-guide', expires_at: new Date(expiresAt).toISOString() },
    });
    // Never the token: not in the log, the index, the snapshots; not in the server's log lines.
    const stored = await everythingStored();
    expect(stored).toContain('"attempt.token_refreshed"');
    expect(stored).not.toContain(MINTED);
    expect(logLines.join('')).toContain('GitHub token minted for a worker');
    expect(logLines.join('')).not.toContain(MINTED);
    // The projection takes the event in its stride: the attempt is still in flight.
    expect(cp.projector.state.targets[T]!.tasks['docs-guide']!.in_flight_attempt).toBe('att-1');
    expect(cp.projector.state.graph.nodes['attempt:att-1']!.last_seq).toBe(event!.seq);
  });

  it('asked again while the token it handed out has 15+ minutes left: the same token, no new mint, no new event', async () => {
    githubMints(gh);
    const first = (await (await ask('att-1', workerToken())).json()) as Json;
    const again = await ask('att-1', workerToken());
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(first);
    expect(await refreshed()).toHaveLength(1);
  });

  it('a token minted with less than 15 minutes left is not handed out again: the next request mints anew', async () => {
    githubMints(gh, MINTED, new Date(Date.now() + 10 * 60_000).toISOString());
    githubMints(gh, 'ghs_secondMintSECONDmint0123456789abcdef');
    expect(((await (await ask('att-1', workerToken())).json()) as Json).token).toBe(MINTED);
    expect(((await (await ask('att-1', workerToken())).json()) as Json).token).toBe('ghs_secondMintSECONDmint0123456789abcdef');
    expect(await refreshed()).toHaveLength(2);
  });

  it.each([
    ['no token', () => null, 401, 'unauthorized'],
    ['an expired worker token', () => workerToken('att-1', Date.now() - 3 * HOUR), 401, 'unauthorized'],
    ['an operator write token', () => WRITE_TOKEN, 403, 'forbidden'],
    ['a read token', () => READ_TOKEN, 403, 'forbidden'],
    ["another attempt's worker token", () => workerToken('att-2'), 403, 'forbidden'],
  ])('%s: %s, and GitHub is never asked', async (_what, token, status, code) => {
    const res = await ask('att-1', token());
    expect(res.status).toBe(status);
    expect(((await res.json()) as Json).error.code).toBe(code);
    expect(await refreshed()).toEqual([]);
  });

  it('a target without a known installation: 409 github_installation_unknown', async () => {
    const res = await ask('att-9', workerToken('att-9', Date.now(), 'acme/elsewhere'));
    expect(res.status).toBe(409);
    expect(((await res.json()) as Json).error).toMatchObject({ code: 'github_installation_unknown', message: expect.stringContaining('acme/elsewhere') });
  });

  it('an attempt that has ended: 409 attempt_ended', async () => {
    await cp.store.append([newEvent({ type: 'attempt.failed', actor: 'worker:att-1', target: T, data: { attempt_id: 'att-1', task_id: 'docs-guide', failure_type: 'timeout' } })]);
    const res = await ask('att-1', workerToken());
    expect(res.status).toBe(409);
    expect(((await res.json()) as Json).error.code).toBe('attempt_ended');
  });

  it('GitHub refusing to mint: 502 github_auth_failed with what to check, no token or key anywhere', async () => {
    gh.on('POST', '/app/installations/42/access_tokens', 401, { message: 'A JSON web token could not be decoded', documentation_url: 'https://docs.github.com/rest' });
    const res = await ask('att-1', workerToken());
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: {
        code: 'github_auth_failed',
        message: expect.stringContaining('Could not mint a GitHub token for acme/widgets (installation 42, HTTP 401)'),
      },
    });
    for (const secret of [PRIVATE_KEY.split('\n')[1]!, WRITE_TOKEN, 'ghs_', 'eyJ']) {
      expect(text).not.toContain(secret);
      expect(logLines.join('')).not.toContain(secret);
    }
    expect(await refreshed()).toEqual([]);
  });
});

describe('POST /v1/attempts/:attempt_id/github-token without the GitHub App', () => {
  beforeEach(async () => {
    gh = new GitHubMock();
    cp = await start({});
  });
  afterEach(async () => {
    await cp.destroy();
    await gh.done();
  });

  it('501 not_configured (as every route that needs the App): the worker keeps the development token it was given', async () => {
    const res = await ask('att-1', workerToken());
    expect(res.status).toBe(501);
    expect(((await res.json()) as Json).error).toMatchObject({ code: 'not_configured', message: expect.stringContaining('APP_ID') });
  });

  it('still only for the worker of that attempt', async () => {
    expect((await ask('att-1', WRITE_TOKEN)).status).toBe(403);
    expect((await ask('att-1', null)).status).toBe(401);
  });
});
