import type { ProjectionState, TargetState } from '../projections/state.ts';
import { subjects } from '../events/types.ts';

/** An attempt the control plane believes is still running, with what is needed to judge it lost. */
export interface InFlightAttempt {
  attempt_id: string;
  task_id: string;
  /** When the attempt was selected or created; null when the log no longer says. */
  created_at: string | null;
  /** True once the worker reported attempt.started. */
  started: boolean;
  /** Executor handle from attempt.created; null before the executor accepted the worker. */
  handle: string | null;
}

/** One target as the scheduler sees it: the projected state plus its in-flight attempts. */
export interface TargetSnapshot extends TargetState {
  in_flight: InFlightAttempt[];
}

/**
 * What `decide` needs from the control plane (GET /v1/scheduler/snapshot). Plain JSON, built
 * from the same projection the console reads, so the two never disagree.
 */
export interface SchedulerSnapshot {
  /** Seq of the last event reflected. */
  seq: number;
  taken_at: string;
  /** Completed cycles so far; rotates the starting target (round-robin). */
  cycles: number;
  autonomy: {
    /** As recorded by operators or the last cycle; null: never set (off). */
    enabled: boolean | null;
    source: ProjectionState['autonomy']['source'];
    emergency_stop: ProjectionState['autonomy']['emergency_stop'];
    global_defaults: Record<string, unknown>;
  };
  /** Every target not removed, sorted by id. */
  targets: TargetSnapshot[];
}

/** Builds the scheduler snapshot from the projection. Pure. */
export function buildSnapshot(state: ProjectionState, now: Date): SchedulerSnapshot {
  const targets = Object.values(state.targets)
    .filter((t) => t.lifecycle !== 'removed')
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((t) => targetSnapshot(state, t));
  return {
    seq: state.seq,
    taken_at: now.toISOString(),
    cycles: state.scheduler.cycles,
    autonomy: {
      enabled: state.autonomy.enabled,
      source: state.autonomy.source,
      emergency_stop: state.autonomy.emergency_stop,
      global_defaults: state.autonomy.global_defaults,
    },
    targets,
  };
}

function targetSnapshot(state: ProjectionState, t: TargetState): TargetSnapshot {
  const in_flight: InFlightAttempt[] = [];
  for (const [taskId, p] of Object.entries(t.tasks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const attemptId = p.in_flight_attempt;
    if (!attemptId) continue;
    const summary = t.recent_attempts.find((a) => a.attempt_id === attemptId);
    // task.selected makes the attempt node before attempt.created: its creation time is the selection.
    const node = state.graph.nodes[subjects.attempt(attemptId)];
    const handle = node?.props.handle;
    in_flight.push({
      attempt_id: attemptId,
      task_id: taskId,
      created_at: node?.created_at ?? summary?.created_at ?? null,
      started: summary?.state === 'running' || node?.props.state === 'running',
      handle: typeof handle === 'string' ? handle : null,
    });
  }
  return { ...structuredClone(t), in_flight };
}
