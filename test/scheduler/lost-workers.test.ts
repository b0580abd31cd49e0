import { describe, expect, it } from 'vitest';
import type { WorkerRun } from '../../src/executors/executor.ts';
import { lostWorkerEvents } from '../../src/scheduler/lost-workers.ts';
import { buildSnapshot } from '../../src/scheduler/snapshot.ts';
import { minutes, project, target, task, type GivenEvent } from './given.ts';

const A = 'acme/widgets';
const inFlight: GivenEvent[] = [
  ...target(A, [task('docs-a')]),
  { type: 'task.selected', target: A, data: { task_id: 'docs-a', attempt_id: 'att-1' }, at: 0 },
  { type: 'attempt.created', target: A, data: { task_id: 'docs-a', attempt_id: 'att-1', handle: 'pid:9' }, at: 0 },
  { type: 'attempt.started', target: A, actor: 'worker:att-1', data: { task_id: 'docs-a', attempt_id: 'att-1' }, at: 0 },
];
/** The same attempt, its worker never heard from: no attempt.started. */
const neverStarted = inFlight.filter((e) => e.type !== 'attempt.started');
const run = (over: Partial<WorkerRun>): WorkerRun => ({ attempt_id: 'att-1', target: A, task_id: 'docs-a', state: 'running', handle: 'pid:9', ...over });

function when(now: Date, runs: WorkerRun[], events = inFlight, onlyKnownRuns = false) {
  return lostWorkerEvents(now, buildSnapshot(project(events), now), runs, { globalDefaults: {}, onlyKnownRuns });
}

describe('lostWorkerEvents', () => {
  it('leaves a running worker alone', () => {
    expect(when(minutes(5), [run({})])).toEqual([]);
  });

  it('fails an attempt whose worker was stopped at its deadline as timeout', () => {
    const [e] = when(minutes(16), [run({ state: 'failed', failure_type: 'timeout' })]);
    expect(e).toMatchObject({ id: 'att-1:failed', type: 'attempt.failed', target: A, data: { attempt_id: 'att-1', task_id: 'docs-a', failure_type: 'timeout' } });
  });

  it('fails an attempt whose worker ended without reporting as worker_lost', () => {
    expect(when(minutes(1), [run({ state: 'failed', failure_type: 'worker_lost' })])[0]?.data.failure_type).toBe('worker_lost');
    expect(when(minutes(1), [run({ state: 'succeeded' })])[0]?.data.failure_type).toBe('worker_lost');
  });

  it('gives an attempt the executor does not know until its deadline plus grace', () => {
    expect(when(minutes(16), [])).toEqual([]);
    const [e] = when(minutes(18), []);
    expect(e?.data).toMatchObject({ failure_type: 'worker_lost', message: expect.stringContaining('pid:9') });
    // The control plane's own watch leaves those to the scheduler's cycle.
    expect(when(minutes(18), [], inFlight, true)).toEqual([]);
  });

  it('without the attempt\'s own timeout (an older attempt.created) uses the target policy for the deadline', () => {
    const events: GivenEvent[] = [...target(A, [task('docs-a')], { policy_file: { attempt_timeout_minutes: 60 } }), ...inFlight.slice(2)];
    expect(when(minutes(30), [], events)).toEqual([]);
    expect(when(minutes(63), [], events)).toHaveLength(1);
  });

  describe("the deadline of an attempt the executor does not know is the attempt's own, whatever the policy says now", () => {
    // Started with a 60-minute deadline; the policy (synced after the start) then says `policy` minutes.
    const startedWith60 = (policy: number | null): GivenEvent[] => [
      ...target(A, [task('docs-a')], { policy_file: { attempt_timeout_minutes: 60 } }),
      { type: 'task.selected', target: A, data: { task_id: 'docs-a', attempt_id: 'att-1' }, at: 0 },
      { type: 'attempt.created', target: A, data: { task_id: 'docs-a', attempt_id: 'att-1', handle: 'pid:9', timeout_seconds: 3600 }, at: 0 },
      { type: 'attempt.started', target: A, actor: 'worker:att-1', data: { task_id: 'docs-a', attempt_id: 'att-1' }, at: 0 },
      ...(policy === null ? [] : [{ type: 'backlog.synced', target: A, data: { tasks: [task('docs-a')], policy_file: { attempt_timeout_minutes: policy } }, at: 1 }]),
    ];

    it.each([
      ['unchanged, before deadline + grace', null, 61, 0],
      ['unchanged, after deadline + grace', null, 63, 1],
      ['lowered to 15 minutes, at 30 minutes (the worker may still run)', 15, 30, 0],
      ['lowered to 15 minutes, at 61 minutes', 15, 61, 0],
      ['lowered to 15 minutes, after its own deadline + grace', 15, 63, 1],
      ['raised to 240 minutes, after its own deadline + grace', 240, 63, 1],
    ] as const)('policy %s → %i lost', (_name, policy, at, lost) => {
      expect(when(minutes(at), [], startedWith60(policy))).toHaveLength(lost);
    });

    it("names the attempt's own deadline when the executor stopped it there", () => {
      const [e] = when(minutes(61), [run({ state: 'failed', failure_type: 'timeout' })], startedWith60(15));
      expect(e?.data.message).toContain('deadline of 60 minutes');
    });
  });

  describe('a worker that never reported attempt.started (its pod never ran: a bad image tag, Unschedulable)', () => {
    const inspect = 'kubectl -n leviathan describe pod -l leviathan.dev/attempt=att-1';

    it.each([
      ['stopped at its deadline while its pod waited', { state: 'failed', failure_type: 'timeout', inspect }],
      ['its pod failed', { state: 'failed', failure_type: 'worker_lost', inspect }],
      ['it exited 0', { state: 'succeeded', inspect }],
    ] as const)('%s: worker_lost, worker_not_started, not a try (phase start), pointing at the pod', (_name, over) => {
      const [e] = when(minutes(16), [run(over)], neverStarted);
      expect(e).toMatchObject({
        id: 'att-1:failed',
        actor: 'scheduler',
        data: { attempt_id: 'att-1', task_id: 'docs-a', failure_type: 'worker_lost', error_kind: 'worker_not_started', phase: 'start' },
      });
      expect(e?.data.message).toContain(`See: ${inspect}`);
    });

    it('nor when the executor no longer knows it once its deadline has passed (no command to give then)', () => {
      expect(when(minutes(16), [], neverStarted)).toEqual([]);
      const [e] = when(minutes(18), [], neverStarted);
      expect(e?.data).toMatchObject({ failure_type: 'worker_lost', error_kind: 'worker_not_started', phase: 'start' });
      expect(e?.data.message).not.toContain('See:');
    });

    it('costs the task no try and the breaker no failure, where a timeout after attempt.started costs both', () => {
      const recorded = (events: GivenEvent[], runs: WorkerRun[]) => {
        const [e] = when(minutes(16), runs, events);
        const state = project([...events, { type: e!.type, target: A, actor: e!.actor, data: e!.data, at: 16 }]);
        return { tries: state.targets[A]!.tasks['docs-a']!.attempts, breaker: state.targets[A]!.breaker.consecutive_failures };
      };
      expect(recorded(neverStarted, [run({ state: 'failed', failure_type: 'timeout' })])).toEqual({ tries: 0, breaker: 0 });
      expect(recorded(inFlight, [run({ state: 'failed', failure_type: 'timeout' })])).toEqual({ tries: 1, breaker: 1 });
    });

    it('a worker still waiting for its pod is left alone until the executor says it ended', () => {
      expect(when(minutes(10), [run({ state: 'running' })], neverStarted)).toEqual([]);
    });
  });

  it('gives the time since the attempt was created as its duration, so hard-killed timeouts reach the histogram', () => {
    const [timeout] = when(minutes(16), [run({ state: 'failed', failure_type: 'timeout' })]);
    expect(timeout?.data.duration_seconds).toBe(16 * 60);
    expect(when(minutes(18), [])[0]?.data.duration_seconds).toBe(18 * 60);
    expect(when(minutes(16), [run({ state: 'failed', failure_type: 'timeout' })], neverStarted)[0]?.data.duration_seconds).toBe(16 * 60);
    const state = project([...inFlight, { type: timeout!.type, target: A, actor: timeout!.actor, data: timeout!.data, at: 16 }]);
    const c = state.counters.by_target[A]!;
    expect([c.duration_count, c.duration_sum]).toEqual([1, 16 * 60]);
  });

  it('ignores attempts that already reported', () => {
    const done: GivenEvent[] = [...inFlight, { type: 'attempt.succeeded', target: A, data: { attempt_id: 'att-1', task_id: 'docs-a' } }];
    expect(when(minutes(60), [run({ state: 'failed', failure_type: 'timeout' })], done)).toEqual([]);
  });
});
