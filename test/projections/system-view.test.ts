import { describe, expect, it } from 'vitest';
import { targetFacts, targetKind } from '../../src/projections/dashboard-summary.ts';
import { systemView } from '../../src/projections/system-view.ts';
import { T, given, task } from './given.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const OTHER = 'acme/api';

type Spec = Parameters<typeof given>[0][number];
const registered = (target: string, tasks = [task('a'), task('b')]): Spec[] => [
  { type: 'target.registered', target, data: { installation_id: 1 } },
  { type: 'backlog.synced', target, data: { tasks } },
];
const pr = (n: number, taskId: string, target = T): Spec => ({ type: 'pr.created', target, data: { number: n, task_id: taskId } });
const trip = (target = T): Spec => ({
  type: 'circuit_breaker.tripped',
  target,
  data: { consecutive_failures: 2, cooldown_until: '2026-11-27T12:30:00Z' },
});

/** The operator document's states for one target, as events after autonomy is on and T has tasks a and b. */
const STATES = {
  executing: [{ type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x1' } }],
  ready: [],
  idle: [{ type: 'backlog.synced', target: T, data: { tasks: [task('a', { ready: false })] } }],
  maxPrs: [pr(1, 'a'), pr(2, 'b')],
  breaker: [trip()],
  paused: [{ type: 'target.paused', target: T, data: { reason: 'release freeze' } }],
  error: [{ type: 'backlog.invalid', target: T, data: { file: '.leviathan/backlog.yaml', line: 3, reason: 'x' } }],
} satisfies Record<string, Spec[]>;

const givenOneTarget = () => given([{ type: 'autonomy.enabled', data: {} }, ...registered(T)]);

describe('systemView: the Status and Targets lines of the operator document', () => {
  it.each([
    ['Healthy (executing)', STATES.executing, 'healthy', 'Healthy ✓', '1 active, 0 blocked'],
    ['Healthy (tasks ready)', STATES.ready, 'healthy', 'Healthy ✓', '1 active, 0 blocked'],
    ['Idle (no ready tasks)', STATES.idle, 'idle', 'Idle', '1 active, 0 blocked'],
    ['Blocked (Max PRs)', STATES.maxPrs, 'blocked', 'Blocked (Max PRs) ⚠', '1 active, 0 blocked'],
    ['Blocked (Circuit Breaker)', STATES.breaker, 'blocked', 'Blocked (Circuit Breaker) ⚠', '0 active, 1 blocked'],
    ['Paused', STATES.paused, 'paused', 'Paused', '0 active, 0 blocked, 1 paused'],
    ['Error', STATES.error, 'error', 'Error ✗', '0 active, 0 blocked, 1 error'],
  ] as const)('given one target, when it is %s, then the dashboard says so', (_name, events, status, label, line) => {
    givenOneTarget()
      .when([...events])
      .then((state) => {
        const s = systemView(state, NOW);
        expect(s.status).toBe(status);
        expect(s.label).toBe(label);
        expect(s.targets_line.text).toBe(line);
      });
  });

  it('given one target with its breaker open and at max PRs, then it is halted (blocked), not active', () => {
    givenOneTarget()
      .when([...STATES.maxPrs, trip()])
      .then((state) => {
        const s = systemView(state, NOW);
        expect(s.label).toBe('Blocked (Circuit Breaker) ⚠');
        expect(s.targets_line).toEqual({ active: 0, blocked: 1, paused: 0, error: 0, text: '0 active, 1 blocked' });
      });
  });

  it('given one target, when its breaker cooldown has passed, then it counts as active again', () => {
    givenOneTarget()
      .when(STATES.breaker)
      .then((state) => {
        expect(systemView(state, new Date('2026-11-27T12:31:00Z')).targets_line.text).toBe('1 active, 0 blocked');
      });
  });

  it('given a target blocked by another guardrail (worker cap), then it counts as active and the status is Blocked', () => {
    givenOneTarget()
      .when([{ type: 'task.skipped', target: T, data: { outcome: 'blocked', reason: 'global_worker_cap', detail: 'All workers busy.' } }])
      .then((state) => {
        const s = systemView(state, NOW);
        expect(s.views[0]!.reason).toBe('global_worker_cap');
        expect(s.label).toBe('Blocked ⚠');
        expect(s.targets_line.text).toBe('1 active, 0 blocked');
      });
  });

  it('keeps the per-status counts alongside the line (ctl status and /v1/status JSON read them)', () => {
    givenOneTarget()
      .when(STATES.maxPrs)
      .then((state) => {
        expect(systemView(state, NOW).targets).toEqual({ total: 1, active: 0, idle: 0, blocked: 1, paused: 0, error: 0 });
      });
  });

  it('given no targets, then Idle with "0 active, 0 blocked"', () => {
    given([{ type: 'autonomy.enabled', data: {} }])
      .when()
      .then((state) => {
        const s = systemView(state, NOW);
        expect([s.label, s.headline, s.targets_line.text]).toEqual(['Idle', 'No targets yet.', '0 active, 0 blocked']);
      });
  });
});

describe('systemView: several targets', () => {
  const two = (mine: Spec[], theirs: Spec[]) =>
    given([{ type: 'autonomy.enabled', data: {} }, ...registered(T), ...registered(OTHER)]).when([...mine, ...theirs]);

  it('given one target executing and one halted by its breaker, then Healthy with "1 active, 1 blocked"', () => {
    two(STATES.executing, [trip(OTHER)]).then((state) => {
      const s = systemView(state, NOW);
      expect(s.label).toBe('Healthy ✓');
      expect(s.targets_line.text).toBe('1 active, 1 blocked');
    });
  });

  it('given one target at max PRs and one halted by its breaker, then the breaker is named first', () => {
    two(STATES.maxPrs, [trip(OTHER)]).then((state) => {
      const s = systemView(state, NOW);
      expect(s.label).toBe('Blocked (Circuit Breaker) ⚠');
      expect(s.targets_line.text).toBe('1 active, 1 blocked');
    });
  });

  it('given one target idle and one paused, then Idle with "1 active, 0 blocked, 1 paused"', () => {
    two(STATES.idle, [{ type: 'target.paused', target: OTHER, data: { reason: 'freeze' } }]).then((state) => {
      const s = systemView(state, NOW);
      expect(s.label).toBe('Idle');
      expect(s.targets_line.text).toBe('1 active, 0 blocked, 1 paused');
    });
  });

  it('given every target paused, then Paused', () => {
    given([{ type: 'autonomy.enabled', data: {} }, ...registered(T), ...registered(OTHER)])
      .when([{ type: 'autonomy.disabled', data: { reason: 'incident' } }])
      .then((state) => {
        const s = systemView(state, NOW);
        expect(s.label).toBe('Paused');
        expect(s.targets_line.text).toBe('0 active, 0 blocked, 2 paused');
      });
  });

  it('given one target in error and one executing, then Error, and the line names the error', () => {
    two(STATES.executing, [{ type: 'backlog.invalid', target: OTHER, data: { file: '.leviathan/backlog.yaml', line: 1, reason: 'x' } }]).then((state) => {
      const s = systemView(state, NOW);
      expect(s.label).toBe('Error ✗');
      expect(s.headline).toBe(`${OTHER}: .leviathan/backlog.yaml line 1: x`);
      expect(s.targets_line.text).toBe('1 active, 0 blocked, 1 error');
    });
  });
});

describe('the facts Grafana sees tell the blocked causes apart as targetView does', () => {
  it.each([
    [STATES.breaker, 'circuit_breaker_open', 'blocked_circuit_breaker'],
    [[...STATES.maxPrs, trip()], 'circuit_breaker_open', 'blocked_circuit_breaker'],
    [STATES.maxPrs, 'max_open_prs', 'blocked_max_prs'],
    [[{ type: 'task.skipped', target: T, data: { outcome: 'blocked', reason: 'global_worker_cap' } }], 'global_worker_cap', 'blocked_other'],
  ] as const)('%#: reason %s is kind %s', (events, reason, kind) => {
    givenOneTarget()
      .when([...events])
      .then((state) => {
        const v = systemView(state, NOW).views[0]!;
        expect(v.reason).toBe(reason);
        expect(targetKind(targetFacts(v))).toBe(kind);
      });
  });
});
