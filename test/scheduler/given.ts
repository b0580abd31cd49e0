/**
 * Given/When/Then for the scheduler: `given(events)` replays events through the real projection
 * (evolve) and builds the snapshot the control plane would serve, so decide() is tested against
 * exactly what the API gives it.
 */
import type { TaskSummary } from '../../src/events/types.ts';
import { evolve } from '../../src/projections/evolve.ts';
import { emptyState, type ProjectionState } from '../../src/projections/state.ts';
import { decide, type CycleSnapshot, type Decision, type ReadProblem, type SchedulerPolicy } from '../../src/scheduler/decide.ts';
import { buildSnapshot } from '../../src/scheduler/snapshot.ts';
import { log } from '../projections/given.ts';

export const T0 = new Date('2026-03-02T10:00:00.000Z');

export interface GivenEvent {
  type: string;
  target?: string;
  data?: Record<string, unknown>;
  actor?: string;
  /** Minutes after T0 (default: one second per event). */
  at?: number;
}

export function project(events: GivenEvent[]): ProjectionState {
  const sealed = log(
    events.map((e, i) => ({
      ...e,
      id: `e${i + 1}`,
      at: new Date(T0.getTime() + (e.at !== undefined ? e.at * 60_000 : i * 1000)).toISOString(),
    })),
  );
  return sealed.reduce((state, e) => evolve(state, e), emptyState());
}

/** A task summary as backlog.synced carries it. */
export function task(id: string, over: Partial<TaskSummary> = {}): TaskSummary {
  return {
    id,
    title: `Task ${id}`,
    priority: 'medium',
    ready: true,
    status: 'pending',
    dependencies: [],
    allowed_paths: [`${id}/`],
    scope: 'docs',
    ...over,
  };
}

/** target.registered + backlog.synced for a target. */
export function target(id: string, tasks: TaskSummary[], extra: Record<string, unknown> = {}): GivenEvent[] {
  return [
    { type: 'target.registered', target: id, data: { installation_id: 7, default_branch: 'main' } },
    { type: 'backlog.synced', target: id, data: { tasks, etag: '"e1"', ...extra } },
  ];
}

export function policy(over: Partial<SchedulerPolicy> = {}): SchedulerPolicy {
  return {
    autonomy: { enabled: true, source: 'config', problems: [], defaults: {} },
    max_concurrent_workers: 4,
    executor: 'local',
    ...over,
  };
}

/** given(events).when(now, policy).then → the decision. */
export function given(events: GivenEvent[], readProblems: Record<string, ReadProblem> = {}) {
  const state = project(events);
  return {
    state,
    when(now: Date = new Date(T0.getTime() + 3_600_000), p: SchedulerPolicy = policy(), cycleId = 'c1'): Decision {
      const snapshot: CycleSnapshot = { cycle_id: cycleId, control: buildSnapshot(state, now), read_problems: readProblems };
      return decide(now, snapshot, p);
    },
  };
}

export function minutes(n: number): Date {
  return new Date(T0.getTime() + n * 60_000);
}
