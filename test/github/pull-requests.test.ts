import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attemptIdOf, isLeviathanPr, PR_LABEL, ATTEMPT_MARKER } from '../../src/github/pull-requests.ts';
import { PR_LABEL as WORKER_LABEL, ATTEMPT_MARKER as WORKER_MARKER } from '../../src/worker/run-worker.ts';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { asLeviathanPr, deliver, events, example, fixture, openPrs, post, startApp, targetsOf, until } from './harness.ts';

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

  it('the label alone does not make a PR ours: a human PR labelled `leviathan` is display only', () => {
    const labelled = example('pull_request', 'opened').pull_request;
    labelled.body = 'Adds two tasks to the backlog';
    labelled.labels = [{ name: PR_LABEL }];
    expect(isLeviathanPr(labelled)).toBe(false);
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

  it('a human PR labelled `leviathan` is observed, not counted against max_open_prs', async () => {
    cp = await startApp();
    await given(cp);
    const human = example('pull_request', 'opened');
    human.pull_request.body = 'Adds two tasks to the backlog';
    human.pull_request.labels = [{ name: PR_LABEL }];
    await deliver(cp, 'pull_request', human);
    expect(await openPrs(cp, TARGET)).toEqual([]);
    expect(cp.projector.state.targets[TARGET]?.observed_open_prs).toEqual([2]);
  });

  it('a PR webhook for a repository that is no target makes none: kept without a target, its installation reconciled', async () => {
    cp = await startApp();
    const payload = opened();
    gh.on('GET', `/app/installations/${payload.installation.id}`, 200, { id: payload.installation.id, suspended_at: null })
      .installationToken(payload.installation.id)
      .on('GET', '/installation/repositories', 200, { total_count: 0, repositories: [] }, { query: true });
    await deliver(cp, 'pull_request', payload);
    await until(() => gh.pending().length === 0, 'the reconcile of the installation');
    const [kept] = await events(cp, 'pr.created');
    expect(kept).toMatchObject({ target: null, data: { number: 2, repository: TARGET } });
    expect(cp.projector.state.targets).toEqual({});
  });

  it('a renamed repository: its target moves with its open PRs, and the merge under the new name frees the slot', async () => {
    cp = await startApp();
    await given(cp);
    await post(cp, [{ type: 'target.paused', target: TARGET, data: { reason: 'release freeze' } }]);
    await deliver(cp, 'pull_request', opened());
    const renamed = example('repository', 'renamed');
    renamed.repository.full_name = 'Codertocat/Renamed';
    renamed.repository.name = 'Renamed';
    renamed.repository.default_branch = 'master';
    renamed.changes = { repository: { name: { from: 'Hello-World' } } };
    renamed.installation = { id: 1 };
    gh.installationToken(1);
    for (const f of ['backlog', 'policy', 'contract']) gh.on('GET', `/repos/Codertocat/Renamed/contents/.leviathan/${f}.yaml`, 404, { message: 'Not Found' }, { query: { ref: 'master' } });
    gh.on('GET', '/repos/Codertocat/Renamed/pulls', 200, [{ ...opened().pull_request, number: 2 }], { query: true });
    await deliver(cp, 'repository', renamed);
    await until(() => gh.pending().length === 0, 'the new name checked');

    const merged2 = merged();
    for (const r of [merged2.repository, merged2.pull_request.base.repo, merged2.pull_request.head.repo]) r.full_name = 'Codertocat/Renamed';
    await deliver(cp, 'pull_request', merged2);
    const targets = await targetsOf(cp);
    expect(targets.map((t) => [t.id, t.installation_id, t.open_prs.length])).toEqual([['Codertocat/Renamed', 1, 0]]);
    // What the log knew under the old name came along: the pause, the task's merge.
    expect(cp.projector.state.targets['Codertocat/Renamed']).toMatchObject({ paused: { reason: 'release freeze' }, tasks: { 'fix-typo': { merged_pr: 2 } } });
    expect(cp.projector.state.targets[TARGET]!.lifecycle).toBe('removed');
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
