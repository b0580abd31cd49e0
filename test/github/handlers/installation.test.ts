import { describe, expect, it } from 'vitest';
import type { TestControlPlane } from '../../helpers/control-plane.ts';
import { GitHubMock } from '../../helpers/github-mock.ts';
import { deliver, events, example, post, targetsOf, until, useApp } from '../harness.ts';

let cp: TestControlPlane;
let gh: GitHubMock;

useApp((a) => ({ cp, gh } = a));

/** The background half of a registration: default branch, the three contract files, then the open PRs. */
function registration(installation: number, target: string, branch = 'main', pulls: unknown[] = []): void {
  gh.installationToken(installation).on('GET', `/repos/${target}`, 200, { full_name: target, default_branch: branch });
  for (const f of ['backlog', 'policy', 'contract']) {
    gh.on('GET', `/repos/${target}/contents/.leviathan/${f}.yaml`, f === 'backlog' ? 200 : 404, f === 'backlog' ? 'tasks: []\n' : { message: 'Not Found' }, {
      query: { ref: branch },
      headers: f === 'backlog' ? { 'content-type': 'text/plain; charset=utf-8', etag: '"e1"' } : {},
    });
  }
  gh.on('GET', `/repos/${target}/pulls`, 200, pulls, { query: { state: 'open', per_page: '100' } });
}

describe('installation webhooks', () => {
  it('installation.created registers each repository with its installation id and default branch', async () => {
    const payload = example('installation', 'created');
    registration(payload.installation.id, 'Codertocat/Hello-World', 'trunk');
    expect((await deliver(cp, 'installation', payload)).status).toBe(200);
    const [registered] = await events(cp, 'target.registered');
    expect(registered).toMatchObject({ actor: 'github:Codertocat', target: 'Codertocat/Hello-World', data: { installation_id: payload.installation.id } });

    await until(async () => (await events(cp, 'backlog.synced')).length === 1, 'backlog.synced after registration');
    const t = (await targetsOf(cp)).find((x) => x.id === 'Codertocat/Hello-World');
    expect(t).toMatchObject({ installation_id: payload.installation.id, default_branch: 'trunk', lifecycle: 'active' });
    expect(t!.backlog.state).toBe('synced');
  });

  it('installation.deleted removes the targets', async () => {
    const payload = example('installation', 'deleted');
    await post(cp, [{ type: 'target.registered', target: 'octocat/Hello-World', data: { installation_id: payload.installation.id } }]);
    await deliver(cp, 'installation', payload);
    expect(await events(cp, 'target.removed')).toHaveLength(1);
    expect((await targetsOf(cp)).map((t) => t.id)).toEqual([]);
  });

  it('suspend and unsuspend apply to the targets the log knows under the installation (the payload lists none)', async () => {
    const suspend = example('installation', 'suspend');
    await post(cp, [
      { type: 'target.registered', target: 'Codertocat/One', data: { installation_id: suspend.installation.id } },
      { type: 'target.registered', target: 'Codertocat/Two', data: { installation_id: suspend.installation.id } },
      { type: 'target.registered', target: 'someone/Else', data: { installation_id: 99 } },
    ]);
    await deliver(cp, 'installation', suspend);
    const suspended = await targetsOf(cp);
    expect(suspended.filter((t) => t.reason === 'target_suspended').map((t) => t.id)).toEqual(['Codertocat/One', 'Codertocat/Two']);
    await deliver(cp, 'installation', example('installation', 'unsuspend'));
    expect((await targetsOf(cp)).every((t) => t.lifecycle === 'active')).toBe(true);
  });

  it('installation_repositories.added registers, .removed removes', async () => {
    const added = example('installation_repositories', 'added');
    registration(added.installation.id, 'Codertocat/Space');
    await deliver(cp, 'installation_repositories', added);
    await until(async () => (await events(cp, 'backlog.synced')).length === 1, 'backlog.synced');
    expect((await targetsOf(cp)).map((t) => [t.id, t.installation_id, t.default_branch])).toEqual([['Codertocat/Space', added.installation.id, 'main']]);

    const removed = example('installation_repositories', 'removed');
    await post(cp, [{ type: 'target.registered', target: 'octocat/Hello-World', data: { installation_id: removed.installation.id } }]);
    await deliver(cp, 'installation_repositories', removed);
    expect((await targetsOf(cp)).map((t) => t.id)).toEqual(['Codertocat/Space']);
  });

  it('answers the webhook at once; calls to a slow GitHub happen after the answer', async () => {
    const payload = example('installation', 'created');
    gh.installationToken(payload.installation.id).on('GET', '/repos/Codertocat/Hello-World', 200, { default_branch: 'main' }, { delayMs: 1500 });
    for (const f of ['backlog', 'policy', 'contract']) gh.on('GET', `/repos/Codertocat/Hello-World/contents/.leviathan/${f}.yaml`, 404, { message: 'Not Found' }, { query: { ref: 'main' } });
    gh.on('GET', '/repos/Codertocat/Hello-World/pulls', 200, [], { query: true });
    const started = Date.now();
    expect((await deliver(cp, 'installation', payload)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await events(cp, 'target.registered')).toHaveLength(1);
    await until(async () => (await events(cp, 'backlog.invalid')).length === 1, 'the missing backlog reported', 5000);
  });

  it('reinstalling the App puts right the PRs merged while it was away', async () => {
    const created = example('installation', 'created');
    const inst = created.installation.id as number;
    const T = 'Codertocat/Hello-World';
    await post(cp, [
      { type: 'target.registered', target: T, data: { installation_id: inst, default_branch: 'main' } },
      { type: 'pr.created', target: T, data: { number: 2, attempt_id: 'att-1', task_id: 'fix-typo', updated_at: '2026-01-01T00:00:00Z' } },
    ]);
    const deleted = example('installation', 'deleted');
    deleted.installation.id = inst;
    deleted.repositories = [{ full_name: T }];
    await deliver(cp, 'installation', deleted);
    // While uninstalled, #2 was merged: no webhook reached us.
    registration(inst, T);
    gh.on('GET', `/repos/${T}/pulls/2`, 200, { number: 2, state: 'closed', merged: true, merged_at: '2026-01-02T00:00:00Z', updated_at: '2026-01-02T00:00:00Z', body: 'Leviathan-Attempt: att-1' });
    await deliver(cp, 'installation', created);
    await until(async () => (await events(cp, 'pr.merged')).length === 1, 'the merge recorded');
    const t = (await targetsOf(cp)).find((x) => x.id === T)!;
    expect(t).toMatchObject({ lifecycle: 'active', open_prs: [] });
    expect(cp.projector.state.targets[T]!.tasks['fix-typo']).toMatchObject({ merged_pr: 2, open_pr: null });
  });

  it('a failed follow-up (GitHub down) keeps what the payload said', async () => {
    const payload = example('installation', 'created');
    gh.installationToken(payload.installation.id).on('GET', '/repos/Codertocat/Hello-World', 502, { message: 'Bad gateway' });
    await deliver(cp, 'installation', payload);
    await until(() => gh.pending().length === 0, 'the failed call');
    const t = (await targetsOf(cp)).find((x) => x.id === 'Codertocat/Hello-World');
    expect(t).toMatchObject({ installation_id: payload.installation.id, lifecycle: 'active' });
  });
});
