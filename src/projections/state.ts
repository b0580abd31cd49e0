import type { TaskSummary } from '../events/types.ts';
import { ATTEMPT_DURATION_BUCKETS } from '../metrics/metric-names.ts';

/**
 * The state every view is projected from. Plain JSON (no Maps, no Dates) so it can be
 * snapshotted and compared; rebuilt identically from the log by `evolve`.
 */
export interface ProjectionState {
  /** Seq of the last event applied. */
  seq: number;
  last_event_at: string | null;
  targets: Record<string, TargetState>;
  autonomy: AutonomyState;
  scheduler: SchedulerState;
  /** Aggregates the metrics are derived from, so counters survive restarts. */
  counters: Counters;
  graph: GraphState;
  /** sessionKey → expiry (ISO) of console sessions signed out and not yet expired. */
  signed_out_sessions: Record<string, string>;
}

export interface AutonomyState {
  /** null until the scheduler or an operator has said anything: treated as off (fail closed). */
  enabled: boolean | null;
  source: 'configmap' | 'operator' | 'settings' | null;
  changed_by: string | null;
  changed_at: string | null;
  reason: string | null;
  emergency_stop: { by: string; at: string; reason: string } | null;
  /** Guardrail defaults from the ConfigMap, as reported by the last scheduler cycle. */
  global_defaults: Record<string, unknown>;
}

export interface SchedulerState {
  last_cycle_id: string | null;
  last_cycle_started_at: string | null;
  last_cycle_completed_at: string | null;
  cycles: number;
  /**
   * The last GitHub rate-limit reading a cycle reported (`scheduler.cycle_completed`), with that
   * event's time: how /metrics shows the budget the tick's CronJob process saw. null until one is
   * reported; a cycle that reports none leaves it as it was.
   */
  github_rate_limit: ReportedRateLimit | null;
}

/** A rate-limit reading from the log: reset in Unix seconds (or null), `at` the reporting event's time (ISO). */
export interface ReportedRateLimit {
  remaining: number;
  limit: number;
  reset: number | null;
  at: string;
}

export interface OpenPr {
  number: number;
  url: string | null;
  title: string | null;
  task_id: string | null;
  attempt_id: string | null;
  opened_at: string;
}

export interface AttemptSummary {
  attempt_id: string;
  task_id: string;
  state: 'created' | 'running' | 'succeeded' | 'failed';
  created_at: string;
  ended_at: string | null;
  failure_type: string | null;
  message: string | null;
  pr_number: number | null;
  duration_seconds: number | null;
  /**
   * The deadline the executor was given (attempt.created), which a later policy change does not
   * move; null when the event did not say (older logs), and the scheduler falls back on the policy.
   */
  timeout_seconds: number | null;
  /**
   * False for an attempt whose worker never ran the task (the executor or GitHub refused it, or
   * it never reported attempt.started) or was deleted by an operator's emergency stop: it is
   * neither a try of its task nor a failure for the breaker.
   */
  counted: boolean;
  /** The step under way (attempt.step) while it runs; the step it failed in once failed; null otherwise. */
  step: string | null;
}

/** What Leviathan itself knows of a task beyond the backlog file. */
export interface TaskProgress {
  attempts: number;
  failures: number;
  last_failure: { failure_type: string; message: string | null; at: string } | null;
  in_flight_attempt: string | null;
  open_pr: number | null;
  merged_pr: number | null;
  last_triggered: { by: string; at: string; reason: string | null } | null;
}

export interface BacklogState {
  state: 'unknown' | 'synced' | 'invalid';
  synced_at: string | null;
  etag: string | null;
  commit: string | null;
  error: { file: string; line: number | null; reason: string } | null;
  tasks: TaskSummary[];
  policy_file: Record<string, unknown>;
  backlog_max_open_prs: number | null;
  /** contract.yaml as parsed (informational: shown on the target page, given to the agent); null when absent or refused. */
  contract: Record<string, unknown> | null;
  /**
   * Why the last sync refused contract.yaml (its 1-based line, null for the whole file); null
   * when it parsed or is absent. A bad contract does not stop the target: it is only shown.
   */
  contract_error: { line: number | null; reason: string } | null;
}

export interface Outcome {
  outcome: 'executed' | 'idle' | 'blocked' | 'paused' | 'error';
  reason: string;
  detail: string | null;
  task_id: string | null;
  at: string;
  seq: number;
}

export interface TargetState {
  id: string;
  installation_id: number | null;
  default_branch: string;
  lifecycle: 'active' | 'suspended' | 'removed';
  registered_at: string | null;
  paused: { by: string; at: string; reason: string } | null;
  open_prs: OpenPr[];
  /** Open pull requests not made by Leviathan: shown, never counted against max_open_prs. */
  observed_open_prs: number[];
  backlog: BacklogState;
  tasks: Record<string, TaskProgress>;
  /** The newest attempts, newest first (bounded). */
  recent_attempts: AttemptSummary[];
  breaker: {
    consecutive_failures: number;
    open: boolean;
    tripped_at: string | null;
    cooldown_until: string | null;
  };
  last_execution_at: string | null;
  last_outcome: Outcome | null;
  /** Day (UTC, YYYY-MM-DD) and how many tasks were selected on it, for max_tasks_per_day. */
  selected_today: { day: string; count: number };
  updated_at: string | null;
}

export interface Counters {
  events_by_type: Record<string, number>;
  by_target: Record<string, TargetCounters>;
  scheduler_cycles: number;
}

export interface TargetCounters {
  attempts_success: number;
  attempts_failure: number;
  failures_by_type: Record<string, number>;
  prs_created: number;
  prs_merged: number;
  prs_closed: number;
  tasks_selected: number;
  breaker_trips: number;
  skips_by_reason: Record<string, number>;
  /** Cumulative histogram buckets of attempt durations (seconds), aligned with DURATION_BUCKETS. */
  duration_buckets: number[];
  duration_sum: number;
  duration_count: number;
}

/** Attempt duration histogram buckets, seconds: the metric's own, so the histogram is rebuilt exactly. */
export const DURATION_BUCKETS: readonly number[] = ATTEMPT_DURATION_BUCKETS;

export interface GraphNode {
  id: string;
  type: 'target' | 'task' | 'attempt' | 'pr' | 'action' | 'other';
  target: string | null;
  label: string;
  props: Record<string, unknown>;
  first_seq: number;
  last_seq: number;
  created_at: string;
  updated_at: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  type: 'belongs_to' | 'attempt_of' | 'created_by' | 'acted_on' | 'depends_on' | 'resolves';
}

export interface GraphState {
  nodes: Record<string, GraphNode>;
  /** Edge list keyed `from|type|to` so a replayed edge is never added twice. */
  edges: Record<string, GraphEdge>;
}

export const RECENT_ATTEMPTS = 20;

export function emptyState(): ProjectionState {
  return {
    seq: 0,
    last_event_at: null,
    targets: {},
    autonomy: {
      enabled: null,
      source: null,
      changed_by: null,
      changed_at: null,
      reason: null,
      emergency_stop: null,
      global_defaults: {},
    },
    scheduler: { last_cycle_id: null, last_cycle_started_at: null, last_cycle_completed_at: null, cycles: 0, github_rate_limit: null },
    counters: { events_by_type: {}, by_target: {}, scheduler_cycles: 0 },
    graph: { nodes: {}, edges: {} },
    signed_out_sessions: {},
  };
}

/** The target of that name, unless the log has none or it was removed. */
export function activeTarget(state: ProjectionState, name: string): TargetState | null {
  const t = state.targets[name];
  return t && t.lifecycle !== 'removed' ? t : null;
}

export function emptyTarget(id: string): TargetState {
  return {
    id,
    installation_id: null,
    default_branch: 'main',
    lifecycle: 'active',
    registered_at: null,
    paused: null,
    open_prs: [],
    observed_open_prs: [],
    backlog: {
      state: 'unknown',
      synced_at: null,
      etag: null,
      commit: null,
      error: null,
      tasks: [],
      policy_file: {},
      backlog_max_open_prs: null,
      contract: null,
      contract_error: null,
    },
    tasks: {},
    recent_attempts: [],
    breaker: { consecutive_failures: 0, open: false, tripped_at: null, cooldown_until: null },
    last_execution_at: null,
    last_outcome: null,
    selected_today: { day: '', count: 0 },
    updated_at: null,
  };
}

export function emptyTargetCounters(): TargetCounters {
  return {
    attempts_success: 0,
    attempts_failure: 0,
    failures_by_type: {},
    prs_created: 0,
    prs_merged: 0,
    prs_closed: 0,
    tasks_selected: 0,
    breaker_trips: 0,
    skips_by_reason: {},
    duration_buckets: DURATION_BUCKETS.map(() => 0),
    duration_sum: 0,
    duration_count: 0,
  };
}

export function emptyTaskProgress(): TaskProgress {
  return {
    attempts: 0,
    failures: 0,
    last_failure: null,
    in_flight_attempt: null,
    open_pr: null,
    merged_pr: null,
    last_triggered: null,
  };
}
