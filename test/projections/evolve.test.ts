import { describe, expect, it } from 'vitest';
import { evolve } from '../../src/projections/evolve.ts';
import { emptyState } from '../../src/projections/state.ts';
import { T, given, log, task } from './given.ts';

const registered = [
  { type: 'target.registered', target: T, data: { installation_id: 7, default_branch: 'trunk' } },
  { type: 'backlog.synced', target: T, data: { tasks: [task('a'), task('b')] } },
];
const pr = (type: string, n: number, extra: Record<string, unknown> = {}) => ({ type, target: T, data: { number: n, ...extra } });

describe('evolve: targets', () => {
  it('registers a target with its installation and default branch', () => {
    given(registered).when().then((s) => {
      expect(s.targets[T]).toMatchObject({ installation_id: 7, default_branch: 'trunk', lifecycle: 'active' });
      expect(s.graph.nodes[`target:${T}`]?.type).toBe('target');
      expect(s.graph.nodes[`task:${T}/a`]?.type).toBe('task');
    });
  });

  it.each([
    ['target.suspended', 'suspended'],
    ['target.removed', 'removed'],
  ])('%s sets lifecycle %s; unsuspend restores it', (type, lifecycle) => {
    const s = given(registered).when([{ type, target: T }]).state;
    expect(s.targets[T]!.lifecycle).toBe(lifecycle);
    const back = given(registered).when([{ type, target: T }, { type: 'target.unsuspended', target: T }]).state;
    expect(back.targets[T]!.lifecycle).toBe('active');
  });

  it('pause records who, when and why; resume clears it', () => {
    const paused = given(registered).when([{ type: 'target.paused', target: T, actor: 'github:octocat', data: { reason: 'release freeze' } }]).state;
    expect(paused.targets[T]!.paused).toMatchObject({ by: 'github:octocat', reason: 'release freeze' });
    const resumed = given(registered)
      .when([{ type: 'target.paused', target: T, data: { reason: 'x' } }, { type: 'target.resumed', target: T }])
      .state;
    expect(resumed.targets[T]!.paused).toBeNull();
  });
});

describe('evolve: a renamed or transferred target', () => {
  const NEW = 'acme/website';
  const moved = [
    { type: 'target.registered', target: NEW, data: { installation_id: 8, default_branch: 'trunk', renamed_from: T } },
    { type: 'target.removed', target: T, data: { renamed_to: NEW } },
  ];

  it('keeps its open PRs, pause and tasks under the new name; a merge there frees the slot', () => {
    const s = given([
      ...registered,
      pr('pr.created', 3, { task_id: 'a', attempt_id: 'x1' }),
      { type: 'target.paused', target: T, data: { reason: 'release freeze' } },
    ]).when([...moved, { type: 'pr.merged', target: NEW, data: { number: 3 } }]).state;
    expect(s.targets[NEW]).toMatchObject({ id: NEW, installation_id: 8, lifecycle: 'active', paused: { reason: 'release freeze' }, open_prs: [] });
    expect(s.targets[NEW]!.tasks.a).toMatchObject({ merged_pr: 3, open_pr: null });
    expect(s.targets[T]!.lifecycle).toBe('removed');
  });

  it('a name the log never knew starts fresh', () => {
    const s = given([]).when([{ type: 'target.registered', target: NEW, data: { installation_id: 8, renamed_from: 'acme/unknown' } }]).state;
    expect(s.targets[NEW]).toMatchObject({ open_prs: [], paused: null, installation_id: 8 });
  });
});

describe('evolve: open pull requests stay exact', () => {
  const openCount = (specs: Parameters<typeof given>[0]) => given(registered).when(specs).state.targets[T]!.open_prs.length;

  it.each([
    ['opened', [pr('pr.created', 1, { task_id: 'a', attempt_id: 'x1' })], 1],
    ['opened → merged', [pr('pr.created', 1, { task_id: 'a' }), pr('pr.merged', 1)], 0],
    ['opened → closed', [pr('pr.created', 1), pr('pr.closed', 1)], 0],
    ['opened → closed → reopened', [pr('pr.created', 1), pr('pr.closed', 1), pr('pr.reopened', 1)], 1],
    ['the same PR reported twice (worker and webhook)', [pr('pr.created', 1, { attempt_id: 'x1' }), pr('pr.created', 1)], 1],
    ['merged delivered twice', [pr('pr.created', 1), pr('pr.merged', 1), pr('pr.merged', 1)], 0],
    ['a PR not made by Leviathan is not counted', [pr('pr.observed', 9)], 0],
    [
      'out of order: merged (newer) before created (older)',
      [pr('pr.merged', 1, { updated_at: '2026-11-27T12:00:00Z' }), pr('pr.created', 1, { updated_at: '2026-11-27T11:00:00Z' })],
      0,
    ],
    [
      'out of order: a stale closed after a newer reopen is ignored',
      [
        pr('pr.created', 1, { updated_at: '2026-11-27T10:00:00Z' }),
        pr('pr.reopened', 1, { updated_at: '2026-11-27T12:00:00Z' }),
        pr('pr.closed', 1, { updated_at: '2026-11-27T11:00:00Z' }),
      ],
      1,
    ],
    ['two PRs, one merged', [pr('pr.created', 1), pr('pr.created', 2), pr('pr.merged', 1)], 1],
    [
      'a Leviathan PR first seen closed, then reopened, counts (the webhook marks it ours)',
      [pr('pr.closed', 1, { leviathan: true, updated_at: '2026-11-27T11:00:00Z' }), pr('pr.reopened', 1, { leviathan: true, updated_at: '2026-11-27T12:00:00Z' })],
      1,
    ],
    [
      'a reopen stored before the older close stays open',
      [
        pr('pr.created', 1, { updated_at: '2026-11-27T10:00:00Z' }),
        pr('pr.reopened', 1, { leviathan: true, updated_at: '2026-11-27T12:00:00Z' }),
        pr('pr.closed', 1, { leviathan: true, updated_at: '2026-11-27T11:00:00Z' }),
      ],
      1,
    ],
    [
      'an open report dated after the close reopens it',
      [pr('pr.created', 1, { updated_at: '2026-11-27T10:00:00Z' }), pr('pr.closed', 1, { updated_at: '2026-11-27T11:00:00Z' }), pr('pr.created', 1, { updated_at: '2026-11-27T12:00:00Z' })],
      1,
    ],
    [
      'an open wins a same-second tie: a close dated the same as the reopen already applied loses',
      [
        pr('pr.created', 1, { updated_at: '2026-11-27T10:00:00Z' }),
        pr('pr.reopened', 1, { leviathan: true, updated_at: '2026-11-27T11:00:00Z' }),
        pr('pr.closed', 1, { leviathan: true, updated_at: '2026-11-27T11:00:00Z' }),
      ],
      1,
    ],
    [
      'an open wins a same-second tie: a reopen dated the same as the close already applied reopens it',
      [
        pr('pr.created', 1, { updated_at: '2026-11-27T10:00:00Z' }),
        pr('pr.closed', 1, { leviathan: true, updated_at: '2026-11-27T11:00:00Z' }),
        pr('pr.reopened', 1, { leviathan: true, updated_at: '2026-11-27T11:00:00Z' }),
      ],
      1,
    ],
    [
      'a close dated the same as the close already applied changes nothing (a redelivery)',
      [pr('pr.created', 1, { updated_at: '2026-11-27T10:00:00Z' }), pr('pr.closed', 1, { updated_at: '2026-11-27T11:00:00Z' }), pr('pr.merged', 1, { updated_at: '2026-11-27T11:00:00Z' })],
      0,
    ],
    ['reconcile disowns a PR counted on its label alone', [pr('pr.created', 4, { leviathan: true }), pr('pr.observed', 4, { leviathan: false, disowned: true })], 0],
    ['an undated late report of the open does not resurrect a closed PR', [pr('pr.created', 1, { updated_at: '2026-11-27T10:00:00Z' }), pr('pr.closed', 1, { updated_at: '2026-11-27T11:00:00Z' }), pr('pr.created', 1)], 0],
  ] as const)('%s → %i open', (_name, specs, expected) => {
    expect(openCount([...specs])).toBe(expected);
  });

  it('a merged PR completes its task and links PR → attempt → task in the graph', () => {
    const s = given(registered)
      .when([
        { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
        { type: 'attempt.created', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
        pr('pr.created', 5, { task_id: 'a', attempt_id: 'x1' }),
        { type: 'attempt.succeeded', target: T, data: { attempt_id: 'x1', pr_number: 5 } },
        pr('pr.merged', 5),
      ])
      .state;
    expect(s.targets[T]!.tasks.a).toMatchObject({ merged_pr: 5, open_pr: null, in_flight_attempt: null, attempts: 1 });
    expect(s.graph.edges[`pr:${T}#5|created_by|attempt:x1`]).toBeDefined();
    expect(s.graph.edges[`attempt:x1|attempt_of|task:${T}/a`]).toBeDefined();
    expect(s.counters.by_target[T]).toMatchObject({ prs_created: 1, prs_merged: 1, attempts_success: 1, tasks_selected: 1 });
  });
});

describe('evolve: attempts and the breaker', () => {
  const fail = (id: string, type = 'timeout') => [
    { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: id } },
    { type: 'attempt.created', target: T, data: { task_id: 'a', attempt_id: id } },
    { type: 'attempt.failed', target: T, data: { attempt_id: id, failure_type: type, duration_seconds: 42 } },
  ];

  it('counts consecutive failures and keeps the last failure on the task', () => {
    const s = given(registered).when([...fail('x1'), ...fail('x2', 'path_violation')]).state;
    expect(s.targets[T]!.breaker.consecutive_failures).toBe(2);
    expect(s.targets[T]!.tasks.a).toMatchObject({ attempts: 2, failures: 2, in_flight_attempt: null });
    expect(s.targets[T]!.tasks.a!.last_failure?.failure_type).toBe('path_violation');
    expect(s.counters.by_target[T]!.failures_by_type).toEqual({ timeout: 1, path_violation: 1 });
    expect(s.counters.by_target[T]!.duration_count).toBe(2);
  });

  it('a success closes the breaker and resets the count', () => {
    const s = given(registered)
      .when([
        ...fail('x1'),
        { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 1, cooldown_until: '2026-11-27T12:00:00Z' } },
        { type: 'attempt.succeeded', target: T, data: { attempt_id: 'x2', task_id: 'b' } },
      ])
      .state;
    expect(s.targets[T]!.breaker).toEqual({ consecutive_failures: 0, open: false, tripped_at: null, cooldown_until: null });
    expect(s.counters.by_target[T]!.breaker_trips).toBe(1);
  });

  it('a failure reported twice counts once; a start after the end does not revive the attempt', () => {
    const s = given(registered)
      .when([
        ...fail('x1'),
        { type: 'attempt.failed', target: T, data: { attempt_id: 'x1', failure_type: 'timeout' } },
        { type: 'attempt.started', target: T, data: { attempt_id: 'x1', task_id: 'a' } },
      ])
      .state;
    expect(s.targets[T]!.breaker.consecutive_failures).toBe(1);
    expect(s.targets[T]!.tasks.a!.in_flight_attempt).toBeNull();
  });

  it("a worker's token refresh is an audit record: the attempt stays as it was, its node shows the activity, no node is invented", () => {
    const selected = [
      { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
      { type: 'attempt.started', target: T, data: { attempt_id: 'x1', task_id: 'a' } },
    ];
    const refreshed = (id: string) => ({ type: 'attempt.token_refreshed', target: T, actor: `worker:${id}`, subject: `attempt:${id}`, data: { attempt_id: id, task_id: 'a', expires_at: '2026-11-27T12:00:00Z' } });
    const before = given(registered).when(selected).state;
    const after = given(registered).when([...selected, refreshed('x1'), refreshed('ghost')]).state;
    expect(after.targets[T]!.tasks).toEqual(before.targets[T]!.tasks);
    expect(after.targets[T]!.recent_attempts).toEqual(before.targets[T]!.recent_attempts);
    expect(after.counters.by_target).toEqual(before.counters.by_target);
    expect(after.graph.nodes['attempt:x1']).toMatchObject({ props: before.graph.nodes['attempt:x1']!.props, last_seq: after.seq - 1 });
    expect(after.graph.nodes['attempt:ghost']).toBeUndefined();
    expect(Object.keys(after.graph.nodes).sort()).toEqual(Object.keys(before.graph.nodes).sort());
  });
});

describe("evolve: an attempt's executor handle", () => {
  it('survives attempt.started, which names none, so a lost worker can still be named', () => {
    given(registered)
      .when([
        { type: 'task.selected', target: T, actor: 'scheduler', data: { task_id: 'a', attempt_id: 'x1' } },
        { type: 'attempt.created', target: T, actor: 'scheduler', data: { task_id: 'a', attempt_id: 'x1', handle: 'leviathan-worker-x1' } },
        { type: 'attempt.started', target: T, actor: 'worker:x1', data: { task_id: 'a', attempt_id: 'x1' } },
      ])
      .then((s) => expect(s.graph.nodes['attempt:x1']?.props).toMatchObject({ state: 'running', handle: 'leviathan-worker-x1' }));
  });
});

describe('evolve: the step an attempt is in', () => {
  const started = [
    { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
    { type: 'attempt.created', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
    { type: 'attempt.started', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
  ];
  const step = (name: string) => ({ type: 'attempt.step', target: T, data: { attempt_id: 'x1', task_id: 'a', step: name } });
  const attempt = (s: ReturnType<typeof emptyState>) => s.targets[T]!.recent_attempts.find((a) => a.attempt_id === 'x1')!;

  it.each([
    ['no step reported yet', [], 'running', null],
    ['the latest step while it runs', [step('clone repository'), step('run agent')], 'running', 'run agent'],
    ['the step it failed in, from the failure', [step('run agent'), { type: 'attempt.failed', target: T, data: { attempt_id: 'x1', failure_type: 'push_rejected', step: 'push branch' } }], 'failed', 'push branch'],
    ['the last step reported, when the failure names none', [step('run agent'), { type: 'attempt.failed', target: T, data: { attempt_id: 'x1', failure_type: 'timeout' } }], 'failed', 'run agent'],
    ['none once it succeeded', [step('label pull request'), { type: 'attempt.succeeded', target: T, data: { attempt_id: 'x1', task_id: 'a' } }], 'succeeded', null],
    ['a late step report after the end changes nothing', [{ type: 'attempt.succeeded', target: T, data: { attempt_id: 'x1', task_id: 'a' } }, step('push branch')], 'succeeded', null],
  ])('given %s', (_name, when, state, expected) => {
    const s = given(registered).when([...started, ...when]).state;
    expect(attempt(s)).toMatchObject({ state, step: expected });
    if (state === 'running') expect(s.graph.nodes['attempt:x1']!.props.step ?? null).toBe(expected);
  });
});

describe('evolve: an attempt the scheduler could not start', () => {
  const selected = (id: string) => ({ type: 'task.selected', target: T, actor: 'scheduler', data: { task_id: 'a', attempt_id: id } });
  const refused = (id: string, failure_type: string, extra: Record<string, unknown> = { phase: 'start' }, actor = 'scheduler') => ({
    type: 'attempt.failed',
    target: T,
    actor,
    data: { attempt_id: id, task_id: 'a', failure_type, message: 'Kubernetes API unreachable', ...extra },
  });
  const ran = (id: string) => [selected(id), { type: 'attempt.created', target: T, actor: 'scheduler', data: { task_id: 'a', attempt_id: id, handle: 'job-1' } }];

  it.each([
    ['the executor refused the worker', 'executor_failed', { phase: 'start' }],
    ['no GitHub token could be had for the worker', 'auth_error', { phase: 'start' }],
    ['an older log: executor_failed from the scheduler, unmarked', 'executor_failed', {}],
    ['an older log: auth_error from the scheduler, unmarked', 'auth_error', {}],
  ] as const)('%s: no try, no breaker failure, no task of the day; no longer in flight; the failure still shows', (_name, failureType, marker) => {
    given(registered)
      .when([selected('x1'), refused('x1', failureType, marker)])
      .then((s) => {
        const t = s.targets[T]!;
        expect(t.tasks.a).toMatchObject({ attempts: 0, failures: 0, last_failure: null, in_flight_attempt: null });
        expect(t.breaker.consecutive_failures).toBe(0);
        expect(t.selected_today.count).toBe(0);
        expect(t.recent_attempts[0]).toMatchObject({ attempt_id: 'x1', state: 'failed', failure_type: failureType, counted: false });
        expect(s.graph.nodes['attempt:x1']?.props.state).toBe('failed');
        // Metrics still see an executor that refuses workers.
        expect(s.counters.by_target[T]!.failures_by_type).toEqual({ [failureType]: 1 });
        expect(s.counters.by_target[T]!.tasks_selected).toBe(1);
      });
  });

  it.each([
    ['a worker that never reported attempt.started (its pod never ran)', 'worker_lost', { phase: 'start', error_kind: 'worker_not_started' }],
    ["an operator's emergency stop deleted its worker", 'other', { phase: 'emergency_stop', error_kind: 'cancelled' }],
  ] as const)('%s: no try, no breaker failure; no longer in flight', (_name, failureType, marker) => {
    given(registered)
      .when([...ran('x1'), refused('x1', failureType, marker)])
      .then((s) => {
        const t = s.targets[T]!;
        expect(t.tasks.a).toMatchObject({ attempts: 0, failures: 0, last_failure: null, in_flight_attempt: null });
        expect(t.breaker.consecutive_failures).toBe(0);
        expect(t.recent_attempts[0]).toMatchObject({ attempt_id: 'x1', state: 'failed', failure_type: failureType, counted: false });
      });
  });

  it.each([
    ["a worker's own auth_error", 'auth_error', {}, 'worker:x1'],
    ['a worker (or an agent with its token) claiming phase start', 'agent_error', { phase: 'start' }, 'worker:x1'],
    ['a worker (or an agent with its token) claiming an emergency stop', 'other', { phase: 'emergency_stop' }, 'worker:x1'],
    ["the scheduler's lost worker", 'worker_lost', {}, 'scheduler'],
    ["the scheduler's failure of another phase", 'executor_failed', { phase: 'run' }, 'scheduler'],
  ] as const)('%s counts as a try and a breaker failure', (_name, failureType, marker, actor) => {
    given(registered)
      .when([...ran('x1'), refused('x1', failureType, marker, actor)])
      .then((s) => {
        const t = s.targets[T]!;
        expect(t.tasks.a).toMatchObject({ attempts: 1, failures: 1, in_flight_attempt: null });
        expect(t.tasks.a!.last_failure?.failure_type).toBe(failureType);
        expect(t.breaker.consecutive_failures).toBe(1);
        expect(t.selected_today.count).toBe(1);
        expect(t.recent_attempts[0]).toMatchObject({ attempt_id: 'x1', state: 'failed', counted: true });
      });
  });

  it('an outage over many ticks leaves the tries, the last failure and the breaker as the real attempts left them', () => {
    const outage = ['x2', 'x3', 'x4'].flatMap((id) => [selected(id), refused(id, 'executor_failed')]);
    given([...registered, ...ran('x1'), { type: 'attempt.failed', target: T, actor: 'worker:x1', data: { attempt_id: 'x1', task_id: 'a', failure_type: 'agent_error' } }])
      .when(outage)
      .then((s) => {
        const t = s.targets[T]!;
        expect(t.tasks.a).toMatchObject({ attempts: 1, failures: 1, in_flight_attempt: null, last_failure: { failure_type: 'agent_error' } });
        expect(t.breaker.consecutive_failures).toBe(1);
        expect(t.selected_today.count).toBe(1);
        expect(t.recent_attempts.map((a) => [a.attempt_id, a.counted])).toEqual([
          ['x4', false],
          ['x3', false],
          ['x2', false],
          ['x1', true],
        ]);
      });
  });

  it("a selection of the day before is not taken off today's count", () => {
    given(registered)
      .when([
        { ...selected('x1'), at: '2026-11-27T23:59:59.000Z' },
        { ...ran('x2')[0]!, data: { task_id: 'b', attempt_id: 'x2' }, at: '2026-11-28T00:00:00.500Z' },
        { ...refused('x1', 'executor_failed'), at: '2026-11-28T00:00:01.000Z' },
      ])
      .then((s) => {
        expect(s.targets[T]!.selected_today).toEqual({ day: '2026-11-28', count: 1 });
        expect(s.targets[T]!.tasks.a!.attempts).toBe(0);
      });
  });
});

describe("evolve: an attempt's own timeout", () => {
  const created = (data: Record<string, unknown>) => ({ type: 'attempt.created', target: T, data: { task_id: 'a', attempt_id: 'x1', ...data } });
  const timeoutOf = (...when: Parameters<typeof given>[0]) =>
    given(registered).when([{ type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x1' } }, ...when]).state.targets[T]!.recent_attempts[0]!.timeout_seconds;

  it.each([
    ['attempt.created says it', [created({ timeout_seconds: 3600 })], 3600],
    ['an older attempt.created does not', [created({})], null],
    ['attempt.started first, then attempt.created', [{ type: 'attempt.started', target: T, data: { attempt_id: 'x1' } }, created({ timeout_seconds: 900 })], 900],
    ['attempt.started after attempt.created keeps it', [created({ timeout_seconds: 900 }), { type: 'attempt.started', target: T, data: { attempt_id: 'x1' } }], 900],
    ['the end keeps it', [created({ timeout_seconds: 900 }), { type: 'attempt.failed', target: T, data: { attempt_id: 'x1', failure_type: 'timeout' } }], 900],
    ['an unusable value is none', [created({ timeout_seconds: 'an hour' })], null],
    ['zero is none', [created({ timeout_seconds: 0 })], null],
  ] as const)('%s → %s', (_name, when, expected) => {
    expect(timeoutOf(...when)).toBe(expected);
  });
});

describe('evolve: replay', () => {
  const events = log([
    ...registered,
    { type: 'autonomy.enabled', actor: 'token:abc', data: { reason: 'go' } },
    { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
    { type: 'attempt.created', target: T, data: { task_id: 'a', attempt_id: 'x1' } },
    { type: 'worker.heartbeat', target: T, subject: 'attempt:x1', data: { note: 'unknown types are kept' } },
    { type: 'pr.created', target: T, subject: `pr:${T}#3`, data: { number: 3, task_id: 'a', attempt_id: 'x1' } },
    { type: 'scheduler.cycle_started', data: { cycle_id: 'c1', autonomy_enabled: true } },
    { type: 'scheduler.cycle_completed', data: { cycle_id: 'c1' } },
  ]);

  it('replaying the same log twice gives identical state', () => {
    const a = events.reduce((s, e) => evolve(s, e), emptyState());
    const b = events.reduce((s, e) => evolve(s, e), emptyState());
    expect(b).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a); // snapshot-safe: plain JSON
  });

  it("replays an attempt's own timeout and a refused start to the same state, as plain JSON, and applying the log again changes nothing", () => {
    const more = log([
      ...registered,
      { type: 'task.selected', target: T, actor: 'scheduler', data: { task_id: 'a', attempt_id: 'x1' } },
      { type: 'attempt.created', target: T, actor: 'scheduler', data: { task_id: 'a', attempt_id: 'x1', handle: 'job-1', timeout_seconds: 1800 } },
      { type: 'task.selected', target: T, actor: 'scheduler', data: { task_id: 'b', attempt_id: 'x2' } },
      { type: 'attempt.failed', target: T, actor: 'scheduler', data: { task_id: 'b', attempt_id: 'x2', failure_type: 'executor_failed', phase: 'start' } },
    ]);
    const a = more.reduce((s, e) => evolve(s, e), emptyState());
    const b = more.reduce((s, e) => evolve(s, e), emptyState());
    expect(b).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    expect(a.targets[T]!.recent_attempts.map((x) => [x.attempt_id, x.timeout_seconds, x.counted])).toEqual([
      ['x2', null, false],
      ['x1', 1800, true],
    ]);
    const before = JSON.stringify(a);
    more.forEach((e) => evolve(a, e));
    expect(JSON.stringify(a)).toBe(before);
  });

  it('an event already applied (seq not newer) changes nothing', () => {
    const s = events.reduce((st, e) => evolve(st, e), emptyState());
    const before = JSON.stringify(s);
    evolve(s, events[3]!);
    expect(JSON.stringify(s)).toBe(before);
  });

  it('operator actions become action nodes linked to their target', () => {
    const s = given(registered).when([{ type: 'target.paused', target: T, actor: 'github:octocat', data: { reason: 'why' }, id: 'ev-1' }]).state;
    expect(s.graph.nodes['action:ev-1']).toMatchObject({ type: 'action', props: { actor: 'github:octocat', reason: 'why' } });
    expect(s.graph.edges[`action:ev-1|acted_on|target:${T}`]).toBeDefined();
  });
});

describe('evolve: backlog', () => {
  it('an invalid backlog keeps its line and reason, and its ETag so an unchanged file is not re-read', () => {
    const s = given(registered)
      .when([{ type: 'backlog.invalid', target: T, data: { file: '.leviathan/backlog.yaml', line: 4, reason: 'duplicate id "a"', etag: '"bad" - -' } }])
      .state;
    expect(s.targets[T]!.backlog).toMatchObject({ state: 'invalid', etag: '"bad" - -', error: { line: 4, reason: 'duplicate id "a"' } });
    expect(s.targets[T]!.backlog.tasks.map((t) => t.id)).toEqual(['a', 'b']); // the last good backlog stays known
  });
});

describe('evolve: contract.yaml', () => {
  const synced = (data: Record<string, unknown>) => ({ type: 'backlog.synced', target: T, data: { tasks: [task('a')], ...data } });
  const contract = { name: 'Radix', definition_of_done: ['Tests pass'] };
  const refused = { line: 3, reason: 'name must be text, not a list' };

  it('keeps the contract a sync recorded, with no error', () => {
    given(registered)
      .when([synced({ contract })])
      .then((s) => expect(s.targets[T]!.backlog).toMatchObject({ contract, contract_error: null }));
  });

  it('keeps the error of a refused contract (line and reason), with no contract', () => {
    given(registered)
      .when([synced({ contract_error: refused })])
      .then((s) => expect(s.targets[T]!.backlog).toMatchObject({ contract: null, contract_error: refused }));
  });

  it('the next sync replaces both: a fixed contract clears the error, a removed one leaves neither', () => {
    given([...registered, synced({ contract_error: refused })])
      .when([synced({ contract })])
      .then((s) => expect(s.targets[T]!.backlog).toMatchObject({ contract, contract_error: null }));
    given([...registered, synced({ contract_error: refused })])
      .when([synced({})])
      .then((s) => expect(s.targets[T]!.backlog).toMatchObject({ contract: null, contract_error: null }));
  });

  it('an invalid backlog keeps the last contract error known, as it keeps the last tasks', () => {
    given([...registered, synced({ contract_error: refused })])
      .when([{ type: 'backlog.invalid', target: T, data: { file: '.leviathan/backlog.yaml', line: 1, reason: 'x' } }])
      .then((s) => expect(s.targets[T]!.backlog.contract_error).toEqual(refused));
  });

  it('a malformed line is no line; anything but { line, reason } is no error', () => {
    const error = (contract_error: unknown) => given(registered).when([synced({ contract_error })]).state.targets[T]!.backlog.contract_error;
    expect(error('bad file')).toBeNull();
    expect(error({ line: 'three', reason: 'bad' })).toEqual({ line: null, reason: 'bad' });
    expect(error({ line: 0, reason: 'bad' })).toEqual({ line: null, reason: 'bad' });
    expect(error({ line: 2 })).toEqual({ line: 2, reason: 'contract.yaml could not be read.' });
    expect(error(['bad'])).toBeNull();
    expect(error(42)).toBeNull();
    expect(error('')).toBeNull();
  });

  it('is null before any sync, and replays to the same state, as plain JSON', () => {
    given([]).when([registered[0]!]).then((s) => expect(s.targets[T]!.backlog.contract_error).toBeNull());
    const events = log([...registered, synced({ contract_error: refused }), synced({ contract })]);
    const a = events.reduce((s, e) => evolve(s, e), emptyState());
    const b = events.reduce((s, e) => evolve(s, e), emptyState());
    expect(b).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    // Applying the log again over the same state changes nothing.
    const before = JSON.stringify(a);
    events.forEach((e) => evolve(a, e));
    expect(JSON.stringify(a)).toBe(before);
  });
});

describe('evolve: console sign-outs', () => {
  const out = (session: string, expires_at: string, at: string) => ({ type: 'console.signed_out', data: { session, expires_at }, at });
  const key = (c: string) => c.repeat(32);

  it('remembers a signed-out session until it would have expired, and forgets it after', () => {
    given([out(key('a'), '2026-11-27T12:00:00.000Z', '2026-11-27T10:00:00.000Z')])
      .when([out(key('b'), '2026-11-27T20:00:00Z', '2026-11-27T11:00:00.000Z')])
      .then((s) => expect(s.signed_out_sessions).toEqual({ [key('a')]: '2026-11-27T12:00:00.000Z', [key('b')]: '2026-11-27T20:00:00.000Z' }));
    // A later sign-out, after a's expiry, prunes a; one already expired is not kept at all.
    given([out(key('a'), '2026-11-27T12:00:00.000Z', '2026-11-27T10:00:00.000Z')])
      .when([out(key('c'), '2026-11-27T12:30:00.000Z', '2026-11-27T13:00:00.000Z')])
      .then((s) => expect(s.signed_out_sessions).toEqual({}));
  });
});

describe('evolve: the GitHub rate limit a scheduler cycle reports', () => {
  const completed = (cycle: string, at: string, github_rate_limit?: unknown) => ({
    type: 'scheduler.cycle_completed',
    at,
    data: { cycle_id: cycle, outcomes: {}, ...(github_rate_limit !== undefined ? { github_rate_limit } : {}) },
  });

  it('keeps the reading with the time of the event that reported it', () => {
    given([])
      .when([completed('c1', '2026-11-27T10:05:00.000Z', { remaining: 4200, limit: 5000, reset: 1_795_000_000 })])
      .then((s) => expect(s.scheduler.github_rate_limit).toEqual({ remaining: 4200, limit: 5000, reset: 1_795_000_000, at: '2026-11-27T10:05:00.000Z' }));
  });

  it('a later reading replaces it; a cycle that reports none leaves it as it was', () => {
    given([completed('c1', '2026-11-27T10:05:00.000Z', { remaining: 4200, limit: 5000, reset: 1_795_000_000 })])
      .when([
        completed('c2', '2026-11-27T10:10:00.000Z', { remaining: 3900, limit: 5000, reset: null }),
        completed('c3', '2026-11-27T10:15:00.000Z'),
      ])
      .then((s) => {
        expect(s.scheduler.github_rate_limit).toEqual({ remaining: 3900, limit: 5000, reset: null, at: '2026-11-27T10:10:00.000Z' });
        expect(s.scheduler.last_cycle_completed_at).toBe('2026-11-27T10:15:00.000Z');
      });
  });

  it('is null before any cycle has reported one, and a malformed reading is no reading', () => {
    given([]).when().then((s) => expect(s.scheduler.github_rate_limit).toBeNull());
    given([completed('c1', '2026-11-27T10:05:00.000Z', { remaining: 4200, limit: 5000, reset: 1_795_000_000 })])
      .when([
        completed('c2', '2026-11-27T10:10:00.000Z', { remaining: -1, limit: 5000, reset: null }),
        completed('c3', '2026-11-27T10:15:00.000Z', { remaining: 10, limit: 0, reset: null }),
        completed('c4', '2026-11-27T10:20:00.000Z', { remaining: '10', limit: 5000 }),
        completed('c5', '2026-11-27T10:25:00.000Z', 'lots'),
      ])
      .then((s) => expect(s.scheduler.github_rate_limit).toEqual({ remaining: 4200, limit: 5000, reset: 1_795_000_000, at: '2026-11-27T10:05:00.000Z' }));
    // What the event schema refuses (an unusable reset too) is no reading, as at the HTTP edge.
    given([])
      .when([completed('c1', '2026-11-27T10:05:00.000Z', { remaining: 7, limit: 5000, reset: 'soon' })])
      .then((s) => expect(s.scheduler.github_rate_limit).toBeNull());
  });

  it('replays to the same state, as plain JSON', () => {
    const events = log([
      completed('c1', '2026-11-27T10:05:00.000Z', { remaining: 4200, limit: 5000, reset: 1_795_000_000 }),
      completed('c2', '2026-11-27T10:10:00.000Z'),
    ]);
    const a = events.reduce((s, e) => evolve(s, e), emptyState());
    const b = events.reduce((s, e) => evolve(s, e), emptyState());
    expect(b).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });
});
