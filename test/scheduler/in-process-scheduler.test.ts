import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recordRateLimit, resetRateLimit } from '../../src/metrics/registry.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { FakeExecutor } from './fake-executor.ts';
import { eventsOf, post, seedEvents, TARGET, taskSummary } from './seed.ts';

describe('the in-process scheduler (serve on one machine)', () => {
  let cp: TestControlPlane | null = null;
  afterEach(async () => {
    await cp?.destroy();
    cp = null;
    resetRateLimit();
  });

  it('ticks by itself on clock-aligned intervals and shows the next tick in the autonomy status', async () => {
    const executor = new FakeExecutor();
    cp = await startTestControlPlane({ env: { LEVIATHAN_LOCAL_SCHEDULE_SECONDS: '1' }, overrides: { executor, localSchedule: true } });
    await post(cp, seedEvents([taskSummary('docs')]));

    const status = (await (await cp.api('/v1/autonomy/status')).json()) as { scheduler: { next_tick_at: string | null } };
    expect(status.scheduler.next_tick_at).not.toBeNull();
    expect(Date.parse(status.scheduler.next_tick_at!) % 1000).toBe(0);

    // A tick may already have run before the seed arrived: wait for one that starts the task.
    const deadline = Date.now() + 5000;
    const cycleStarted = async () => executor.started.length > 0 && (await eventsOf(cp!, 'attempt.created')).length > 0;
    while (!(await cycleStarted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(executor.started.map((a) => [a.target, a.task.id])).toEqual([[TARGET, 'docs']]);
  });

  it("reports this process's GitHub rate-limit reading in each cycle it completes", async () => {
    recordRateLimit({ remaining: 4321, limit: 5000, reset: 1_795_000_000 });
    cp = await startTestControlPlane({ env: { LEVIATHAN_LOCAL_SCHEDULE_SECONDS: '1' }, overrides: { executor: new FakeExecutor(), localSchedule: true } });
    const deadline = Date.now() + 5000;
    while ((await eventsOf(cp, 'scheduler.cycle_completed')).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await eventsOf(cp, 'scheduler.cycle_completed'))[0]?.data.github_rate_limit).toEqual({ remaining: 4321, limit: 5000, reset: 1_795_000_000 });
  });

  it('decides one trigger at a time: two racing for one slot start one worker', async () => {
    const executor = new FakeExecutor();
    cp = await startTestControlPlane({ overrides: { executor } });
    // One slot (max_concurrent_attempts 1 by default): a cycle and a trigger race for it.
    await post(cp, seedEvents([taskSummary('a'), taskSummary('b')]));
    const trigger = cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: TARGET, task_id: 'b' } });
    const scheduled = cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: TARGET, task_id: 'a' } });
    const statuses = (await Promise.all([trigger, scheduled])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409]);
    expect(executor.started).toHaveLength(1);
  });

  it('reads LEVIATHAN_AUTONOMY_CONFIG when set, as `leviathan tick` does: off there wins over the log, for cycles and triggers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-autonomy-'));
    try {
      const path = join(dir, 'autonomy.yaml');
      await writeFile(path, 'autonomy_enabled: false\n');
      const executor = new FakeExecutor();
      cp = await startTestControlPlane({ env: { LEVIATHAN_LOCAL_SCHEDULE_SECONDS: '1', LEVIATHAN_AUTONOMY_CONFIG: path }, overrides: { executor, localSchedule: true } });
      // The log says enabled; the file says off.
      await post(cp, seedEvents([taskSummary('a')]));
      const off = await cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: TARGET, task_id: 'a' } });
      expect(((await off.json()) as { error: { reason: string } }).error.reason).toBe('autonomy_disabled');
      const deadline = Date.now() + 5000;
      const skipped = async () => (await eventsOf(cp!, 'task.skipped')).some((e) => e.data.reason === 'autonomy_disabled');
      while (!(await skipped()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await skipped()).toBe(true);
      expect(executor.started).toEqual([]);

      await writeFile(path, 'autonomy_enabled: true\n');
      expect((await cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: TARGET, task_id: 'a' } })).status).toBe(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is off with LEVIATHAN_LOCAL_SCHEDULE_SECONDS=0', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_LOCAL_SCHEDULE_SECONDS: '0' }, overrides: { executor: new FakeExecutor(), localSchedule: true } });
    const status = (await (await cp.api('/v1/autonomy/status')).json()) as { scheduler: { next_tick_at: string | null } };
    expect(status.scheduler.next_tick_at).toBeNull();
  });
});
