import type { GuardrailOverrides } from '../contract/policy.ts';
import { newEvent, type NewEvent } from '../events/envelope.ts';
import { SCHEDULER_ACTOR, START_PHASE, subjects } from '../events/types.ts';
import type { WorkerRun } from '../executors/executor.ts';
import { targetPolicy } from '../projections/target-view.ts';
import type { SchedulerSnapshot } from './snapshot.ts';

/** How long past its deadline an attempt the executor does not know at all is given before it is declared lost. */
export const LOST_WORKER_GRACE_SECONDS = 120;

/** `error_kind` of a worker that ended without ever reporting attempt.started. */
export const WORKER_NOT_STARTED = 'worker_not_started';

type Failure = { failure_type: 'timeout' | 'worker_lost'; message: string; error_kind?: string; phase?: typeof START_PHASE };

/**
 * A worker that never reported attempt.started — its first act — never ran the task: its pod
 * never started (a bad image tag, nothing to schedule it on, a missing Secret) or it could not
 * reach the control plane. That fails every task alike, so like a start the executor refused it
 * is `phase: 'start'`: no try of the task and no breaker failure (evolve), rather than a
 * `timeout` that blames the task once per deadline until every task has failed for good.
 */
function notStarted(what: string, inspect?: string): Failure {
  return {
    failure_type: 'worker_lost',
    error_kind: WORKER_NOT_STARTED,
    phase: START_PHASE,
    message: `${what} without ever reporting attempt.started: the worker never started (image pull, scheduling, configuration) or could not reach the control plane. Not counted as a try.${inspect ? ` See: ${inspect}` : ''}`,
  };
}

/**
 * Attempts the control plane still believes in flight whose worker is gone without reporting:
 * the executor says the run ended (`timeout` when it hit its deadline, `worker_lost` otherwise),
 * or the executor no longer knows the run at all (a local worker outlives the process that
 * started it) and the attempt's own deadline, plus a grace, has passed. A worker that never
 * reported attempt.started is `worker_lost` with `error_kind: worker_not_started`, not counted
 * (see notStarted). Returns the attempt.failed events to record. Pure.
 *
 * The caller must list the runs *before* taking the snapshot: a worker flushes its events before
 * it exits, so any run seen as ended has its own report in the later snapshot — only a worker
 * that really never reported is declared lost. The event id is the one the worker itself would
 * use for its failure (`<attempt>:failed`), so the store keeps whichever arrives first, once.
 */
export function lostWorkerEvents(
  now: Date,
  snapshot: SchedulerSnapshot,
  runs: readonly WorkerRun[],
  opts: {
    globalDefaults: GuardrailOverrides;
    graceSeconds?: number;
    /** Judge only attempts whose run the executor knows (the control plane's periodic watch; ticks judge the rest). */
    onlyKnownRuns?: boolean;
  },
): NewEvent[] {
  const grace = (opts.graceSeconds ?? LOST_WORKER_GRACE_SECONDS) * 1000;
  const byAttempt = new Map(runs.map((r) => [r.attempt_id, r]));
  const out: NewEvent[] = [];
  for (const t of snapshot.targets) {
    const policyTimeoutMs = targetPolicy(opts.globalDefaults as Record<string, unknown>, t).attempt_timeout_minutes * 60_000;
    for (const a of t.in_flight) {
      // The deadline the executor was given at the start: a timeout the owner lowered since must
      // not declare lost a worker that may still be running. The policy's only when the log does
      // not say (an older attempt.created) or the attempt has left recent_attempts.
      const own = t.recent_attempts.find((r) => r.attempt_id === a.attempt_id)?.timeout_seconds ?? null;
      const timeoutMs = own !== null ? own * 1000 : policyTimeoutMs;
      const run = byAttempt.get(a.attempt_id);
      let failure: Failure | null = null;
      if (run && run.state !== 'running') {
        if (!a.started) failure = notStarted(`The worker (${run.handle}) ended (${run.state})`, run.inspect);
        else {
          const type = run.state === 'failed' ? (run.failure_type ?? 'worker_lost') : 'worker_lost';
          failure = {
            failure_type: type,
            message:
              type === 'timeout'
                ? `The worker (${run.handle}) was stopped at its deadline of ${Math.round(timeoutMs / 60_000)} minutes without reporting.`
                : `The worker (${run.handle}) ended (${run.state}) without reporting its result.`,
          };
        }
      } else if (!run && !opts.onlyKnownRuns && a.created_at !== null && Date.parse(a.created_at) + timeoutMs + grace < now.getTime()) {
        const gone = `The executor no longer knows the worker${a.handle ? ` (${a.handle})` : ''} and its deadline has passed`;
        failure = a.started ? { failure_type: 'worker_lost', message: `${gone} without a report.` } : notStarted(gone);
      }
      if (!failure) continue;
      // The worker's own report would carry its duration; without one, the time since the attempt
      // was created is the best there is, and without any a hard-killed worker's timeout never
      // reaches leviathan_attempt_duration_seconds.
      const createdAt = a.created_at !== null ? Date.parse(a.created_at) : NaN;
      const duration = Number.isFinite(createdAt) ? { duration_seconds: Math.max(0, Math.round((now.getTime() - createdAt) / 1000)) } : {};
      out.push(
        newEvent({
          id: `${a.attempt_id}:failed`,
          type: 'attempt.failed',
          actor: SCHEDULER_ACTOR,
          target: t.id,
          subject: subjects.attempt(a.attempt_id),
          data: { attempt_id: a.attempt_id, task_id: a.task_id, ...failure, ...duration },
        }),
      );
    }
  }
  return out;
}
