import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { appendChecked } from '../../src/control/selection-guard.ts';
import type { Projector } from '../../src/projections/projector.ts';
import { newEvent } from '../../src/events/envelope.ts';
import { InProcessSchedulerControlPlane } from '../../src/scheduler/control-plane-port.ts';
import { decide } from '../../src/scheduler/decide.ts';
import { carryOut } from '../../src/scheduler/run-cycle.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { FakeExecutor } from '../scheduler/fake-executor.ts';
import { eventsOf, post, seedEvents, TARGET, taskSummary } from '../scheduler/seed.ts';

let cp: TestControlPlane;
beforeEach(async () => {
  cp = await startTestControlPlane();
  await post(cp, seedEvents([taskSummary('t1')]));
});
afterEach(async () => {
  await cp.destroy();
});

const selected = (attempt: string) => ({ type: 'task.selected', target: TARGET, data: { task_id: 't1', attempt_id: attempt } });

describe('a task is selected once', () => {
  it('POST /v1/events refuses a second task.selected while an attempt is in flight (409), and stores nothing of the batch', async () => {
    expect((await cp.api('/v1/events', { method: 'POST', json: selected('a1') })).status).toBe(200);
    const head = cp.store.health().head.seq;
    const again = await cp.api('/v1/events', { method: 'POST', json: [{ type: 'note.added' }, selected('a2')] });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('attempt_in_flight');
    expect(cp.store.health().head.seq).toBe(head);
    // A batch that ends the attempt first may select the task again (a replayed history does).
    const replay = await cp.api('/v1/events', {
      method: 'POST',
      json: [{ type: 'attempt.failed', target: TARGET, data: { attempt_id: 'a1', task_id: 't1', failure_type: 'timeout' } }, selected('a3')],
    });
    expect(replay.status).toBe(200);
    // The same selection again (a retried POST) is fine: same attempt.
    expect((await cp.api('/v1/events', { method: 'POST', json: selected('a3') })).status).toBe(200);
  });

  it('a decision made from a stale snapshot starts no second worker: the outcome becomes blocked attempt_in_flight', async () => {
    const controlPlane = new InProcessSchedulerControlPlane({ store: cp.store, projector: cp.projector, clock: { now: () => new Date() } });
    const snapshot = await controlPlane.snapshot();
    // Meanwhile a trigger started the task.
    await post(cp, [selected('from-trigger')]);
    const decision = decide(new Date(), { cycle_id: 'c-stale', control: snapshot, read_problems: {} }, {
      autonomy: { enabled: true, source: 'control_plane', problems: [], defaults: {} },
      max_concurrent_workers: 4,
      executor: 'local',
    });
    expect(decision.actions.some((a) => a.kind === 'start_worker')).toBe(true);
    const executor = new FakeExecutor();
    const [outcome] = await carryOut({ controlPlane, executor, logger: pino({ level: 'silent' }) }, decision);
    expect(executor.started).toEqual([]);
    expect(outcome).toMatchObject({ outcome: 'blocked', reason: 'attempt_in_flight' });
    expect((await eventsOf(cp, 'task.selected')).map((e) => e.data.attempt_id)).toEqual(['from-trigger']);
  });

  it('refuses (503, retryable) rather than decide on a projection that cannot reach the head, storing nothing', async () => {
    const head = cp.store.health().head.seq;
    const stuck = { state: cp.projector.state, waitFor: () => new Promise<void>(() => {}) } as unknown as Projector;
    const selection = newEvent({ actor: 'test', ...selected('stuck') });
    await expect(appendChecked({ store: cp.store, projector: stuck }, [selection], 50)).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(cp.store.health().head.seq).toBe(head);
    // The next selection is not held up by the refused one.
    expect((await appendChecked({ store: cp.store, projector: cp.projector }, [newEvent({ actor: 'test', ...selected('next') })])).stored).toHaveLength(1);
  });
});

describe("a target's limits hold against decisions made from stale snapshots", () => {
  const stale = async () => {
    const controlPlane = new InProcessSchedulerControlPlane({ store: cp.store, projector: cp.projector, clock: { now: () => new Date() } });
    return { controlPlane, snapshot: await controlPlane.snapshot() };
  };
  const decideFrom = (snapshot: Awaited<ReturnType<typeof stale>>['snapshot']) =>
    decide(new Date(), { cycle_id: 'c-stale', control: snapshot, read_problems: {} }, {
      autonomy: { enabled: true, source: 'control_plane', problems: [], defaults: {} },
      max_concurrent_workers: 4,
      executor: 'local',
    });
  const otherTask = (taskId: string, attempt: string, limits?: Record<string, number>) => ({
    type: 'task.selected',
    target: TARGET,
    data: { task_id: taskId, attempt_id: attempt, ...(limits ? { limits } : {}) },
  });

  it.each([
    ['another task took the only slot (max_concurrent_attempts 1)', [taskSummary('t1', { allowed_paths: ['a/'] }), taskSummary('t2', { allowed_paths: ['b/'] })], 'attempt_in_flight'],
    ['another task leased the same paths', [taskSummary('t1', { allowed_paths: ['docs/'] }), taskSummary('t2', { allowed_paths: ['docs/guide.md'] })], 'path_lease_conflict'],
  ])('%s: the tick selects nothing and starts no worker; the outcome names why', async (_name, tasks, reason) => {
    await post(cp, seedEvents(tasks));
    const { controlPlane, snapshot } = await stale();
    // Meanwhile a trigger (or the other replica) started t2.
    const policyWide = reason === 'path_lease_conflict' ? { max_concurrent_attempts: 2, max_open_prs: 5 } : { max_concurrent_attempts: 1, max_open_prs: 2 };
    await post(cp, [otherTask('t2', 'from-trigger', policyWide)]);
    const decision = decideFrom(snapshot);
    // The stale decision still picks t1 under the limits it read; those are carried on the selection.
    const selection = decision.actions.find((a) => a.kind === 'record' && a.event.type === 'task.selected');
    expect(selection && selection.kind === 'record' ? selection.event.data.limits : null).toEqual({ max_concurrent_attempts: 1, max_open_prs: 2, max_attempts_per_task: 2 });
    if (reason === 'path_lease_conflict') {
      // Widen the carried limits so only the lease can refuse it.
      if (selection?.kind === 'record') selection.event.data.limits = policyWide;
    }
    const executor = new FakeExecutor();
    const [outcome] = await carryOut({ controlPlane, executor, logger: pino({ level: 'silent' }) }, decision);
    expect(executor.started).toEqual([]);
    expect(outcome).toMatchObject({ outcome: 'blocked', reason, task_id: 't1' });
    expect((await eventsOf(cp, 'task.selected')).map((e) => e.data.attempt_id)).toEqual(['from-trigger']);
    expect((await eventsOf(cp, 'task.skipped')).map((e) => e.data.reason)).toEqual([reason]);
  });

  it("a try that failed meanwhile is the task's last: the stale tick's selection is refused as max_attempts_reached", async () => {
    const failed = (attempt: string) => ({ type: 'attempt.failed', target: TARGET, data: { attempt_id: attempt, task_id: 't1', failure_type: 'agent_error' } });
    // One of the default two tries used and failed: t1 is still ready when the tick takes its snapshot.
    await post(cp, [selected('a1'), failed('a1')]);
    const { controlPlane, snapshot } = await stale();
    // Meanwhile a trigger ran the second try, which failed at once.
    await post(cp, [otherTask('t1', 'from-trigger', { max_concurrent_attempts: 1, max_open_prs: 2, max_attempts_per_task: 2 }), failed('from-trigger')]);
    const decision = decideFrom(snapshot);
    const selection = decision.actions.find((a) => a.kind === 'record' && a.event.type === 'task.selected');
    expect(selection && selection.kind === 'record' ? selection.event.data.limits : null).toMatchObject({ max_attempts_per_task: 2 });
    const executor = new FakeExecutor();
    const [outcome] = await carryOut({ controlPlane, executor, logger: pino({ level: 'silent' }) }, decision);
    expect(executor.started).toEqual([]);
    expect(outcome).toMatchObject({ outcome: 'blocked', reason: 'max_attempts_reached', task_id: 't1', detail: expect.stringContaining('failed after 2 attempts (last: agent_error)') });
    expect((await eventsOf(cp, 'task.selected')).map((e) => e.data.attempt_id)).toEqual(['a1', 'from-trigger']);
    expect((await eventsOf(cp, 'task.skipped')).map((e) => e.data.reason)).toEqual(['max_attempts_reached']);
  });

  it('over HTTP the try limit refuses with 409 attempt_in_flight, reason max_attempts_reached; selections without it are not checked for it', async () => {
    await post(cp, [selected('a1'), { type: 'attempt.failed', target: TARGET, data: { attempt_id: 'a1', task_id: 't1', failure_type: 'timeout' } }]);
    const res = await cp.api('/v1/events', { method: 'POST', json: otherTask('t1', 'late', { max_concurrent_attempts: 1, max_open_prs: 2, max_attempts_per_task: 1 }) });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: Record<string, unknown> }).error).toMatchObject({
      code: 'attempt_in_flight',
      reason: 'max_attempts_reached',
      message: expect.stringContaining('Raise safety_rules.max_attempts_per_task'),
    });
    // Under a higher limit, and with limits from before the try limit was carried, it is selected.
    expect((await cp.api('/v1/events', { method: 'POST', json: otherTask('t1', 'older', { max_concurrent_attempts: 1, max_open_prs: 2 }) })).status).toBe(200);
  });

  it('over HTTP the refusal carries the reason: 409 attempt_in_flight with reason max_open_prs', async () => {
    await post(cp, [...seedEvents([taskSummary('t1', { allowed_paths: ['a/'] }), taskSummary('t2', { allowed_paths: ['b/'] })]), { type: 'pr.created', target: TARGET, data: { number: 7, task_id: 't2' } }]);
    const res = await cp.api('/v1/events', { method: 'POST', json: otherTask('t1', 'late', { max_concurrent_attempts: 2, max_open_prs: 1 }) });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: Record<string, unknown> }).error).toMatchObject({ code: 'attempt_in_flight', reason: 'max_open_prs', message: expect.stringContaining('Max open PRs reached (1/1)') });
    // Without limits (an older scheduler, a raw post) only the task itself is checked, as before.
    expect((await cp.api('/v1/events', { method: 'POST', json: otherTask('t1', 'legacy') })).status).toBe(200);
  });
});
