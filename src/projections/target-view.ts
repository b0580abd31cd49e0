import type { EffectivePolicy } from '../contract/types.ts';
import { effectivePolicy } from '../contract/policy.ts';
import type { TaskSummary } from '../events/types.ts';
import { contractErrorText, contractView, type ContractView } from './contract-view.ts';
import type { OpenPr, ProjectionState, TargetState, TaskProgress } from './state.ts';

/** The five states a target can be in; `active` covers executing and ready to execute. */
export type TargetStatus = 'active' | 'idle' | 'blocked' | 'paused' | 'error';
export const TARGET_STATUSES: readonly TargetStatus[] = ['active', 'idle', 'blocked', 'paused', 'error'];

/** Where a task stands, in the order an operator asks "why is it not running?". */
export type TaskState =
  | 'completed'
  | 'pr_open'
  | 'running'
  | 'failed'
  | 'not_ready'
  | 'not_pending'
  | 'waiting_on_dependencies'
  | 'ready';

export interface TaskView extends TaskSummary {
  state: TaskState;
  /** Reason in words, for the task queue. */
  explanation: string;
  attempts: number;
  last_failure: { failure_type: string; message: string | null; at: string } | null;
  open_pr: number | null;
  unmet_dependencies: string[];
  /** The unmet dependencies Leviathan has no trace of: they can never complete, so only the owner's edit unblocks the task. */
  unknown_dependencies: string[];
}

export interface TargetView {
  id: string;
  installation_id: number | null;
  default_branch: string;
  lifecycle: TargetState['lifecycle'];
  status: TargetStatus;
  /** Reason code (DESIGN §5). */
  reason: string;
  /** One line saying what is going on, in the operator document's words. */
  headline: string;
  /** What the operator can do about it; null when nothing is needed. */
  action: string | null;
  paused: TargetState['paused'];
  open_prs: OpenPr[];
  max_open_prs: number;
  ready_tasks: number;
  tasks: TaskView[];
  breaker: TargetState['breaker'] & { threshold: number; cooldown_remaining_seconds: number | null };
  last_execution_at: string | null;
  last_outcome: TargetState['last_outcome'];
  backlog: Pick<TargetState['backlog'], 'state' | 'synced_at' | 'etag' | 'error'>;
  recent_attempts: TargetState['recent_attempts'];
  policy: EffectivePolicy;
  /** `.leviathan/contract.yaml`'s documented fields as bounded plain text; null when there is none (or it was refused). */
  contract: ContractView | null;
  /** Why contract.yaml was refused (`.leviathan/contract.yaml line N: reason`); null when it was not. Informational: the status ignores it. */
  contract_error: string | null;
}

/** Effective policy of a target: defaults < ConfigMap < backlog max_open_prs < policy.yaml. */
export function policyOf(state: ProjectionState, t: TargetState): EffectivePolicy {
  return targetPolicy(state.autonomy.global_defaults, t);
}

/**
 * The same as {@link policyOf} with the global defaults given explicitly: the scheduler passes
 * the ConfigMap it has just read, which the projection only learns from its cycle_started.
 */
export function targetPolicy(globalDefaults: Record<string, unknown>, t: Pick<TargetState, 'backlog'>): EffectivePolicy {
  return effectivePolicy({
    global: globalDefaults as Parameters<typeof effectivePolicy>[0]['global'],
    policyFile: t.backlog.policy_file as Parameters<typeof effectivePolicy>[0]['policyFile'],
    backlogMaxOpenPrs: t.backlog.backlog_max_open_prs ?? undefined,
  });
}

/** Is the breaker open at `now`? It closes by itself when the cooldown has passed. */
export function breakerOpen(t: TargetState, now: Date): boolean {
  return t.breaker.open && t.breaker.cooldown_until !== null && Date.parse(t.breaker.cooldown_until) > now.getTime();
}

/** Tasks with what Leviathan knows of them, in selection order (priority, then file order). */
const PRIORITY_RANK: Record<string, number> = { high: 0, medium: 1, low: 2 };

/**
 * Has the task used its tries? A failure recorded and as many tries as the limit: taskViews'
 * `failed`, and the selection guard's max_attempts_reached (decide), so the guard refuses exactly
 * what the decision would not have picked.
 */
export function triesUsed(p: TaskProgress | undefined, maxAttempts: number): p is TaskProgress & { last_failure: NonNullable<TaskProgress['last_failure']> } {
  return p !== undefined && p.last_failure !== null && p.attempts >= maxAttempts;
}

/** Indices of `tasks` in the scheduler's selection order: priority (anything unknown as medium), then file order. */
export function selectionOrder(tasks: readonly TaskSummary[]): number[] {
  return tasks.map((_, i) => i).sort((a, b) => (PRIORITY_RANK[tasks[a]!.priority] ?? 1) - (PRIORITY_RANK[tasks[b]!.priority] ?? 1) || a - b);
}

export function taskViews(t: TargetState, policy: EffectivePolicy): TaskView[] {
  const byId = new Map(t.backlog.tasks.map((task) => [task.id, task]));
  const completed = (id: string): boolean => {
    const task = byId.get(id);
    return task?.status === 'completed' || (t.tasks[id]?.merged_pr ?? null) !== null;
  };
  // Usually a done task the owner deleted from the file. A removed task whose PR is open or whose
  // attempt is running may still merge, so that one is only waited on.
  const unknown = (id: string): boolean => {
    if (byId.has(id)) return false;
    const p = t.tasks[id];
    return !p || (p.merged_pr === null && p.open_pr === null && p.in_flight_attempt === null);
  };
  const ordered = selectionOrder(t.backlog.tasks).map((i) => t.backlog.tasks[i]!);
  return ordered.map((task) => {
    const p = t.tasks[task.id];
    const unmet = (task.dependencies ?? []).filter((dep) => !completed(dep));
    const missing = unmet.filter(unknown);
    const attempts = p?.attempts ?? 0;
    let state: TaskState;
    let explanation: string;
    if (completed(task.id)) {
      state = 'completed';
      explanation = p?.merged_pr ? `Completed: PR #${p.merged_pr} merged.` : 'Completed.';
    } else if (p?.open_pr) {
      state = 'pr_open';
      explanation = `PR #${p.open_pr} is open; waiting for it to be merged or closed.`;
    } else if (p?.in_flight_attempt) {
      state = 'running';
      explanation = `Attempt ${p.in_flight_attempt} is running.`;
    } else if (triesUsed(p, policy.max_attempts_per_task)) {
      state = 'failed';
      explanation = `Failed after ${attempts} attempts (last: ${p.last_failure.failure_type}).`;
    } else if (!task.ready) {
      state = 'not_ready';
      explanation = 'Not ready: set ready: true in the backlog.';
    } else if (task.status !== 'pending') {
      state = 'not_pending';
      explanation = `Status is ${task.status}; only pending tasks run.`;
    } else if (unmet.length > 0) {
      state = 'waiting_on_dependencies';
      explanation = waitingExplanation(unmet, missing);
    } else {
      state = 'ready';
      explanation = 'Ready to run at the next cycle.';
    }
    return {
      ...task,
      state,
      explanation,
      attempts,
      last_failure: p?.last_failure ?? null,
      open_pr: p?.open_pr ?? null,
      unmet_dependencies: unmet,
      unknown_dependencies: missing,
    };
  });
}

/** "Waiting on X" would send the owner after a task that does not exist, so those are named apart. */
function waitingExplanation(unmet: readonly string[], missing: readonly string[]): string {
  const known = unmet.filter((d) => !missing.includes(d));
  if (missing.length === 0) return `Waiting on ${known.join(', ')}.`;
  const s = missing.length === 1 ? '' : 's';
  const head = `Depends on unknown task${s} ${missing.join(', ')}: not in the backlog and no merged PR; fix the dependencies.`;
  return known.length > 0 ? `${head} Also waiting on ${known.join(', ')}.` : head;
}

/**
 * The status of one target at `now`, with the reason and the operator's action. What the log
 * shows directly (pause, autonomy, open PRs, breaker, backlog) is judged here; what only the
 * scheduler can see (GitHub auth, executor errors) comes from its last recorded outcome.
 */
export function targetView(state: ProjectionState, t: TargetState, now: Date): TargetView {
  const policy = policyOf(state, t);
  const tasks = taskViews(t, policy);
  const ready = tasks.filter((x) => x.state === 'ready' || x.state === 'waiting_on_dependencies');
  const runnable = tasks.filter((x) => x.state === 'ready');
  const running = tasks.filter((x) => x.state === 'running');
  const max = policy.max_open_prs;
  const open = t.open_prs.length;
  const brk = breakerOpen(t, now);
  const cooldownRemaining = brk ? Math.max(0, Math.round((Date.parse(t.breaker.cooldown_until!) - now.getTime()) / 1000)) : null;
  const last = t.last_outcome;

  const judge = (): Pick<TargetView, 'status' | 'reason' | 'headline' | 'action'> => {
    if (t.lifecycle !== 'active') {
      return {
        status: 'paused',
        reason: t.lifecycle === 'suspended' ? 'target_suspended' : 'target_removed',
        headline: t.lifecycle === 'suspended' ? 'The GitHub App installation is suspended.' : 'The GitHub App was removed from this repository.',
        action: 'Unsuspend or reinstall the GitHub App on this repository.',
      };
    }
    if (t.paused) {
      return {
        status: 'paused',
        reason: 'paused_by_operator',
        headline: `Paused by ${t.paused.by}${t.paused.reason ? `: ${t.paused.reason}` : ''}.`,
        action: 'Resume the target to continue execution.',
      };
    }
    if (state.autonomy.emergency_stop) {
      return {
        status: 'paused',
        reason: 'emergency_stop',
        headline: `Emergency stop by ${state.autonomy.emergency_stop.by}: the scheduler is suspended.`,
        action: 'Resume the scheduler when it is safe (leviathan ctl resume).',
      };
    }
    if (state.autonomy.enabled !== true) {
      return {
        status: 'paused',
        reason: 'autonomy_disabled',
        headline: '⚠ Autonomy disabled in configuration',
        action: 'Set autonomy_enabled: true (leviathan ctl autonomy on) to resume execution.',
      };
    }
    if (t.backlog.state === 'invalid' && t.backlog.error) {
      const e = t.backlog.error;
      return {
        status: 'error',
        reason: 'backlog_invalid',
        headline: `${e.file}${e.line ? ` line ${e.line}` : ''}: ${e.reason}`,
        action: `Fix ${e.file} and push it to ${t.default_branch}.`,
      };
    }
    if (last?.outcome === 'error') {
      return { status: 'error', reason: last.reason, headline: last.detail ?? `Scheduler error: ${last.reason}.`, action: errorAction(last.reason) };
    }
    // Where decide() checks it: before the breaker and the PR limit, which an unread backlog
    // would otherwise hide behind (webhooks can report PRs before any backlog is read).
    if (t.backlog.state === 'unknown') {
      return {
        status: 'idle',
        reason: 'backlog_not_synced',
        headline: 'No backlog read yet.',
        action: 'Add .leviathan/backlog.yaml to the default branch (or run leviathan ctl reconcile).',
      };
    }
    if (running.length > 0) {
      return { status: 'active', reason: 'attempt_in_flight', headline: `Executing ${running.map((x) => x.id).join(', ')}.`, action: null };
    }
    if (brk) {
      const minutes = Math.ceil((cooldownRemaining ?? 0) / 60);
      return {
        status: 'blocked',
        reason: 'circuit_breaker_open',
        headline: `Circuit breaker tripped after ${t.breaker.consecutive_failures} consecutive failures. Cooldown expires in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        action: 'Wait for cooldown or investigate failures (reset the breaker when fixed).',
      };
    }
    if (open >= max) {
      return {
        status: 'blocked',
        reason: 'max_open_prs',
        headline: 'Execution blocked: Max open PRs reached.',
        action: 'Merge or close PRs to resume execution.',
      };
    }
    if (runnable.length === 0) {
      const missing = [...new Set(ready.flatMap((x) => x.unknown_dependencies))];
      if (missing.length > 0) {
        const one = missing.length === 1;
        return {
          status: 'idle',
          reason: 'all_tasks_blocked_by_dependencies',
          headline: `All ready tasks wait on dependencies, some on unknown task${one ? '' : 's'} ${missing.join(', ')} (not in the backlog, no merged PR).`,
          action: `Fix the dependencies: remove ${missing.join(', ')} from them, or put ${one ? 'it' : 'them'} back in the backlog (status: completed if done).`,
        };
      }
      if (ready.length > 0) {
        return {
          status: 'idle',
          reason: 'all_tasks_blocked_by_dependencies',
          headline: 'All ready tasks wait on dependencies.',
          action: 'Complete or merge the dependencies, or remove them from the tasks.',
        };
      }
      return {
        status: 'idle',
        reason: 'no_ready_tasks',
        headline: 'No ready tasks in backlog.',
        action: 'Add tasks with ready: true to resume execution.',
      };
    }
    if (last?.outcome === 'blocked' && last.reason !== 'max_open_prs' && last.reason !== 'circuit_breaker_open') {
      return { status: 'blocked', reason: last.reason, headline: last.detail ?? `Blocked: ${last.reason}.`, action: blockedAction(last.reason) };
    }
    return { status: 'active', reason: 'ready', headline: `${runnable.length} task${runnable.length === 1 ? '' : 's'} ready to run.`, action: null };
  };

  return {
    id: t.id,
    installation_id: t.installation_id,
    default_branch: t.default_branch,
    lifecycle: t.lifecycle,
    ...judge(),
    paused: t.paused,
    open_prs: t.open_prs,
    max_open_prs: max,
    ready_tasks: ready.length,
    tasks,
    breaker: {
      ...t.breaker,
      open: brk,
      threshold: policy.circuit_breaker.consecutive_failures,
      cooldown_remaining_seconds: cooldownRemaining,
    },
    last_execution_at: t.last_execution_at,
    last_outcome: t.last_outcome,
    backlog: { state: t.backlog.state, synced_at: t.backlog.synced_at, etag: t.backlog.etag, error: t.backlog.error },
    recent_attempts: t.recent_attempts,
    policy,
    contract: contractView(t.backlog.contract),
    contract_error: contractErrorText(t.backlog.contract_error),
  };
}

/** Every target that is not removed, sorted by id. */
export function targetViews(state: ProjectionState, now: Date): TargetView[] {
  return Object.values(state.targets)
    .filter((t) => t.lifecycle !== 'removed')
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((t) => targetView(state, t, now));
}

function errorAction(reason: string): string {
  switch (reason) {
    case 'github_auth_failed':
      return 'Check the GitHub App credentials (APP_ID, PRIVATE_KEY) and that the App is installed on the repository.';
    case 'github_rate_limited':
      return "Wait for GitHub's rate limit to reset (leviathan_github_rate_limit_remaining); lower the number of targets or cycles if it recurs.";
    case 'backlog_unreadable':
      return 'Check that .leviathan/backlog.yaml exists on the default branch and the App can read contents.';
    case 'executor_failed':
      return 'Check the executor: Kubernetes API access and the worker image (kubectl -n leviathan get jobs -l app=leviathan-worker).';
    default:
      return 'See the scheduler logs (kubectl -n leviathan logs -l app=leviathan-dev-scheduler --tail=50).';
  }
}

function blockedAction(reason: string): string {
  switch (reason) {
    case 'path_lease_conflict':
      return 'Merge or close the open PR that touches the same paths.';
    case 'global_worker_cap':
      return 'Wait for running workers to finish, or raise LEVIATHAN_MAX_CONCURRENT_WORKERS.';
    case 'max_tasks_per_day':
      return 'Wait until tomorrow (UTC) or raise safety_rules.max_tasks_per_day.';
    default:
      return 'See the diagnosis for this target.';
  }
}
