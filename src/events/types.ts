import { z } from 'zod';

/**
 * The vocabulary: every event type Leviathan itself writes, with the shape of its `data`.
 * Known types are validated at the edge (POST /v1/events) so projections can trust them; unknown
 * types are stored and shown, never dropped.
 */

const attemptId = z.string().min(1).max(200);
const taskId = z.string().min(1).max(200);
const prNumber = z.number().int().positive();

/** Actor of every event the scheduler writes (and of the failures an emergency stop records). */
export const SCHEDULER_ACTOR = 'scheduler';

/**
 * `phase` of an `attempt.failed` that is no verdict on the task (evolve counts it as no try and no
 * breaker failure, and only from SCHEDULER_ACTOR): the worker never ran it…
 */
export const START_PHASE = 'start';
/** …or an operator's emergency stop deleted its worker. */
export const EMERGENCY_STOP_PHASE = 'emergency_stop';

/** Why a target did not execute this cycle (DESIGN §5). */
export const SKIP_REASONS = [
  'no_ready_tasks',
  'backlog_not_synced',
  'all_tasks_blocked_by_dependencies',
  'max_open_prs',
  'circuit_breaker_open',
  'attempt_in_flight',
  'path_lease_conflict',
  'global_worker_cap',
  'max_tasks_per_day',
  'paused_by_operator',
  'autonomy_disabled',
  'target_suspended',
  'backlog_invalid',
  'backlog_unreadable',
  'github_auth_failed',
  'github_rate_limited',
  'executor_failed',
  'task_not_found',
  'task_not_eligible',
  'max_attempts_reached',
  'emergency_stop',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** The one outcome of a target in a scheduler cycle. */
export const OUTCOMES = ['executed', 'idle', 'blocked', 'paused', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const FAILURE_TYPES = [
  'timeout',
  'path_violation',
  'auth_error',
  'agent_error',
  'push_rejected',
  'no_changes',
  'worker_lost',
  'control_plane_unreachable',
  'executor_failed',
  'other',
] as const;
export type FailureType = (typeof FAILURE_TYPES)[number];

const taskSummary = z
  .object({
    id: taskId,
    title: z.string(),
    priority: z.string(),
    ready: z.boolean(),
    status: z.string(),
    dependencies: z.array(z.string()),
    allowed_paths: z.array(z.string()),
    scope: z.string().optional(),
    line: z.number().int().optional(),
  })
  .passthrough();
export type TaskSummary = z.infer<typeof taskSummary>;

/**
 * A GitHub rate-limit reading (`x-ratelimit-remaining`, `-limit`, `-reset`; reset in Unix seconds,
 * null when GitHub sent none), as `scheduler.cycle_completed` carries the tick's last one: the
 * CronJob's process ends with the cycle, so the log is where the control plane learns it.
 */
export const githubRateLimitSchema = z
  .object({
    remaining: z.number().finite().nonnegative(),
    limit: z.number().finite().positive(),
    reset: z.number().finite().nonnegative().nullable(),
  })
  .passthrough();
export interface GitHubRateLimit {
  remaining: number;
  limit: number;
  reset: number | null;
}

export const eventDataSchemas = {
  'target.registered': z
    .object({ installation_id: z.number().int().nullable().optional(), default_branch: z.string().optional() })
    .passthrough(),
  'target.removed': z.object({}).passthrough(),
  'target.suspended': z.object({}).passthrough(),
  'target.unsuspended': z.object({}).passthrough(),
  'target.paused': z.object({ reason: z.string().min(1).max(2000) }).passthrough(),
  'target.resumed': z.object({ reason: z.string().max(2000).optional() }).passthrough(),
  'backlog.synced': z
    .object({
      tasks: z.array(taskSummary),
      etag: z.string().nullable().optional(),
      commit: z.string().optional(),
      /** policy.yaml values found (partial), so projections can compute the effective policy. */
      policy_file: z.record(z.unknown()).optional(),
      backlog_max_open_prs: z.number().int().nonnegative().optional(),
      contract: z.record(z.unknown()).optional(),
    })
    .passthrough(),
  'backlog.invalid': z
    .object({ file: z.string(), line: z.number().int().nullable(), reason: z.string() })
    .passthrough(),
  'task.selected': z.object({ task_id: taskId, attempt_id: attemptId, trigger: z.string().optional() }).passthrough(),
  'task.skipped': z
    .object({
      outcome: z.enum(['idle', 'blocked', 'paused', 'error']),
      reason: z.string(),
      detail: z.string().optional(),
      task_id: taskId.optional(),
    })
    .passthrough(),
  'task.triggered': z.object({ task_id: taskId, reason: z.string().max(2000).optional() }).passthrough(),
  'attempt.created': z
    .object({ attempt_id: attemptId, task_id: taskId, executor: z.string().optional(), handle: z.string().optional() })
    .passthrough(),
  'attempt.started': z.object({ attempt_id: attemptId, task_id: taskId.optional() }).passthrough(),
  /** The worker began a step (clone repository, run agent, …), named as its log lines name it. */
  'attempt.step': z.object({ attempt_id: attemptId, task_id: taskId.optional(), step: z.string().min(1).max(100) }).passthrough(),
  'attempt.succeeded': z
    .object({ attempt_id: attemptId, task_id: taskId.optional(), pr_number: prNumber.optional(), duration_seconds: z.number().optional() })
    .passthrough(),
  'attempt.failed': z
    .object({
      attempt_id: attemptId,
      task_id: taskId.optional(),
      failure_type: z.string().min(1).max(100),
      /**
       * The step that failed, as the worker's `Worker: Failed to <step> (<cause>)` line names it
       * ("push branch"). Free text, not a list: a worker with a new step must not have its
       * failure refused. Absent from the scheduler's and the sweep's, and from older workers'.
       */
      step: z.string().min(1).max(100).optional(),
      message: z.string().max(4000).optional(),
      duration_seconds: z.number().optional(),
    })
    .passthrough(),
  /**
   * The control plane minted a fresh GitHub token for a running attempt's worker (its first one
   * expires after an hour). Only when and until when: never the token.
   */
  'attempt.token_refreshed': z.object({ attempt_id: attemptId, task_id: taskId.optional(), expires_at: z.string().datetime({ offset: true }) }).passthrough(),
  'pr.created': z
    .object({
      number: prNumber,
      url: z.string().optional(),
      title: z.string().optional(),
      branch: z.string().optional(),
      attempt_id: attemptId.optional(),
      task_id: taskId.optional(),
    })
    .passthrough(),
  'pr.observed': z.object({ number: prNumber, url: z.string().optional(), title: z.string().optional() }).passthrough(),
  'pr.merged': z.object({ number: prNumber }).passthrough(),
  'pr.closed': z.object({ number: prNumber }).passthrough(),
  'pr.reopened': z.object({ number: prNumber }).passthrough(),
  'scheduler.cycle_started': z
    .object({
      cycle_id: z.string(),
      autonomy_enabled: z.boolean().optional(),
      global_defaults: z.record(z.unknown()).optional(),
    })
    .passthrough(),
  'scheduler.cycle_completed': z
    .object({
      cycle_id: z.string(),
      outcomes: z.record(z.string()).optional(),
      /** The scheduler process's last GitHub rate-limit reading; absent when it has none. */
      github_rate_limit: githubRateLimitSchema.optional(),
    })
    .passthrough(),
  'circuit_breaker.tripped': z
    .object({ consecutive_failures: z.number().int(), cooldown_until: z.string() })
    .passthrough(),
  'circuit_breaker.reset': z.object({ reason: z.string().optional() }).passthrough(),
  'autonomy.enabled': z.object({ reason: z.string().max(2000).optional(), source: z.string().optional() }).passthrough(),
  'autonomy.disabled': z.object({ reason: z.string().max(2000).optional(), source: z.string().optional() }).passthrough(),
  /** Emergency stop: the scheduler CronJob suspended (Kubernetes) or the local scheduler told to stand still. */
  'scheduler.emergency_stopped': z
    .object({
      reason: z.string().max(2000).optional(),
      /** Worker Jobs deleted with the stop (`--delete-jobs`); empty when none were asked for or found. */
      deleted_jobs: z.array(z.string()).optional(),
      delete_running_jobs: z.boolean().optional(),
      /** The CronJob suspended; absent in embedded mode. */
      cronjob: z.string().optional(),
      via: z.string().optional(),
    })
    .passthrough(),
  'scheduler.emergency_resumed': z
    .object({ reason: z.string().max(2000).optional(), cronjob: z.string().optional(), via: z.string().optional() })
    .passthrough(),
  'command.received': z
    .object({
      command: z.string(),
      args: z.array(z.string()).optional(),
      allowed: z.boolean(),
      /** The comment the command came from (slash commands). */
      comment_url: z.string().optional(),
      /** `owner/repo` the comment was on; set even when the repository is not a target (then `target` is null). */
      repository: z.string().optional(),
      /** The commenter's permission on the repository, when the command needed one. */
      permission: z.string().optional(),
    })
    .passthrough(),
  /**
   * A slash command was answered on GitHub (github/handlers/issue-comment.ts), subject the action
   * node of its command.received. Its absence after command.received means the handling broke off
   * and a redelivery finishes it.
   */
  'command.completed': z
    .object({
      command: z.string(),
      /** `owner/repo` the comment was on (`target` is null when it is not a target). */
      repository: z.string(),
      allowed: z.boolean(),
      /** Whether the command did what was asked (a refusal or a no-op is false). */
      ok: z.boolean(),
      /** How the commenter was answered: a comment (and reaction), a reaction only, or nothing (cooldown). */
      answer: z.enum(['comment', 'reaction', 'none']),
    })
    .passthrough(),
  /** An operator proposed a policy.yaml change: Leviathan opened a pull request for it (console/policy-proposal.ts). */
  'policy.change_proposed': z
    .object({
      reason: z.string().min(1).max(2000),
      /** Where it was proposed from. */
      via: z.enum(['api', 'console', 'ctl']),
      pr_number: prNumber,
      pr_url: z.string(),
      branch: z.string(),
    })
    .passthrough(),
  /** A console session signed out; every replica refuses its cookie from then on (see SessionStore). */
  'console.signed_out': z
    .object({
      /** sessionKey(session id): a digest, never the id itself. */
      session: z.string().regex(/^[0-9a-f]{32}$/),
      /** When the session would have expired; the sign-out is forgotten after it. */
      expires_at: z.string().datetime(),
    })
    .passthrough(),
} as const;

export type KnownEventType = keyof typeof eventDataSchemas;

/** Operator actions: shown in the audit view and as `action` nodes of the graph. */
export const OPERATOR_ACTION_TYPES: readonly string[] = [
  'target.paused',
  'target.resumed',
  'task.triggered',
  'circuit_breaker.reset',
  'autonomy.enabled',
  'autonomy.disabled',
  'scheduler.emergency_stopped',
  'scheduler.emergency_resumed',
  'command.received',
  'policy.change_proposed',
];

export function isKnownType(type: string): type is KnownEventType {
  return Object.prototype.hasOwnProperty.call(eventDataSchemas, type);
}

/** Node ids of the graph are event subjects; these build them in one place. */
export const subjects = {
  target: (target: string) => `target:${target}`,
  task: (target: string, taskId: string) => `task:${target}/${taskId}`,
  attempt: (attemptId: string) => `attempt:${attemptId}`,
  pr: (target: string, n: number) => `pr:${target}#${n}`,
  action: (eventId: string) => `action:${eventId}`,
};
