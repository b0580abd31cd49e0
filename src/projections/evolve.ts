import type { StoredEvent } from '../events/envelope.ts';
import {
  EMERGENCY_STOP_PHASE,
  githubRateLimitSchema,
  OPERATOR_ACTION_TYPES,
  SCHEDULER_ACTOR,
  START_PHASE,
  subjects,
  type TaskSummary,
} from '../events/types.ts';
import { edgeAdded, nodeAdded } from './graph-lists.ts';
import {
  DURATION_BUCKETS,
  RECENT_ATTEMPTS,
  emptyTarget,
  emptyTargetCounters,
  emptyTaskProgress,
  type AttemptSummary,
  type GraphEdge,
  type GraphNode,
  type ProjectionState,
  type TargetCounters,
  type TargetState,
  type TaskProgress,
} from './state.ts';


/**
 * Applies one event to the state. Deterministic and free of IO and clocks: the same log always
 * yields the same state, so views can be rebuilt by replay at any time. It mutates `state` in
 * place because replaying a million events through immutable copies is far too slow; callers that
 * need the old state clone it first.
 *
 * Applying an event twice is harmless for the counts that matter (open PRs, in-flight attempts),
 * because the store never delivers the same id twice and transitions are idempotent.
 */
export function evolve(state: ProjectionState, e: StoredEvent): ProjectionState {
  if (e.seq <= state.seq) return state; // already applied (snapshot + tail overlap)
  state.seq = e.seq;
  state.last_event_at = e.time;
  state.counters.events_by_type[e.type] = (state.counters.events_by_type[e.type] ?? 0) + 1;

  const d = e.data;
  const t = e.target ? target(state, e.target, e) : null;
  if (t) t.updated_at = e.time;

  switch (e.type) {
    case 'target.registered': {
      if (!t) break;
      // A renamed or transferred repository keeps what the log knew under its old name: its open
      // PRs (their merges now arrive under the new one), its pause, its breaker, its tasks' tries
      // and merges. A fresh target would free PR slots, lift an operator's pause and redo work.
      const from = str(d.renamed_from);
      const old = from && from !== t.id ? state.targets[from] : undefined;
      if (old && old.lifecycle !== 'removed' && t.registered_at === null) {
        Object.assign(t, structuredClone({ ...old, id: t.id, updated_at: e.time }));
      }
      const installation = num(d.installation_id);
      if (installation !== null) t.installation_id = installation;
      const branch = str(d.default_branch);
      if (branch) t.default_branch = branch;
      t.lifecycle = 'active';
      t.registered_at ??= e.time;
      node(state, e, subjects.target(t.id), 'target', t.id, t.id, { lifecycle: 'active' });
      break;
    }
    case 'target.removed':
    case 'target.suspended':
    case 'target.unsuspended': {
      if (!t) break;
      t.lifecycle = e.type === 'target.removed' ? 'removed' : e.type === 'target.suspended' ? 'suspended' : 'active';
      node(state, e, subjects.target(t.id), 'target', t.id, t.id, { lifecycle: t.lifecycle });
      break;
    }
    case 'target.paused':
      if (t) t.paused = { by: e.actor, at: e.time, reason: str(d.reason) ?? '' };
      break;
    case 'target.resumed':
      if (t) t.paused = null;
      break;
    case 'backlog.synced': {
      if (!t) break;
      const tasks = Array.isArray(d.tasks) ? (d.tasks as TaskSummary[]) : [];
      t.backlog = {
        state: 'synced',
        synced_at: e.time,
        etag: str(d.etag),
        commit: str(d.commit),
        error: null,
        tasks,
        policy_file: obj(d.policy_file) ?? {},
        backlog_max_open_prs: num(d.backlog_max_open_prs),
        contract: obj(d.contract),
        contract_error: contractError(d.contract_error),
      };
      for (const task of tasks) {
        progress(t, task.id);
        const id = subjects.task(t.id, task.id);
        node(state, e, id, 'task', t.id, task.title || task.id, {
          task_id: task.id,
          ready: task.ready,
          status: task.status,
          priority: task.priority,
        });
        edge(state, id, subjects.target(t.id), 'belongs_to');
        for (const dep of task.dependencies ?? []) edge(state, id, subjects.task(t.id, dep), 'depends_on');
      }
      break;
    }
    case 'backlog.invalid':
      if (t) {
        t.backlog = {
          ...t.backlog,
          state: 'invalid',
          synced_at: e.time,
          // The ETag of the invalid files: a conditional re-read of the same broken file costs nothing.
          etag: str(d.etag) ?? t.backlog.etag,
          error: { file: str(d.file) ?? '.leviathan/backlog.yaml', line: num(d.line), reason: str(d.reason) ?? '' },
        };
      }
      break;
    case 'task.selected': {
      if (!t) break;
      const taskId = str(d.task_id);
      const attemptId = str(d.attempt_id);
      if (!taskId || !attemptId) break;
      const p = progress(t, taskId);
      p.in_flight_attempt = attemptId;
      // Counted at selection: a worker that fails before attempt.created is stored still used a try.
      p.attempts += 1;
      t.last_execution_at = e.time;
      t.last_outcome = { outcome: 'executed', reason: str(d.trigger) ?? 'task_selected', detail: null, task_id: taskId, at: e.time, seq: e.seq };
      const day = e.time.slice(0, 10);
      t.selected_today = t.selected_today.day === day ? { day, count: t.selected_today.count + 1 } : { day, count: 1 };
      counters(state, t.id).tasks_selected += 1;
      attemptNode(state, e, t, attemptId, taskId, { state: 'created' });
      break;
    }
    case 'task.skipped': {
      if (!t) break;
      const outcome = str(d.outcome);
      const reason = str(d.reason) ?? 'unknown';
      if (outcome === 'idle' || outcome === 'blocked' || outcome === 'paused' || outcome === 'error') {
        t.last_outcome = { outcome, reason, detail: str(d.detail), task_id: str(d.task_id), at: e.time, seq: e.seq };
      }
      const c = counters(state, t.id);
      c.skips_by_reason[reason] = (c.skips_by_reason[reason] ?? 0) + 1;
      break;
    }
    case 'task.triggered': {
      const taskId = str(d.task_id);
      if (t && taskId) progress(t, taskId).last_triggered = { by: e.actor, at: e.time, reason: str(d.reason) };
      break;
    }
    case 'attempt.created':
    case 'attempt.started': {
      const attemptId = str(d.attempt_id);
      if (!t || !attemptId) break;
      const a = findAttempt(t, attemptId);
      const taskId = str(d.task_id) ?? a?.task_id ?? null;
      if (!taskId) break;
      const p = progress(t, taskId);
      // A start reported after the attempt ended (a late or replayed report) must not revive it.
      if (ended(state, attemptId)) break;
      p.in_flight_attempt = attemptId;
      const timeout = e.type === 'attempt.created' ? num(d.timeout_seconds) : null;
      upsertAttempt(t, attemptId, taskId, e.time, {
        state: e.type === 'attempt.started' ? 'running' : (a?.state ?? 'created'),
        ...(timeout !== null && timeout > 0 ? { timeout_seconds: timeout } : {}),
      });
      // attempt.started names no handle: undefined keeps attempt.created's (null would erase it,
      // and a lost worker's report could no longer name its Job or process).
      attemptNode(state, e, t, attemptId, taskId, { state: e.type === 'attempt.started' ? 'running' : 'created', handle: str(d.handle) ?? undefined });
      break;
    }
    case 'attempt.step': {
      // What a running attempt is doing; a late report after it ended changes nothing.
      const attemptId = str(d.attempt_id);
      const step = str(d.step);
      if (!t || !attemptId || !step || ended(state, attemptId)) break;
      const a = findAttempt(t, attemptId);
      const taskId = str(d.task_id) ?? a?.task_id ?? null;
      if (a) a.step = step;
      if (taskId) attemptNode(state, e, t, attemptId, taskId, { step });
      break;
    }
    case 'attempt.succeeded':
    case 'attempt.failed': {
      const attemptId = str(d.attempt_id);
      if (!t || !attemptId) break;
      const a = findAttempt(t, attemptId);
      if (ended(state, attemptId)) break; // reported twice
      const taskId = str(d.task_id) ?? a?.task_id ?? null;
      const failed = e.type === 'attempt.failed';
      const failureType = failed ? (str(d.failure_type) ?? 'other') : null;
      // The metrics still count it (an executor that refuses workers must show), the guardrails do not.
      const uncounted = failed && notCounted(e, failureType!);
      const duration = num(d.duration_seconds);
      const c = counters(state, t.id);
      if (failed) {
        c.attempts_failure += 1;
        c.failures_by_type[failureType!] = (c.failures_by_type[failureType!] ?? 0) + 1;
        // The breaker is about the agent's work failing; an outage is shown by the target's error.
        if (!uncounted) t.breaker.consecutive_failures += 1;
      } else {
        c.attempts_success += 1;
        t.breaker = { consecutive_failures: 0, open: false, tripped_at: null, cooldown_until: null };
      }
      if (duration !== null && duration >= 0) observeDuration(c, duration);
      if (taskId) {
        const p = progress(t, taskId);
        if (p.in_flight_attempt === attemptId) {
          p.in_flight_attempt = null;
          // Still in flight, so its selection counted a try and a task of the day: both are given back.
          if (uncounted) {
            p.attempts = Math.max(0, p.attempts - 1);
            const selectedOn = state.graph.nodes[subjects.attempt(attemptId)]?.created_at.slice(0, 10);
            if (t.selected_today.day === selectedOn && t.selected_today.count > 0) t.selected_today.count -= 1;
          }
        }
        if (failed && !uncounted) {
          p.failures += 1;
          p.last_failure = { failure_type: failureType!, message: str(d.message), at: e.time };
        }
        upsertAttempt(t, attemptId, taskId, e.time, {
          state: failed ? 'failed' : 'succeeded',
          ended_at: e.time,
          failure_type: failureType,
          message: str(d.message),
          pr_number: num(d.pr_number),
          duration_seconds: duration,
          counted: !uncounted,
          // The step it failed in, as the worker reported it; a success ends them all.
          step: failed ? (str(d.step) ?? a?.step ?? null) : null,
        });
        attemptNode(state, e, t, attemptId, taskId, { state: failed ? 'failed' : 'succeeded', failure_type: failureType });
      }
      break;
    }
    case 'attempt.token_refreshed': {
      // An audit record: it changes no state. The attempt's node shows it was active then; an
      // attempt the graph does not know is not invented from it.
      const attemptId = str(d.attempt_id);
      if (attemptId) touch(state, e, subjects.attempt(attemptId));
      break;
    }
    case 'pr.created':
    case 'pr.observed':
    case 'pr.reopened': {
      const n = num(d.number);
      if (!t || n === null) break;
      const id = subjects.pr(t.id, n);
      const existing = state.graph.nodes[id];
      if (!isNewer(existing, d)) break;
      // A PR known as merged or closed comes back through pr.reopened, or through an open report
      // that GitHub dated after the close (a reopen delivered before the close was applied).
      if (e.type !== 'pr.reopened' && existing && existing.props.state !== 'open' && !strictlyNewer(existing, d)) break;
      // Reconcile's word that a PR counted on its `leviathan` label alone is someone else's: the
      // attempt marker decides, and the label once let a human PR hold a max_open_prs slot.
      const disowned = e.type === 'pr.observed' && d.disowned === true;
      if (disowned) t.open_prs = t.open_prs.filter((p) => p.number !== n);
      const ours = !disowned && (e.type === 'pr.created' || d.leviathan === true || existing?.props.leviathan === true);
      const taskId = str(d.task_id) ?? (existing?.props.task_id as string | undefined) ?? null;
      const attemptId = str(d.attempt_id) ?? (existing?.props.attempt_id as string | undefined) ?? null;
      node(state, e, id, 'pr', t.id, `#${n}${str(d.title) ? ` ${str(d.title)}` : ''}`, {
        number: n,
        state: 'open',
        leviathan: ours,
        url: str(d.url) ?? existing?.props.url ?? null,
        task_id: taskId,
        attempt_id: attemptId,
        pr_updated_at: str(d.updated_at) ?? existing?.props.pr_updated_at ?? null,
      });
      if (ours) {
        if (!t.open_prs.some((p) => p.number === n)) {
          t.open_prs.push({
            number: n,
            url: str(d.url) ?? (existing?.props.url as string | null) ?? null,
            title: str(d.title),
            task_id: taskId,
            attempt_id: attemptId,
            opened_at: e.time,
          });
          t.open_prs.sort((a, b) => a.number - b.number);
          if (e.type === 'pr.created' && !existing) counters(state, t.id).prs_created += 1;
        }
        if (taskId) progress(t, taskId).open_pr = n;
        if (attemptId) edge(state, id, subjects.attempt(attemptId), 'created_by');
        if (taskId) edge(state, id, subjects.task(t.id, taskId), 'resolves');
      } else if (!t.observed_open_prs.includes(n)) {
        t.observed_open_prs.push(n);
      }
      edge(state, id, subjects.target(t.id), 'belongs_to');
      break;
    }
    case 'pr.merged':
    case 'pr.closed': {
      const n = num(d.number);
      if (!t || n === null) break;
      const id = subjects.pr(t.id, n);
      const existing = state.graph.nodes[id];
      if (!isNewer(existing, d)) break;
      // An open wins a same-second tie: GitHub dates by the second, so a close and a reopen in one
      // second tie. A close dated the same as the open already applied loses here, and a reopen
      // applied after a same-second close wins (pr.reopened skips strictlyNewer above), so either
      // order of delivery leaves the PR open.
      if (existing?.props.state === 'open' && sameTime(existing, d)) break;
      const merged = e.type === 'pr.merged';
      const wasOpen = t.open_prs.find((p) => p.number === n);
      t.open_prs = t.open_prs.filter((p) => p.number !== n);
      t.observed_open_prs = t.observed_open_prs.filter((x) => x !== n);
      const taskId = (existing?.props.task_id as string | null | undefined) ?? wasOpen?.task_id ?? str(d.task_id);
      if (taskId) {
        const p = progress(t, taskId);
        if (p.open_pr === n) p.open_pr = null;
        if (merged) p.merged_pr = n;
        // Closed unmerged: the reviewer said no to this try, so it counts against max_attempts_per_task.
        else if (existing?.props.state !== 'closed') p.last_failure = { failure_type: 'pr_closed', message: `PR #${n} was closed without merging`, at: e.time };
      }
      const ours = d.leviathan === true || existing?.props.leviathan === true || wasOpen !== undefined;
      if (existing?.props.state !== (merged ? 'merged' : 'closed')) {
        const c = counters(state, t.id);
        if (ours) {
          if (merged) c.prs_merged += 1;
          else c.prs_closed += 1;
        }
      }
      node(state, e, id, 'pr', t.id, existing?.label ?? `#${n}`, {
        number: n,
        state: merged ? 'merged' : 'closed',
        // Remembered for a reopen that may follow: whose PR it is and what it resolves.
        leviathan: ours,
        ...(taskId ? { task_id: taskId } : {}),
        ...(str(d.attempt_id) ? { attempt_id: str(d.attempt_id) } : {}),
        pr_updated_at: str(d.updated_at) ?? existing?.props.pr_updated_at ?? null,
      });
      edge(state, id, subjects.target(t.id), 'belongs_to');
      break;
    }
    case 'scheduler.cycle_started': {
      state.scheduler.last_cycle_id = str(d.cycle_id);
      state.scheduler.last_cycle_started_at = e.time;
      if (typeof d.autonomy_enabled === 'boolean' && d.autonomy_enabled !== state.autonomy.enabled) {
        state.autonomy = { ...state.autonomy, enabled: d.autonomy_enabled, source: 'configmap', changed_by: e.actor, changed_at: e.time, reason: null };
      }
      const defaults = obj(d.global_defaults);
      if (defaults) state.autonomy.global_defaults = defaults;
      break;
    }
    case 'scheduler.cycle_completed': {
      state.scheduler.last_cycle_completed_at = e.time;
      state.scheduler.cycles += 1;
      state.counters.scheduler_cycles += 1;
      const reading = rateLimitReading(d.github_rate_limit);
      if (reading) state.scheduler.github_rate_limit = { ...reading, at: e.time };
      break;
    }
    case 'circuit_breaker.tripped':
      if (t) {
        t.breaker = {
          consecutive_failures: num(d.consecutive_failures) ?? t.breaker.consecutive_failures,
          open: true,
          tripped_at: e.time,
          cooldown_until: str(d.cooldown_until),
        };
        counters(state, t.id).breaker_trips += 1;
      }
      break;
    case 'circuit_breaker.reset':
      if (t) t.breaker = { consecutive_failures: 0, open: false, tripped_at: null, cooldown_until: null };
      break;
    case 'autonomy.enabled':
    case 'autonomy.disabled': {
      const source = str(d.source);
      state.autonomy = {
        ...state.autonomy,
        enabled: e.type === 'autonomy.enabled',
        source: source === 'configmap' || source === 'settings' ? source : 'operator',
        changed_by: e.actor,
        changed_at: e.time,
        reason: str(d.reason),
      };
      break;
    }
    case 'scheduler.emergency_stopped':
      state.autonomy.emergency_stop = { by: e.actor, at: e.time, reason: str(d.reason) ?? '' };
      break;
    case 'scheduler.emergency_resumed':
      state.autonomy.emergency_stop = null;
      break;
    case 'console.signed_out': {
      const key = str(d.session);
      const until = Date.parse(str(d.expires_at) ?? '');
      const now = Date.parse(e.time);
      // Only sign-outs of sessions that could still be presented are kept.
      for (const [k, exp] of Object.entries(state.signed_out_sessions)) if (Date.parse(exp) <= now) delete state.signed_out_sessions[k];
      if (key && until > now) state.signed_out_sessions[key] = new Date(until).toISOString();
      break;
    }
    default:
      // Unknown types are kept in the graph under their subject so nothing is invisible.
      if (e.subject && !state.graph.nodes[e.subject]) {
        node(state, e, e.subject, 'other', e.target, e.subject, {});
        if (e.target) edge(state, e.subject, subjects.target(e.target), 'belongs_to');
      } else if (e.subject) {
        touch(state, e, e.subject);
      }
  }

  if (OPERATOR_ACTION_TYPES.includes(e.type)) {
    const id = subjects.action(e.id);
    node(state, e, id, 'action', e.target, `${e.type} by ${e.actor}`, { type: e.type, actor: e.actor, reason: str(d.reason) });
    if (e.target) edge(state, id, subjects.target(e.target), 'acted_on');
    const taskId = str(d.task_id);
    if (e.target && taskId) edge(state, id, subjects.task(e.target, taskId), 'acted_on');
  }
  return state;
}

/** Replays events into a state (a fresh one unless given). */
export function replay(events: Iterable<StoredEvent>, state: ProjectionState): ProjectionState {
  for (const e of events) evolve(state, e);
  return state;
}

function target(state: ProjectionState, id: string, e: StoredEvent): TargetState {
  let t = state.targets[id];
  if (!t) {
    t = emptyTarget(id);
    state.targets[id] = t;
    node(state, e, subjects.target(id), 'target', id, id, { lifecycle: 'active' });
  }
  return t;
}

function counters(state: ProjectionState, id: string): TargetCounters {
  return (state.counters.by_target[id] ??= emptyTargetCounters());
}

function progress(t: TargetState, taskId: string): TaskProgress {
  return (t.tasks[taskId] ??= emptyTaskProgress());
}

/** Has the attempt ended? From its graph node, which (unlike recent_attempts) is never trimmed. */
function ended(state: ProjectionState, attemptId: string): boolean {
  const s = state.graph.nodes[subjects.attempt(attemptId)]?.props.state;
  return s === 'succeeded' || s === 'failed';
}

function findAttempt(t: TargetState, attemptId: string): AttemptSummary | undefined {
  return t.recent_attempts.find((a) => a.attempt_id === attemptId);
}

function upsertAttempt(t: TargetState, attemptId: string, taskId: string, at: string, patch: Partial<AttemptSummary>): void {
  const a = findAttempt(t, attemptId);
  if (a) {
    Object.assign(a, patch);
    return;
  }
  t.recent_attempts.unshift({
    attempt_id: attemptId,
    task_id: taskId,
    state: 'created',
    created_at: at,
    ended_at: null,
    failure_type: null,
    message: null,
    pr_number: null,
    duration_seconds: null,
    timeout_seconds: null,
    counted: true,
    step: null,
    ...patch,
  });
  if (t.recent_attempts.length > RECENT_ATTEMPTS) t.recent_attempts.length = RECENT_ATTEMPTS;
}

/**
 * Is this failure no verdict on the task? `phase: 'start'`: the worker never ran it (the executor
 * refused it, no GitHub token could be had, or it never reported attempt.started);
 * `phase: 'emergency_stop'`: an operator's emergency stop deleted its worker. Then it is no try
 * of the task and no breaker failure. Before run-cycle marked refused starts, they were the only
 * `executor_failed` and `auth_error` the scheduler recorded (its lost workers are `timeout` or
 * `worker_lost`), so older logs replay to the same meaning. Only the scheduler's word counts: a
 * worker posts as `worker:<attempt>` (its token allows no other), and an agent holding that
 * token must not be able to take back its own failures.
 */
function notCounted(e: StoredEvent, failureType: string): boolean {
  if (e.actor !== SCHEDULER_ACTOR) return false;
  if (e.data.phase !== undefined) return e.data.phase === START_PHASE || e.data.phase === EMERGENCY_STOP_PHASE;
  return failureType === 'executor_failed' || failureType === 'auth_error';
}

function observeDuration(c: TargetCounters, seconds: number): void {
  DURATION_BUCKETS.forEach((le, i) => {
    if (seconds <= le) c.duration_buckets[i] = (c.duration_buckets[i] ?? 0) + 1;
  });
  c.duration_sum += seconds;
  c.duration_count += 1;
}

function attemptNode(
  state: ProjectionState,
  e: StoredEvent,
  t: TargetState,
  attemptId: string,
  taskId: string,
  props: Record<string, unknown>,
): void {
  const id = subjects.attempt(attemptId);
  node(state, e, id, 'attempt', t.id, `attempt ${attemptId}`, { attempt_id: attemptId, task_id: taskId, ...props });
  const taskNode = subjects.task(t.id, taskId);
  if (!state.graph.nodes[taskNode]) {
    node(state, e, taskNode, 'task', t.id, taskId, { task_id: taskId });
    edge(state, taskNode, subjects.target(t.id), 'belongs_to');
  }
  edge(state, id, taskNode, 'attempt_of');
}

function node(
  state: ProjectionState,
  e: StoredEvent,
  id: string,
  type: GraphNode['type'],
  targetId: string | null,
  label: string,
  props: Record<string, unknown>,
): void {
  const existing = state.graph.nodes[id];
  const clean = Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined));
  if (existing) {
    existing.props = { ...existing.props, ...clean };
    if (existing.type === 'other' && type !== 'other') existing.type = type;
    if (type !== 'pr' || label !== `#${String(props.number)}`) existing.label = label;
    existing.last_seq = e.seq;
    existing.updated_at = e.time;
    return;
  }
  const added: GraphNode = {
    id,
    type,
    target: targetId,
    label,
    props: clean,
    first_seq: e.seq,
    last_seq: e.seq,
    created_at: e.time,
    updated_at: e.time,
  };
  state.graph.nodes[id] = added;
  nodeAdded(state.graph.nodes, added);
}

function touch(state: ProjectionState, e: StoredEvent, id: string): void {
  const n = state.graph.nodes[id];
  if (n) {
    n.last_seq = e.seq;
    n.updated_at = e.time;
  }
}

function edge(state: ProjectionState, from: string, to: string, type: GraphEdge['type']): void {
  const key = `${from}|${type}|${to}`;
  const edges = state.graph.edges;
  if (edges[key]) return;
  const added: GraphEdge = { from, to, type };
  edges[key] = added;
  edgeAdded(edges, added);
}

/**
 * GitHub may deliver PR webhooks out of order. When the event carries the PR's `updated_at`,
 * a transition older than the last one applied is ignored.
 */
function isNewer(existing: GraphNode | undefined, d: Record<string, unknown>): boolean {
  const incoming = str(d.updated_at);
  const seen = existing?.props.pr_updated_at;
  if (!incoming || typeof seen !== 'string') return true;
  return incoming >= seen;
}

/** Both sides dated, at the same time. */
function sameTime(existing: GraphNode, d: Record<string, unknown>): boolean {
  const incoming = str(d.updated_at);
  return incoming !== null && incoming === existing.props.pr_updated_at;
}

/** Both sides dated and the incoming transition strictly later. */
function strictlyNewer(existing: GraphNode, d: Record<string, unknown>): boolean {
  const incoming = str(d.updated_at);
  const seen = existing.props.pr_updated_at;
  return incoming !== null && typeof seen === 'string' && incoming > seen;
}

/**
 * A cycle's `github_rate_limit` when the event schema accepts it (checked again here: events
 * written in-process skip the HTTP edge). Anything else is no reading.
 */
function rateLimitReading(v: unknown): { remaining: number; limit: number; reset: number | null } | null {
  const parsed = githubRateLimitSchema.safeParse(v);
  return parsed.success ? { remaining: parsed.data.remaining, limit: parsed.data.limit, reset: parsed.data.reset } : null;
}

/** The `contract_error` backlog-sync records (`{ line, reason }`); anything else, or nothing, is no error. */
function contractError(v: unknown): { line: number | null; reason: string } | null {
  const o = obj(v);
  if (!o) return null;
  const line = num(o.line);
  return { line: line !== null && line >= 1 ? Math.floor(line) : null, reason: str(o.reason) ?? 'contract.yaml could not be read.' };
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function obj(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}
