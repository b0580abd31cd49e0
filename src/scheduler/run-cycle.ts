import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { readAutonomyConfig, type AutonomyConfig, type GuardrailOverrides } from '../contract/policy.ts';
import { newEvent, type NewEvent } from '../events/envelope.ts';
import { githubRateLimitSchema, SCHEDULER_ACTOR, START_PHASE, subjects, type GitHubRateLimit } from '../events/types.ts';
import type { Executor, WorkerRun } from '../executors/executor.ts';
import { BACKLOG_MAX_AGE_MS, BacklogReadError, isStale, type BacklogRefresher } from './backlog-refresh.ts';
import { isSelectionRefused, refusalReason, type SchedulerControlPlane } from './control-plane-port.ts';
import {
  cycleCompletedEvent,
  decide,
  skippedEvent,
  type Decision,
  type ReadProblem,
  type SchedulerPolicy,
  type TargetDecision,
} from './decide.ts';
import { lostWorkerEvents } from './lost-workers.ts';
import type { SchedulerSnapshot } from './snapshot.ts';

/** What one cycle needs; every part is a port. */
export interface CycleDeps {
  controlPlane: SchedulerControlPlane;
  executor: Executor;
  clock: { now(): Date };
  logger: Logger;
  /**
   * LEVIATHAN_AUTONOMY_CONFIG. When set, the mounted ConfigMap decides (missing or unreadable:
   * off). When unset (embedded mode, no ConfigMap), the setting recorded in the control plane
   * (`ctl autonomy on|off`) decides; never set means off.
   */
  autonomyConfigPath?: string | undefined;
  /** LEVIATHAN_MAX_CONCURRENT_WORKERS. */
  maxConcurrentWorkers: number;
  /** Null: GitHub is not configured for the scheduler; the control plane's cache is used as is. */
  refresher: BacklogRefresher | null;
  backlogMaxAgeMs?: number;
  /** Cycle ids; random by default. */
  newCycleId?: () => string;
  /**
   * The process's last GitHub rate-limit reading (`lastRateLimit` of the metrics registry), reported
   * in `scheduler.cycle_completed` so the control plane can export the tick's reading after the
   * tick's process is gone. Absent or null: the event carries none.
   */
  rateLimit?: () => GitHubRateLimit | null;
}

/** How the cycle ended overall: the word of `Scheduler: Exiting cleanly (…)`. */
export type CycleVerdict = 'executed' | 'idle' | 'blocked';

/** What a cycle did: its id, its one word, and every target's outcome (after the executor's answers). */
export interface CycleResult {
  cycle_id: string;
  verdict: CycleVerdict;
  outcomes: TargetDecision[];
}

/** A cycle id that sorts by time and says when it ran: `c20261127t210946-3fa2c1`. */
export function newCycleId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase();
  return `c${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * One scheduler cycle: read the autonomy config, the executor's runs and the control plane's
 * snapshot; record lost workers; refresh stale backlogs from GitHub; decide; carry the decision
 * out; record `scheduler.cycle_completed`. Throws only when the cycle itself cannot run (the
 * control plane is unreachable); idle, blocked and per-target errors are normal results.
 */
export async function runCycle(deps: CycleDeps): Promise<CycleResult> {
  const { logger, controlPlane } = deps;
  const config = deps.autonomyConfigPath !== undefined ? await readAutonomyConfig(deps.autonomyConfigPath) : null;
  const defaults: GuardrailOverrides = config?.defaults ?? {};

  // Runs before the snapshot: see lostWorkerEvents for why the order matters.
  const runs = await listRuns(deps);
  let snapshot = await controlPlane.snapshot();
  if (runs) {
    const lost = lostWorkerEvents(deps.clock.now(), snapshot, runs, { globalDefaults: config ? defaults : (snapshot.autonomy.global_defaults as GuardrailOverrides) });
    if (lost.length > 0) {
      for (const e of lost) logger.warn({ target: e.target, attempt_id: e.data.attempt_id, failure_type: e.data.failure_type }, 'Scheduler: Worker ended without reporting');
      await controlPlane.post(lost);
      snapshot = await controlPlane.snapshot();
    }
  }

  const autonomy = autonomyPolicy(config, snapshot);
  const now = deps.clock.now();
  const readProblems: Record<string, ReadProblem> = {};
  if (autonomy.enabled && !snapshot.autonomy.emergency_stop) {
    const refreshed = await refreshBacklogs(deps, snapshot, now, readProblems);
    if (refreshed) snapshot = await controlPlane.snapshot();
  }

  const cycleId = (deps.newCycleId ?? (() => newCycleId(now)))();
  if (!autonomy.enabled) logger.warn({ cycle_id: cycleId, source: autonomy.source, problems: autonomy.problems }, '⚠ Autonomy disabled in configuration');
  const decision = decide(now, { cycle_id: cycleId, control: snapshot, read_problems: readProblems }, {
    autonomy,
    max_concurrent_workers: deps.maxConcurrentWorkers,
    executor: deps.executor.kind,
  });
  const outcomes = await carryOut(deps, decision);
  await controlPlane.post([cycleCompletedEvent(cycleId, outcomes, rateLimitReading(deps))]);
  const verdict = verdictOf(outcomes);
  return { cycle_id: cycleId, verdict, outcomes };
}

/** What a manual trigger asks for. */
export interface TriggerRequest {
  target: string;
  task_id: string;
  actor: string;
  reason?: string;
}

/**
 * Runs the decision for one task right away (POST /v1/tasks/trigger): the schedule is bypassed,
 * the guardrails are not. Returns the target's outcome: `executed` with the attempt id, or the
 * reason it is blocked. Autonomy comes from `autonomyConfig` when given — in Kubernetes the
 * ConfigMap as the API has it now, which wins as it does for the tick — else from the control
 * plane's recorded setting (embedded, where the events are the setting).
 */
export async function triggerTask(
  deps: Omit<CycleDeps, 'refresher' | 'autonomyConfigPath'> & { autonomyConfig?: () => Promise<AutonomyConfig> },
  request: TriggerRequest,
): Promise<TargetDecision> {
  const config = deps.autonomyConfig ? await deps.autonomyConfig() : null;
  const runs = await listRuns(deps);
  let snapshot = await deps.controlPlane.snapshot();
  const globalDefaults = snapshot.autonomy.global_defaults as GuardrailOverrides;
  if (runs) {
    const lost = lostWorkerEvents(deps.clock.now(), snapshot, runs, { globalDefaults });
    if (lost.length > 0) {
      await deps.controlPlane.post(lost);
      snapshot = await deps.controlPlane.snapshot();
    }
  }
  const now = deps.clock.now();
  const cycleId = (deps.newCycleId ?? (() => newCycleId(now)))();
  const decision = decide(now, { cycle_id: cycleId, control: snapshot, read_problems: {} }, {
    autonomy: autonomyPolicy(config, snapshot),
    max_concurrent_workers: deps.maxConcurrentWorkers,
    executor: deps.executor.kind,
    trigger: request,
  });
  const [outcome] = await carryOut(deps, decision);
  return (
    outcome ?? {
      target: request.target,
      outcome: 'blocked',
      reason: 'task_not_found',
      detail: `No target ${request.target}.`,
      task_id: request.task_id,
    }
  );
}

/**
 * Records the decision's events and starts its workers, in order. A worker is announced
 * (attempt.created) only after the executor accepted it; when the executor refuses, the attempt
 * fails with `executor_failed` and the target's outcome becomes error executor_failed — or, when
 * no GitHub token could be had for the worker, `auth_error` and error github_auth_failed. Such a
 * failure is marked `phase: 'start'`: no worker ran, so it costs no try of the task, no task of
 * the day and no breaker failure.
 */
export async function carryOut(deps: Pick<CycleDeps, 'controlPlane' | 'executor' | 'logger'>, decision: Decision): Promise<TargetDecision[]> {
  const { controlPlane, executor, logger } = deps;
  const outcomes = decision.outcomes.map((o) => ({ ...o }));
  const pending: NewEvent[] = [];
  const flush = async () => {
    await controlPlane.post(pending.splice(0));
  };
  for (const o of outcomes) logOutcome(logger, o);
  for (const action of decision.actions) {
    switch (action.kind) {
      case 'record':
        pending.push(action.event);
        break;
      case 'start_worker': {
        const a = action.assignment;
        const base = { attempt_id: a.attempt_id, task_id: a.task.id };
        // The selection goes alone and first: the control plane refuses it when the task was
        // started meanwhile (a trigger, another tick), and then no second worker may start.
        const selection = pending.findIndex((e) => e.type === 'task.selected' && e.data.attempt_id === a.attempt_id);
        const [selected] = selection >= 0 ? pending.splice(selection, 1) : [];
        await flush();
        if (selected) {
          try {
            await controlPlane.post([selected]);
          } catch (err) {
            if (!isSelectionRefused(err)) throw err;
            const o = outcomes.find((x) => x.attempt_id === a.attempt_id);
            logger.warn({ target: a.target, ...base, error: (err as Error).message }, 'Scheduler: Skipping task selection');
            if (o) {
              Object.assign(o, { outcome: 'blocked', reason: refusalReason(err), detail: (err as Error).message });
              pending.push(skippedEvent(decision.cycle_id, o));
            }
            break;
          }
        }
        try {
          const { handle } = await executor.start(a);
          logger.info({ target: a.target, ...base, executor: executor.kind, handle }, 'Scheduler: Worker started');
          pending.push(
            newEvent({
              id: `${a.attempt_id}:created`,
              type: 'attempt.created',
              actor: SCHEDULER_ACTOR,
              target: a.target,
              subject: subjects.attempt(a.attempt_id),
              data: { ...base, executor: executor.kind, handle, timeout_seconds: a.timeout_seconds },
            }),
          );
        } catch (err) {
          const message = (err as Error).message ?? String(err);
          // No GitHub token for the worker (App uninstalled, key revoked) is a credentials problem, not the executor's.
          const auth = (err as { code?: unknown }).code === 'github_auth_failed';
          // The operator document's line, its parenthesis a category (`API error`); the message goes in `error`.
          const category = auth ? 'auth error' : executor.kind === 'kubernetes' ? 'API error' : 'executor error';
          logger.error({ target: a.target, ...base, executor: executor.kind, error: message }, `Scheduler: Failed to submit job (${category})`);
          const o = outcomes.find((x) => x.attempt_id === a.attempt_id);
          if (o) {
            Object.assign(
              o,
              auth
                ? { outcome: 'error', reason: 'github_auth_failed', detail: message }
                : { outcome: 'error', reason: 'executor_failed', detail: `The executor could not start the worker: ${message}` },
            );
          }
          pending.push(
            newEvent({
              id: `${a.attempt_id}:failed`,
              type: 'attempt.failed',
              actor: SCHEDULER_ACTOR,
              target: a.target,
              subject: subjects.attempt(a.attempt_id),
              data: { ...base, failure_type: auth ? 'auth_error' : 'executor_failed', phase: START_PHASE, message: message.slice(0, 4000) },
            }),
          );
          if (o) pending.push(skippedEvent(decision.cycle_id, o));
        }
        break;
      }
      default: {
        const never: never = action;
        throw new Error(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }
  await flush();
  return outcomes;
}

/** The cycle's one word: any execution, else anything in the way (blocked or error), else idle. */
export function verdictOf(outcomes: readonly TargetDecision[]): CycleVerdict {
  if (outcomes.some((o) => o.outcome === 'executed')) return 'executed';
  if (outcomes.some((o) => o.outcome === 'blocked' || o.outcome === 'error')) return 'blocked';
  return 'idle';
}

/** The operator document's log lines, word for word where it gives them. */
function logOutcome(logger: Logger, o: TargetDecision): void {
  const meta = { target: o.target, outcome: o.outcome, reason: o.reason, ...(o.task_id ? { task_id: o.task_id } : {}) };
  switch (o.outcome) {
    case 'executed':
      logger.info({ ...meta, attempt_id: o.attempt_id }, `Scheduler: Selected task ${o.task_id}`);
      return;
    case 'idle':
      if (o.reason === 'no_ready_tasks') logger.info({ ...meta, detail: o.detail }, 'Scheduler: No ready tasks found in backlog');
      else if (o.reason === 'backlog_not_synced') logger.info({ ...meta, detail: o.detail }, 'Scheduler: No backlog read yet');
      else logger.info({ ...meta, detail: o.detail }, 'Scheduler: All ready tasks are blocked by dependencies');
      return;
    case 'blocked':
      if (o.reason === 'max_open_prs') logger.warn({ ...meta, open_prs: o.open_prs, max_open_prs: o.max_open_prs }, `Scheduler: Max open PRs reached (${o.open_prs}/${o.max_open_prs})`);
      else if (o.reason === 'circuit_breaker_open' && o.cooldown_until) logger.warn({ ...meta, cooldown_until: o.cooldown_until }, `Scheduler: Circuit breaker open until ${o.cooldown_until}`);
      else if (o.reason === 'circuit_breaker_open') logger.warn({ ...meta, detail: o.detail }, 'Scheduler: Circuit breaker half-open, waiting for the probe attempt');
      else logger.warn({ ...meta, detail: o.detail }, `Scheduler: Blocked (${o.reason})`);
      logger.warn(meta, 'Scheduler: Skipping task selection');
      return;
    case 'paused':
      // autonomy_disabled is said once per cycle, not once per target.
      if (o.reason !== 'autonomy_disabled') logger.info({ ...meta, detail: o.detail }, 'Scheduler: Target paused');
      return;
    case 'error':
      logger.error({ ...meta, detail: o.detail }, `Scheduler: Cannot execute (${o.reason})`);
      return;
    default: {
      const never: never = o.outcome;
      throw new Error(`unknown outcome ${String(never)}`);
    }
  }
}

function autonomyPolicy(config: AutonomyConfig | null, snapshot: SchedulerSnapshot): SchedulerPolicy['autonomy'] {
  if (config) return { enabled: config.enabled, source: 'config', problems: config.problems, defaults: config.defaults };
  return {
    enabled: snapshot.autonomy.enabled === true,
    source: 'control_plane',
    problems: snapshot.autonomy.enabled === null ? ['autonomy has never been enabled (leviathan ctl autonomy on)'] : [],
    defaults: snapshot.autonomy.global_defaults as GuardrailOverrides,
  };
}

/**
 * The port's reading when it is one the event schema accepts; otherwise none, so an odd header
 * (a negative count, say) can never cost the cycle its completion event.
 */
function rateLimitReading(deps: Pick<CycleDeps, 'rateLimit' | 'logger'>): GitHubRateLimit | null {
  const reading = deps.rateLimit?.() ?? null;
  if (reading === null) return null;
  const parsed = githubRateLimitSchema.safeParse({ remaining: reading.remaining, limit: reading.limit, reset: reading.reset });
  if (parsed.success) return { remaining: parsed.data.remaining, limit: parsed.data.limit, reset: parsed.data.reset };
  deps.logger.debug({ reading }, 'Scheduler: GitHub rate-limit reading not reported (malformed)');
  return null;
}

async function listRuns(deps: Pick<CycleDeps, 'executor' | 'logger'>): Promise<WorkerRun[] | null> {
  try {
    return await deps.executor.list();
  } catch (err) {
    // Without the executor's view nothing can be declared lost; starting will report the problem.
    deps.logger.warn({ executor: deps.executor.kind, error: (err as Error).message }, 'Scheduler: Cannot list workers');
    return null;
  }
}

/** Re-reads stale backlogs; returns true when events were recorded. Failures become read problems (fail closed). */
async function refreshBacklogs(deps: CycleDeps, snapshot: SchedulerSnapshot, now: Date, problems: Record<string, ReadProblem>): Promise<boolean> {
  const events: NewEvent[] = [];
  for (const t of snapshot.targets) {
    if (t.lifecycle !== 'active' || t.paused || !isStale(t, now, deps.backlogMaxAgeMs ?? BACKLOG_MAX_AGE_MS)) continue;
    if (!deps.refresher) {
      // Webhooks keep the cache current; without App credentials the scheduler cannot do better.
      deps.logger.debug({ target: t.id, synced_at: t.backlog.synced_at }, 'Scheduler: Backlog cache is stale and GitHub is not configured');
      continue;
    }
    try {
      const e = await deps.refresher.refresh(t);
      if (e) events.push(e);
    } catch (err) {
      const problem: ReadProblem =
        err instanceof BacklogReadError ? { reason: err.reason, detail: err.message } : { reason: 'backlog_unreadable', detail: (err as Error).message };
      problems[t.id] = problem;
    }
  }
  if (events.length === 0) return false;
  await deps.controlPlane.post(events);
  return true;
}
