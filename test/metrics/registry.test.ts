import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ATTEMPT_DURATION_BUCKETS,
  METRIC_FAILURE_TYPES,
  METRICS,
  OPEN_PR_INFO_LIMIT,
  READY_QUEUE_HEAD,
  TARGET_STATUSES,
} from '../../src/metrics/metric-names.ts';
import {
  createMetrics,
  lastRateLimit,
  METRIC_EVENT_TYPES,
  METRIC_SKIP_REASONS,
  mostConstrainedRateLimit,
  recordRateLimit,
  renderProjection,
  resetRateLimit,
} from '../../src/metrics/registry.ts';
import { emptyTarget, type ProjectionState } from '../../src/projections/state.ts';
import { targetViews } from '../../src/projections/target-view.ts';
import { given, task } from '../projections/given.ts';
import { parseExposition, valueOf, type Exposition } from './exposition.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const WEB = 'acme/web';
const API = 'acme/api';
const OLD = 'acme/old';
const FROZEN = 'acme/frozen';

/** An event spec as `given` takes it. */
type GivenEvent = Parameters<typeof given>[0][number];

/**
 * A log with something in every metric: attempts that succeed and fail (known, unknown and
 * executor failure types), PRs opened, merged and closed, skips (known and invented reasons), a
 * breaker trip, scheduler cycles, unknown event types, a removed and a paused target.
 */
const SEEDED = [
  { type: 'autonomy.enabled', data: {} },
  { type: 'target.registered', target: WEB, data: { installation_id: 1 } },
  { type: 'target.registered', target: API, data: { installation_id: 1 } },
  { type: 'target.registered', target: OLD, data: { installation_id: 1 } },
  { type: 'target.registered', target: FROZEN, data: { installation_id: 1 } },
  { type: 'target.removed', target: OLD, data: {} },
  { type: 'target.paused', target: FROZEN, data: { reason: 'release freeze' } },
  { type: 'backlog.synced', target: WEB, data: { tasks: [task('a'), task('b', { dependencies: ['a'] }), task('c', { ready: false }), task('d')] } },
  { type: 'backlog.synced', target: API, data: { tasks: [task('x')] } },
  { type: 'task.selected', target: WEB, data: { task_id: 'a', attempt_id: 'a1' } },
  { type: 'attempt.created', target: WEB, data: { attempt_id: 'a1', task_id: 'a' } },
  { type: 'attempt.started', target: WEB, data: { attempt_id: 'a1', task_id: 'a' } },
  { type: 'attempt.failed', target: WEB, data: { attempt_id: 'a1', task_id: 'a', failure_type: 'timeout', duration_seconds: 45 } },
  { type: 'task.selected', target: WEB, data: { task_id: 'a', attempt_id: 'a2' } },
  { type: 'attempt.failed', target: WEB, data: { attempt_id: 'a2', task_id: 'a', failure_type: 'cosmic_rays', duration_seconds: 950 } },
  { type: 'attempt.failed', target: WEB, data: { attempt_id: 'a3', failure_type: 'executor_failed', duration_seconds: 5 } },
  { type: 'task.selected', target: WEB, data: { task_id: 'a', attempt_id: 'a4' } },
  { type: 'attempt.succeeded', target: WEB, data: { attempt_id: 'a4', task_id: 'a', duration_seconds: 120, pr_number: 7 } },
  { type: 'pr.created', target: WEB, data: { number: 7, task_id: 'a', attempt_id: 'a4' } },
  { type: 'pr.created', target: WEB, data: { number: 8, task_id: 'd' } },
  { type: 'pr.merged', target: WEB, data: { number: 8 } },
  { type: 'pr.created', target: WEB, data: { number: 9, task_id: 'd' } },
  { type: 'pr.closed', target: WEB, data: { number: 9 } },
  { type: 'pr.observed', target: WEB, data: { number: 10 } },
  { type: 'circuit_breaker.tripped', target: WEB, data: { consecutive_failures: 3, cooldown_until: '2026-11-27T13:00:00Z' } },
  { type: 'task.skipped', target: WEB, data: { outcome: 'blocked', reason: 'max_open_prs' } },
  { type: 'task.skipped', target: WEB, data: { outcome: 'blocked', reason: 'max_open_prs' } },
  { type: 'task.skipped', target: WEB, data: { outcome: 'blocked', reason: 'invented_by_a_fork' } },
  { type: 'scheduler.cycle_started', data: { cycle_id: 'c1' } },
  { type: 'scheduler.cycle_completed', data: { cycle_id: 'c1' } },
  { type: 'scheduler.cycle_started', data: { cycle_id: 'c2' } },
  { type: 'scheduler.cycle_completed', data: { cycle_id: 'c2' }, at: '2026-11-27T11:55:00Z' },
  { type: 'worker.heartbeat', target: WEB, data: {} },
  { type: 'worker.heartbeat', target: WEB, data: {} },
  { type: 'worker.heartbeat', target: WEB, data: {} },
  { type: 'custom.thing_happened', data: {} },
];

const seeded = (): ProjectionState => given(SEEDED).when().state;
const scrape = (state: ProjectionState, now = NOW): Exposition => parseExposition(renderProjection(state, now).toString());

afterEach(() => resetRateLimit());

describe('the exposition', () => {
  it('has every metric of metric-names.ts with its type, help and label names', () => {
    recordRateLimit({ remaining: 4000, limit: 5000, reset: 1_795_000_000 });
    const exp = scrape(seeded());
    for (const metric of METRICS) {
      expect(exp.type.get(metric.name), metric.name).toBe(metric.type);
      expect(exp.help.get(metric.name), metric.name).toBe(metric.help);
      const names = metric.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => metric.name + s) : [metric.name];
      const samples = exp.samples.filter((s) => names.includes(s.name));
      expect(samples.length, `${metric.name} has samples`).toBeGreaterThan(0);
      for (const s of samples) {
        const expected = s.name.endsWith('_bucket') ? [...metric.labels, 'le'] : [...metric.labels];
        expect(Object.keys(s.labels).sort(), s.name).toEqual(expected.sort());
      }
    }
    // Nothing but the listed families (and their histogram series) is exported.
    const families = new Set(METRICS.map((m) => m.name));
    for (const name of exp.type.keys()) expect(families.has(name as never), name).toBe(true);
  });

  it('passes promtool check metrics (the Prometheus parser and its linter)', () => {
    recordRateLimit({ remaining: 4000, limit: 5000, reset: 1_795_000_000 });
    const text = renderProjection(seeded(), NOW).toString();
    const result = spawnSync(process.env.PROMTOOL ?? 'promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new Error('promtool not found: apt-get install -y prometheus (Debian/Ubuntu), or point PROMTOOL at the binary.');
    }
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });

  it('derives the counters from the log', () => {
    const exp = scrape(seeded());
    const web = { target: WEB };
    expect(valueOf(exp, 'leviathan_attempts_total', { ...web, status: 'success' })).toBe(1);
    expect(valueOf(exp, 'leviathan_attempts_total', { ...web, status: 'failure' })).toBe(3);
    expect(valueOf(exp, 'leviathan_tasks_selected_total', web)).toBe(3);
    expect(valueOf(exp, 'leviathan_prs_created_total', web)).toBe(3);
    expect(valueOf(exp, 'leviathan_prs_merged_total', web)).toBe(1);
    expect(valueOf(exp, 'leviathan_prs_closed_total', web)).toBe(1);
    expect(valueOf(exp, 'leviathan_circuit_breaker_trips_total', web)).toBe(1);
    expect(valueOf(exp, 'leviathan_scheduler_cycles_total')).toBe(2);
    expect(valueOf(exp, 'leviathan_scheduler_last_cycle_timestamp_seconds')).toBe(Date.parse('2026-11-27T11:55:00Z') / 1000);
    expect(valueOf(exp, 'leviathan_autonomy_enabled')).toBe(1);
    expect(valueOf(exp, 'leviathan_emergency_stop')).toBe(0);
    expect(valueOf(exp, 'leviathan_spider_up')).toBe(1);
    // Failure types: one timeout, one executor_failed; an invented type is `other`.
    const failures = Object.fromEntries(
      exp.samples.filter((s) => s.name === 'leviathan_attempt_failures_total' && s.labels.target === WEB).map((s) => [s.labels.failure_type, s.value]),
    );
    expect(failures).toEqual({ ...Object.fromEntries(METRIC_FAILURE_TYPES.map((t) => [t, 0])), timeout: 1, executor_failed: 1, other: 1 });
    const skips = exp.samples.filter((s) => s.name === 'leviathan_scheduler_skips_total' && s.labels.target === WEB);
    expect(Object.fromEntries(skips.map((s) => [s.labels.reason, s.value]))).toEqual({ max_open_prs: 2, other: 1 });
    // Every event is counted once; unknown types under `other`.
    expect(valueOf(exp, 'leviathan_events_received_total', { type: 'other' })).toBe(4);
    expect(valueOf(exp, 'leviathan_events_received_total', { type: 'attempt.failed' })).toBe(3);
    const total = exp.samples.filter((s) => s.name === 'leviathan_events_received_total').reduce((n, s) => n + s.value, 0);
    expect(total).toBe(SEEDED.length);
  });

  it('rebuilds the attempt duration histogram with cumulative buckets', () => {
    const exp = scrape(seeded());
    const bucket = (le: string) => valueOf(exp, 'leviathan_attempt_duration_seconds_bucket', { target: WEB, le });
    // Durations 45, 950, 5 and 120 seconds.
    const expected: Record<string, number> = { '10': 1, '30': 1, '60': 2, '120': 3, '300': 3, '600': 3, '900': 3, '1200': 4, '1800': 4, '3600': 4, '7200': 4, '14400': 4, '43200': 4, '86400': 4, '+Inf': 4 };
    for (const le of [...ATTEMPT_DURATION_BUCKETS.map(String), '+Inf']) expect(bucket(le), `le=${le}`).toBe(expected[le]);
    expect(valueOf(exp, 'leviathan_attempt_duration_seconds_sum', { target: WEB })).toBe(1120);
    expect(valueOf(exp, 'leviathan_attempt_duration_seconds_count', { target: WEB })).toBe(4);
  });

  it('tells attempts past an hour apart, up to the 24-hour attempt_timeout_minutes ceiling', () => {
    const long = (id: string, seconds: number): GivenEvent[] => [
      { type: 'task.selected', target: API, data: { task_id: id, attempt_id: id } },
      { type: 'attempt.failed', target: API, data: { attempt_id: id, task_id: id, failure_type: 'timeout', duration_seconds: seconds } },
    ];
    const exp = scrape(given([...SEEDED, ...long('t-2h', 7000), ...long('t-4h', 14_000), ...long('t-1d', 86_000)]).when().state);
    const bucket = (le: string) => valueOf(exp, 'leviathan_attempt_duration_seconds_bucket', { target: API, le });
    expect(['3600', '7200', '14400', '43200', '86400', '+Inf'].map(bucket)).toEqual([0, 1, 2, 2, 3, 3]);
  });

  it('starts every labelled counter of a new target at 0, so increase() sees its first event', () => {
    const exp = scrape(seeded());
    const api = exp.samples.filter((s) => s.labels.target === API && s.name !== 'leviathan_target_status');
    const counters = api.filter((s) => s.name.endsWith('_total') || s.name.startsWith('leviathan_attempt_duration_seconds'));
    expect(counters.every((s) => s.value === 0)).toBe(true);
    const names = new Set(counters.map((s) => s.name));
    for (const name of [
      'leviathan_attempts_total',
      'leviathan_prs_created_total',
      'leviathan_prs_merged_total',
      'leviathan_prs_closed_total',
      'leviathan_tasks_selected_total',
      'leviathan_circuit_breaker_trips_total',
      'leviathan_attempt_failures_total',
      'leviathan_attempt_duration_seconds_bucket',
      'leviathan_attempt_duration_seconds_count',
    ]) {
      expect(names.has(name), name).toBe(true);
    }
    expect(counters.filter((s) => s.name === 'leviathan_attempt_failures_total')).toHaveLength(METRIC_FAILURE_TYPES.length);
    // Known event types exist before they first happen.
    expect(valueOf(exp, 'leviathan_events_received_total', { type: 'circuit_breaker.reset' })).toBe(0);
  });

  it('agrees with /v1/targets: status one-hot, open PRs, max PRs, ready tasks, breaker', () => {
    const state = seeded();
    const exp = scrape(state);
    const views = targetViews(state, NOW);
    expect(views.map((v) => v.id).sort()).toEqual([API, FROZEN, WEB].sort());
    for (const v of views) {
      const target = { target: v.id };
      const statuses = exp.samples.filter((s) => s.name === 'leviathan_target_status' && s.labels.target === v.id);
      expect(statuses.map((s) => s.labels.status).sort()).toEqual([...TARGET_STATUSES].sort());
      expect(statuses.filter((s) => s.value === 1).map((s) => s.labels.status)).toEqual([v.status]);
      expect(statuses.every((s) => s.value === 0 || s.value === 1)).toBe(true);
      expect(valueOf(exp, 'leviathan_target_open_prs', target)).toBe(v.open_prs.length);
      expect(valueOf(exp, 'leviathan_target_max_prs', target)).toBe(v.max_open_prs);
      expect(valueOf(exp, 'leviathan_target_ready_tasks', target)).toBe(v.ready_tasks);
      expect(valueOf(exp, 'leviathan_circuit_breaker_open', target)).toBe(v.breaker.open ? 1 : 0);
    }
    // The seeded states, to be sure the comparison covers more than one status.
    expect(Object.fromEntries(views.map((v) => [v.id, v.status]))).toEqual({ [WEB]: 'blocked', [API]: 'active', [FROZEN]: 'paused' });
    expect(valueOf(exp, 'leviathan_target_open_prs', { target: WEB })).toBe(1);
  });

  it('closes the breaker gauge when the cooldown has passed, without a new event', () => {
    const state = seeded();
    expect(valueOf(scrape(state, NOW), 'leviathan_circuit_breaker_open', { target: WEB })).toBe(1);
    expect(valueOf(scrape(state, new Date('2026-11-27T13:00:01Z')), 'leviathan_circuit_breaker_open', { target: WEB })).toBe(0);
  });

  it('leaves removed targets out', () => {
    const exp = scrape(seeded());
    expect(exp.samples.filter((s) => s.labels.target === OLD)).toEqual([]);
  });
});

describe('open PRs, ready queue and breaker cooldown (the Target Detail lists)', () => {
  const infos = (exp: Exposition, name: string, target: string) =>
    exp.samples.filter((s) => s.name === name && s.labels.target === target).map((s): Record<string, string | number> => ({ ...s.labels, value: s.value }));
  const openPrs = (exp: Exposition, target: string) =>
    infos(exp, 'leviathan_target_open_pr_info', target).map(({ number, task_id, value }) => ({ number, task_id, value }));
  const queue = (exp: Exposition, target: string) =>
    infos(exp, 'leviathan_target_ready_task_info', target).map(({ position, task_id, value }) => ({ position, task_id, value }));
  const cooldown = (exp: Exposition, target: string) =>
    valueOf(exp, 'leviathan_circuit_breaker_cooldown_until_timestamp_seconds', { target });

  it('list each open Leviathan PR with its task, and nothing for a target without any', () => {
    const exp = scrape(given([...SEEDED, { type: 'pr.created', target: API, data: { number: 3 } }]).when().state);
    // PR 7 is open; 8 was merged, 9 closed, 10 is not Leviathan's; a PR without a task has task_id "".
    expect(openPrs(exp, WEB)).toEqual([{ number: '7', task_id: 'a', value: 1 }]);
    expect(openPrs(exp, API)).toEqual([{ number: '3', task_id: '', value: 1 }]);
    expect(openPrs(exp, FROZEN)).toEqual([]);
    expect(openPrs(scrape(given([...SEEDED, { type: 'pr.merged', target: WEB, data: { number: 7 } }]).when().state), WEB)).toEqual([]);
  });

  it('show the head of the ready queue in selection order, capped at READY_QUEUE_HEAD', () => {
    const tasks = [
      task('low-1', { priority: 'low' }),
      task('med-1'),
      task('high-1', { priority: 'high' }),
      task('waits', { priority: 'high', dependencies: ['low-1'] }),
      task('med-2'),
      task('high-2', { priority: 'high' }),
      task('low-2', { priority: 'low' }),
      task('low-3', { priority: 'low' }),
    ];
    const state = given([...SEEDED, { type: 'backlog.synced', target: API, data: { tasks } }]).when().state;
    const exp = scrape(state);
    expect(READY_QUEUE_HEAD).toBe(5);
    expect(queue(exp, API)).toEqual(
      ['high-1', 'high-2', 'med-1', 'med-2', 'low-1'].map((id, i) => ({ position: String(i + 1), task_id: id, value: 1 })),
    );
    // The count includes the task waiting on a dependency and everything past the head.
    expect(valueOf(exp, 'leviathan_target_ready_tasks', { target: API })).toBe(8);
    // The seeded WEB has nothing runnable (a has a PR open, b waits on a, c is not ready, d is done).
    expect(queue(exp, WEB)).toEqual([]);
    expect(queue(exp, FROZEN)).toEqual([]);
  });

  it('follow the projection from one scrape to the next (lines are reused only while unchanged)', () => {
    const tasks = ['t1', 't2', 't3'].map((id) => task(id));
    const state = given([...SEEDED, { type: 'backlog.synced', target: API, data: { tasks } }]).when().state;
    expect(queue(scrape(state), API).map((q) => q.task_id)).toEqual(['t1', 't2', 't3']);
    expect(openPrs(scrape(state), WEB)).toEqual([{ number: '7', task_id: 'a', value: 1 }]);
    // What evolve does in place: an attempt starts on t1; the PR's task becomes known as another.
    state.targets[API]!.tasks.t1!.in_flight_attempt = 'att-9';
    state.targets[WEB]!.open_prs[0]!.task_id = 'b';
    const exp = scrape(state);
    expect(queue(exp, API)).toEqual([
      { position: '1', task_id: 't2', value: 1 },
      { position: '2', task_id: 't3', value: 1 },
    ]);
    expect(openPrs(exp, WEB)).toEqual([{ number: '7', task_id: 'b', value: 1 }]);
  });

  it('agree with /v1/targets: its open_prs, and the head of its tasks in state ready', () => {
    const state = seeded();
    const exp = scrape(state);
    for (const v of targetViews(state, NOW)) {
      expect(openPrs(exp, v.id)).toEqual(v.open_prs.map((pr) => ({ number: String(pr.number), task_id: pr.task_id ?? '', value: 1 })));
      const head = v.tasks.filter((x) => x.state === 'ready').slice(0, READY_QUEUE_HEAD);
      expect(queue(exp, v.id)).toEqual(head.map((x, i) => ({ position: String(i + 1), task_id: x.id, value: 1 })));
    }
    expect(queue(exp, API)).toEqual([{ position: '1', task_id: 'x', value: 1 }]);
  });

  it(`list at most ${OPEN_PR_INFO_LIMIT} open PRs per target, the oldest, while the count stays exact`, () => {
    const many = Array.from({ length: 150 }, (_, i) => ({ type: 'pr.created', target: API, data: { number: 1000 - i, task_id: `t${i}` } }));
    const exp = scrape(given([...SEEDED, ...many]).when().state);
    const listed = openPrs(exp, API).map((p) => Number(p.number));
    expect(listed).toHaveLength(OPEN_PR_INFO_LIMIT);
    expect(listed).toEqual(Array.from({ length: OPEN_PR_INFO_LIMIT }, (_, i) => 851 + i));
    expect(valueOf(exp, 'leviathan_target_open_prs', { target: API })).toBe(150);
  });

  it('escape task ids in labels', () => {
    const odd = 'odd"task\\with\nnewline-é';
    const exp = scrape(given([...SEEDED, { type: 'pr.created', target: API, data: { number: 5, task_id: odd } }]).when().state);
    expect(openPrs(exp, API)).toEqual([{ number: '5', task_id: odd, value: 1 }]);
  });

  it('give the cooldown end of an open breaker, and nothing once it is closed', () => {
    const state = seeded();
    const exp = scrape(state);
    expect(cooldown(exp, WEB)).toBe(Date.parse('2026-11-27T13:00:00Z') / 1000);
    expect(valueOf(exp, 'leviathan_circuit_breaker_open', { target: WEB })).toBe(1);
    // Never tripped.
    expect(cooldown(exp, API)).toBeUndefined();
    // The cooldown has passed: the breaker closes by itself, without an event.
    const later = scrape(state, new Date('2026-11-27T13:00:01Z'));
    expect(cooldown(later, WEB)).toBeUndefined();
    expect(valueOf(later, 'leviathan_circuit_breaker_open', { target: WEB })).toBe(0);
    // Reset by an operator.
    const reset = scrape(given([...SEEDED, { type: 'circuit_breaker.reset', target: WEB, data: {} }]).when().state);
    expect(cooldown(reset, WEB)).toBeUndefined();
    // With no breaker open anywhere the family is there without a sample.
    expect(reset.type.get('leviathan_circuit_breaker_cooldown_until_timestamp_seconds')).toBe('gauge');
    expect(reset.samples.filter((s) => s.name === 'leviathan_circuit_breaker_cooldown_until_timestamp_seconds')).toEqual([]);
  });
});

describe('bounded labels', () => {
  it('counts any number of invented event types, failure types and skip reasons under `other`', () => {
    const noise = Array.from({ length: 300 }, (_, i) => [
      { type: `worker.invented_${i}`, target: WEB, data: {} },
      { type: 'attempt.failed', target: WEB, data: { attempt_id: `n${i}`, failure_type: `made_up_${i}` } },
      { type: 'task.skipped', target: WEB, data: { outcome: 'idle', reason: `reason_${i}` } },
    ]).flat();
    const before = scrape(seeded());
    const after = scrape(given([...SEEDED, ...noise]).when().state);
    expect(after.samples.length).toBe(before.samples.length);
    expect(valueOf(after, 'leviathan_events_received_total', { type: 'other' })).toBe(4 + 300);
    expect(valueOf(after, 'leviathan_attempt_failures_total', { target: WEB, failure_type: 'other' })).toBe(1 + 300);
    expect(valueOf(after, 'leviathan_scheduler_skips_total', { target: WEB, reason: 'other' })).toBe(1 + 300);
    for (const s of after.samples) {
      if (s.labels.type !== undefined) expect(METRIC_EVENT_TYPES).toContain(s.labels.type);
      if (s.labels.reason !== undefined) expect(METRIC_SKIP_REASONS).toContain(s.labels.reason);
      if (s.labels.failure_type !== undefined) expect(METRIC_FAILURE_TYPES).toContain(s.labels.failure_type);
      if (s.labels.status !== undefined) expect(['success', 'failure', ...TARGET_STATUSES]).toContain(s.labels.status);
    }
  });

  it('escapes label values', () => {
    const state = seeded();
    const odd = 'odd"org\\with\nnewline/repo';
    state.targets[odd] = emptyTarget(odd);
    const exp = scrape(state);
    expect(valueOf(exp, 'leviathan_target_open_prs', { target: odd })).toBe(0);
  });
});

describe('emergency stop', () => {
  it('is 1 while a stop stands and 0 once it is lifted, rebuilt from the log', () => {
    const stopped: GivenEvent = { type: 'scheduler.emergency_stopped', actor: 'user:ops', data: { reason: 'runaway PRs' } };
    expect(valueOf(scrape(given([...SEEDED, stopped]).when().state), 'leviathan_emergency_stop')).toBe(1);
    const resumed: GivenEvent = { type: 'scheduler.emergency_resumed', actor: 'user:ops', data: {} };
    expect(valueOf(scrape(given([...SEEDED, stopped, resumed]).when().state), 'leviathan_emergency_stop')).toBe(0);
  });
});

describe('GitHub rate limit', () => {
  it('is absent until GitHub has answered, then follows the last reading', () => {
    const state = seeded();
    expect(valueOf(scrape(state), 'leviathan_github_rate_limit_remaining')).toBeUndefined();
    recordRateLimit({ remaining: 4999, limit: 5000, reset: new Date('2026-11-27T12:30:00Z') });
    recordRateLimit({ remaining: 4998, limit: 5000, reset: Date.parse('2026-11-27T12:30:00Z') / 1000 });
    const exp = scrape(state);
    expect(valueOf(exp, 'leviathan_github_rate_limit_remaining')).toBe(4998);
    expect(valueOf(exp, 'leviathan_github_rate_limit_limit')).toBe(5000);
    expect(valueOf(exp, 'leviathan_github_rate_limit_reset_timestamp_seconds')).toBe(Date.parse('2026-11-27T12:30:00Z') / 1000);
  });

  it('ignores readings without numbers instead of reporting an empty budget', () => {
    recordRateLimit({ remaining: 10, limit: 5000 });
    recordRateLimit({ remaining: Number('x'), limit: 5000 });
    recordRateLimit({ remaining: 5, limit: 0 });
    recordRateLimit({ remaining: -1, limit: 5000 });
    expect(valueOf(scrape(seeded()), 'leviathan_github_rate_limit_remaining')).toBe(10);
  });

  it('remembers when the reading was taken, for the cycle to report', () => {
    expect(lastRateLimit()).toBeNull();
    recordRateLimit({ remaining: 4998, limit: 5000, reset: 1_795_000_000 }, Date.parse('2026-11-27T11:59:00Z'));
    expect(lastRateLimit()).toEqual({ remaining: 4998, limit: 5000, reset: 1_795_000_000, at: Date.parse('2026-11-27T11:59:00Z') });
    const before = Date.now();
    recordRateLimit({ remaining: 4997, limit: 5000 });
    expect(lastRateLimit()?.at).toBeGreaterThanOrEqual(before);
    expect(lastRateLimit()?.at).toBeLessThanOrEqual(Date.now());
  });

  describe('across installations', () => {
    const NOW_S = NOW.getTime() / 1000;
    const at = NOW.getTime() - 60_000;

    it('shows the most constrained budget, not the last one to answer', () => {
      recordRateLimit({ remaining: 90, limit: 5000, reset: NOW_S + 1800, budget: 'installation:1/core' }, at);
      recordRateLimit({ remaining: 4999, limit: 5000, reset: NOW_S + 3000, budget: 'installation:2/core' }, at + 1);
      const exp = scrape(seeded());
      expect(valueOf(exp, 'leviathan_github_rate_limit_remaining')).toBe(90);
      expect(valueOf(exp, 'leviathan_github_rate_limit_reset_timestamp_seconds')).toBe(NOW_S + 1800);
      expect(lastRateLimit(NOW.getTime())).toMatchObject({ remaining: 90 });
    });

    it('compares the share left, so a bigger limit cannot hide a budget below 25%', () => {
      recordRateLimit({ remaining: 3000, limit: 15000, reset: NOW_S + 1800, budget: 'installation:1/core' }, at);
      recordRateLimit({ remaining: 2500, limit: 5000, reset: NOW_S + 1800, budget: 'installation:2/core' }, at);
      const exp = scrape(seeded());
      expect([valueOf(exp, 'leviathan_github_rate_limit_remaining'), valueOf(exp, 'leviathan_github_rate_limit_limit')]).toEqual([3000, 15000]);
    });

    it("forgets a budget once its window has reset, and the tick's reading competes too", () => {
      recordRateLimit({ remaining: 0, limit: 5000, reset: NOW_S - 1, budget: 'installation:1/core' }, at - 3_000_000);
      recordRateLimit({ remaining: 4000, limit: 5000, reset: NOW_S + 1800, budget: 'installation:2/core' }, at);
      expect(valueOf(scrape(seeded()), 'leviathan_github_rate_limit_remaining')).toBe(4000);
      const tick = { remaining: 700, limit: 5000, reset: NOW_S + 900 };
      const state = given([...SEEDED, { type: 'scheduler.cycle_completed', data: { cycle_id: 'c3', github_rate_limit: tick }, at: '2026-11-27T11:55:00.000Z' }]).when().state;
      expect(valueOf(scrape(state), 'leviathan_github_rate_limit_remaining')).toBe(700);
    });

    it('shows the budget full again once every window has reset, while the cycle still reports the reading', () => {
      // Nothing has called GitHub since (autonomy off): the last readings are from before the reset.
      recordRateLimit({ remaining: 12, limit: 5000, reset: NOW_S - 60, budget: 'installation:1/core' }, at - 3_000_000);
      recordRateLimit({ remaining: 300, limit: 15000, reset: NOW_S - 30, budget: 'installation:2/core' }, at - 2_000_000);
      const exp = scrape(seeded());
      expect(valueOf(exp, 'leviathan_github_rate_limit_remaining')).toBe(15000);
      expect(valueOf(exp, 'leviathan_github_rate_limit_limit')).toBe(15000);
      expect(valueOf(exp, 'leviathan_github_rate_limit_reset_timestamp_seconds')).toBe(NOW_S - 30);
      // scheduler.cycle_completed carries what GitHub said, not the gauges' inference.
      expect(lastRateLimit(NOW.getTime())).toEqual({ remaining: 300, limit: 15000, reset: NOW_S - 30, at: at - 2_000_000 });
      // The tick's reading from the log counts the same way.
      resetRateLimit();
      const stale = { remaining: 0, limit: 5000, reset: NOW_S - 1 };
      const state = given([...SEEDED, { type: 'scheduler.cycle_completed', data: { cycle_id: 'c3', github_rate_limit: stale }, at: '2026-11-27T11:00:00.000Z' }]).when().state;
      expect(valueOf(scrape(state), 'leviathan_github_rate_limit_remaining')).toBe(5000);
      // A reading without a reset is full again an hour after it was taken; its reset stays unknown.
      resetRateLimit();
      recordRateLimit({ remaining: 7, limit: 5000 }, NOW.getTime() - 3_600_000);
      const noReset = scrape(seeded());
      expect(valueOf(noReset, 'leviathan_github_rate_limit_remaining')).toBe(5000);
      expect(valueOf(noReset, 'leviathan_github_rate_limit_reset_timestamp_seconds')).toBeUndefined();
    });

    it('picks by the pure rule', () => {
      const r = (remaining: number, reset: number | null, atMs: number) => ({ remaining, limit: 5000, reset, at: atMs });
      expect(mostConstrainedRateLimit([], 0)).toBeNull();
      // Every window over: the newest, as with a single reading.
      expect(mostConstrainedRateLimit([r(1, 10, 1_000), r(4000, 20, 2_000)], 100_000)).toEqual(r(4000, 20, 2_000));
      // Without a reset, a reading lasts GitHub's hour.
      expect(mostConstrainedRateLimit([r(1, null, 0), r(4000, 10_000, 5)], 3_599_999)).toEqual(r(1, null, 0));
      expect(mostConstrainedRateLimit([r(1, null, 0), r(4000, 10_000, 5)], 3_600_000)).toEqual(r(4000, 10_000, 5));
    });
  });

  describe("the tick's reading, from the log, against this process's own", () => {
    // The tick's CronJob process reported 1200 left in the cycle completed at 11:55.
    const TICK = { remaining: 1200, limit: 5000, reset: 1_795_782_600 }; // 12:30, within its window at NOW
    const withTickReading = (): ProjectionState =>
      given([...SEEDED, { type: 'scheduler.cycle_completed', data: { cycle_id: 'c3', github_rate_limit: TICK }, at: '2026-11-27T11:55:00.000Z' }]).when().state;
    const shown = (exp: Exposition) => ({
      remaining: valueOf(exp, 'leviathan_github_rate_limit_remaining'),
      limit: valueOf(exp, 'leviathan_github_rate_limit_limit'),
      reset: valueOf(exp, 'leviathan_github_rate_limit_reset_timestamp_seconds'),
    });

    it("shows the tick's reading when this process has none", () => {
      expect(shown(scrape(withTickReading()))).toEqual(TICK);
    });

    it("shows the tick's reading when it is newer than this process's own", () => {
      recordRateLimit({ remaining: 4900, limit: 5000, reset: 1_795_782_700 }, Date.parse('2026-11-27T11:50:00Z'));
      expect(shown(scrape(withTickReading()))).toEqual(TICK);
    });

    it("shows this process's own when that is newer", () => {
      recordRateLimit({ remaining: 1100, limit: 5000, reset: null }, Date.parse('2026-11-27T11:58:00Z'));
      const exp = scrape(withTickReading());
      expect(shown(exp)).toEqual({ remaining: 1100, limit: 5000, reset: undefined });
      // Its reset is unknown: the family is there, without a sample.
      expect(exp.type.get('leviathan_github_rate_limit_reset_timestamp_seconds')).toBe('gauge');
    });

    it('shows nothing before any reading, from either', () => {
      const exp = scrape(seeded());
      expect(shown(exp)).toEqual({ remaining: undefined, limit: undefined, reset: undefined });
      expect(exp.samples.filter((s) => s.name.startsWith('leviathan_github_rate_limit_'))).toEqual([]);
    });

    it('reads a state restored from a snapshot older than the field as no reading', () => {
      const state = seeded();
      delete (state.scheduler as Partial<ProjectionState['scheduler']>).github_rate_limit;
      expect(shown(scrape(state)).remaining).toBeUndefined();
      recordRateLimit({ remaining: 42, limit: 5000 }, Date.parse('2026-11-27T11:58:00Z'));
      expect(shown(scrape(state)).remaining).toBe(42);
    });
  });
});

describe('createMetrics', () => {
  it('reads the projection at every scrape and appends the default process metrics', async () => {
    const projector = { state: seeded() };
    const metrics = createMetrics({ projector, clock: { now: () => NOW } });
    const first = parseExposition((await metrics.render()).toString());
    expect(first.type.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(first.type.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    projector.state = given([...SEEDED, { type: 'task.selected', target: WEB, data: { task_id: 'd', attempt_id: 'a9' } }]).when().state;
    const second = parseExposition(metrics.renderLeviathan().toString());
    expect(valueOf(second, 'leviathan_tasks_selected_total', { target: WEB })).toBe(4);
  });
});
