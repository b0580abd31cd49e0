import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { READY_QUEUE_HEAD } from '../../src/metrics/metric-names.ts';
import { targetGauges } from '../../src/metrics/target-gauges.ts';
import { emptyState, emptyTarget, emptyTaskProgress, type ProjectionState, type TargetState } from '../../src/projections/state.ts';
import { targetView } from '../../src/projections/target-view.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const IDS = ['a', 'b', 'c', 'd', 'e'];

const taskArb = fc.record({
  id: fc.constantFrom(...IDS),
  title: fc.constant('t'),
  priority: fc.constantFrom('high', 'medium', 'low', 'urgent'),
  ready: fc.boolean(),
  status: fc.constantFrom('pending', 'completed', 'in_progress'),
  dependencies: fc.subarray(IDS, { maxLength: 2 }),
  allowed_paths: fc.constant<string[]>(['src/']),
});

const progressArb = fc.record({
  attempts: fc.nat(4),
  failed: fc.boolean(),
  in_flight: fc.boolean(),
  open_pr: fc.option(fc.integer({ min: 1, max: 9 }), { nil: null }),
  merged_pr: fc.option(fc.integer({ min: 1, max: 9 }), { nil: null }),
});

const limitArb = fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined });

/** Everything targetView reads: lifecycle, pause, autonomy, backlog, task progress, PRs, breaker, last outcome, policy layers. */
const scenarioArb = fc.record({
  lifecycle: fc.constantFrom<TargetState['lifecycle'][]>('active', 'active', 'active', 'suspended'),
  paused: fc.boolean(),
  autonomy: fc.constantFrom(true, true, true, false, null),
  emergencyStop: fc.boolean(),
  backlogState: fc.constantFrom<TargetState['backlog']['state'][]>('synced', 'synced', 'unknown', 'invalid'),
  tasks: fc.array(taskArb, { maxLength: 6 }),
  progress: fc.dictionary(fc.constantFrom(...IDS), progressArb),
  openPrs: fc.nat(3),
  breaker: fc.constantFrom('closed', 'open', 'expired'),
  lastOutcome: fc.constantFrom(null, 'executed', 'idle', 'blocked', 'error'),
  lastReason: fc.constantFrom('max_open_prs', 'circuit_breaker_open', 'path_lease_conflict', 'github_auth_failed'),
  globalMax: limitArb,
  globalAttempts: limitArb,
  policyMax: limitArb,
  backlogMax: limitArb,
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario): { state: ProjectionState; t: TargetState } {
  const state = emptyState();
  state.autonomy.enabled = s.autonomy;
  if (s.emergencyStop) state.autonomy.emergency_stop = { by: 'ops', at: '2026-11-27T11:00:00Z', reason: 'incident' };
  state.autonomy.global_defaults = { ...(s.globalMax ? { max_open_prs: s.globalMax } : {}), ...(s.globalAttempts ? { max_attempts_per_task: s.globalAttempts } : {}) };
  const t = emptyTarget('acme/web');
  t.lifecycle = s.lifecycle;
  if (s.paused) t.paused = { by: 'ops', at: '2026-11-27T11:00:00Z', reason: 'freeze' };
  t.backlog = {
    ...t.backlog,
    state: s.backlogState,
    tasks: s.tasks,
    error: s.backlogState === 'invalid' ? { file: '.leviathan/backlog.yaml', line: 3, reason: 'bad' } : null,
    policy_file: s.policyMax ? { max_open_prs: s.policyMax } : {},
    backlog_max_open_prs: s.backlogMax ?? null,
  };
  for (const [id, p] of Object.entries(s.progress)) {
    t.tasks[id] = {
      ...emptyTaskProgress(),
      attempts: p.attempts,
      last_failure: p.failed ? { failure_type: 'timeout', message: null, at: '2026-11-27T11:00:00Z' } : null,
      in_flight_attempt: p.in_flight ? `att-${id}` : null,
      open_pr: p.open_pr,
      merged_pr: p.merged_pr,
    };
  }
  t.open_prs = Array.from({ length: s.openPrs }, (_, i) => ({ number: i + 1, url: null, title: null, task_id: null, attempt_id: null, opened_at: '2026-11-27T11:00:00Z' }));
  if (s.breaker !== 'closed') {
    t.breaker = { consecutive_failures: 3, open: true, tripped_at: '2026-11-27T11:00:00Z', cooldown_until: s.breaker === 'open' ? '2026-11-27T12:30:00Z' : '2026-11-27T11:30:00Z' };
  }
  if (s.lastOutcome) {
    t.last_outcome = { outcome: s.lastOutcome as 'idle', reason: s.lastReason, detail: null, task_id: null, at: '2026-11-27T11:00:00Z', seq: 1 };
  }
  state.targets[t.id] = t;
  return { state, t };
}

describe('targetGauges', () => {
  // The metrics must never disagree with the API and console; this is what fails when targetView
  // changes its judgement and targetGauges was not changed with it.
  it('gives the same status, open PRs, max PRs, ready tasks, ready queue and breaker as targetView', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const { state, t } = build(scenario);
        const view = targetView(state, t, NOW);
        const gauges = targetGauges(state, t, NOW);
        seen.add(view.status);
        expect(gauges).toEqual({
          status: view.status,
          open_prs: view.open_prs.length,
          max_open_prs: view.max_open_prs,
          ready_tasks: view.ready_tasks,
          breaker_open: view.breaker.open,
          // The queue's head: the tasks in state ready, in the order targetView (taskViews) lists them.
          ready_queue: view.tasks
            .filter((x) => x.state === 'ready')
            .slice(0, READY_QUEUE_HEAD)
            .map((x) => x.id),
        });
      }),
      { numRuns: 3000 },
    );
    // The generator reaches every status, so the comparison is not vacuous.
    expect([...seen].sort()).toEqual(['active', 'blocked', 'error', 'idle', 'paused']);
  });

  it('sees a changed ConfigMap limit although the backlog did not change', () => {
    const state = emptyState();
    state.autonomy.enabled = true;
    const t = emptyTarget('acme/web');
    state.targets[t.id] = t;
    expect(targetGauges(state, t, NOW).max_open_prs).toBe(2);
    state.autonomy.global_defaults = { max_open_prs: 5 };
    expect(targetGauges(state, t, NOW).max_open_prs).toBe(5);
  });

  describe('ready queue', () => {
    const ready = (id: string, priority: string, extra: Record<string, unknown> = {}) => ({
      id,
      title: id,
      priority,
      ready: true,
      status: 'pending',
      dependencies: [] as string[],
      allowed_paths: ['src/'],
      ...extra,
    });
    const target = (tasks: ReturnType<typeof ready>[]): { state: ProjectionState; t: TargetState } => {
      const state = emptyState();
      state.autonomy.enabled = true;
      const t = emptyTarget('acme/web');
      t.backlog = { ...t.backlog, state: 'synced', tasks };
      state.targets[t.id] = t;
      return { state, t };
    };

    it(`is capped at ${READY_QUEUE_HEAD}, in selection order (priority, then file order), runnable tasks only`, () => {
      const { state, t } = target([
        ready('l1', 'low'),
        ready('m1', 'medium'),
        ready('h1', 'high'),
        ready('waits', 'high', { dependencies: ['l1'] }),
        ready('m2', 'medium'),
        ready('h2', 'high'),
        ready('off', 'high', { ready: false }),
        ready('l2', 'low'),
        ready('l3', 'low'),
      ]);
      const g = targetGauges(state, t, NOW);
      expect(g.ready_queue).toEqual(['h1', 'h2', 'm1', 'm2', 'l1']);
      // The count includes the task waiting on a dependency; the queue holds what can run now.
      expect(g.ready_tasks).toBe(8);
      expect(targetView(state, t, NOW).tasks.filter((x) => x.state === 'ready').map((x) => x.id)).toEqual([
        'h1',
        'h2',
        'm1',
        'm2',
        'l1',
        'l2',
        'l3',
      ]);
    });

    it('follows progress without a new backlog, and a new backlog at once', () => {
      const { state, t } = target([ready('a', 'medium'), ready('b', 'medium'), ready('c', 'low')]);
      expect(targetGauges(state, t, NOW).ready_queue).toEqual(['a', 'b', 'c']);
      // Progress changes in place (evolve mutates t.tasks): the cached order still applies.
      t.tasks.a = { ...emptyTaskProgress(), in_flight_attempt: 'att-1' };
      expect(targetGauges(state, t, NOW).ready_queue).toEqual(['b', 'c']);
      // A new backlog is a new object (evolve replaces it): its order is used.
      t.backlog = { ...t.backlog, tasks: [ready('c', 'high'), ready('b', 'medium'), ready('a', 'medium')] };
      expect(targetGauges(state, t, NOW).ready_queue).toEqual(['c', 'b']);
    });

    it('is empty when nothing can run', () => {
      const { state, t } = target([ready('a', 'high', { ready: false }), ready('b', 'high', { status: 'completed' })]);
      expect(targetGauges(state, t, NOW).ready_queue).toEqual([]);
    });
  });
});
