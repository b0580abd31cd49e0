import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOKEN, startTestControlPlane, type TestControlPlane } from '../../helpers/control-plane.ts';

const T = 'acme/web';
let now = new Date('2026-11-25T09:00:00.000Z');
let cp: TestControlPlane;

type Json = Record<string, any>;
const task = (id: string) => ({ id, title: id, priority: 'medium', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'] });
const emit = async (events: unknown) => {
  const res = await cp.api('/v1/events', { method: 'POST', json: events });
  expect(res.status).toBe(200);
  return ((await res.json()) as { stored: Array<{ seq: number }> }).stored;
};
const diagnosis = async () => {
  const res = await cp.api(`/v1/targets/${T}/diagnosis`, { token: READ_TOKEN });
  expect(res.status).toBe(200);
  return ((await res.json()) as { diagnosis: Json }).diagnosis;
};

beforeAll(async () => {
  cp = await startTestControlPlane({ overrides: { clock: { now: () => now }, cluster: null } });
});
afterAll(async () => {
  await cp.destroy();
});

describe('GET /v1/targets/:owner/:repo/diagnosis', () => {
  it('needs a token, and answers 404 for a target it does not know', async () => {
    expect((await cp.api(`/v1/targets/${T}/diagnosis`, { token: null })).status).toBe(401);
    const res = await cp.api('/v1/targets/acme/nope/diagnosis', { token: READ_TOKEN });
    expect(res.status).toBe(404);
    expect(((await res.json()) as Json).error.message).toContain('No target acme/nope');
  });

  it('gathers evidence from the log: open PRs opened days ago are still shown with their events', async () => {
    const [, , , pr1, pr2] = await emit([
      { type: 'autonomy.enabled', data: { reason: 'go' } },
      { type: 'target.registered', target: T, data: { installation_id: 1 } },
      { type: 'backlog.synced', target: T, data: { tasks: [task('a'), task('b'), task('c')] } },
      { type: 'pr.created', target: T, subject: `pr:${T}#721`, data: { number: 721, title: 'docs-update', task_id: 'a' } },
      { type: 'pr.created', target: T, subject: `pr:${T}#722`, data: { number: 722, title: 'api-base-normalization-test', task_id: 'b' } },
    ]);
    now = new Date('2026-11-27T12:00:00.000Z');
    await emit([
      { type: 'scheduler.cycle_completed', data: { cycle_id: 'c1' } },
      { type: 'task.skipped', target: T, data: { outcome: 'blocked', reason: 'max_open_prs', detail: 'Max open PRs reached (2/2)' } },
    ]);

    const d = await diagnosis();
    expect(d.blocking).toBe('max_open_prs');
    expect(d.summary).toBe('acme/web is not executing: Max open PRs reached (2/2). Merge PRs if at max (merge or close PRs to resume execution).');
    const check = (d.checks as Json[]).find((c) => c.id === 'max_open_prs')!;
    expect(check.evidence).toEqual([
      { seq: pr1!.seq, type: 'pr.created', time: '2026-11-25T09:00:00.000Z', summary: 'PR #721 docs-update (a)' },
      { seq: pr2!.seq, type: 'pr.created', time: '2026-11-25T09:00:00.000Z', summary: 'PR #722 api-base-normalization-test (b)' },
    ]);
    expect(check.commands).toEqual(['gh pr list --repo acme/web --state open']);
    // Embedded: no cluster facts, so no kubectl in the commands.
    expect(JSON.stringify(d)).not.toContain('kubectl');
  });

  it('follows the log: once the PRs merge, nothing blocks', async () => {
    await emit([
      { type: 'pr.merged', target: T, data: { number: 721 } },
      { type: 'pr.merged', target: T, data: { number: 722 } },
    ]);
    const d = await diagnosis();
    expect(d.blocking).toBeNull();
    expect(d.summary).toBe('Nothing blocks acme/web: 1 task ready: c.');
  });
});
