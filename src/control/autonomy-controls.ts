import { readAutonomyConfig, type AutonomyConfig } from '../contract/policy.ts';
import { newEvent, type NewEvent, type StoredEvent } from '../events/envelope.ts';
import { EMERGENCY_STOP_PHASE, SCHEDULER_ACTOR, subjects } from '../events/types.ts';
import type { AutonomyConfigMap, ClusterControls, SchedulerCronJobState } from '../kubernetes/cluster-controls.ts';
import { workerJobName } from '../kubernetes/labels.ts';
import type { Projector } from '../projections/projector.ts';
import type { AutonomyState, ProjectionState } from '../projections/state.ts';
import type { EventStore } from '../store/event-store.ts';
import { nextCronTime } from './cron-next.ts';
import { OperationError } from './operation-error.ts';
import { append, type Channel } from './target-controls.ts';

/** The cluster the control plane steers, with the names the operator document uses. */
export interface ClusterBinding {
  controls: ClusterControls;
  /** LEVIATHAN_NAMESPACE. */
  namespace: string;
  /** LEVIATHAN_SCHEDULER_CRONJOB, `leviathan-dev-scheduler` by default. */
  cronJob: string;
  /** `leviathan-autonomy-config`. */
  configMap: string;
}

/** How the global controls are wired: to a cluster (`LEVIATHAN_EXECUTOR=kubernetes`) or embedded. */
export interface OperatorControlOptions {
  /** Null in embedded mode: the events alone are the setting. */
  cluster: ClusterBinding | null;
  /** Embedded mode: when the in-process scheduler loop runs next, if there is one. */
  nextLocalTick?: () => Date | null;
  /**
   * Embedded mode with LEVIATHAN_AUTONOMY_CONFIG set: the file (or mounted directory) that the
   * in-process scheduler and triggers read. It is then the switch: the status reports it (drift
   * when the log says otherwise) and `setAutonomy` refuses to record a setting nothing would read.
   * Never set with a cluster (main.ts), so its presence alone means embedded mode.
   */
  autonomyFile?: string;
}

/**
 * A global control refused, having recorded nothing: `managed_by_file` (the switch is a file the
 * API does not write) or `already_stopped` (an emergency stop stands). The API answers 409 with
 * `details` (api/routes/autonomy.ts).
 */
export class AutonomyRefusal extends Error {
  constructor(
    readonly code: 'managed_by_file' | 'already_stopped',
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AutonomyRefusal';
  }
}

/** `autonomy_enabled: true` as the file says it, or why the file cannot be used. */
function fileSays(path: string, file: AutonomyConfig): string {
  return file.problems.length > 0 ? `${path} cannot be used (${file.problems.join('; ')})` : `${path} says autonomy_enabled: ${file.enabled}`;
}

/** What the autonomy controls need: the log, its projection, the clock and the cluster (if any). */
export interface AutonomyControlDeps extends OperatorControlOptions {
  store: EventStore;
  projector: Projector;
  clock: { now(): Date };
}

/** Who asks, why, and through which channel; recorded on the event. */
export interface Request {
  actor: string;
  reason: string;
  via: Channel;
}

/**
 * One change at a time per process: two concurrent toggles must reach the ConfigMap and the log
 * in the same order, or the log's last word would contradict the cluster. Across replicas the
 * ConfigMap stays the source of truth, so a race there is visible (drift) rather than hidden.
 */
let queue: Promise<unknown> = Promise.resolve();
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

/** The result of turning autonomy on or off. */
export interface AutonomyChange {
  event: StoredEvent;
  /** The ConfigMap after the patch; absent in embedded mode. */
  configmap?: AutonomyConfigMap;
}

/**
 * Turns autonomy on or off. In Kubernetes the ConfigMap is merge-patched first (it is what the
 * scheduler reads and what `kubectl edit` changes), and the event records that it was; if the
 * patch fails nothing is recorded. Embedded, the event is the setting (source `settings`): every
 * replica and every replay of the log agree on it, which a side document could not promise.
 * Embedded with LEVIATHAN_AUTONOMY_CONFIG, the file is what the scheduler and triggers read, so
 * the change is refused (`managed_by_file`), naming the file to edit: an event would change the
 * status and nothing else.
 */
export function setAutonomy(deps: AutonomyControlDeps, enabled: boolean, req: Request): Promise<AutonomyChange> {
  return serialized(async () => {
    const type = enabled ? 'autonomy.enabled' : 'autonomy.disabled';
    if (deps.autonomyFile !== undefined) {
      const path = deps.autonomyFile;
      const file = await readAutonomyConfig(path);
      // An unusable file is off (each problem says so), as the scheduler reads it.
      const what =
        file.enabled === enabled
          ? file.problems.length > 0
            ? `and ${fileSays(path, file)}.`
            : `and it already says autonomy_enabled: ${enabled}.`
          : `and ${fileSays(path, file)}. To turn autonomy ${enabled ? 'on' : 'off'}, set autonomy_enabled: ${enabled} in ${path}; it is read at every scheduler cycle and trigger.`;
      throw new AutonomyRefusal(
        'managed_by_file',
        `Autonomy is managed by ${path} (LEVIATHAN_AUTONOMY_CONFIG), which the scheduler and triggers read, ${what} Nothing was recorded.`,
        { path, file_enabled: file.enabled, requested_enabled: enabled, ...(file.problems.length > 0 ? { problems: file.problems } : {}) },
      );
    }
    if (!deps.cluster) {
      const event = await append(deps, newEvent({ type, actor: req.actor, data: { reason: req.reason, source: 'settings', via: req.via } }));
      return { event };
    }
    const { controls, configMap } = deps.cluster;
    const cm = await controls.setAutonomyEnabled(enabled, { actor: req.actor, reason: req.reason, at: deps.clock.now() });
    const event = await append(
      deps,
      newEvent({
        type,
        actor: req.actor,
        data: {
          reason: req.reason,
          source: 'configmap',
          via: req.via,
          configmap: configMap,
          ...(cm.resourceVersion ? { resource_version: cm.resourceVersion } : {}),
        },
      }),
    );
    return { event, configmap: cm };
  });
}

/** The result of an emergency stop. */
export interface EmergencyStopResult {
  event: StoredEvent;
  cronjob?: SchedulerCronJobState;
  deleted_jobs: string[];
  /** Attempts in flight whose worker Job the stop deleted: ended, not counted against their tasks. */
  cancelled_attempts: string[];
  /** Things the operator should know that did not stop the stop (a failed Job deletion, embedded mode). */
  warnings: string[];
}

/**
 * The attempt.failed ending each attempt in flight whose worker Job the stop deleted. The
 * operator stopped it, the agent did not fail: `phase: emergency_stop` makes it no try of the
 * task and no breaker failure (evolve), as a start the executor refused is none. Without it the
 * attempt stayed in flight until its deadline and was then declared `worker_lost` — a try and a
 * breaker failure for every task the operator's own stop interrupted. Recorded as the
 * scheduler's word (evolve trusts no one else to take a failure back; who stopped it is in
 * `stopped_by`), with the id the worker would use for its failure (`<attempt>:failed`), so a late
 * report of the same attempt is a duplicate, whichever comes first. Jobs are matched by the name
 * the executor derives from the attempt, which the log has from the selection on, before any
 * attempt.created. Pure.
 */
export function stoppedAttemptEvents(state: ProjectionState, deletedJobs: readonly string[], stop: { actor: string; reason: string }): NewEvent[] {
  const deleted = new Set(deletedJobs);
  const out: NewEvent[] = [];
  for (const t of Object.values(state.targets)) {
    for (const [taskId, p] of Object.entries(t.tasks)) {
      const attemptId = p.in_flight_attempt;
      const job = attemptId ? workerJobName(attemptId) : null;
      if (!attemptId || !job || !deleted.has(job)) continue;
      out.push(
        newEvent({
          id: `${attemptId}:failed`,
          type: 'attempt.failed',
          actor: SCHEDULER_ACTOR,
          target: t.id,
          subject: subjects.attempt(attemptId),
          data: {
            attempt_id: attemptId,
            task_id: taskId,
            failure_type: 'other',
            error_kind: 'cancelled',
            phase: EMERGENCY_STOP_PHASE,
            stopped_by: stop.actor,
            message: `Cancelled by the emergency stop of ${stop.actor}${stop.reason ? ` (${stop.reason})` : ''}: its worker Job ${job} was deleted. Not counted as a try.`.slice(0, 4000),
          },
        }),
      );
    }
  }
  return out;
}

/**
 * Emergency stop: suspends the scheduler CronJob (no new scheduler pods) and, when asked, deletes
 * the worker Jobs still running (propagationPolicy Background) and ends their attempts without
 * counting them (stoppedAttemptEvents), in the same append as the stop. Embedded, the event alone
 * stops the local scheduler: `decide` skips every target while `state.autonomy.emergency_stop` is
 * set, and local workers run on (and report) as before. A failed Job deletion after a successful
 * suspend is still recorded as a stop — the scheduler *is* stopped — with the failure in
 * `delete_error` and the answer's warnings.
 *
 * While a stop stands (recorded, and in Kubernetes the CronJob still suspended) a second one is
 * refused with `already_stopped`, naming who stopped, when and why: recording it would replace
 * that account. Asked to delete Jobs, the repeat still does (see repeatedStop).
 */
export function emergencyStop(deps: AutonomyControlDeps, req: Request & { deleteRunningJobs: boolean }): Promise<EmergencyStopResult> {
  return serialized(async () => {
    // The whole log, so a stop another replica (or request) recorded a moment ago counts.
    await deps.projector.waitFor(deps.store.health().head.seq);
    const standing = deps.projector.state.autonomy.emergency_stop;
    // A recorded stop whose CronJob was unsuspended with kubectl no longer stops anything: a new
    // stop suspends it again and is recorded (the suspension watch would record the resume).
    if (standing && (!deps.cluster || (await deps.cluster.controls.getSchedulerCronJob()).suspended)) {
      return repeatedStop(deps, standing, req);
    }
    let cronjob: SchedulerCronJobState | undefined;
    if (deps.cluster) cronjob = await deps.cluster.controls.setSchedulerSuspended(true);
    // One append: the stop and the attempts it ended are stored together or not at all. An
    // attempt whose worker reported its own end first is a duplicate, and its report stands.
    const { deleted, ended, warnings, stored } = await deleteJobsAndEndAttempts(deps, req, 'The scheduler is suspended, but deleting', ({ deleted, cancelled, deleteError }) =>
      newEvent({
        type: 'scheduler.emergency_stopped',
        actor: req.actor,
        data: {
          reason: req.reason,
          delete_running_jobs: req.deleteRunningJobs,
          deleted_jobs: deleted,
          ...(cancelled.length > 0 ? { cancelled_attempts: cancelled.map((e) => e.data.attempt_id) } : {}),
          via: req.via,
          ...(deps.cluster ? { cronjob: deps.cluster.cronJob } : {}),
          ...(deleteError ? { delete_error: deleteError } : {}),
        },
      }),
    );
    // The stop leads the batch under a fresh random id, so it is never a duplicate: stored first.
    const event = stored[0]!;
    return { event, ...(cronjob ? { cronjob } : {}), deleted_jobs: deleted, cancelled_attempts: ended, warnings };
  });
}

/**
 * Deletes the running worker Jobs when asked (a failure is a warning, its message `deleteError`),
 * then appends, in one batch, the event `lead` builds from what was deleted (if any) and the
 * attempt.failed ending each attempt whose Job was deleted (stoppedAttemptEvents). The attempts
 * are read once the projection has the whole log: one a tick selected a moment ago may be the one
 * whose Job was just deleted. `ended` names the attempts whose end was stored (a worker that
 * reported first makes it a duplicate). `failedLead` opens the warning of a failed deletion
 * ("Deleting" → "Deleting worker Jobs failed: …").
 */
async function deleteJobsAndEndAttempts(
  deps: AutonomyControlDeps,
  req: Request & { deleteRunningJobs: boolean },
  failedLead: string,
  lead?: (r: { deleted: string[]; cancelled: NewEvent[]; deleteError: string | undefined }) => NewEvent,
): Promise<{ deleted: string[]; ended: string[]; warnings: string[]; stored: StoredEvent[] }> {
  const warnings: string[] = [];
  let deleted: string[] = [];
  let deleteError: string | undefined;
  if (req.deleteRunningJobs) {
    if (!deps.cluster) {
      warnings.push('No Kubernetes cluster is configured: running local workers continue to completion.');
    } else {
      try {
        deleted = await deps.cluster.controls.deleteWorkerJobs();
      } catch (err) {
        deleteError = (err as Error).message;
        warnings.push(`${failedLead} worker Jobs failed: ${deleteError} Delete them with: kubectl -n ${deps.cluster.namespace} delete jobs -l app=leviathan-worker`);
      }
    }
  }
  let cancelled: NewEvent[] = [];
  if (deleted.length > 0) {
    await deps.projector.waitFor(deps.store.health().head.seq);
    cancelled = stoppedAttemptEvents(deps.projector.state, deleted, req);
  }
  const batch = [...(lead ? [lead({ deleted, cancelled, deleteError })] : []), ...cancelled];
  const { stored } = batch.length > 0 ? await deps.store.append(batch) : { stored: [] as StoredEvent[] };
  if (stored.length > 0) await deps.projector.waitFor(stored[stored.length - 1]!.seq);
  const ended = stored.filter((e) => e.type === 'attempt.failed').map((e) => e.data.attempt_id as string);
  return { deleted, ended, warnings, stored };
}

/**
 * The answer to a stop while one stands: nothing recorded of it, and `already_stopped` with the
 * standing stop's who/when/why. Asked to delete Jobs, the running ones are deleted and their
 * attempts ended uncounted all the same — the operator who stopped without `--delete-jobs` and
 * then wants the workers gone has no other way that spares the tasks their tries (`kubectl
 * delete jobs` leaves the attempts to be judged lost). Those attempt.failed events, naming who
 * asked, are the record of it. Throws {@link AutonomyRefusal} in every case.
 */
async function repeatedStop(deps: AutonomyControlDeps, standing: NonNullable<AutonomyState['emergency_stop']>, req: Request & { deleteRunningJobs: boolean }): Promise<never> {
  const stoodBy = `The scheduler is already emergency-stopped by ${standing.by} since ${standing.at}: ${standing.reason || '(no reason given)'}. This stop was not recorded.`;
  if (!req.deleteRunningJobs) {
    throw new AutonomyRefusal('already_stopped', `${stoodBy} Resume with: leviathan ctl resume`, { emergency_stop: standing });
  }
  const { deleted, ended, warnings } = await deleteJobsAndEndAttempts(deps, req, 'Deleting');
  const did = !deps.cluster
    ? ''
    : deleted.length > 0
      ? ` Deleted the running worker Jobs as asked: ${deleted.join(', ')}${ended.length > 0 ? ` (attempts ${ended.join(', ')} ended, not counted as tries)` : ''}.`
      : warnings.length > 0
        ? ''
        : ' No running worker Jobs to delete.';
  throw new AutonomyRefusal('already_stopped', `${stoodBy}${did}${warnings.map((w) => ` ${w}`).join('')} Resume with: leviathan ctl resume`, {
    emergency_stop: standing,
    deleted_jobs: deleted,
    cancelled_attempts: ended,
    warnings,
  });
}

/** The result of resuming after an emergency stop. */
export interface ResumeResult {
  event: StoredEvent;
  cronjob?: SchedulerCronJobState;
  warnings: string[];
}

/**
 * Reverses an emergency stop: unsuspends the CronJob and records scheduler.emergency_resumed.
 * Refused (409 not_paused) when nothing is stopped — neither the log nor the CronJob says so —
 * so a mistyped `ctl resume` does not leave a misleading audit entry.
 */
export function resumeScheduler(deps: AutonomyControlDeps, req: { actor: string; reason?: string | undefined; via: Channel }): Promise<ResumeResult> {
  return serialized(async () => {
    const stopped = deps.projector.state.autonomy.emergency_stop;
    let cronjob: SchedulerCronJobState | undefined;
    if (deps.cluster) {
      const current = await deps.cluster.controls.getSchedulerCronJob();
      if (!stopped && !current.suspended) {
        throw new OperationError('not_paused', `The scheduler is not stopped: CronJob ${current.name} is not suspended and no emergency stop is recorded.`);
      }
      cronjob = await deps.cluster.controls.setSchedulerSuspended(false);
    } else if (!stopped) {
      throw new OperationError('not_paused', 'The scheduler is not emergency-stopped.');
    }
    const event = await append(
      deps,
      newEvent({
        type: 'scheduler.emergency_resumed',
        actor: req.actor,
        data: { via: req.via, ...(req.reason ? { reason: req.reason } : {}), ...(deps.cluster ? { cronjob: deps.cluster.cronJob } : {}) },
      }),
    );
    const warnings: string[] = [];
    // Resuming the scheduler does not turn autonomy on; say so rather than let the operator wait.
    if (deps.autonomyFile !== undefined) {
      const file = await readAutonomyConfig(deps.autonomyFile);
      if (!file.enabled) {
        warnings.push(`Autonomy is still off: ${fileSays(deps.autonomyFile, file)}. The scheduler will run but execute nothing until autonomy_enabled: true is set there.`);
      }
    } else if (deps.projector.state.autonomy.enabled !== true) {
      warnings.push('Autonomy is still disabled: the scheduler will run but execute nothing. Enable it with: leviathan ctl autonomy on --reason "…"');
    }
    return { event, ...(cronjob ? { cronjob } : {}), warnings };
  });
}

/** The actor of what Kubernetes was seen to do outside Leviathan (`kubectl patch cronjob …`). */
export const KUBERNETES_ACTOR = 'kubernetes';

/**
 * What the log must add so that it says what the CronJob does: the operator document stops and
 * resumes the scheduler with `kubectl patch cronjob … suspend`, and the scheduler, the dashboard
 * and the metrics read the log. Pure.
 */
export function suspensionDrift(recorded: AutonomyState['emergency_stop'], cronjob: SchedulerCronJobState): 'stopped' | 'resumed' | null {
  if (cronjob.suspended && recorded === null) return 'stopped';
  if (!cronjob.suspended && recorded !== null) return 'resumed';
  return null;
}

/**
 * Records a suspend or unsuspend of the CronJob made outside Leviathan, if the log does not say
 * it yet; returns the event recorded, or null. In turn with the operator's own stop and resume,
 * which patch the CronJob before they record (never mistaken for an outside change here). The id
 * names the CronJob's resourceVersion, so two replicas that see the same change record it once.
 */
export function recordOutsideSuspension(deps: AutonomyControlDeps): Promise<StoredEvent | null> {
  return serialized(async () => {
    if (!deps.cluster) return null;
    const cj = await deps.cluster.controls.getSchedulerCronJob();
    const drift = suspensionDrift(deps.projector.state.autonomy.emergency_stop, cj);
    if (!drift) return null;
    const how = drift === 'stopped' ? 'suspended' : 'unsuspended';
    const e = newEvent({
      ...(cj.resourceVersion ? { id: `kubernetes:cronjob/${cj.name}:${cj.resourceVersion}:${drift}` } : {}),
      type: drift === 'stopped' ? 'scheduler.emergency_stopped' : 'scheduler.emergency_resumed',
      actor: KUBERNETES_ACTOR,
      data: { reason: `CronJob ${cj.name} was ${how} outside Leviathan (kubectl patch?)`, via: 'kubernetes', cronjob: cj.name },
    });
    const { stored } = await deps.store.append([e]);
    const event = stored[0];
    if (!event) return null;
    await deps.projector.waitFor(event.seq);
    return event;
  });
}

/** What the cluster says right now, or why it could not be asked. */
export interface ClusterObservation {
  namespace: string;
  cronJobName: string;
  configMapName: string;
  configmap: AutonomyConfigMap | null;
  cronjob: SchedulerCronJobState | null;
  /** Errors reading the ConfigMap or the CronJob (each read is independent). */
  errors: string[];
}

/** Reads the ConfigMap and the CronJob, never throwing: a status page must answer while the API server does not. */
export async function observeCluster(cluster: ClusterBinding): Promise<ClusterObservation> {
  const errors: string[] = [];
  const [configmap, cronjob] = await Promise.all([
    cluster.controls.getAutonomyConfigMap().catch((err: unknown) => {
      errors.push((err as Error).message);
      return null;
    }),
    cluster.controls.getSchedulerCronJob().catch((err: unknown) => {
      errors.push((err as Error).message);
      return null;
    }),
  ]);
  return { namespace: cluster.namespace, cronJobName: cluster.cronJob, configMapName: cluster.configMap, configmap, cronjob, errors };
}

/** `GET /v1/autonomy/status`'s account of autonomy and the scheduler (the rest is the system view). */
export interface AutonomyStatus {
  mode: 'kubernetes' | 'embedded';
  enabled: boolean;
  /** `file`: embedded with LEVIATHAN_AUTONOMY_CONFIG, which the scheduler and triggers read. */
  source: 'configmap' | 'file' | 'operator' | 'settings' | 'default';
  changed_by: string | null;
  changed_at: string | null;
  reason: string | null;
  /** The last change recorded in the log (operators' toggles and scheduler cycles). */
  last_change: { enabled: boolean | null; source: AutonomyState['source']; by: string | null; at: string | null; reason: string | null };
  /** The ConfigMap as read now; null in embedded mode. */
  configmap: { name: string; enabled: boolean; annotations: Record<string, string> } | null;
  /** LEVIATHAN_AUTONOMY_CONFIG as read now (embedded only; unusable means off, with the problems); else null. */
  file: { path: string; enabled: boolean; problems: string[] } | null;
  /**
   * Set when the ConfigMap (or the file) and the log disagree (someone ran `kubectl edit`, or
   * edited the file): the ConfigMap (the file) wins.
   */
  drift: ({ configmap_enabled: boolean } | { file: string; file_enabled: boolean }) & { recorded_enabled: boolean | null; message: string } | null;
  emergency_stop: AutonomyState['emergency_stop'];
  scheduler_suspended: boolean;
  cronjob: SchedulerCronJobState | null;
  /** When the scheduler runs next; null when stopped, unknown or there is no scheduler to ask. */
  next_tick_at: string | null;
  next_tick_note: string | null;
  /** Problems reading the cluster; the answer then falls back to the log. */
  cluster_errors: string[];
}

/** Builds {@link AutonomyStatus}; reads the cluster when there is one. */
export async function autonomyStatus(deps: AutonomyControlDeps): Promise<AutonomyStatus> {
  const now = deps.clock.now();
  const a = deps.projector.state.autonomy;
  const last_change = { enabled: a.enabled, source: a.source, by: a.changed_by, at: a.changed_at, reason: a.reason };
  const recorded = {
    enabled: a.enabled === true,
    source: a.source ?? ('default' as const),
    changed_by: a.changed_by,
    changed_at: a.changed_at,
    reason: a.reason ?? (a.enabled === null ? 'No autonomy setting recorded yet; autonomy is off until enabled.' : null),
  };

  if (!deps.cluster) {
    const stopped = a.emergency_stop !== null;
    const local = stopped ? null : (deps.nextLocalTick?.() ?? null);
    const fromFile = deps.autonomyFile !== undefined ? await fileAutonomy(deps.autonomyFile, a) : null;
    return {
      mode: 'embedded',
      ...(fromFile ? fromFile.effective : recorded),
      last_change,
      configmap: null,
      file: fromFile?.file ?? null,
      drift: fromFile?.drift ?? null,
      emergency_stop: a.emergency_stop,
      scheduler_suspended: stopped,
      cronjob: null,
      next_tick_at: local ? local.toISOString() : null,
      next_tick_note: stopped
        ? 'Emergency stop: the scheduler executes nothing until resumed (leviathan ctl resume).'
        : local
          ? null
          : 'No scheduler loop runs in this process; run `leviathan tick` on a schedule.',
      cluster_errors: [],
    };
  }

  const seen = await observeCluster(deps.cluster);
  const cm = seen.configmap;
  let effective = recorded;
  let drift: AutonomyStatus['drift'] = null;
  if (cm) {
    const agrees = a.enabled === cm.autonomyEnabled;
    effective = {
      enabled: cm.autonomyEnabled,
      source: 'configmap',
      // Who/when/why come from the log only when it agrees with the ConfigMap; otherwise the
      // change was made outside Leviathan and nobody is known to have made it.
      changed_by: agrees ? a.changed_by : null,
      changed_at: agrees ? a.changed_at : null,
      reason: agrees ? a.reason : `Changed outside Leviathan (kubectl edit configmap ${cm.name}?); the ConfigMap wins.`,
    };
    if (!agrees) {
      const said = a.enabled === null ? 'nothing recorded' : `${a.enabled ? 'enabled' : 'disabled'}${a.changed_by ? ` by ${a.changed_by}` : ''}${a.changed_at ? ` at ${a.changed_at}` : ''}`;
      drift = {
        configmap_enabled: cm.autonomyEnabled,
        recorded_enabled: a.enabled,
        message: `ConfigMap ${cm.name} says autonomy_enabled=${cm.autonomyEnabled ? 'true' : 'false'} but the last recorded change says ${said}. The ConfigMap wins: it is what the scheduler reads.`,
      };
    }
  }
  const cj = seen.cronjob;
  const suspended = cj ? cj.suspended : a.emergency_stop !== null;
  const next = cj && !cj.suspended ? nextCronTime(cj.schedule, now) : null;
  return {
    mode: 'kubernetes',
    ...effective,
    last_change,
    configmap: cm ? { name: cm.name, enabled: cm.autonomyEnabled, annotations: cm.annotations } : null,
    file: null,
    drift,
    emergency_stop: a.emergency_stop,
    scheduler_suspended: suspended,
    cronjob: cj,
    next_tick_at: next ? next.toISOString() : null,
    next_tick_note: !cj
      ? 'The CronJob could not be read.'
      : cj.suspended
        ? `CronJob ${cj.name} is suspended (emergency stop); resume with: leviathan ctl resume`
        : next
          ? null
          : `Schedule "${cj.schedule}" is not in a form this control plane computes (numbers, *, ranges, steps, lists).`,
    cluster_errors: seen.errors,
  };
}

/**
 * Embedded with LEVIATHAN_AUTONOMY_CONFIG: the file is the switch, read as the scheduler reads
 * it (unusable means off), and reported as the ConfigMap is in Kubernetes — who/when/why from
 * the log only when the log agrees, `drift` when it does not.
 */
async function fileAutonomy(path: string, a: AutonomyState): Promise<{ effective: Pick<AutonomyStatus, 'enabled' | 'source' | 'changed_by' | 'changed_at' | 'reason'>; file: NonNullable<AutonomyStatus['file']>; drift: AutonomyStatus['drift'] }> {
  const file = await readAutonomyConfig(path);
  const agrees = a.enabled === file.enabled;
  const says = fileSays(path, file);
  const effective = {
    enabled: file.enabled,
    source: 'file' as const,
    changed_by: agrees ? a.changed_by : null,
    changed_at: agrees ? a.changed_at : null,
    reason:
      file.problems.length > 0
        ? `${says}.`
        : agrees
          ? `Set in ${path} (LEVIATHAN_AUTONOMY_CONFIG)${a.reason ? `; last recorded reason: ${a.reason}` : ''}.`
          : `Changed outside Leviathan (edited ${path}?); the file wins.`,
  };
  let drift: AutonomyStatus['drift'] = null;
  if (!agrees) {
    const said = a.enabled === null ? 'nothing recorded' : `${a.enabled ? 'enabled' : 'disabled'}${a.changed_by ? ` by ${a.changed_by}` : ''}${a.changed_at ? ` at ${a.changed_at}` : ''}`;
    drift = {
      file: path,
      file_enabled: file.enabled,
      recorded_enabled: a.enabled,
      message: `${says} but the last recorded change says ${said}. The file wins: it is what the scheduler and triggers read (edit it to change autonomy).`,
    };
  }
  return { effective, file: { path, enabled: file.enabled, problems: file.problems }, drift };
}
