import { describe, expect, it } from 'vitest';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { deliver, events, example, post, targetsOf, until, useApp } from './harness.ts';

let cp: TestControlPlane;
let gh: GitHubMock;

useApp((a) => ({ cp, gh } = a));

async function reconcile(): Promise<{ corrections: Array<Record<string, unknown>>; errors: Array<Record<string, unknown>> }> {
  const res = await cp.api('/v1/reconcile', { method: 'POST' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { reconcile: { corrections: Array<Record<string, unknown>>; errors: Array<Record<string, unknown>> } }).reconcile;
}

describe('reconcile targets', () => {
  it('registers a repository whose installation webhook was missed, then reads its backlog', async () => {
    gh.on('GET', '/app/installations', 200, [{ id: 5, suspended_at: null }], { query: true })
      .installationToken(5)
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: 'acme/new', default_branch: 'develop' }] }, { query: true })
      .on('GET', '/repos/acme/new/pulls', 200, [], { query: true });
    for (const f of ['backlog', 'policy', 'contract']) {
      gh.on('GET', `/repos/acme/new/contents/.leviathan/${f}.yaml`, f === 'backlog' ? 200 : 404, f === 'backlog' ? 'tasks: []\n' : {}, {
        query: { ref: 'develop' },
        headers: f === 'backlog' ? { 'content-type': 'text/plain; charset=utf-8', etag: '"x"' } : {},
      });
    }
    const result = await reconcile();
    expect(result.corrections).toEqual([{ type: 'target.registered', target: 'acme/new' }]);
    expect((await targetsOf(cp)).map((t) => [t.id, t.installation_id, t.default_branch])).toEqual([['acme/new', 5, 'develop']]);
    await until(async () => (await events(cp, 'backlog.synced')).length === 1, 'backlog.synced');
  });

  it('removes targets whose repository or installation is gone', async () => {
    await post(cp, [
      { type: 'target.registered', target: 'acme/kept', data: { installation_id: 5, default_branch: 'main' } },
      { type: 'target.registered', target: 'acme/dropped', data: { installation_id: 5, default_branch: 'main' } },
      { type: 'target.registered', target: 'other/uninstalled', data: { installation_id: 6, default_branch: 'main' } },
    ]);
    gh.on('GET', '/app/installations', 200, [{ id: 5, suspended_at: null }], { query: true })
      .installationToken(5)
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: 'acme/kept', default_branch: 'main' }] }, { query: true })
      .on('GET', '/repos/acme/kept/pulls', 200, [], { query: true });
    const result = await reconcile();
    expect(result.corrections).toEqual([
      { type: 'target.removed', target: 'acme/dropped' },
      { type: 'target.removed', target: 'other/uninstalled' },
    ]);
    expect((await targetsOf(cp)).map((t) => t.id)).toEqual(['acme/kept']);
  });

  it('fails closed: a target whose PRs cannot be listed is left as it is and reported', async () => {
    await post(cp, [
      { type: 'target.registered', target: 'acme/kept', data: { installation_id: 5, default_branch: 'main' } },
      { type: 'pr.created', target: 'acme/kept', data: { number: 3, attempt_id: 'a', task_id: 't' } },
    ]);
    gh.on('GET', '/app/installations', 200, [{ id: 5, suspended_at: null }], { query: true })
      .installationToken(5)
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: 'acme/kept', default_branch: 'main' }] }, { query: true })
      .on('GET', '/repos/acme/kept/pulls', 502, { message: 'Bad gateway' }, { query: true });
    const result = await reconcile();
    expect(result.corrections).toEqual([]);
    expect(result.errors).toEqual([{ scope: 'acme/kept', status: 502, message: expect.any(String) }]);
    expect((await targetsOf(cp)).find((t) => t.id === 'acme/kept')!.open_prs.map((p: { number: number }) => p.number)).toEqual([3]);
  });

  it('a suspended installation is not read, but its active targets are suspended (a suspend webhook missed)', async () => {
    await post(cp, [{ type: 'target.registered', target: 'acme/kept', data: { installation_id: 5, default_branch: 'main' } }]);
    gh.on('GET', '/app/installations', 200, [{ id: 5, suspended_at: '2026-01-01T00:00:00Z' }], { query: true });
    const result = await reconcile();
    expect(result.corrections).toEqual([{ type: 'target.suspended', target: 'acme/kept' }]);
    expect((await targetsOf(cp)).map((t) => [t.id, t.lifecycle])).toEqual([['acme/kept', 'suspended']]);
  });

  it('unsuspends the targets of an installation GitHub says is not suspended (an unsuspend overtaken by an older suspend)', async () => {
    const suspend = example('installation', 'suspend');
    const unsuspend = example('installation', 'unsuspend');
    const id = suspend.installation.id as number;
    unsuspend.installation.id = id;
    await post(cp, [{ type: 'target.registered', target: 'acme/kept', data: { installation_id: id, default_branch: 'main' } }]);
    // Delivered the wrong way round: the older suspend lands last.
    await deliver(cp, 'installation', unsuspend);
    await deliver(cp, 'installation', suspend);
    expect((await targetsOf(cp))[0]!.lifecycle).toBe('suspended');
    gh.on('GET', '/app/installations', 200, [{ id, suspended_at: null }], { query: true })
      .installationToken(id)
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: 'acme/kept', default_branch: 'main' }] }, { query: true })
      .on('GET', '/repos/acme/kept/pulls', 200, [], { query: true });
    const result = await reconcile();
    expect(result.corrections).toEqual([{ type: 'target.unsuspended', target: 'acme/kept' }]);
    expect((await targetsOf(cp)).map((t) => [t.id, t.lifecycle])).toEqual([['acme/kept', 'active']]);
  });
});

describe('reconcile: labels', () => {
  it('a human PR counted on its `leviathan` label alone is observed instead, and frees its slot', async () => {
    await post(cp, [
      { type: 'target.registered', target: 'acme/kept', data: { installation_id: 5, default_branch: 'main' } },
      // What an older version recorded for a labelled human PR: ours, with no attempt behind it.
      { type: 'pr.created', target: 'acme/kept', data: { number: 4, leviathan: true, updated_at: '2026-01-01T00:00:00Z' } },
      { type: 'pr.created', target: 'acme/kept', data: { number: 5, attempt_id: 'att-5', updated_at: '2026-01-01T00:00:00Z' } },
    ]);
    const human = { number: 4, state: 'open', body: 'Adds two tasks', labels: [{ name: 'leviathan' }], updated_at: '2026-01-01T00:00:00Z' };
    const ours = { number: 5, state: 'open', body: 'Leviathan-Attempt: att-5', labels: [{ name: 'leviathan' }], updated_at: '2026-01-01T00:00:00Z' };
    gh.on('GET', '/app/installations', 200, [{ id: 5, suspended_at: null }], { query: true })
      .installationToken(5)
      .on('GET', '/installation/repositories', 200, { total_count: 1, repositories: [{ full_name: 'acme/kept', default_branch: 'main' }] }, { query: true })
      .on('GET', '/repos/acme/kept/pulls', 200, [human, ours], { query: true });
    const result = await reconcile();
    expect(result.corrections).toEqual([{ type: 'pr.observed', target: 'acme/kept', number: 4 }]);
    const t = (await targetsOf(cp)).find((x) => x.id === 'acme/kept')!;
    expect(t.open_prs.map((p: { number: number }) => p.number)).toEqual([5]);
    expect(cp.projector.state.targets['acme/kept']!.observed_open_prs).toEqual([4]);
  });
});
