import { describe, expect, it } from 'vitest';
import { SKIP_REASONS } from '../../src/events/types.ts';
import { targetView } from '../../src/projections/target-view.ts';
import { cycleCompletedEvent, type Decision, type ReadProblem, type TargetDecision } from '../../src/scheduler/decide.ts';
import { given, minutes, policy, target, task, type GivenEvent } from './given.ts';

const A = 'acme/widgets';
const B = 'acme/gadgets';
const C = 'acme/sprockets';
const NOW = minutes(60);

const selected = (taskId: string, attemptId: string, at?: number): GivenEvent => ({
  type: 'task.selected',
  target: A,
  data: { task_id: taskId, attempt_id: attemptId },
  ...(at !== undefined ? { at } : {}),
});
const created = (taskId: string, attemptId: string, at?: number): GivenEvent => ({
  type: 'attempt.created',
  target: A,
  data: { task_id: taskId, attempt_id: attemptId },
  ...(at !== undefined ? { at } : {}),
});
const failed = (taskId: string, attemptId: string, at?: number, failureType = 'agent_error'): GivenEvent => ({
  type: 'attempt.failed',
  target: A,
  data: { task_id: taskId, attempt_id: attemptId, failure_type: failureType },
  ...(at !== undefined ? { at } : {}),
});
const failedAttempt = (taskId: string, attemptId: string, at?: number) => [selected(taskId, attemptId, at), created(taskId, attemptId, at), failed(taskId, attemptId, at)];
const prCreated = (n: number, taskId: string): GivenEvent => ({ type: 'pr.created', target: A, data: { number: n, task_id: taskId, attempt_id: `att-${taskId}` } });

function outcomeOf(d: Decision, t = A): TargetDecision {
  const o = d.outcomes.find((x) => x.target === t);
  if (!o) throw new Error(`no outcome for ${t}`);
  return o;
}

function recorded(d: Decision, type: string) {
  return d.actions.flatMap((a) => (a.kind === 'record' && a.event.type === type ? [a.event] : []));
}

interface Row {
  name: string;
  given: GivenEvent[];
  problems?: Record<string, ReadProblem>;
  policy?: Parameters<typeof policy>[0];
  then: Pick<TargetDecision, 'outcome' | 'reason'> & { detail?: RegExp; task_id?: string };
}

const ready = [task('docs-a', { priority: 'high', allowed_paths: ['docs/'] }), task('src-b', { allowed_paths: ['src/b.ts'] })];

const registered: GivenEvent = { type: 'target.registered', target: A, data: { installation_id: 7, default_branch: 'main' } };

const table: Row[] = [
  {
    name: 'a ready task is selected',
    given: target(A, ready),
    then: { outcome: 'executed', reason: 'task_selected', task_id: 'docs-a', detail: /^Selected task docs-a$/ },
  },
  {
    name: 'no task is ready',
    given: target(A, [task('x', { ready: false }), task('y', { status: 'completed' })]),
    then: { outcome: 'idle', reason: 'no_ready_tasks', detail: /No ready tasks found in backlog/ },
  },
  {
    name: 'no backlog has been read yet',
    given: [registered],
    then: { outcome: 'idle', reason: 'backlog_not_synced', detail: /^No backlog has been read for this target yet\.$/ },
  },
  {
    name: 'no backlog has been read yet, but webhooks reported PRs up to the limit',
    given: [registered, prCreated(1, 'c'), prCreated(2, 'd')],
    then: { outcome: 'idle', reason: 'backlog_not_synced', detail: /^No backlog has been read/ },
  },
  {
    name: 'every ready task waits on a dependency',
    given: target(A, [task('first', { ready: false }), task('second', { dependencies: ['first'] })]),
    then: { outcome: 'idle', reason: 'all_tasks_blocked_by_dependencies', detail: /second \(waits on first\)/ },
  },
  {
    name: 'the only ready task depends on a task that is not in the backlog and never merged',
    given: target(A, [task('first', { ready: false }), task('second', { dependencies: ['gone', 'first'] })]),
    then: {
      outcome: 'idle',
      reason: 'all_tasks_blocked_by_dependencies',
      detail: /^All ready tasks wait on dependencies: second \(depends on unknown gone: not in the backlog and no merged PR; waits on first\)$/,
    },
  },
  {
    name: 'open PRs at the limit',
    given: [...target(A, [...ready, task('c'), task('d')]), prCreated(1, 'c'), prCreated(2, 'd')],
    then: { outcome: 'blocked', reason: 'max_open_prs', detail: /^Max open PRs reached \(2\/2\)$/ },
  },
  {
    name: 'circuit breaker cooling down',
    given: [...target(A, ready), { type: 'circuit_breaker.tripped', target: A, data: { consecutive_failures: 2, cooldown_until: minutes(90).toISOString() } }],
    then: { outcome: 'blocked', reason: 'circuit_breaker_open', detail: /Cooldown ends at 2026-03-02T11:30:00.000Z/ },
  },
  {
    name: 'an attempt is in flight',
    given: [...target(A, ready), selected('docs-a', 'att-1'), created('docs-a', 'att-1')],
    then: { outcome: 'blocked', reason: 'attempt_in_flight', detail: /docs-a \(att-1\)/ },
  },
  {
    name: 'the only ready task overlaps the paths of an open Leviathan PR',
    given: [...target(A, [task('docs-a', { allowed_paths: ['docs/'], status: 'in_progress' }), task('guide', { allowed_paths: ['docs/guide.md'] })]), prCreated(5, 'docs-a')],
    then: { outcome: 'blocked', reason: 'path_lease_conflict', detail: /guide touches paths leased by PR #5/ },
  },
  {
    name: 'the global worker cap is reached by another target',
    given: [...target(B, ready), { ...selected('docs-a', 'att-b'), target: B }, ...target(A, ready)],
    policy: { max_concurrent_workers: 1 },
    then: { outcome: 'blocked', reason: 'global_worker_cap', detail: /1\/1 workers/ },
  },
  {
    name: 'the daily task limit is used up',
    given: [...target(A, ready, { policy_file: { max_tasks_per_day: 1 } }), ...failedAttempt('src-b', 'att-1')],
    then: { outcome: 'blocked', reason: 'max_tasks_per_day', detail: /\(1\/1\)/ },
  },
  {
    name: 'paused by an operator',
    given: [...target(A, ready), { type: 'target.paused', target: A, actor: 'github:octocat', data: { reason: 'release freeze' } }],
    then: { outcome: 'paused', reason: 'paused_by_operator', detail: /Paused by github:octocat .*release freeze/ },
  },
  {
    name: 'autonomy disabled in configuration',
    given: target(A, ready),
    policy: { autonomy: { enabled: false, source: 'config', problems: ['autonomy config not found at /etc/x; autonomy is off'], defaults: {} } },
    then: { outcome: 'paused', reason: 'autonomy_disabled', detail: /Autonomy disabled in configuration \(autonomy config not found/ },
  },
  {
    name: 'emergency stop',
    given: [...target(A, ready), { type: 'scheduler.emergency_stopped', actor: 'github:ops', data: { reason: 'incident' } }],
    then: { outcome: 'paused', reason: 'emergency_stop', detail: /Emergency stop by github:ops/ },
  },
  {
    name: 'backlog invalid',
    given: [...target(A, ready), { type: 'backlog.invalid', target: A, data: { file: '.leviathan/backlog.yaml', line: 4, reason: 'duplicate id docs-a' } }],
    then: { outcome: 'error', reason: 'backlog_invalid', detail: /^\.leviathan\/backlog\.yaml line 4: duplicate id docs-a$/ },
  },
  {
    name: 'backlog unreadable on GitHub (fail closed even with a cached backlog)',
    given: target(A, ready),
    problems: { [A]: { reason: 'backlog_unreadable', detail: 'Could not read .leviathan/backlog.yaml of acme/widgets (HTTP 502).' } },
    then: { outcome: 'error', reason: 'backlog_unreadable', detail: /HTTP 502/ },
  },
  {
    name: 'GitHub refuses the App',
    given: target(A, ready),
    problems: { [A]: { reason: 'github_auth_failed', detail: 'GitHub refused to read acme/widgets (HTTP 401).' } },
    then: { outcome: 'error', reason: 'github_auth_failed', detail: /HTTP 401/ },
  },
  {
    name: "GitHub's rate limit is exhausted (not a credentials problem)",
    given: target(A, ready),
    problems: { [A]: { reason: 'github_rate_limited', detail: "GitHub's API rate limit is exhausted until 2026-03-02T11:00:00.000Z; acme/widgets waits (HTTP 403)." } },
    then: { outcome: 'error', reason: 'github_rate_limited', detail: /rate limit/ },
  },
];

describe('decide(now, snapshot, policy)', () => {
  describe.each(table)('given $name', (row) => {
    it(`then ${row.then.outcome} ${row.then.reason}`, () => {
      const d = given(row.given, row.problems).when(NOW, policy(row.policy ?? {}));
      const o = outcomeOf(d);
      expect({ outcome: o.outcome, reason: o.reason }).toEqual({ outcome: row.then.outcome, reason: row.then.reason });
      if (row.then.detail) expect(o.detail).toMatch(row.then.detail);
      if (row.then.task_id) expect(o.task_id).toBe(row.then.task_id);
      // Exactly one outcome per target, recorded as an event.
      expect(d.outcomes.filter((x) => x.target === A)).toHaveLength(1);
      if (o.outcome === 'executed') {
        expect(recorded(d, 'task.selected').filter((e) => e.target === A)).toHaveLength(1);
        expect(recorded(d, 'task.skipped').filter((e) => e.target === A)).toHaveLength(0);
      } else {
        const [skip] = recorded(d, 'task.skipped').filter((e) => e.target === A);
        expect(skip?.data).toMatchObject({ outcome: o.outcome, reason: o.reason, detail: o.detail });
      }
    });
  });

  it('covers every scheduling reason code in the table', () => {
    const covered = new Set(table.map((r) => r.then.reason));
    // Reasons only a trigger or the runner produce are tested below and in run-cycle.
    const elsewhere = new Set(['target_suspended', 'executor_failed', 'task_not_found', 'task_not_eligible', 'max_attempts_reached']);
    for (const reason of SKIP_REASONS) if (!elsewhere.has(reason)) expect(covered, reason).toContain(reason);
  });

  it('records cycle_started with the autonomy setting and global defaults first', () => {
    const d = given(target(A, ready)).when(NOW, policy({ autonomy: { enabled: true, source: 'config', problems: [], defaults: { max_open_prs: 3 } } }));
    const first = d.actions[0];
    expect(first?.kind === 'record' && first.event).toMatchObject({
      type: 'scheduler.cycle_started',
      data: { cycle_id: 'c1', autonomy_enabled: true, global_defaults: { max_open_prs: 3 } },
    });
  });

  it('hands the executor a complete assignment for the selected task', () => {
    const d = given(target(A, ready)).when(NOW);
    const start = d.actions.find((a) => a.kind === 'start_worker');
    expect(start?.kind === 'start_worker' && start.assignment).toMatchObject({
      attempt_id: 'c1-1',
      target: A,
      installation_id: 7,
      default_branch: 'main',
      timeout_seconds: 900,
      task: { id: 'docs-a', allowed_paths: ['docs/'], acceptance_criteria: [], scope: 'docs' },
      policy: { max_open_prs: 2 },
    });
    // task.selected comes before the worker starts, so the attempt is in flight before it can report.
    const kinds = d.actions.map((a) => (a.kind === 'record' ? a.event.type : a.kind));
    expect(kinds).toEqual(['scheduler.cycle_started', 'task.selected', 'start_worker']);
  });

  it('counts an attempt in flight against max_open_prs', () => {
    const d = given([...target(A, [...ready, task('c')], { policy_file: { max_concurrent_attempts: 3 } }), prCreated(1, 'c'), selected('src-b', 'att-2')]).when(NOW);
    expect(outcomeOf(d)).toMatchObject({ outcome: 'blocked', reason: 'max_open_prs', detail: 'Max open PRs reached (2/2)', open_prs: 2, max_open_prs: 2 });
  });

  it('skips tasks with invalid allowed_paths', () => {
    const d = given(target(A, [task('evil', { priority: 'high', allowed_paths: ['../etc/'] }), task('fine', { allowed_paths: ['docs/'] })])).when(NOW);
    expect(outcomeOf(d)).toMatchObject({ outcome: 'executed', task_id: 'fine' });
  });

  it('does not select a task whose PR is open, or one already running', () => {
    const d = given([...target(A, [task('a', { priority: 'high', allowed_paths: ['a/'] }), task('b', { allowed_paths: ['b/'] })], { policy_file: { max_open_prs: 5, max_concurrent_attempts: 2 } }), prCreated(3, 'a')]).when(NOW);
    expect(outcomeOf(d).task_id).toBe('b');
  });
});

describe('circuit breaker', () => {
  it('trips when consecutive failures reach the threshold, with the cooldown end', () => {
    const d = given([...target(A, ready), ...failedAttempt('docs-a', 'att-1'), ...failedAttempt('docs-a', 'att-2')]).when(NOW);
    expect(outcomeOf(d)).toMatchObject({ outcome: 'blocked', reason: 'circuit_breaker_open', cooldown_until: minutes(120).toISOString() });
    expect(recorded(d, 'circuit_breaker.tripped')).toEqual([
      expect.objectContaining({ target: A, data: { consecutive_failures: 2, cooldown_until: minutes(120).toISOString(), threshold: 2 } }),
    ]);
  });

  it('does not trip below the threshold', () => {
    const d = given([...target(A, ready), ...failedAttempt('docs-a', 'att-1')]).when(NOW);
    expect(outcomeOf(d).outcome).toBe('executed');
    expect(recorded(d, 'circuit_breaker.tripped')).toEqual([]);
  });

  it('uses the policy threshold and cooldown', () => {
    const events = [...target(A, ready, { policy_file: { circuit_breaker: { consecutive_failures: 3, cooldown_minutes: 10 } } }), ...failedAttempt('docs-a', 'att-1'), ...failedAttempt('src-b', 'att-2')];
    expect(outcomeOf(given(events).when(NOW)).outcome).toBe('executed');
    const d = given([...events, ...failedAttempt('docs-a', 'att-3')]).when(NOW);
    expect(outcomeOf(d)).toMatchObject({ reason: 'circuit_breaker_open', cooldown_until: minutes(70).toISOString() });
  });

  const tripped: GivenEvent[] = [
    ...target(A, ready),
    ...failedAttempt('docs-a', 'att-1', 1),
    ...failedAttempt('docs-a', 'att-2', 2),
    { type: 'circuit_breaker.tripped', target: A, data: { consecutive_failures: 2, cooldown_until: minutes(63).toISOString() }, at: 3 },
  ];

  it('stays open until the cooldown ends, then lets one attempt through', () => {
    expect(outcomeOf(given(tripped).when(minutes(62)))).toMatchObject({ reason: 'circuit_breaker_open', cooldown_until: minutes(63).toISOString() });
    const after = given(tripped).when(minutes(64));
    expect(outcomeOf(after).outcome).toBe('executed');
    expect(recorded(after, 'circuit_breaker.tripped')).toEqual([]);
  });

  it('trips again at once when the attempt after the cooldown fails', () => {
    const d = given([...tripped, ...failedAttempt('docs-a', 'att-3', 65)]).when(minutes(66));
    expect(outcomeOf(d)).toMatchObject({ reason: 'circuit_breaker_open', cooldown_until: minutes(126).toISOString() });
    expect(recorded(d, 'circuit_breaker.tripped')).toHaveLength(1);
  });

  it('is closed by a success or an operator reset', () => {
    const success = given([...tripped, { type: 'attempt.succeeded', target: A, data: { attempt_id: 'att-9', task_id: 'src-b' }, at: 4 }]).when(minutes(10));
    expect(outcomeOf(success).outcome).toBe('executed');
    const reset = given([...tripped, { type: 'circuit_breaker.reset', target: A, actor: 'github:ops', data: {}, at: 4 }]).when(minutes(10));
    expect(outcomeOf(reset).outcome).toBe('executed');
  });
});

describe('half-open circuit breaker', () => {
  // Two attempts may run at once and the PR limit is out of the way, so only the breaker stops a second one.
  const parallel = [task('a', { allowed_paths: ['a/'] }), task('b', { allowed_paths: ['b/'] }), task('c', { allowed_paths: ['c/'] }), task('d', { allowed_paths: ['d/'] })];
  const base: GivenEvent[] = [
    ...target(A, parallel, { policy_file: { max_concurrent_attempts: 2, max_open_prs: 5 } }),
    ...failedAttempt('a', 'att-1', 1),
    ...failedAttempt('b', 'att-2', 2),
  ];
  const trip: GivenEvent = { type: 'circuit_breaker.tripped', target: A, data: { consecutive_failures: 2, cooldown_until: minutes(63).toISOString() }, at: 3 };
  const succeeded = (taskId: string, attemptId: string, at: number): GivenEvent => ({ type: 'attempt.succeeded', target: A, data: { task_id: taskId, attempt_id: attemptId }, at });
  // Selected before the trip and still running when it tripped.
  const early = [selected('d', 'att-p', 2.5), created('d', 'att-p', 2.5)];
  // The probe failed and the breaker tripped again, cooling down until minute 125.
  const trippedAgain: GivenEvent[] = [
    ...base,
    trip,
    ...failedAttempt('c', 'att-3', 64),
    { type: 'circuit_breaker.tripped', target: A, data: { consecutive_failures: 3, cooldown_until: minutes(125).toISOString() }, at: 65 },
  ];

  interface BreakerRow {
    name: string;
    given: GivenEvent[];
    /** Minutes after T0; the cooldown ends at 63. */
    when: number;
    then: Pick<TargetDecision, 'outcome' | 'reason'> & { detail?: RegExp; task_id?: string };
    trips: boolean;
  }

  const rows: BreakerRow[] = [
    {
      name: 'tripped, still cooling down',
      given: [...base, trip],
      when: 62,
      then: { outcome: 'blocked', reason: 'circuit_breaker_open', detail: /Cooldown ends at 2026-03-02T11:03:00.000Z/ },
      trips: false,
    },
    {
      name: 'the cooldown has ended and nothing runs',
      given: [...base, trip],
      when: 64,
      then: { outcome: 'executed', reason: 'task_selected', task_id: 'a' },
      trips: false,
    },
    {
      name: 'the probe is running and max_concurrent_attempts is 2',
      given: [...base, trip, selected('c', 'att-3', 64), created('c', 'att-3', 64)],
      when: 70,
      then: { outcome: 'blocked', reason: 'circuit_breaker_open', detail: /^Circuit breaker half-open: probe attempt c \(att-3\) is running; no other attempt starts until it succeeds\.$/ },
      trips: false,
    },
    {
      name: 'the probe failed',
      given: [...base, trip, ...failedAttempt('c', 'att-3', 64)],
      when: 70,
      then: { outcome: 'blocked', reason: 'circuit_breaker_open', detail: /Cooldown ends at 2026-03-02T12:10:00.000Z/ },
      trips: true,
    },
    {
      name: 'the probe succeeded and another attempt runs: closed, so a second may start beside it',
      given: [...base, trip, selected('c', 'att-3', 64), created('c', 'att-3', 64), succeeded('c', 'att-3', 65), selected('b', 'att-4', 66), created('b', 'att-4', 66)],
      when: 70,
      then: { outcome: 'executed', reason: 'task_selected', task_id: 'a' },
      trips: false,
    },
    {
      name: 'an attempt selected before the trip is still running when the cooldown ends',
      given: [...base, ...early, trip],
      when: 64,
      then: { outcome: 'blocked', reason: 'circuit_breaker_open', detail: /^Circuit breaker half-open: waiting for d \(att-p\), started before the trip, to end before one probe attempt runs\.$/ },
      trips: false,
    },
    {
      name: 'an attempt selected before the trip failed during the cooldown: no probe has run yet',
      given: [...base, ...early, trip, failed('d', 'att-p', 30)],
      when: 64,
      then: { outcome: 'executed', reason: 'task_selected', task_id: 'a' },
      trips: false,
    },
    {
      name: 'an attempt selected before the trip failed during the cooldown before its attempt.created',
      given: [...base, selected('d', 'att-p', 2.5), trip, failed('d', 'att-p', 30)],
      when: 64,
      then: { outcome: 'executed', reason: 'task_selected', task_id: 'a' },
      trips: false,
    },
    {
      name: 'the probe after a pre-trip attempt failed during the cooldown failed too',
      given: [...base, selected('d', 'att-p', 2.5), trip, failed('d', 'att-p', 30), selected('c', 'att-3', 64), failed('c', 'att-3', 65)],
      when: 70,
      then: { outcome: 'blocked', reason: 'circuit_breaker_open', detail: /Cooldown ends at 2026-03-02T12:10:00.000Z/ },
      trips: true,
    },
    {
      name: "the probe's worker was refused by the executor (not counted): no verdict yet, the next probe may run",
      given: [
        ...base,
        trip,
        selected('c', 'att-3', 64),
        { type: 'attempt.failed', actor: 'scheduler', target: A, data: { task_id: 'c', attempt_id: 'att-3', failure_type: 'executor_failed', phase: 'start', message: 'API down' }, at: 64 },
      ],
      when: 70,
      then: { outcome: 'executed', reason: 'task_selected', task_id: 'a' },
      trips: false,
    },
    {
      name: 'the probe failed and the breaker tripped again: cooling down, not tripped twice',
      given: trippedAgain,
      when: 70,
      then: { outcome: 'blocked', reason: 'circuit_breaker_open', detail: /Cooldown ends at 2026-03-02T12:05:00.000Z/ },
      trips: false,
    },
    {
      name: 'the second cooldown has ended: the next probe may run',
      given: trippedAgain,
      when: 126,
      then: { outcome: 'executed', reason: 'task_selected', task_id: 'a' },
      trips: false,
    },
  ];

  describe.each(rows)('given $name', (row) => {
    it(`when ${row.when} minutes in, then ${row.then.outcome} ${row.then.reason}${row.trips ? ', tripping it' : ''}`, () => {
      const d = given(row.given).when(minutes(row.when));
      const o = outcomeOf(d);
      expect({ outcome: o.outcome, reason: o.reason }).toEqual({ outcome: row.then.outcome, reason: row.then.reason });
      if (row.then.detail) expect(o.detail).toMatch(row.then.detail);
      if (row.then.task_id) expect(o.task_id).toBe(row.then.task_id);
      expect(recorded(d, 'circuit_breaker.tripped')).toHaveLength(row.trips ? 1 : 0);
    });
  });

  it('a manual trigger of another task is refused while the probe runs', () => {
    const d = given([...base, trip, selected('c', 'att-3', 64), created('c', 'att-3', 64)]).when(minutes(70), policy({ trigger: { target: A, task_id: 'a', actor: 'token:abc' } }));
    expect(outcomeOf(d)).toMatchObject({ outcome: 'blocked', reason: 'circuit_breaker_open' });
  });
});

describe('the target view predicts what the next cycle records', () => {
  const enabled: GivenEvent = { type: 'autonomy.enabled', data: {} };
  it.each<[string, GivenEvent[], string]>([
    ['no backlog read, webhook-known PRs at the limit', [enabled, registered, prCreated(1, 'c'), prCreated(2, 'd')], 'backlog_not_synced'],
    ['a ready task depends on an unknown task', [enabled, ...target(A, [task('second', { dependencies: ['gone'] })])], 'all_tasks_blocked_by_dependencies'],
  ])('%s', (_name, events, reason) => {
    const g = given(events);
    const o = outcomeOf(g.when(NOW));
    const v = targetView(g.state, g.state.targets[A]!, NOW);
    expect([o.outcome, o.reason]).toEqual([v.status, v.reason]);
    expect(o.reason).toBe(reason);
  });
});

describe('retries', () => {
  const twice: GivenEvent[] = [
    ...target(A, [task('flaky', { allowed_paths: ['docs/'] })], { policy_file: { circuit_breaker: { consecutive_failures: 10 } } }),
    ...failedAttempt('flaky', 'att-1'),
  ];

  it('retries a failed task while attempts remain', () => {
    expect(outcomeOf(given(twice).when(NOW))).toMatchObject({ outcome: 'executed', task_id: 'flaky' });
  });

  it('stops after max_attempts_per_task and shows the task failed with the last reason', () => {
    const g = given([...twice, selected('flaky', 'att-2'), created('flaky', 'att-2'), failed('flaky', 'att-2', undefined, 'timeout')]);
    const d = g.when(NOW);
    expect(outcomeOf(d)).toMatchObject({ outcome: 'idle', reason: 'no_ready_tasks', detail: 'No ready tasks found in backlog (failed after max attempts: flaky)' });
    const view = targetView(g.state, g.state.targets[A]!, NOW);
    expect(view.tasks[0]).toMatchObject({ id: 'flaky', state: 'failed', explanation: 'Failed after 2 attempts (last: timeout).' });
  });
});

describe('selection order and fairness', () => {
  it('selects by priority, then file order', () => {
    const tasks = [task('low-1', { priority: 'low' }), task('high-1', { priority: 'high' }), task('medium-1'), task('high-2', { priority: 'high' })];
    expect(outcomeOf(given(target(A, tasks)).when(NOW)).task_id).toBe('high-1');
    const withoutFirst = tasks.map((t) => (t.id === 'high-1' ? { ...t, status: 'completed' } : t));
    expect(outcomeOf(given(target(A, withoutFirst)).when(NOW)).task_id).toBe('high-2');
  });

  it('rotates the first target each cycle so the global cap does not starve anyone', () => {
    const base = [...target(A, ready), ...target(B, ready), ...target(C, ready)];
    const winners: string[] = [];
    for (let cycle = 0; cycle < 3; cycle++) {
      const completed = Array.from({ length: cycle }, (_, i): GivenEvent => ({ type: 'scheduler.cycle_completed', data: { cycle_id: `x${i}` } }));
      const d = given([...base, ...completed]).when(NOW, policy({ max_concurrent_workers: 1 }));
      const executed = d.outcomes.filter((o) => o.outcome === 'executed');
      expect(executed).toHaveLength(1);
      expect(d.outcomes.filter((o) => o.reason === 'global_worker_cap')).toHaveLength(2);
      winners.push(executed[0]!.target);
    }
    expect(new Set(winners)).toEqual(new Set([A, B, C]));
  });

  it('is deterministic: the same input gives the same actions', () => {
    const events = [...target(A, ready), ...target(B, ready), ...failedAttempt('docs-a', 'att-1')];
    expect(given(events).when(NOW)).toEqual(given(events).when(NOW));
  });
});

describe('manual trigger', () => {
  const trigger = (task_id: string) => policy({ trigger: { target: A, task_id, actor: 'token:abc' } });

  it('selects the named task even when it is not first in order, without a cycle', () => {
    const d = given(target(A, ready)).when(NOW, trigger('src-b'));
    expect(outcomeOf(d)).toMatchObject({ outcome: 'executed', task_id: 'src-b', attempt_id: 'c1-1' });
    expect(recorded(d, 'scheduler.cycle_started')).toEqual([]);
    expect(recorded(d, 'task.selected')[0]?.data).toMatchObject({ trigger: 'manual', triggered_by: 'token:abc' });
  });

  it('still applies the guardrails', () => {
    const d = given([...target(A, [...ready, task('c'), task('d')]), prCreated(1, 'c'), prCreated(2, 'd')]).when(NOW, trigger('src-b'));
    expect(outcomeOf(d)).toMatchObject({ outcome: 'blocked', reason: 'max_open_prs' });
    expect(recorded(d, 'task.skipped')).toEqual([]);
  });

  it.each([
    ['nope', 'task_not_found'],
    ['first', 'task_not_eligible'],
  ])('refuses %s with %s', (taskId, reason) => {
    const d = given(target(A, [task('first', { ready: false })])).when(NOW, trigger(taskId));
    expect(outcomeOf(d).reason).toBe(reason);
  });

  it('refuses a task that depends on an unknown task, saying so', () => {
    const d = given(target(A, [task('second', { dependencies: ['gone'] })])).when(NOW, trigger('second'));
    expect(outcomeOf(d)).toMatchObject({ outcome: 'blocked', reason: 'task_not_eligible', detail: 'Depends on unknown task gone: not in the backlog and no merged PR; fix the dependencies.' });
  });

  it('refuses a task that used up its attempts', () => {
    const d = given([
      ...target(A, [task('flaky')], { policy_file: { circuit_breaker: { consecutive_failures: 10 } } }),
      ...failedAttempt('flaky', 'att-1'),
      ...failedAttempt('flaky', 'att-2'),
    ]).when(NOW, trigger('flaky'));
    expect(outcomeOf(d).reason).toBe('max_attempts_reached');
  });

  it('shows a suspended installation as paused', () => {
    const d = given([...target(A, ready), { type: 'target.suspended', target: A }]).when(NOW);
    expect(outcomeOf(d)).toMatchObject({ outcome: 'paused', reason: 'target_suspended' });
  });
});

describe('cycleCompletedEvent', () => {
  const outcomes: TargetDecision[] = [{ target: A, outcome: 'idle', reason: 'no_ready_tasks', detail: 'No ready tasks.' }];

  it("carries the scheduler process's rate-limit reading: its three fields, not when it was taken", () => {
    const reading = { remaining: 1200, limit: 5000, reset: 1_795_000_000, at: 1_794_999_000_000 }; // as lastRateLimit() gives it
    const e = cycleCompletedEvent('c1', outcomes, reading);
    expect(e.data).toEqual({ cycle_id: 'c1', outcomes: { [A]: 'idle:no_ready_tasks' }, github_rate_limit: { remaining: 1200, limit: 5000, reset: 1_795_000_000 } });
  });

  it('has no github_rate_limit without a reading', () => {
    expect(cycleCompletedEvent('c1', outcomes).data).toEqual({ cycle_id: 'c1', outcomes: { [A]: 'idle:no_ready_tasks' } });
    expect(cycleCompletedEvent('c1', outcomes, null).data).not.toHaveProperty('github_rate_limit');
  });
});
