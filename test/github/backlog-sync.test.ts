import { readFileSync } from 'node:fs';
import nock from 'nock';
import { ProbotOctokit } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newEvent } from '../../src/events/envelope.ts';
import { LeviathanFileReadError, syncBacklog } from '../../src/github/backlog-sync.ts';
import { evolve } from '../../src/projections/evolve.ts';
import { emptyState } from '../../src/projections/state.ts';
import { targetView } from '../../src/projections/target-view.ts';
import { pushTouchesContract } from '../../src/github/handlers/push.ts';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { deliver, events, example, fixture, post, startApp, targetsOf, until } from './harness.ts';

const TARGET = 'Codertocat/Hello-World';
const SHA = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const file = (p: string) => readFileSync(new URL(`../../fixtures/${p}`, import.meta.url), 'utf8');
const RAW = { 'content-type': 'text/plain; charset=utf-8' };
/** Background work records a moment after GitHub's last answer; long enough for that, in tests that expect nothing. */
const settle = () => new Promise((r) => setTimeout(r, 200));

let gh: GitHubMock;
beforeEach(() => {
  gh = new GitHubMock();
});
afterEach(async () => {
  await gh.done();
});

function octokit() {
  return new ProbotOctokit({ auth: { token: 'ghs_test' }, retry: { enabled: false }, throttle: { enabled: false } });
}

/** Mocks the three contents reads at `ref`; a string is the file, a number a status. */
function contents(ref: string, files: { backlog: string | number; policy: string | number; contract: string | number }, etags = { backlog: '"b1"', policy: '"p1"', contract: '"c1"' }, ifNoneMatch?: Record<string, string>) {
  for (const key of ['backlog', 'policy', 'contract'] as const) {
    const f = files[key];
    const reqheaders = { accept: 'application/vnd.github.raw+json', ...(ifNoneMatch?.[key] ? { 'if-none-match': ifNoneMatch[key]! } : {}) };
    if (typeof f === 'number') gh.on('GET', `/repos/${TARGET}/contents/.leviathan/${key}.yaml`, f, f === 404 ? { message: 'Not Found' } : undefined, { query: { ref }, reqheaders, effect: `${TARGET}:read:${key}:${f}` });
    else gh.on('GET', `/repos/${TARGET}/contents/.leviathan/${key}.yaml`, 200, f, { query: { ref }, reqheaders, headers: { ...RAW, etag: etags[key] }, effect: `${TARGET}:read:${key}:200` });
  }
}


/** The target page after a registered target's sync recorded `e`. */
function viewAfter(e: { type: string; actor: string; target: string | null; subject: string | null; id: string; data: Record<string, unknown> }) {
  const stored = (seq: number, ev: typeof e) => ({ ...ev, seq, time: '2026-11-27T12:00:00.000Z', prev_hash: '', hash: '' }) as never;
  let state = evolve(emptyState(), stored(1, newEvent({ type: 'target.registered', actor: 'test', target: TARGET, data: { installation_id: 1 } })));
  state = evolve(state, stored(2, e));
  return targetView(state, state.targets[TARGET]!, new Date('2026-11-27T12:00:00Z'));
}

describe('syncBacklog', () => {
  it('records the tasks, policy and contract of a valid backlog', async () => {
    contents(SHA, { backlog: file('backlog/normal.yaml'), policy: file('policy/partial.yaml'), contract: 'name: Example\npurpose: Tests\n' });
    const e = await syncBacklog(octokit(), TARGET, SHA);
    expect(e.type).toBe('backlog.synced');
    expect(e).toMatchObject({ target: TARGET, subject: `target:${TARGET}`, actor: 'leviathan' });
    expect(e.data).toMatchObject({
      etag: '"b1" "p1" "c1"',
      commit: SHA,
      backlog_max_open_prs: 3,
      policy_file: { circuit_breaker: { cooldown_minutes: 120 }, forbidden_paths: ['infra/**'] },
      contract: { name: 'Example', purpose: 'Tests' },
    });
    expect((e.data.tasks as unknown[])[0]).toEqual({
      id: 'docs-quickstart',
      title: 'Write the quickstart',
      priority: 'high',
      ready: true,
      status: 'pending',
      dependencies: [],
      allowed_paths: ['docs/', 'README.md'],
      scope: 'docs',
      line: expect.any(Number),
      // The worker writes these into the PR body and gives them to the agent.
      acceptance_criteria: ['Quickstart explains installation', 'Covers configuration'],
      estimated_size: 'small',
      description: 'Explain how to install and configure the app.\n',
      labels: ['documentation'],
    });
  });

  it('keeps max_open_prs: 0 ("open no PRs"), which holds the target rather than falling back to the default of 2', async () => {
    contents(SHA, { backlog: 'max_open_prs: 0\ntasks: []\n', policy: 404, contract: 404 });
    const e = await syncBacklog(octokit(), TARGET, SHA);
    expect(e).toMatchObject({ type: 'backlog.synced', data: { backlog_max_open_prs: 0 } });
    const stored = (seq: number, ev: { type: string; actor: string; target: string | null; subject: string | null; id: string; data: Record<string, unknown> }) =>
      ({ ...ev, seq, time: '2026-11-27T12:00:00.000Z', prev_hash: '', hash: '' }) as never;
    let state = evolve(emptyState(), stored(1, newEvent({ type: 'target.registered', actor: 'test', target: TARGET, data: { installation_id: 1 } })));
    state = evolve(state, stored(2, e));
    expect(targetView(state, state.targets[TARGET]!, new Date('2026-11-27T12:00:00Z')).max_open_prs).toBe(0);
  });

  it('records a contract.yaml that cannot be shown as contract_error: the backlog still syncs, and the target page shows why', async () => {
    contents(SHA, { backlog: file('backlog/normal.yaml'), policy: 404, contract: 'name: Example\npurpose:\n  - not\n  - text\n' });
    const e = await syncBacklog(octokit(), TARGET, SHA);
    expect(e).toMatchObject({ type: 'backlog.synced', data: { etag: '"b1" - "c1"', contract_error: { line: 2, reason: expect.stringMatching(/purpose must be text/) } } });
    expect(e.data.contract).toBeUndefined();
    const view = viewAfter(e);
    expect(view.backlog.state).toBe('synced');
    expect(view.contract).toBeNull();
    expect(view.contract_error).toMatch(/^\.leviathan\/contract\.yaml line 2: purpose must be text/);
  });

  it('reports an invalid backlog with its line and reason', async () => {
    contents('main', { backlog: file('backlog/duplicate-ids.yaml'), policy: 404, contract: 404 });
    const e = await syncBacklog(octokit(), TARGET, 'main');
    expect(e.type).toBe('backlog.invalid');
    expect(e.data).toMatchObject({ file: '.leviathan/backlog.yaml', line: 6, reason: expect.stringMatching(/same/) });
    expect(e.data.commit).toBeUndefined(); // a branch name is not a commit
  });

  it('reports an invalid policy.yaml', async () => {
    contents('main', { backlog: file('backlog/normal.yaml'), policy: file('policy/invalid.yaml'), contract: 404 });
    const e = await syncBacklog(octokit(), TARGET, 'main');
    expect(e).toMatchObject({ type: 'backlog.invalid', data: { file: '.leviathan/policy.yaml', line: expect.any(Number) } });
  });

  it('reports a missing backlog.yaml', async () => {
    contents('main', { backlog: 404, policy: 404, contract: 404 });
    const e = await syncBacklog(octokit(), TARGET, 'main');
    expect(e).toMatchObject({ type: 'backlog.invalid', data: { file: '.leviathan/backlog.yaml', line: null, reason: expect.stringMatching(/not found/) } });
  });

  it('costs nothing when nothing changed: every file answers 304 to If-None-Match', async () => {
    contents('main', { backlog: 304, policy: 304, contract: 404 }, undefined, { backlog: '"b1"', policy: '"p1"' });
    const e = await syncBacklog(octokit(), TARGET, 'main', '"b1" "p1" -');
    expect(e).toMatchObject({ type: 'backlog.unchanged', data: { etag: '"b1" "p1" -' } });
    expect(gh.effects).toEqual(expect.arrayContaining([`${TARGET}:read:backlog:304`, `${TARGET}:read:policy:304`]));
  });

  it('reads every file again when one of them changed', async () => {
    contents('main', { backlog: 304, policy: file('policy/partial.yaml'), contract: 404 }, { backlog: '"b1"', policy: '"p2"', contract: '"c1"' }, { backlog: '"b1"', policy: '"p1"' });
    contents('main', { backlog: file('backlog/normal.yaml'), policy: file('policy/partial.yaml'), contract: 404 }, { backlog: '"b1"', policy: '"p2"', contract: '"c1"' });
    const e = await syncBacklog(octokit(), TARGET, 'main', '"b1" "p1" -');
    expect(e).toMatchObject({ type: 'backlog.synced', data: { etag: '"b1" "p2" -' } });
  });

  it('throws GitHub errors other than 404, so the caller can fail closed', async () => {
    gh.on('GET', `/repos/${TARGET}/contents/.leviathan/backlog.yaml`, 500, { message: 'boom' }, { query: true })
      .on('GET', `/repos/${TARGET}/contents/.leviathan/policy.yaml`, 404, {}, { query: true })
      .on('GET', `/repos/${TARGET}/contents/.leviathan/contract.yaml`, 404, {}, { query: true });
    await expect(syncBacklog(octokit(), TARGET, 'main')).rejects.toMatchObject({ status: 500 });
  });

  it('names the file that could not be read: a failed policy.yaml is not blamed on the backlog', async () => {
    contents('main', { backlog: file('backlog/normal.yaml'), policy: 502, contract: 404 });
    const err = await syncBacklog(octokit(), TARGET, 'main').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeviathanFileReadError);
    expect(err).toMatchObject({ file: '.leviathan/policy.yaml', status: 502, detail: 'HTTP 502', message: 'Could not read .leviathan/policy.yaml: HTTP 502' });
    // GitHub's answer stays reachable, so a rate limit is still told from an outage.
    expect((err as LeviathanFileReadError).response).toMatchObject({ status: 502 });
  });

  it('names the backlog when both it and the policy fail', async () => {
    contents('main', { backlog: 500, policy: 503, contract: 404 });
    await expect(syncBacklog(octokit(), TARGET, 'main')).rejects.toMatchObject({ file: '.leviathan/backlog.yaml', status: 500 });
  });

  it('records a contract.yaml GitHub would not return as contract_error and syncs the backlog and policy without it', async () => {
    contents(SHA, { backlog: file('backlog/normal.yaml'), policy: file('policy/partial.yaml'), contract: 502 });
    const e = await syncBacklog(octokit(), TARGET, SHA);
    expect(e).toMatchObject({
      type: 'backlog.synced',
      data: {
        etag: '"b1" "p1" !',
        policy_file: { forbidden_paths: ['infra/**'] },
        contract_error: { line: null, reason: 'could not be read from GitHub (HTTP 502); the backlog and policy were read without it.' },
      },
    });
    expect(e.data.contract).toBeUndefined();
    const view = viewAfter(e);
    expect(view.backlog.state).toBe('synced');
    expect(view.tasks.map((t) => t.id)).toEqual(['docs-quickstart', 'tests-for-quickstart']);
    expect(view.contract_error).toBe('.leviathan/contract.yaml: could not be read from GitHub (HTTP 502); the backlog and policy were read without it.');
  });

  it('records a contract.yaml read that never got an answer (network error) the same way', async () => {
    gh.on('GET', `/repos/${TARGET}/contents/.leviathan/backlog.yaml`, 200, file('backlog/normal.yaml'), { query: true, headers: { ...RAW, etag: '"b1"' } })
      .on('GET', `/repos/${TARGET}/contents/.leviathan/policy.yaml`, 404, {}, { query: true });
    const down = nock('https://api.github.com').get(`/repos/${TARGET}/contents/.leviathan/contract.yaml`).query(true).replyWithError('socket hang up');
    const e = await syncBacklog(octokit(), TARGET, 'main');
    expect(down.isDone()).toBe(true);
    expect(e).toMatchObject({ type: 'backlog.synced', data: { etag: '"b1" - !', contract_error: { line: null, reason: expect.stringMatching(/^could not be read from GitHub \(.+\); the backlog and policy were read without it\.$/) } } });
  });

  it('keeps the recorded contract when only contract.yaml fails and nothing else changed (no event, no full re-read)', async () => {
    contents('main', { backlog: 304, policy: 304, contract: 500 }, undefined, { backlog: '"b1"', policy: '"p1"', contract: '"c1"' });
    const e = await syncBacklog(octokit(), TARGET, 'main', '"b1" "p1" "c1"');
    expect(e).toMatchObject({ type: 'backlog.unchanged', data: { etag: '"b1" "p1" "c1"' } });
  });

  it('after a failed contract read, a contract.yaml now missing is recorded (the read error does not linger)', async () => {
    const noConditional = (key: string, status: number, body?: string) =>
      nock('https://api.github.com', { badheaders: ['if-none-match'] })
        .get(`/repos/${TARGET}/contents/.leviathan/${key}.yaml`)
        .query({ ref: 'main' })
        .reply(status, body, body === undefined ? undefined : { ...RAW, etag: '"b1"' });
    // The marker for an unread contract is never sent to GitHub as an ETag.
    gh.on('GET', `/repos/${TARGET}/contents/.leviathan/backlog.yaml`, 304, undefined, { query: { ref: 'main' }, reqheaders: { 'if-none-match': '"b1"' } });
    const first = [noConditional('policy', 404), noConditional('contract', 404)];
    const again = [noConditional('backlog', 200, file('backlog/normal.yaml')), noConditional('policy', 404), noConditional('contract', 404)];
    const e = await syncBacklog(octokit(), TARGET, 'main', '"b1" - !');
    expect([...first, ...again].every((s) => s.isDone())).toBe(true);
    expect(e).toMatchObject({ type: 'backlog.synced', data: { etag: '"b1" - -' } });
    expect(e.data.contract_error).toBeUndefined();
  });
});

describe('push webhook', () => {
  let cp: TestControlPlane | null = null;
  afterEach(async () => {
    await cp?.destroy();
    cp = null;
  });

  it('only pushes to the default branch that touch .leviathan/ count', () => {
    expect(pushTouchesContract(fixture('push-to-default-branch-touching-leviathan') as never)).toBe(true);
    expect(pushTouchesContract(example('push') as never)).toBe(false); // a tag
    const readmeOnly = example('push');
    readmeOnly.ref = 'refs/heads/master';
    readmeOnly.commits = [{ added: ['README.md'], modified: [], removed: [] }];
    readmeOnly.head_commit = null;
    expect(pushTouchesContract(readmeOnly as never)).toBe(false);
    const otherBranch = fixture('push-to-default-branch-touching-leviathan');
    otherBranch.ref = 'refs/heads/feature';
    expect(pushTouchesContract(otherBranch as never)).toBe(false);
  });

  it('a forced push, or one that lists no commits, may have taken the contract back: it counts', () => {
    const forcedBack = fixture('push-to-default-branch-touching-leviathan');
    forcedBack.forced = true;
    forcedBack.commits = [];
    forcedBack.head_commit = { added: [], modified: ['README.md'], removed: [] };
    expect(pushTouchesContract(forcedBack as never)).toBe(true);
    const resetBack = { ...forcedBack, forced: false };
    expect(pushTouchesContract(resetBack as never)).toBe(true);
    expect(pushTouchesContract({ ...forcedBack, deleted: true } as never)).toBe(false);
  });

  it('a push touching .leviathan/ records backlog.synced, read on the default branch', async () => {
    cp = await startApp();
    await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'master' } }]);
    gh.installationToken(1);
    contents('master', { backlog: file('backlog/normal.yaml'), policy: 404, contract: 404 });
    const res = await deliver(cp, 'push', fixture('push-to-default-branch-touching-leviathan'));
    expect(res.status).toBe(200);
    const synced = await until(async () => (await events(cp!, 'backlog.synced'))[0], 'backlog.synced');
    expect(synced).toMatchObject({ actor: 'github:Codertocat', data: { ref: 'master' } });
    const target = (await targetsOf(cp)).find((t) => t.id === TARGET)!;
    expect(target.backlog.state).toBe('synced');
    expect(target.tasks.map((t: { id: string }) => t.id)).toEqual(['docs-quickstart', 'tests-for-quickstart']);
  });

  it('an older push delivered late cannot put an older backlog back: each push reads the branch as it is now', async () => {
    cp = await startApp();
    await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'master' } }]);
    gh.installationToken(1);
    const backlog = (task: string) => `tasks:\n  - id: ${task}\n    ready: true\n    allowed_paths: [README.md]\n`;
    const newer = fixture('push-to-default-branch-touching-leviathan');
    newer.after = 'b'.repeat(40);
    const older = fixture('push-to-default-branch-touching-leviathan');
    older.after = 'a'.repeat(40);
    // The branch holds the newer backlog; the older push's commit is never asked for.
    contents('master', { backlog: backlog('new-task'), policy: 404, contract: 404 });
    await deliver(cp, 'push', newer);
    await until(async () => (await events(cp!, 'backlog.synced')).length === 1, 'backlog.synced');
    contents('master', { backlog: 304, policy: 404, contract: 404 }, undefined, { backlog: '"b1"' });
    await deliver(cp, 'push', older);
    await until(() => gh.pending().length === 0, 'the second read');
    await settle();
    expect(await events(cp, 'backlog.synced')).toHaveLength(1);
    expect((await targetsOf(cp)).find((t) => t.id === TARGET)!.tasks.map((t: { id: string }) => t.id)).toEqual(['new-task']);
  });

  it('a push naming another default branch: GitHub is asked, the new branch recorded and its backlog read', async () => {
    cp = await startApp();
    await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'master' } }]);
    gh.installationToken(1).on('GET', `/repos/${TARGET}`, 200, { full_name: TARGET, default_branch: 'trunk' });
    contents('trunk', { backlog: file('backlog/normal.yaml'), policy: 404, contract: 404 });
    const push = fixture('push-to-default-branch-touching-leviathan');
    push.repository.default_branch = 'trunk';
    push.repository.master_branch = 'trunk';
    push.ref = 'refs/heads/trunk';
    push.commits = [{ added: [], modified: ['README.md'], removed: [] }];
    push.head_commit = push.commits[0];
    await deliver(cp, 'push', push);
    await until(async () => (await events(cp!, 'backlog.synced')).length === 1, 'backlog.synced on trunk');
    expect((await targetsOf(cp)).find((t) => t.id === TARGET)).toMatchObject({ default_branch: 'trunk', installation_id: 1 });
    expect((await events(cp, 'target.registered')).at(-1)).toMatchObject({ data: { default_branch: 'trunk', previous_default_branch: 'master' } });
  });

  it('an invalid backlog pushed shows the target in error with the line', async () => {
    cp = await startApp();
    await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'master' } }]);
    gh.installationToken(1);
    contents('master', { backlog: file('backlog/duplicate-ids.yaml'), policy: 404, contract: 404 });
    await deliver(cp, 'push', fixture('push-to-default-branch-touching-leviathan'));
    await until(async () => (await events(cp!, 'backlog.invalid')).length === 1, 'backlog.invalid');
    const target = (await targetsOf(cp)).find((t) => t.id === TARGET)!;
    expect(target.backlog.error).toMatchObject({ file: '.leviathan/backlog.yaml', line: 6 });
  });

  it('a push that does not touch .leviathan/ calls nothing and records nothing', async () => {
    cp = await startApp();
    await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'master' } }]);
    const res = await deliver(cp, 'push', example('push'));
    expect(res.status).toBe(200);
    await settle();
    expect(await events(cp)).toHaveLength(1);
  });

  it('a push to a repository that is no target makes none: its installation is reconciled instead', async () => {
    cp = await startApp();
    const push = fixture('push-to-default-branch-touching-leviathan');
    gh.on('GET', '/app/installations/1', 200, { id: 1, suspended_at: null })
      .installationToken(1)
      .on('GET', '/installation/repositories', 200, { total_count: 0, repositories: [] }, { query: true });
    await deliver(cp, 'push', push);
    await until(() => gh.pending().length === 0, 'the reconcile');
    await settle();
    expect(await events(cp)).toHaveLength(0);
    expect(await targetsOf(cp)).toEqual([]);
  });

  it('pushes to a repository still no target after a reconcile queue no second reconcile within the cooldown', async () => {
    cp = await startApp();
    const push = fixture('push-to-default-branch-touching-leviathan');
    // One reconcile's calls only: nock fails the test on a request nothing answers.
    gh.on('GET', '/app/installations/1', 200, { id: 1, suspended_at: null })
      .installationToken(1)
      .on('GET', '/installation/repositories', 200, { total_count: 0, repositories: [] }, { query: true });
    await deliver(cp, 'push', push);
    await until(() => gh.pending().length === 0, 'the reconcile');
    await settle();
    await deliver(cp, 'push', push);
    await settle();
    expect(await events(cp)).toHaveLength(0);
  });
});
