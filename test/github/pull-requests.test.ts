import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attemptIdOf, isLeviathanPr, PR_LABEL, ATTEMPT_MARKER } from '../../src/github/pull-requests.ts';
import { PR_LABEL as WORKER_LABEL, ATTEMPT_MARKER as WORKER_MARKER } from '../../src/worker/run-worker.ts';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { asLeviathanPr, deliver, events, example, fixture, openPrs, post, startApp, until } from './harness.ts';

const TARGET = 'Codertocat/Hello-World';
let cp: TestControlPlane | null = null;
let gh: GitHubMock;
let dataDir: string;

beforeEach(async () => {
  gh = new GitHubMock();
  dataDir = await mkdtemp(join(tmpdir(), 'leviathan-gh-'));
});

afterEach(async () => {
  await gh.done();
  await cp?.destroy();
  cp = null;
  await rm(dataDir, { recursive: true, force: true });
});

/** The target as an installation webhook would have registered it, and the worker's attempt. */
async function given(c: TestControlPlane): Promise<void> {
  await post(c, [
    { type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'master' } },
    { type: 'attempt.created', target: TARGET, data: { attempt_id: 'att-1', task_id: 'fix-typo' } },
  ]);
}

const opened = () => asLeviathanPr(example('pull_request', 'opened'), 'att-1');
const merged = () => asLeviathanPr(fixture('pull-request-closed-merged'), 'att-1');
const closed = () => asLeviathanPr(example('pull_request', 'closed'), 'att-1');
const reopened = () => asLeviathanPr(fixture('pull-request-reopened-after-close'), 'att-1');

describe('recognising Leviathan pull requests', () => {
  it('uses the same marker and label as the worker', () => {
    expect(PR_LABEL).toBe(WORKER_LABEL);
    expect(ATTEMPT_MARKER).toBe(WORKER_MARKER);
  });

  it('reads the attempt marker; a PR of someone else is not ours', () => {
    expect(attemptIdOf('text\n\nLeviathan-Attempt: att-42\n')).toBe('att-42');
    expect(attemptIdOf('mentions Leviathan-Attempt: inline only')).toBeNull();
    expect(isLeviathanPr(example('pull_request', 'opened').pull_request)).toBe(false);
    expect(isLeviathanPr(fixture('pull-request-opened-by-leviathan').pull_request)).toBe(true);
  });

  it('a PR from a fork copying the marker is not ours (attempt ids are public)', () => {
    const pr = fixture('pull-request-opened-by-leviathan').pull_request;
    pr.head.repo = { ...pr.head.repo, full_name: 'mallory/Hello-World' };
    expect(isLeviathanPr(pr)).toBe(false);
  });
});

describe('open Leviathan PRs per target (GET /v1/targets)', () => {
  it('opened → merged: linked to its attempt and task, then no longer open', async () => {
    cp = await startApp();
    await given(cp);
    await deliver(cp, 'pull_request', fixture('pull-request-opened-by-leviathan'));
    expect(await openPrs(cp, TARGET)).toEqual([2]);
    const [created] = await events(cp, 'pr.created');
    expect(created).toMatchObject({ actor: 'github:Codertocat', subject: `pr:${TARGET}#2`, data: { attempt_id: 'att-0001', updated_at: '2019-05-15T15:20:33Z' } });

    await deliver(cp, 'pull_request', merged());
    expect(await openPrs(cp, TARGET)).toEqual([]);
    expect(await events(cp, 'pr.merged')).toHaveLength(1);
    expect(await events(cp, 'pr.closed')).toHaveLength(0);
  });

  it('links a PR to the task of its attempt in the graph', async () => {
    cp = await startApp();
    await given(cp);
    await deliver(cp, 'pull_request', opened());
    const node = cp.projector.state.graph.nodes[`pr:${TARGET}#2`];
    expect(node?.props).toMatchObject({ task_id: 'fix-typo', attempt_id: 'att-1', leviathan: true });
    expect(cp.projector.state.graph.edges[`pr:${TARGET}#2|created_by|attempt:att-1`]).toBeDefined();
    expect(cp.projector.state.graph.edges[`pr:${TARGET}#2|resolves|task:${TARGET}/fix-typo`]).toBeDefined();
  });

  it('opened → closed → reopened', async () => {
    cp = await startApp();
    await given(cp);
    await deliver(cp, 'pull_request', opened());
    expect(await openPrs(cp, TARGET)).toEqual([2]);
    await deliver(cp, 'pull_request', closed());
    expect(await openPrs(cp, TARGET)).toEqual([]);
    expect(await events(cp, 'pr.closed')).toHaveLength(1);
    await deliver(cp, 'pull_request', reopened());
    expect(await openPrs(cp, TARGET)).toEqual([2]);
    expect(await events(cp, 'pr.reopened')).toHaveLength(1);
  });

  it('counts a PR once when both the worker and the webhook report it, and on redelivery', async () => {
    cp = await startApp();
    await given(cp);
    await post(cp, [{ type: 'pr.created', target: TARGET, data: { number: 2, attempt_id: 'att-1', task_id: 'fix-typo' } }]);
    const delivery = 'f0e1d2c3-0000-4000-8000-000000000001';
    await deliver(cp, 'pull_request', opened(), { delivery });
    await deliver(cp, 'pull_request', opened(), { delivery });
    await deliver(cp, 'pull_request', opened()); // a second, distinct delivery of the same open
    expect(await openPrs(cp, TARGET)).toEqual([2]);
    expect(cp.projector.state.counters.by_target[TARGET]?.prs_created).toBe(1);
  });

  it('ignores an opened that arrives after the close it preceded', async () => {
    cp = await startApp();
    await given(cp);
    await deliver(cp, 'pull_request', merged());
    await deliver(cp, 'pull_request', opened());
    expect(await openPrs(cp, TARGET)).toEqual([]);
  });

  it('does not count PRs of other people, but records them as observed', async () => {
    cp = await startApp();
    await given(cp);
    await deliver(cp, 'pull_request', example('pull_request', 'opened'));
    expect(await openPrs(cp, TARGET)).toEqual([]);
    expect(cp.projector.state.targets[TARGET]?.observed_open_prs).toEqual([2]);
  });

  it('stays exact across a restart on the same data dir', async () => {
    cp = await startApp({ dataDir });
    await given(cp);
    await deliver(cp, 'pull_request', opened());
    await cp.destroy();
    cp = await startApp({ dataDir });
    expect(await openPrs(cp, TARGET)).toEqual([2]);
    await deliver(cp, 'pull_request', merged());
    expect(await openPrs(cp, TARGET)).toEqual([]);
  });

  it('reconciles on start: a merge missed while down is recorded', async () => {
    cp = await startApp({ dataDir });
    await given(cp);
    await deliver(cp, 'pull_request', opened());
    await cp.destroy();
    cp = null;

    gh.on('GET', '/app/installations', 200, [{ id: 1, account: { login: 'Codertocat' }, suspended_at: null }], { query: true })
      .installationToken(1)
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: TARGET, default_branch: 'master' }] }, { query: true })
      .on('GET', `/repos/${TARGET}/pulls`, 200, [], { query: { state: 'open', per_page: '100' } })
      .on('GET', `/repos/${TARGET}/pulls/2`, 200, { ...merged().pull_request, state: 'closed' });
    cp = await startApp({ dataDir, reconcileOnStart: true });
    await until(async () => (await events(cp!, 'pr.merged')).length === 1, 'pr.merged from reconcile');
    expect(await openPrs(cp, TARGET)).toEqual([]);
    const [e] = await events(cp, 'pr.merged');
    expect(e).toMatchObject({ actor: 'leviathan:reconcile', data: { number: 2, via: 'reconcile', merged_at: '2019-05-15T15:21:18Z' } });
  });

  it('POST /v1/reconcile records open PRs it did not know, across pages, and closes stale ones', async () => {
    cp = await startApp();
    await given(cp);
    // We think #7 (ours) is open; GitHub says it was closed without merge.
    await post(cp, [{ type: 'pr.created', target: TARGET, data: { number: 7, attempt_id: 'att-1', task_id: 'fix-typo' } }]);
    const ours = opened().pull_request;
    const theirs = example('pull_request', 'opened').pull_request;
    gh.on('GET', '/app/installations', 200, [{ id: 1, suspended_at: null }], { query: true })
      .installationToken(1)
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: TARGET, default_branch: 'master' }] }, { query: true })
      .on('GET', `/repos/${TARGET}/pulls`, 200, [{ ...ours, number: 11 }], {
        query: { state: 'open', per_page: '100' },
        headers: { link: `<https://api.github.com/repos/${TARGET}/pulls?state=open&per_page=100&page=2>; rel="next"` },
      })
      .on('GET', `/repos/${TARGET}/pulls`, 200, [{ ...theirs, number: 12 }], { query: { state: 'open', per_page: '100', page: '2' } })
      .on('GET', `/repos/${TARGET}/pulls/7`, 200, { ...ours, number: 7, state: 'closed', merged: false, merged_at: null });

    const res = await cp.api('/v1/reconcile', { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { reconcile: { corrections: Array<{ type: string; number?: number }>; errors: unknown[] } };
    expect(body.reconcile.errors).toEqual([]);
    expect(body.reconcile.corrections).toEqual([
      { type: 'pr.created', target: TARGET, number: 11 },
      { type: 'pr.observed', target: TARGET, number: 12 },
      { type: 'pr.closed', target: TARGET, number: 7 },
    ]);
    expect(await openPrs(cp, TARGET)).toEqual([11]);

    // Nothing left to correct: a second reconcile records nothing.
    gh.on('GET', '/app/installations', 200, [{ id: 1, suspended_at: null }], { query: true })
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: TARGET, default_branch: 'master' }] }, { query: true })
      .on('GET', `/repos/${TARGET}/pulls`, 200, [{ ...ours, number: 11 }, { ...theirs, number: 12 }], { query: { state: 'open', per_page: '100' } });
    const again = (await (await cp.api('/v1/reconcile', { method: 'POST' })).json()) as { reconcile: { corrections: unknown[] } };
    expect(again.reconcile.corrections).toEqual([]);
  });

  it('POST /v1/reconcile needs the write scope', async () => {
    cp = await startApp();
    const { READ_TOKEN } = await import('../helpers/control-plane.ts');
    expect((await cp.api('/v1/reconcile', { method: 'POST', token: READ_TOKEN })).status).toBe(403);
    expect((await cp.api('/v1/reconcile', { method: 'POST', token: null })).status).toBe(401);
  });
});
