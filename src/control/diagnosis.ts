import type { StoredEvent } from '../events/envelope.ts';
import type { SchedulerCronJobState } from '../kubernetes/cluster-controls.ts';
import type { ProjectionState, TargetState } from '../projections/state.ts';
import { breakerOpen, policyOf, taskViews } from '../projections/target-view.ts';

/**
 * "Why is this target not executing, and what do I do?" — the operator document's Troubleshooting
 * Guide as code. Pure: the route gathers the projection, the target's recent events and (in
 * Kubernetes) what the cluster says, and this function judges them in the guide's order.
 */

/** Every check, in the order they are judged; the first blocking one is *the* reason. */
export const CHECK_IDS = [
  'autonomy',
  'emergency_stop',
  'scheduler',
  'paused',
  'backlog',
  'github_auth',
  'max_open_prs',
  'circuit_breaker',
  'dependencies',
  'ready_tasks',
  'last_outcome',
  'path_violations',
  'timeouts',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export type CheckStatus = 'ok' | 'blocking' | 'warning';

/** One piece of evidence: an event (seq, type, time) or, with seq null, something read from the cluster. */
export interface Evidence {
  seq: number | null;
  type: string;
  time: string;
  summary: string;
}

export interface DiagnosisCheck {
  id: CheckId;
  status: CheckStatus;
  title: string;
  evidence: Evidence[];
  /** What to do, in the operator document's words; null when nothing is needed. */
  action: string | null;
  /** The exact commands for the action. */
  commands: string[];
  /** Structured facts behind the title (open PRs, waiting tasks, failed attempts, …). */
  details?: Record<string, unknown>;
}

export interface Diagnosis {
  target: string;
  at: string;
  /** The first blocking check, or null when nothing blocks execution. */
  blocking: CheckId | null;
  summary: string;
  checks: DiagnosisCheck[];
  last_outcome: TargetState['last_outcome'];
}

/** What the cluster said when asked (Kubernetes mode only). */
export interface ClusterFacts {
  namespace: string;
  cronJobName: string;
  configMapName: string;
  /** autonomy_enabled from the ConfigMap; null when it could not be read. */
  autonomyEnabled: boolean | null;
  cronjob: SchedulerCronJobState | null;
  errors: string[];
}

/** Events about the target (and the global ones: autonomy, emergency stop, scheduler cycles). */
export interface DiagnosisEvidence {
  events: StoredEvent[];
}

/** How long without a completed cycle before the scheduler counts as not running. */
export const SCHEDULER_STALE_MS = 15 * 60_000;
/** How far back failures and auth problems are looked for. */
export const RECENT_MS = 24 * 60 * 60_000;

const MAX_EVIDENCE = 10;

/** Outcome reasons a specific check already explains; any other error/blocked outcome gets its own. */
const EXPLAINED = new Set([
  'autonomy_disabled',
  'emergency_stop',
  'paused_by_operator',
  'target_suspended',
  'backlog_invalid',
  'backlog_unreadable',
  'github_auth_failed',
  'max_open_prs',
  'circuit_breaker_open',
  'all_tasks_blocked_by_dependencies',
  'no_ready_tasks',
  'attempt_in_flight',
]);

/**
 * Diagnoses one target at `now`. Never throws for a target it does not know: the answer then
 * says so in the `paused` check (the route answers 404 before that).
 */
export function diagnose(now: Date, state: ProjectionState, target: string, evidence: DiagnosisEvidence, cluster?: ClusterFacts): Diagnosis {
  const events = [...evidence.events].sort((a, b) => a.seq - b.seq);
  const nowMs = now.getTime();
  const recent = (e: StoredEvent) => nowMs - Date.parse(e.time) <= RECENT_MS;
  const ofTarget = events.filter((e) => e.target === target);
  const lastOf = (types: string[], list = events) => [...list].reverse().find((e) => types.includes(e.type));
  const t = state.targets[target];
  const ns = cluster?.namespace ?? 'leviathan';
  const cronJob = cluster?.cronJobName ?? 'leviathan-dev-scheduler';
  const k8s = cluster !== undefined;
  const checks: DiagnosisCheck[] = [];
  const add = (c: DiagnosisCheck) => checks.push(c);
  const ok = (id: CheckId, title: string, evidence: Evidence[] = [], details?: Record<string, unknown>): DiagnosisCheck => ({
    id,
    status: 'ok',
    title,
    evidence,
    action: null,
    commands: [],
    ...(details ? { details } : {}),
  });

  // 1. Autonomy off (`autonomy_enabled: false`). In Kubernetes the ConfigMap decides.
  {
    const ev = lastOf(['autonomy.enabled', 'autonomy.disabled', 'scheduler.cycle_started']);
    const recorded = state.autonomy.enabled;
    const fromCluster = cluster?.autonomyEnabled ?? null;
    const enabled = fromCluster ?? recorded;
    const evs: Evidence[] = [];
    if (ev) evs.push(toEvidence(ev));
    if (cluster && fromCluster !== null) {
      evs.push({ seq: null, type: 'configmap', time: now.toISOString(), summary: `ConfigMap ${cluster.configMapName}: autonomy_enabled=${fromCluster ? 'true' : 'false'}` });
    }
    if (enabled === true) {
      add(ok('autonomy', 'Autonomy enabled', evs));
    } else {
      add({
        id: 'autonomy',
        status: 'blocking',
        title: enabled === null ? 'Autonomy has never been enabled (off until enabled)' : '⚠ Autonomy disabled in configuration',
        evidence: evs,
        action: 'Enable autonomy if disabled.',
        commands: [
          'leviathan ctl autonomy on --reason "…"',
          ...(k8s ? [`kubectl -n ${ns} patch configmap ${cluster.configMapName} --type merge -p '{"data":{"autonomy_enabled":"true"}}'`] : []),
        ],
        ...(cluster && fromCluster !== null && recorded !== fromCluster
          ? { details: { drift: `The ConfigMap says ${fromCluster} but the log last recorded ${String(recorded)}; the ConfigMap wins.` } }
          : {}),
      });
    }
  }

  // 2. CronJob suspended (emergency stop).
  {
    const stop = state.autonomy.emergency_stop;
    const suspended = cluster?.cronjob ? cluster.cronjob.suspended : stop !== null;
    const evs: Evidence[] = [];
    const ev = lastOf(['scheduler.emergency_stopped', 'scheduler.emergency_resumed']);
    if (ev) evs.push(toEvidence(ev));
    if (cluster?.cronjob) {
      evs.push({ seq: null, type: 'cronjob', time: now.toISOString(), summary: `CronJob ${cluster.cronjob.name}: suspend=${cluster.cronjob.suspended}, schedule "${cluster.cronjob.schedule}"` });
    }
    if (!suspended) {
      add(ok('emergency_stop', 'Scheduler not suspended', evs));
    } else {
      add({
        id: 'emergency_stop',
        status: 'blocking',
        title: stop
          ? `Emergency stop by ${stop.by} at ${stop.at}${stop.reason ? `: ${stop.reason}` : ''}`
          : `CronJob ${cronJob} is suspended (outside Leviathan: no emergency stop is recorded)`,
        evidence: evs,
        action: 'Resume the scheduler when it is safe (Re-enable autonomy: unsuspend the CronJob).',
        commands: ['leviathan ctl resume', ...(k8s ? [`kubectl -n ${ns} patch cronjob ${cronJob} -p '{"spec":{"suspend":false}}'`] : [])],
      });
    }
  }

  // 3. Scheduler not running: no completed cycle in the last 15 minutes.
  {
    const last = state.scheduler.last_cycle_completed_at;
    const ev = lastOf(['scheduler.cycle_completed']);
    const evs: Evidence[] = ev ? [toEvidence(ev)] : [];
    if (cluster?.cronjob?.lastScheduleTime) {
      evs.push({ seq: null, type: 'cronjob', time: cluster.cronjob.lastScheduleTime, summary: `CronJob ${cluster.cronjob.name} last scheduled at ${cluster.cronjob.lastScheduleTime}` });
    }
    const age = last ? nowMs - Date.parse(last) : null;
    if (age !== null && age <= SCHEDULER_STALE_MS) {
      add(ok('scheduler', `Scheduler running (last cycle ${ago(age)})`, evs));
    } else {
      add({
        id: 'scheduler',
        status: 'blocking',
        title: last ? `Scheduler not running: no cycle completed in the last 15 minutes (last ${ago(age!)})` : 'Scheduler not running: no cycle has ever completed',
        evidence: evs,
        action: k8s ? 'Check the scheduler CronJob and its logs.' : 'Run the scheduler: `leviathan tick` every 5 minutes (cron, systemd timer or the CronJob).',
        commands: k8s
          ? [`kubectl -n ${ns} get cronjob ${cronJob}`, `kubectl -n ${ns} logs -l app=${cronJob} --tail=50`]
          : ['leviathan tick'],
      });
    }
  }

  // 4. Paused (by an operator, or the installation suspended / removed).
  {
    const ev = lastOf(['target.paused', 'target.resumed', 'target.suspended', 'target.unsuspended', 'target.removed', 'target.registered'], ofTarget);
    const evs = ev ? [toEvidence(ev)] : [];
    if (!t) {
      add({
        id: 'paused',
        status: 'blocking',
        title: `No target ${target}`,
        evidence: [],
        action: 'Install the GitHub App on the repository (or run a reconcile if it is installed).',
        commands: ['leviathan ctl reconcile'],
      });
    } else if (t.lifecycle !== 'active') {
      add({
        id: 'paused',
        status: 'blocking',
        title: t.lifecycle === 'suspended' ? 'The GitHub App installation is suspended' : 'The GitHub App was removed from this repository',
        evidence: evs,
        action: 'Unsuspend or reinstall the GitHub App on this repository.',
        commands: ['leviathan ctl reconcile'],
      });
    } else if (t.paused) {
      add({
        id: 'paused',
        status: 'blocking',
        title: `Paused by ${t.paused.by} at ${t.paused.at}${t.paused.reason ? `: ${t.paused.reason}` : ''}`,
        evidence: evs,
        action: 'Resume the target to continue execution.',
        commands: [`leviathan ctl resume ${target} --reason "…"`],
      });
    } else {
      add(ok('paused', 'Not paused', evs));
    }
  }

  if (!t) return finish(now, target, checks, null);
  const policy = policyOf(state, t);
  const views = taskViews(t, policy);

  // 5. Backlog invalid (with line and reason), unreadable, or never read.
  {
    const ev = lastOf(['backlog.synced', 'backlog.invalid'], ofTarget);
    const evs = ev ? [toEvidence(ev)] : [];
    const unreadable = t.last_outcome?.reason === 'backlog_unreadable' ? t.last_outcome : null;
    if (t.backlog.state === 'invalid') {
      const e = t.backlog.error;
      const where = e ? `${e.file}${e.line !== null ? ` line ${e.line}` : ''}` : '.leviathan/backlog.yaml';
      add({
        id: 'backlog',
        status: 'blocking',
        title: `Backlog invalid: ${where}${e ? `: ${e.reason}` : ''}`,
        evidence: evs,
        action: `Fix ${e?.file ?? '.leviathan/backlog.yaml'}${e?.line !== null && e?.line !== undefined ? ` at line ${e.line}` : ''} and push it to ${t.default_branch}.`,
        commands: [],
        details: { file: e?.file ?? null, line: e?.line ?? null, reason: e?.reason ?? null },
      });
    } else if (unreadable) {
      add({
        id: 'backlog',
        status: 'blocking',
        title: `Backlog unreadable: ${unreadable.detail ?? 'the scheduler could not read .leviathan/backlog.yaml'}`,
        evidence: outcomeEvidence(events, unreadable),
        action: 'Check that .leviathan/backlog.yaml exists on the default branch and the App can read contents.',
        commands: ['leviathan ctl reconcile'],
      });
    } else if (t.backlog.state === 'unknown') {
      add({
        id: 'backlog',
        status: 'blocking',
        title: 'No backlog read yet',
        evidence: evs,
        action: `Add .leviathan/backlog.yaml to ${t.default_branch} (or run a reconcile).`,
        commands: ['leviathan ctl reconcile'],
      });
    } else {
      add(ok('backlog', `Backlog read (${t.backlog.tasks.length} task${t.backlog.tasks.length === 1 ? '' : 's'})`, evs));
    }
  }

  // 6. GitHub auth failing: the scheduler's github_auth_failed, or workers' auth_error, recently.
  {
    const isAuthProblem = (e: StoredEvent) =>
      (e.type === 'task.skipped' && e.data.reason === 'github_auth_failed') || (e.type === 'attempt.failed' && e.data.failure_type === 'auth_error');
    const problems = ofTarget.filter((e) => recent(e) && isAuthProblem(e));
    // The latest thing that touched GitHub decides whether it is still failing.
    const signals = ofTarget.filter((e) => ['task.skipped', 'task.selected', 'attempt.succeeded', 'attempt.failed', 'backlog.synced', 'pr.created'].includes(e.type));
    const latest = signals.at(-1);
    const failing = t.last_outcome?.reason === 'github_auth_failed' || (latest !== undefined && isAuthProblem(latest));
    const evs = problems.slice(-MAX_EVIDENCE).reverse().map(toEvidence);
    const action = 'Rotate GitHub token: check the GitHub App credentials (APP_ID, PRIVATE_KEY) and that the App is installed on the repository.';
    const commands = k8s ? [`kubectl -n ${ns} get secret leviathan-github-app`, `kubectl -n ${ns} logs -l app=leviathan-worker --tail=100`] : [];
    if (failing) {
      add({ id: 'github_auth', status: 'blocking', title: 'GitHub authentication failing', evidence: evs.length ? evs : outcomeEvidence(events, t.last_outcome), action, commands });
    } else if (problems.length > 0) {
      add({ id: 'github_auth', status: 'warning', title: `GitHub authentication failed ${problems.length} time${problems.length === 1 ? '' : 's'} in the last 24 hours (since recovered)`, evidence: evs, action, commands });
    } else {
      add(ok('github_auth', 'No GitHub authentication failures in the last 24 hours'));
    }
  }

  // 7. Max open PRs, with the open PR list.
  {
    const open = t.open_prs;
    const max = policy.max_open_prs;
    const prEvents = new Map(ofTarget.filter((e) => e.type === 'pr.created' || e.type === 'pr.observed' || e.type === 'pr.reopened').map((e) => [e.data.number, e]));
    const evs = open.map((p) => {
      const e = prEvents.get(p.number);
      const summary = `PR #${p.number}${p.title ? ` ${p.title}` : ''}${p.task_id ? ` (${p.task_id})` : ''}`;
      return e ? { ...toEvidence(e), summary } : { seq: null, type: 'pr.open', time: p.opened_at, summary };
    });
    const details = { open: open.length, max, open_prs: open.map((p) => ({ number: p.number, title: p.title, task_id: p.task_id, url: p.url })) };
    if (open.length >= max) {
      add({
        id: 'max_open_prs',
        status: 'blocking',
        title: `Max open PRs reached (${open.length}/${max})`,
        evidence: evs,
        action: 'Merge PRs if at max (merge or close PRs to resume execution).',
        commands: [`gh pr list --repo ${target} --state open`],
        details,
      });
    } else {
      add(ok('max_open_prs', `Open PRs: ${open.length}/${max}`, evs, details));
    }
  }

  // 8. Circuit breaker open, with the cooldown end.
  {
    const open = breakerOpen(t, now);
    const ev = lastOf(['circuit_breaker.tripped', 'circuit_breaker.reset'], ofTarget);
    const failures = ofTarget.filter((e) => e.type === 'attempt.failed' && recent(e)).slice(-5).reverse();
    if (open) {
      const until = t.breaker.cooldown_until!;
      const minutes = Math.max(0, Math.ceil((Date.parse(until) - nowMs) / 60_000));
      add({
        id: 'circuit_breaker',
        status: 'blocking',
        title: `Circuit breaker tripped after ${t.breaker.consecutive_failures} consecutive failures. Cooldown expires in ${minutes} minute${minutes === 1 ? '' : 's'} (${until}).`,
        evidence: [...(ev ? [toEvidence(ev)] : []), ...failures.map(toEvidence)],
        action: `Wait for circuit breaker cooldown (until ${until}), or investigate failures and reset the breaker once fixed.`,
        commands: [
          ...(k8s ? [`kubectl -n ${ns} logs -l app=leviathan-worker --tail=100`] : []),
          `leviathan ctl events --target ${target} --type attempt.failed`,
          `leviathan ctl reset-breaker ${target} --reason "…"`,
        ],
        details: { cooldown_until: until, consecutive_failures: t.breaker.consecutive_failures },
      });
    } else {
      add(ok('circuit_breaker', 'Circuit breaker closed', ev ? [toEvidence(ev)] : []));
    }
  }

  const runnable = views.filter((v) => v.state === 'ready');
  const waiting = views.filter((v) => v.state === 'waiting_on_dependencies');
  const running = views.filter((v) => v.state === 'running');
  const synced = lastOf(['backlog.synced'], ofTarget);
  const backlogEvidence = synced ? [toEvidence(synced)] : [];

  // 9. Dependencies: which tasks wait on what.
  {
    const stateOf = new Map(views.map((v) => [v.id, v.state]));
    const details = {
      waiting: waiting.map((v) => ({
        task_id: v.id,
        waits_on: v.unmet_dependencies.map((d) => ({ task_id: d, state: stateOf.get(d) ?? 'not_in_backlog' })),
      })),
    };
    const lines = waiting.map((v) => `${v.id} waits on ${v.unmet_dependencies.join(', ')}`);
    if (waiting.length > 0 && runnable.length === 0 && running.length === 0) {
      add({
        id: 'dependencies',
        status: 'blocking',
        title: `All ready tasks wait on dependencies: ${lines.join('; ')}`,
        evidence: backlogEvidence,
        action: 'Remove dependencies or mark them satisfied (complete or merge the tasks they wait on).',
        commands: [],
        details,
      });
    } else {
      add(ok('dependencies', waiting.length ? `${waiting.length} task${waiting.length === 1 ? '' : 's'} wait on dependencies: ${lines.join('; ')}` : 'No task waits on a dependency', [], details));
    }
  }

  // 10. No ready tasks.
  {
    const byState: Record<string, number> = {};
    for (const v of views) byState[v.state] = (byState[v.state] ?? 0) + 1;
    if (runnable.length > 0) {
      add(ok('ready_tasks', `${runnable.length} task${runnable.length === 1 ? '' : 's'} ready: ${runnable.map((v) => v.id).join(', ')}`, backlogEvidence, { by_state: byState }));
    } else if (running.length > 0) {
      add(ok('ready_tasks', `Executing ${running.map((v) => v.id).join(', ')}; no other task is ready`, backlogEvidence, { by_state: byState }));
    } else if (waiting.length > 0) {
      add(ok('ready_tasks', 'Ready tasks exist but wait on dependencies (see above)', backlogEvidence, { by_state: byState }));
    } else {
      add({
        id: 'ready_tasks',
        status: 'blocking',
        title: 'No ready tasks in backlog.',
        evidence: backlogEvidence,
        action: 'Add tasks with ready: true to resume execution.',
        commands: [],
        details: { by_state: byState },
      });
    }
  }

  // 11. Whatever else the scheduler said last (executor failures, worker cap, daily limit, …).
  {
    const o = t.last_outcome;
    if (o && (o.outcome === 'error' || o.outcome === 'blocked') && !EXPLAINED.has(o.reason)) {
      add({
        id: 'last_outcome',
        status: 'blocking',
        title: `Scheduler ${o.outcome === 'error' ? 'error' : 'blocked'}: ${o.reason}${o.detail ? ` — ${o.detail}` : ''}`,
        evidence: outcomeEvidence(events, o),
        action: outcomeAction(o.reason),
        commands: o.reason === 'executor_failed' && k8s ? [`kubectl -n ${ns} get jobs -l app=leviathan-worker`] : [],
      });
    } else {
      add(ok('last_outcome', o ? `Last scheduler outcome: ${o.outcome} (${o.reason})` : 'No scheduler outcome recorded yet', o ? outcomeEvidence(events, o) : []));
    }
  }

  // 12–13. Path violations and timeouts in the last 24 hours: warnings that explain failures.
  const failuresOf = (type: string) => ofTarget.filter((e) => e.type === 'attempt.failed' && e.data.failure_type === type && recent(e));
  for (const [id, type, action, label] of [
    ['path_violations', 'path_violation', 'Fix task allowed_paths (the change touched files outside them).', 'path violation'],
    ['timeouts', 'timeout', 'Increase timeout or split task.', 'timeout'],
  ] as const) {
    const found = failuresOf(type);
    const tasks = [...new Set(found.map((e) => String(e.data.task_id ?? attemptTask(t, e))))];
    if (found.length === 0) {
      add(ok(id, `No ${label}s in the last 24 hours`));
    } else {
      add({
        id,
        status: 'warning',
        title: `${found.length} ${label}${found.length === 1 ? '' : 's'} in the last 24 hours: ${tasks.join(', ')}`,
        evidence: found.slice(-MAX_EVIDENCE).reverse().map(toEvidence),
        action,
        commands: [`leviathan ctl events --target ${target} --type attempt.failed`],
        details: { task_ids: tasks, attempt_ids: found.map((e) => e.data.attempt_id) },
      });
    }
  }

  return finish(now, target, checks, t.last_outcome);
}

function finish(now: Date, target: string, checks: DiagnosisCheck[], lastOutcome: TargetState['last_outcome']): Diagnosis {
  const first = checks.find((c) => c.status === 'blocking');
  const warnings = checks.filter((c) => c.status === 'warning');
  let summary: string;
  if (first) {
    summary = `${target} is not executing: ${first.title.replace(/\.$/, '')}.${first.action ? ` ${first.action}` : ''}`;
  } else {
    const ready = checks.find((c) => c.id === 'ready_tasks');
    summary = `Nothing blocks ${target}: ${ready?.title ?? 'ready'}.`;
    if (warnings.length) summary += ` ${warnings.length} warning${warnings.length === 1 ? '' : 's'}: ${warnings.map((w) => w.title).join('; ')}.`;
  }
  return { target, at: now.toISOString(), blocking: first?.id ?? null, summary, checks, last_outcome: lastOutcome };
}

/** One line per event, readable without the data. */
export function summarize(e: StoredEvent): string {
  const d = e.data;
  const s = (k: string) => (typeof d[k] === 'string' ? (d[k] as string) : typeof d[k] === 'number' ? String(d[k]) : null);
  switch (e.type) {
    case 'autonomy.enabled':
    case 'autonomy.disabled':
    case 'target.paused':
    case 'target.resumed':
    case 'scheduler.emergency_stopped':
    case 'scheduler.emergency_resumed':
    case 'circuit_breaker.reset':
      return `${e.type} by ${e.actor}${s('reason') ? `: ${s('reason')}` : ''}`;
    case 'scheduler.cycle_started':
      return `scheduler cycle ${s('cycle_id') ?? ''} started${typeof d.autonomy_enabled === 'boolean' ? ` (autonomy_enabled=${String(d.autonomy_enabled)})` : ''}`;
    case 'scheduler.cycle_completed':
      return `scheduler cycle ${s('cycle_id') ?? ''} completed`;
    case 'backlog.invalid':
      return `backlog invalid: ${s('file') ?? ''}${s('line') ? ` line ${s('line')}` : ''}: ${s('reason') ?? ''}`;
    case 'backlog.synced':
      return `backlog synced: ${Array.isArray(d.tasks) ? d.tasks.length : 0} tasks${s('commit') ? ` at ${s('commit')!.slice(0, 7)}` : ''}`;
    case 'task.skipped':
      return `${s('outcome') ?? 'skipped'}: ${s('reason') ?? ''}${s('detail') ? ` — ${s('detail')}` : ''}`;
    case 'attempt.failed':
      return `attempt ${s('attempt_id') ?? ''}${s('task_id') ? ` of ${s('task_id')}` : ''} failed (${s('failure_type') ?? 'other'})${s('message') ? `: ${s('message')}` : ''}`;
    case 'circuit_breaker.tripped':
      return `circuit breaker tripped after ${s('consecutive_failures') ?? '?'} failures, cooldown until ${s('cooldown_until') ?? '?'}`;
    case 'pr.created':
    case 'pr.observed':
      return `PR #${s('number') ?? '?'}${s('title') ? ` ${s('title')}` : ''}`;
    default:
      return `${e.type} by ${e.actor}`;
  }
}

function toEvidence(e: StoredEvent): Evidence {
  return { seq: e.seq, type: e.type, time: e.time, summary: summarize(e) };
}

function outcomeEvidence(events: StoredEvent[], o: TargetState['last_outcome']): Evidence[] {
  if (!o) return [];
  const e = events.find((x) => x.seq === o.seq);
  return [e ? toEvidence(e) : { seq: o.seq, type: 'task.skipped', time: o.at, summary: `${o.outcome}: ${o.reason}${o.detail ? ` — ${o.detail}` : ''}` }];
}

function attemptTask(t: TargetState, e: StoredEvent): string {
  return t.recent_attempts.find((a) => a.attempt_id === e.data.attempt_id)?.task_id ?? 'unknown task';
}

function outcomeAction(reason: string): string {
  switch (reason) {
    case 'executor_failed':
      return 'Check the executor: Kubernetes API access and the worker image.';
    case 'global_worker_cap':
      return 'Wait for running workers to finish, or raise LEVIATHAN_MAX_CONCURRENT_WORKERS.';
    case 'max_tasks_per_day':
      return 'Wait until tomorrow (UTC) or raise safety_rules.max_tasks_per_day.';
    case 'path_lease_conflict':
      return 'Merge or close the open PR that touches the same paths.';
    default:
      return 'See the scheduler logs for this reason.';
  }
}

function ago(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'less than a minute ago';
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} hours ago`;
  return `${Math.round(hours / 24)} days ago`;
}
