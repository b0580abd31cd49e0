import type { WorkerAssignment } from '../executors/executor.ts';
import { WorkerError } from './worker-error.ts';

/**
 * The one instant by which the attempt must be over, and how it was known. Every budget of the
 * worker (the agent, git, GitHub, the final report) is measured up to it, never from the worker's
 * own start: a worker that waited for its node, or a slow clone, leaves the agent less time, not
 * the attempt more.
 */
export interface AttemptDeadline {
  /** Epoch milliseconds. */
  at: number;
  /** The attempt's planned length (`timeout_seconds`), which sizes the reserve kept after the agent. */
  totalMs: number;
  /**
   * `assignment`: the executor's `deadline_at` (its spawn or Job-creation time + timeout), the
   * deadline it enforces too; both executors give one. `worker start`: none given (only a Job
   * created before the executors set it), so the worker's own start + timeout, later than the Job's
   * real deadline by the time the pod took to start.
   */
  source: 'assignment' | 'worker start';
}

/**
 * The attempt's deadline: `deadline_at` when the executor gave one, but never later than the
 * worker's own start + `timeout_seconds` (clocks of two machines may disagree; the attempt is never
 * granted more than its timeout either way).
 */
export function attemptDeadline(a: Pick<WorkerAssignment, 'timeout_seconds' | 'deadline_at'>, startedAt: number): AttemptDeadline {
  const totalMs = a.timeout_seconds * 1000;
  const own = startedAt + totalMs;
  const given = a.deadline_at === undefined ? NaN : Date.parse(a.deadline_at);
  return Number.isFinite(given) ? { at: Math.min(given, own), totalMs, source: 'assignment' } : { at: own, totalMs, source: 'worker start' };
}

/**
 * How long the agent may run when started at `now`: up to the deadline less a reserve for the
 * steps after it (check, commit, push, pull request), a fifth of the attempt within 1 s..2 min.
 * Zero or less: no time is left for it.
 */
export function agentBudgetMs(d: AttemptDeadline, now: number): number {
  return d.at - fifthOfAttempt(d, 1_000, 120_000) - now;
}

/** A fifth of the attempt's planned length, within `min`..`max` ms. */
function fifthOfAttempt(d: AttemptDeadline, min: number, max: number): number {
  return Math.min(max, Math.max(min, d.totalMs * 0.2));
}

/** Why the worker was stopped before its attempt ended on its own. */
export type WorkerStop = { kind: 'deadline' } | { kind: 'signal'; signal: NodeJS.Signals };

/**
 * With an estimated deadline (`worker start`: only a Job created before the executors set
 * `deadline_at`), a SIGTERM this close before it is taken for the executor's own deadline
 * (Kubernetes counts activeDeadlineSeconds from the Job's start, before the pod's), so it is
 * reported as the timeout it is; at most a fifth of the attempt. A given deadline needs none.
 */
const ESTIMATE_SLACK_MS = 120_000;

/**
 * The failure a stopped attempt reports: `timeout` at (or past) its deadline, whoever noticed it
 * first (the worker's own timer, or the executor's SIGTERM sent at the same instant); before it,
 * `other` with `error_kind: worker_terminated` (an operator, a pod deleted or evicted, a control
 * plane stopping its children). Named with the step it interrupted.
 */
export function stopFailure(stop: WorkerStop, d: AttemptDeadline, now: number, step: string): WorkerError {
  const deadline = new Date(d.at).toISOString();
  if (stop.kind === 'deadline') {
    return new WorkerError('timeout', `The attempt reached its deadline (${deadline}) during ${step}; the worker stopped it`);
  }
  const slack = d.source === 'worker start' ? fifthOfAttempt(d, 0, ESTIMATE_SLACK_MS) : 0;
  if (now >= d.at - slack) {
    return new WorkerError('timeout', `The worker was stopped by ${stop.signal} at the attempt's deadline (${deadline}) during ${step}`);
  }
  return new WorkerError(
    'other',
    `The worker was stopped by ${stop.signal} during ${step}, before the attempt's deadline (${deadline}): ` +
      'the executor, Kubernetes (pod deleted or evicted) or an operator ended it',
    { error_kind: 'worker_terminated' },
  );
}
