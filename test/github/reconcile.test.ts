import { describe, expect, it } from 'vitest';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { events, post, targetsOf, until, useApp } from './harness.ts';

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

  it('leaves the targets of a suspended installation alone', async () => {
    await post(cp, [{ type: 'target.registered', target: 'acme/kept', data: { installation_id: 5, default_branch: 'main' } }]);
    gh.on('GET', '/app/installations', 200, [{ id: 5, suspended_at: '2026-01-01T00:00:00Z' }], { query: true });
    const result = await reconcile();
    expect(result.corrections).toEqual([]);
    expect((await targetsOf(cp)).map((t) => t.id)).toEqual(['acme/kept']);
  });
});
