import { normalizeRepoPath, pathsOverlap } from '../contract/paths.ts';
import type { GuardrailOverrides } from '../contract/policy.ts';
import type { BacklogTask, EffectivePolicy, Priority, TaskStatus, TargetContract } from '../contract/types.ts';
import { newEvent, type NewEvent } from '../events/envelope.ts';
import { SCHEDULER_ACTOR, subjects, type GitHubRateLimit, type Outcome, type SkipReason, type TaskSummary } from '../events/types.ts';
import type { WorkerAssignment } from '../executors/executor.ts';
import { breakerOpen, targetPolicy, taskViews, triesUsed, type TaskView } from '../projections/target-view.ts';
import type { TaskProgress } from '../projections/state.ts';
import type { SchedulerSnapshot, TargetSnapshot } from './snapshot.ts';

/** Actor of every event the scheduler writes (defined with the event vocabulary; re-exported here). */
export { SCHEDULER_ACTOR };

/** A target whose backlog could not be read from GitHub this cycle (guardrails fail closed). */
export interface ReadProblem {
  reason: Extract<SkipReason, 'backlog_unreadable' | 'github_auth_failed' | 'github_rate_limited'>;
  detail: string;
}

/** Everything one decision looks at: the control plane's snapshot plus what the cycle read itself. */
export interface CycleSnapshot {
  /** Unique id of this cycle; event and attempt ids derive from it, so decisions are reproducible. */
  cycle_id: string;
  control: SchedulerSnapshot;
  /** Per target: why GitHub could not be read (absent: the cached backlog is current enough). */
  read_problems: Record<string, ReadProblem>;
}

/** The scheduler's own settings for a decision (the per-target guardrails come from the targets). */
export interface SchedulerPolicy {
  autonomy: {
    enabled: boolean;
    /** `config`: the mounted ConfigMap; `control_plane`: operator setting recorded in the log. */
    source: 'config' | 'control_plane';
    /** Why autonomy is off when the config could not be read. */
    problems: string[];
    /** Global guardrail defaults (ConfigMap). */
    defaults: GuardrailOverrides;
  };
  /** LEVIATHAN_MAX_CONCURRENT_WORKERS: workers running at once across all targets. */
  max_concurrent_workers: number;
  /** Executor kind recorded in the assignment's events. */
  executor: string;
  /** A manual trigger: decide for this one task now, bypassing the schedule but not the guardrails. */
  trigger?: { target: string; task_id: string; actor: string; reason?: string };
}

/** The one outcome of a target in this decision. */
export interface TargetDecision {
  target: string;
  outcome: Outcome;
  reason: SkipReason | 'task_selected';
  /** One line for operators (and the log). */
  detail: string;
  task_id?: string;
  attempt_id?: string;
  /** circuit_breaker_open: when the cooldown ends. */
  cooldown_until?: string;
  /** max_open_prs: the counts for `Max open PRs reached (n/max)`. */
  open_prs?: number;
  max_open_prs?: number;
}

/** What the runner carries out, in order. */
export type SchedulerAction =
  | { kind: 'record'; event: NewEvent }
  | { kind: 'start_worker'; target: string; assignment: WorkerAssignment };

/** The result of {@link decide}: the actions to carry out and every target's outcome. */
export interface Decision {
  cycle_id: string;
  autonomy_enabled: boolean;
  actions: SchedulerAction[];
  /** Exactly one per target considered, in the order considered. */
  outcomes: TargetDecision[];
}

const PRIORITIES: readonly Priority[] = ['high', 'medium', 'low'];
const STATUSES: readonly TaskStatus[] = ['pending', 'in_progress', 'completed', 'blocked', 'failed'];

/**
 * The scheduler's decision: pure, so the same input always yields the same actions. For every
 * target it picks exactly one outcome with a reason code (DESIGN §5) and the events recording it;
 * for a target that executes, the task (ready, pending, dependencies completed, valid paths, no
 * attempt or PR for it, no path overlap with open Leviathan PRs — by priority, then file order)
 * and the worker to start. Targets are visited round-robin (the starting target rotates with the
 * cycle count) so the global worker cap does not always favour the same one.
 */
export function decide(now: Date, snapshot: CycleSnapshot, policy: SchedulerPolicy): Decision {
  const { cycle_id, control } = snapshot;
  const actions: SchedulerAction[] = [];
  const outcomes: TargetDecision[] = [];
  const record = (event: NewEvent) => actions.push({ kind: 'record', event });
  const trigger = policy.trigger;

  if (!trigger) {
    record(
      newEvent({
        id: `${cycle_id}:cycle_started`,
        type: 'scheduler.cycle_started',
        actor: SCHEDULER_ACTOR,
        data: {
          cycle_id,
          ...(policy.autonomy.source === 'config' ? { autonomy_enabled: policy.autonomy.enabled } : {}),
          global_defaults: policy.autonomy.defaults,
          ...(policy.autonomy.problems.length > 0 ? { problems: policy.autonomy.problems } : {}),
        },
      }),
    );
  }

  let running = control.targets.reduce((n, t) => n + t.in_flight.length, 0);
  const ordered = trigger ? control.targets.filter((t) => t.id === trigger.target) : rotate(control.targets, control.cycles);
  let started = 0;

  for (const t of ordered) {
    if (t.lifecycle === 'removed') continue;
    const tp = targetPolicy(policy.autonomy.defaults as Record<string, unknown>, t);
    const verdict = judge(now, snapshot, policy, t, tp, running);
    if (verdict.kind === 'skip') {
      const d = verdict.decision;
      outcomes.push(d);
      if (d.reason === 'circuit_breaker_open' && verdict.trip) {
        record(
          newEvent({
            id: `${cycle_id}:${t.id}:breaker_tripped`,
            type: 'circuit_breaker.tripped',
            actor: SCHEDULER_ACTOR,
            target: t.id,
            subject: subjects.target(t.id),
            data: { consecutive_failures: t.breaker.consecutive_failures, cooldown_until: d.cooldown_until!, threshold: tp.circuit_breaker.consecutive_failures },
          }),
        );
      }
      // A refused trigger answers the operator; it does not change what the target shows.
      if (!trigger) record(skippedEvent(cycle_id, d));
      continue;
    }
    started += 1;
    running += 1;
    const attempt_id = `${cycle_id}-${started}`;
    const task = verdict.task;
    const decision: TargetDecision = {
      target: t.id,
      outcome: 'executed',
      reason: 'task_selected',
      detail: `Selected task ${task.id}`,
      task_id: task.id,
      attempt_id,
    };
    outcomes.push(decision);
    record(
      newEvent({
        id: `${attempt_id}:selected`,
        type: 'task.selected',
        actor: SCHEDULER_ACTOR,
        target: t.id,
        subject: subjects.task(t.id, task.id),
        data: {
          task_id: task.id,
          attempt_id,
          cycle_id,
          priority: task.priority,
          limits: {
            max_concurrent_attempts: tp.max_concurrent_attempts,
            max_open_prs: tp.max_open_prs,
            max_attempts_per_task: tp.max_attempts_per_task,
          } satisfies SelectionLimits,
          ...(trigger ? { trigger: 'manual', triggered_by: trigger.actor } : {}),
        },
      }),
    );
    actions.push({ kind: 'start_worker', target: t.id, assignment: assignmentFor(t, task, tp, attempt_id) });
  }
  return { cycle_id, autonomy_enabled: policy.autonomy.enabled, actions, outcomes };
}

/**
 * scheduler.cycle_completed with every target's `outcome:reason` (the runner adds it last) and,
 * when the scheduler's process has one, its last GitHub rate-limit reading: the tick's process
 * ends with the cycle, and its backlog reads are most of the App's GitHub calls.
 */
export function cycleCompletedEvent(cycleId: string, outcomes: readonly TargetDecision[], rateLimit: GitHubRateLimit | null = null): NewEvent {
  return newEvent({
    id: `${cycleId}:cycle_completed`,
    type: 'scheduler.cycle_completed',
    actor: SCHEDULER_ACTOR,
    data: {
      cycle_id: cycleId,
      outcomes: Object.fromEntries(outcomes.map((o) => [o.target, `${o.outcome}:${o.reason}`])),
      // The three fields only: a reading may carry more (when it was taken), the event's time says that.
      ...(rateLimit ? { github_rate_limit: { remaining: rateLimit.remaining, limit: rateLimit.limit, reset: rateLimit.reset } } : {}),
    },
  });
}

/** task.skipped recording a non-executed outcome. */
export function skippedEvent(cycleId: string, d: TargetDecision): NewEvent {
  return newEvent({
    id: `${cycleId}:${d.target}:skipped`,
    type: 'task.skipped',
    actor: SCHEDULER_ACTOR,
    target: d.target,
    subject: subjects.target(d.target),
    data: {
      outcome: d.outcome,
      reason: d.reason,
      detail: d.detail,
      cycle_id: cycleId,
      ...(d.task_id ? { task_id: d.task_id } : {}),
      ...(d.cooldown_until ? { cooldown_until: d.cooldown_until } : {}),
    },
  });
}

type Verdict =
  | { kind: 'skip'; decision: TargetDecision; trip?: boolean }
  | { kind: 'run'; task: TaskView };

/** The guardrails in the order an operator would ask "why is it not running?". */
function judge(now: Date, snapshot: CycleSnapshot, policy: SchedulerPolicy, t: TargetSnapshot, tp: EffectivePolicy, running: number): Verdict {
  const trigger = policy.trigger;
  const skip = (outcome: Exclude<Outcome, 'executed'>, reason: SkipReason, detail: string, extra: Partial<TargetDecision> = {}): Verdict => ({
    kind: 'skip',
    decision: { target: t.id, outcome, reason, detail, ...(trigger ? { task_id: trigger.task_id } : {}), ...extra },
  });

  if (t.lifecycle === 'suspended') return skip('paused', 'target_suspended', 'The GitHub App installation is suspended.');
  if (t.paused) {
    return skip('paused', 'paused_by_operator', `Paused by ${t.paused.by} at ${t.paused.at}${t.paused.reason ? `: ${t.paused.reason}` : ''}`);
  }
  const stop = snapshot.control.autonomy.emergency_stop;
  if (stop) return skip('paused', 'emergency_stop', `Emergency stop by ${stop.by} at ${stop.at}${stop.reason ? `: ${stop.reason}` : ''}`);
  if (!policy.autonomy.enabled) {
    const why = policy.autonomy.problems[0];
    return skip('paused', 'autonomy_disabled', `Autonomy disabled in configuration${why ? ` (${why})` : ''}`);
  }
  const problem = snapshot.read_problems[t.id];
  if (problem) return skip('error', problem.reason, problem.detail);
  if (t.backlog.state === 'invalid') {
    const e = t.backlog.error;
    return skip('error', 'backlog_invalid', e ? `${e.file}${e.line ? ` line ${e.line}` : ''}: ${e.reason}` : 'The backlog is invalid.');
  }
  // Before the breaker and the PR limit, as targetView judges it: webhooks can report PRs before
  // any backlog is read, and "no ready tasks" would send the operator to a file never read.
  if (t.backlog.state === 'unknown') {
    return trigger
      ? skip('error', 'backlog_unreadable', 'No backlog has been read for this target yet.')
      : skip('idle', 'backlog_not_synced', 'No backlog has been read for this target yet.');
  }

  const views = taskViews(t, tp);
  let wanted: TaskView | undefined;
  if (trigger) {
    wanted = views.find((v) => v.id === trigger.task_id);
    if (!wanted) return skip('blocked', 'task_not_found', `No task ${trigger.task_id} in the backlog of ${t.id}.`);
    switch (wanted.state) {
      case 'ready':
        break;
      case 'running':
        return skip('blocked', 'attempt_in_flight', wanted.explanation);
      case 'failed':
        return skip('blocked', 'max_attempts_reached', `${wanted.explanation} Raise safety_rules.max_attempts_per_task or fix the task.`);
      case 'completed':
      case 'pr_open':
      case 'not_ready':
      case 'not_pending':
      case 'waiting_on_dependencies':
        return skip('blocked', 'task_not_eligible', wanted.explanation);
      default: {
        const never: never = wanted.state;
        throw new Error(`unknown task state ${String(never)}`);
      }
    }
  }

  // Circuit breaker: open while cooling down; trips when failures reach the threshold. After the
  // cooldown one attempt may run (half-open); if that one fails too it trips again at once.
  if (breakerOpen(t, now)) {
    return skip('blocked', 'circuit_breaker_open', breakerDetail(t.breaker.consecutive_failures, t.breaker.cooldown_until!), {
      cooldown_until: t.breaker.cooldown_until!,
    });
  }
  const threshold = tp.circuit_breaker.consecutive_failures;
  if (t.breaker.consecutive_failures >= threshold && (t.breaker.tripped_at === null || probeFailed(t, t.breaker.tripped_at))) {
    const until = new Date(now.getTime() + tp.circuit_breaker.cooldown_minutes * 60_000).toISOString();
    const tripped = skip('blocked', 'circuit_breaker_open', breakerDetail(t.breaker.consecutive_failures, until), { cooldown_until: until });
    return tripped.kind === 'skip' ? { ...tripped, trip: true } : tripped;
  }
  // Half-open: only a success or a reset closes it. max_concurrent_attempts would otherwise let a
  // second attempt start beside the probe, and one still running from before the trip would run
  // beside it too, so nothing starts while any attempt is in flight.
  // No cooldown_until: the cooldown is over, and the log line says half-open rather than "open until <the past>".
  if (t.breaker.open && t.breaker.tripped_at !== null && t.in_flight.length > 0) {
    return skip('blocked', 'circuit_breaker_open', halfOpenDetail(t, t.breaker.tripped_at));
  }

  const capacity = capacityConflict(t, t.in_flight, tp);
  if (capacity) return skip('blocked', capacity.reason, capacity.detail, capacity.extra ?? {});
  const day = now.toISOString().slice(0, 10);
  const today = t.selected_today.day === day ? t.selected_today.count : 0;
  if (tp.max_tasks_per_day !== null && today >= tp.max_tasks_per_day) {
    return skip('blocked', 'max_tasks_per_day', `Max tasks per day reached (${today}/${tp.max_tasks_per_day}); resumes tomorrow (UTC).`);
  }

  const candidates = wanted ? [wanted] : views.filter((v) => v.state === 'ready');
  const valid = candidates.filter((v) => validPaths(v.allowed_paths));
  if (valid.length === 0) {
    if (trigger) return skip('blocked', 'task_not_eligible', `Task ${trigger.task_id} has no valid allowed_paths.`);
    if (views.some((v) => v.state === 'waiting_on_dependencies')) {
      const waiting = views.filter((v) => v.state === 'waiting_on_dependencies').map((v) => `${v.id} (${waitsOn(v)})`);
      return skip('idle', 'all_tasks_blocked_by_dependencies', `All ready tasks wait on dependencies: ${waiting.join('; ')}`);
    }
    const failed = views.filter((v) => v.state === 'failed').map((v) => v.id);
    return skip('idle', 'no_ready_tasks', `No ready tasks found in backlog${failed.length > 0 ? ` (failed after max attempts: ${failed.join(', ')})` : ''}`);
  }

  const conflict = (v: TaskView) => leaseConflict(t, t.in_flight, v.allowed_paths);
  const free = valid.find((v) => !conflict(v));
  if (!free) {
    const first = valid[0]!;
    return skip('blocked', 'path_lease_conflict', `Task ${first.id} touches paths leased by ${conflict(first)!.what}; merge or close it first.`, {
      task_id: first.id,
    });
  }
  if (running >= policy.max_concurrent_workers) {
    return skip('blocked', 'global_worker_cap', `Global worker cap reached (${running}/${policy.max_concurrent_workers} workers running).`, {
      task_id: free.id,
    });
  }
  return { kind: 'run', task: free };
}

/** An attempt the log has in flight: which task it works on. */
type Running = Pick<TargetSnapshot['in_flight'][number], 'attempt_id' | 'task_id'>;

/** The per-target limits a selection was decided under, carried on task.selected for the append guard. */
export interface SelectionLimits {
  max_concurrent_attempts: number;
  max_open_prs: number;
  /** Absent from selections made before the guard checked tries: those are not checked for them. */
  max_attempts_per_task?: number;
}

interface Conflict {
  reason: SkipReason;
  detail: string;
  extra?: Record<string, unknown>;
}

/** Concurrency and the PR limit: what the target's attempts in flight and open PRs leave room for. Pure. */
function capacityConflict(t: Pick<TargetSnapshot, 'open_prs'>, inFlight: readonly Running[], limits: SelectionLimits): Conflict | null {
  if (inFlight.length >= limits.max_concurrent_attempts) {
    return { reason: 'attempt_in_flight', detail: `Attempt in flight: ${listAttempts(inFlight)}; at most ${limits.max_concurrent_attempts} at once.` };
  }
  // An attempt in flight may open a PR of its own, so it counts against the limit too.
  const open = t.open_prs.length + inFlight.length;
  if (open >= limits.max_open_prs) {
    return { reason: 'max_open_prs', detail: `Max open PRs reached (${open}/${limits.max_open_prs})`, extra: { open_prs: open, max_open_prs: limits.max_open_prs } };
  }
  return null;
}

/** Path lease: what an open Leviathan PR or a running attempt may touch that `paths` would too; undefined when free. Pure. */
function leaseConflict(t: Pick<TargetSnapshot, 'open_prs' | 'backlog'>, inFlight: readonly Running[], paths: readonly string[]): { what: string } | undefined {
  const byId = new Map(t.backlog.tasks.map((task) => [task.id, task]));
  const leases: Array<{ what: string; paths: readonly string[] | null }> = [
    ...t.open_prs.map((pr) => ({ what: `PR #${pr.number}`, paths: pr.task_id ? (byId.get(pr.task_id)?.allowed_paths ?? null) : null })),
    ...inFlight.map((a) => ({ what: `attempt ${a.attempt_id}`, paths: byId.get(a.task_id)?.allowed_paths ?? null })),
  ];
  // Unknown paths (a PR whose task left the backlog) are assumed to overlap: a lease errs closed.
  return leases.find((l) => l.paths === null || pathsOverlap(paths, l.paths));
}

/**
 * Would starting `taskId` now break the task's try limit, or the target's limits or leases, given
 * the attempts the log has in flight (`inFlight`, without the one being selected)? The append
 * guard asks this of every task.selected against the log as it is at the append: a tick and a
 * trigger (or two replicas) decide from snapshots a moment old, and without it both could fill
 * the same last slot, or a try that failed meanwhile could be followed by one too many. Pure.
 */
export function selectionConflict(
  t: Pick<TargetSnapshot, 'open_prs' | 'backlog' | 'tasks'>,
  inFlight: readonly Running[],
  taskId: string,
  limits: SelectionLimits,
): Conflict | null {
  const tries = triesConflict(t.tasks[taskId], taskId, limits.max_attempts_per_task);
  if (tries) return tries;
  const capacity = capacityConflict(t, inFlight, limits);
  if (capacity) return capacity;
  const paths = t.backlog.tasks.find((task) => task.id === taskId)?.allowed_paths;
  const lease = paths ? leaseConflict(t, inFlight, paths) : undefined;
  return lease ? { reason: 'path_lease_conflict', detail: `Task ${taskId} touches paths leased by ${lease.what}; merge or close it first.` } : null;
}

/**
 * The task has used its tries (triesUsed, the same predicate as taskViews' `failed`), so the
 * guard refuses exactly what the decision would not have picked. Tries are
 * counted at selection and given back when the attempt was never really tried (evolve), so the
 * log's count is the one to trust. Pure.
 */
function triesConflict(p: TaskProgress | undefined, taskId: string, maxAttempts: number | undefined): Conflict | null {
  if (maxAttempts === undefined || !triesUsed(p, maxAttempts)) return null;
  return {
    reason: 'max_attempts_reached',
    detail: `Task ${taskId} failed after ${p.attempts} attempts (last: ${p.last_failure.failure_type}). Raise safety_rules.max_attempts_per_task or fix the task.`,
  };
}

function breakerDetail(failures: number, until: string): string {
  return `Circuit breaker tripped after ${failures} consecutive failures. Cooldown ends at ${until}.`;
}

/** `task (attempt), …`, as the details name attempts in flight. */
function listAttempts(xs: readonly Running[]): string {
  return xs.map((a) => `${a.task_id} (${a.attempt_id})`).join(', ');
}

function halfOpenDetail(t: TargetSnapshot, trippedAt: string): string {
  // created_at is the selection (null once the log no longer says): unknown counts as before the trip.
  const probes = t.in_flight.filter((a) => a.created_at !== null && a.created_at > trippedAt);
  return probes.length > 0
    ? `Circuit breaker half-open: probe attempt ${listAttempts(probes)} is running; no other attempt starts until it succeeds.`
    : `Circuit breaker half-open: waiting for ${listAttempts(t.in_flight)}, started before the trip, to end before one probe attempt runs.`;
}

/**
 * Did the half-open probe fail? The probe is the newest selection (last_execution_at) when it was
 * made after the trip: the half-open rule lets one start only with nothing in flight, so a failure
 * of an attempt created since then is the probe's. An attempt selected before the trip that fails
 * during the cooldown ran under the conditions that tripped it; it is no verdict on a probe.
 * created_at is attempt.created's time, or the failure's when the worker failed before that; both
 * come after the selection in the log, and the store's times never go back.
 */
function probeFailed(t: TargetSnapshot, trippedAt: string): boolean {
  const probe = t.last_execution_at;
  if (probe === null || probe <= trippedAt) return false;
  // A probe the executor refused to start (not counted) says nothing about the agent's work.
  return t.recent_attempts.some((a) => a.state === 'failed' && a.counted !== false && a.created_at >= probe);
}

/** Unknown dependencies never complete by themselves, so they are named apart from those that can. */
function waitsOn(v: TaskView): string {
  const known = v.unmet_dependencies.filter((d) => !v.unknown_dependencies.includes(d));
  return [
    ...(v.unknown_dependencies.length > 0 ? [`depends on unknown ${v.unknown_dependencies.join(', ')}: not in the backlog and no merged PR`] : []),
    ...(known.length > 0 ? [`waits on ${known.join(', ')}`] : []),
  ].join('; ');
}

function validPaths(paths: readonly string[]): boolean {
  return paths.length > 0 && paths.every((p) => normalizeRepoPath(p).ok);
}

/** Targets in id order, starting at `cycles mod n`. */
function rotate<T>(xs: readonly T[], cycles: number): T[] {
  if (xs.length === 0) return [];
  const k = ((cycles % xs.length) + xs.length) % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** The worker's assignment; the backlog cache holds task summaries, so absent fields get the contract's defaults. */
function assignmentFor(t: TargetSnapshot, task: TaskView, policy: EffectivePolicy, attemptId: string): WorkerAssignment {
  const summary = t.backlog.tasks.find((s) => s.id === task.id) as (TaskSummary & Record<string, unknown>) | undefined;
  const extra = summary ?? ({} as Record<string, unknown>);
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const backlogTask: BacklogTask = {
    id: task.id,
    title: task.title || task.id,
    scope: typeof task.scope === 'string' && task.scope ? task.scope : 'unknown',
    priority: PRIORITIES.includes(task.priority as Priority) ? (task.priority as Priority) : 'medium',
    ready: task.ready,
    status: STATUSES.includes(task.status as TaskStatus) ? (task.status as TaskStatus) : 'pending',
    dependencies: [...(task.dependencies ?? [])],
    allowed_paths: [...task.allowed_paths],
    acceptance_criteria: strings(extra.acceptance_criteria),
    estimated_size: typeof extra.estimated_size === 'string' ? extra.estimated_size : 'unknown',
    ...(typeof extra.description === 'string' ? { description: extra.description } : {}),
    ...(Array.isArray(extra.labels) ? { labels: strings(extra.labels) } : {}),
    line: typeof task.line === 'number' ? task.line : 0,
  };
  return {
    attempt_id: attemptId,
    target: t.id,
    installation_id: t.installation_id,
    default_branch: t.default_branch,
    task: backlogTask,
    policy,
    ...(t.backlog.contract ? { contract: t.backlog.contract as TargetContract } : {}),
    timeout_seconds: policy.attempt_timeout_minutes * 60,
  };
}
