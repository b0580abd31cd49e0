import type { NewEvent } from '../events/envelope.ts';
import type { Projector } from '../projections/projector.ts';
import { selectionConflict, type SelectionLimits } from '../scheduler/decide.ts';
import { StoreError, type AppendResult, type EventStore } from '../store/event-store.ts';
import { OperationError } from './operation-error.ts';

interface Deps {
  store: EventStore;
  projector: Projector;
}

const locks = new WeakMap<EventStore, Promise<unknown>>();

/** Longest a selection waits for this process's projection to reach the log's head (it holds the append lock meanwhile). */
export const CATCH_UP_LIMIT_MS = 5_000;

/**
 * Appends events, refusing (409 `attempt_in_flight`) a `task.selected` for a task that already
 * has an attempt in flight or an open pull request, or — when the selection carries the limits it
 * was decided under — one whose task has used its tries, or whose target no longer has room or
 * free paths for it (the refusal's `reason` says which). The scheduler CronJob, manual triggers and slash commands decide from
 * snapshots that can be a moment old; this check runs as the store's append guard — against the
 * log as it is at that append, including what other replicas on the same PostgreSQL database
 * appended — and is what makes sure a task is started once and a target's limits hold. Everything
 * else is appended as is.
 */
export function appendChecked(deps: Deps, events: NewEvent[], catchUpLimitMs = CATCH_UP_LIMIT_MS): Promise<AppendResult> {
  if (!events.some((e) => e.type === 'task.selected')) return deps.store.append(events);
  // One checked append at a time per process as well: two in one group would both be checked
  // against the head before the group, neither seeing the other.
  const previous = locks.get(deps.store) ?? Promise.resolve();
  const append = () => deps.store.append(events, { guard: (head) => check(deps, events, head, catchUpLimitMs) });
  const next = previous.then(append, append);
  locks.set(
    deps.store,
    next.catch(() => undefined),
  );
  return next;
}

async function check(deps: Deps, events: NewEvent[], head: number, catchUpLimitMs: number): Promise<void> {
  await caughtUp(deps.projector, head, catchUpLimitMs);
  const state = deps.projector.state;
  // The log's view, then the batch's own effects in order (a batch may end an attempt and
  // select the task again, as a replayed history does).
  const openPr = new Map<string, number | null>();
  const key = (target: string, taskId: string) => `${target}\u0000${taskId}`;
  const progress = (target: string, taskId: string) => {
    const k = key(target, taskId);
    if (!openPr.has(k)) openPr.set(k, state.targets[target]?.tasks[taskId]?.open_pr ?? null);
    return k;
  };
  // Per target, the attempts in flight: the log's, then the batch's own selections and ends. A
  // task's own attempt in flight is found in it (a selection of a task with one is refused, so
  // there is at most one per task).
  const attempts = new Map<string, Array<{ attempt_id: string; task_id: string }>>();
  const runningOn = (target: string) => {
    let list = attempts.get(target);
    if (!list) {
      const tasks = state.targets[target]?.tasks ?? {};
      list = Object.entries(tasks).flatMap(([task_id, p]) => (p.in_flight_attempt ? [{ attempt_id: p.in_flight_attempt, task_id }] : []));
      attempts.set(target, list);
    }
    return list;
  };
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  for (const e of events) {
    if (!e.target) continue;
    const taskId = str(e.data.task_id) ?? taskOfAttempt(state, e.target, str(e.data.attempt_id));
    if (!taskId) continue;
    const k = progress(e.target, taskId);
    const attemptId = str(e.data.attempt_id);
    switch (e.type) {
      case 'task.selected': {
        const running = runningOn(e.target).find((a) => a.task_id === taskId)?.attempt_id ?? null;
        const pr = openPr.get(k);
        if ((running && running !== attemptId) || pr) {
          const why = running && running !== attemptId ? `attempt ${running} is in flight` : `PR #${pr} is open`;
          throw new OperationError('attempt_in_flight', `${e.target} task ${taskId} was not selected again: ${why}.`, { target: e.target, task_id: taskId });
        }
        const limits = selectionLimits(e.data.limits);
        const t = state.targets[e.target];
        const others = runningOn(e.target).filter((a) => a.attempt_id !== attemptId);
        // Tries are the log's count at the append; a batch's own selections and ends are not
        // replayed into it (that would repeat evolve's counting), and the scheduler posts each
        // selection alone.
        const conflict = limits && t ? selectionConflict(t, others, taskId, limits) : null;
        if (conflict) {
          throw new OperationError('attempt_in_flight', `${e.target} task ${taskId} was not selected: ${conflict.detail}`, {
            target: e.target,
            task_id: taskId,
            reason: conflict.reason,
          });
        }
        if (attemptId) attempts.set(e.target, [...others, { attempt_id: attemptId, task_id: taskId }]);
        break;
      }
      case 'attempt.succeeded':
      case 'attempt.failed':
        attempts.set(
          e.target,
          runningOn(e.target).filter((a) => a.attempt_id !== attemptId),
        );
        break;
      case 'pr.created':
        if (typeof e.data.number === 'number') openPr.set(k, e.data.number);
        break;
      case 'pr.merged':
      case 'pr.closed':
        if (openPr.get(k) === e.data.number) openPr.set(k, null);
        break;
    }
  }
}

/**
 * The limits a task.selected carries (older selections and raw posts carry none: only the task
 * itself is checked; selections from before the try limit was carried are not checked for it).
 */
function selectionLimits(v: unknown): SelectionLimits | null {
  if (typeof v !== 'object' || v === null) return null;
  const { max_concurrent_attempts: c, max_open_prs: o, max_attempts_per_task: tries } = v as Record<string, unknown>;
  if (!Number.isInteger(c) || !Number.isInteger(o)) return null;
  return { max_concurrent_attempts: c as number, max_open_prs: o as number, ...(Number.isInteger(tries) ? { max_attempts_per_task: tries as number } : {}) };
}

/** Waits for the projection to apply `head`; refuses (503, retryable) past `limitMs`. */
async function caughtUp(projector: Projector, head: number, limitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreError('store_unavailable', `The projection has not reached seq ${head} after ${limitMs} ms; nothing was selected. Retry.`)), limitMs);
  });
  try {
    await Promise.race([projector.waitFor(head), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The task an attempt belongs to, as the projection knows it. */
function taskOfAttempt(state: Projector['state'], target: string, attemptId: string | null): string | null {
  if (!attemptId) return null;
  const fromGraph = state.graph.nodes[`attempt:${attemptId}`]?.props.task_id;
  if (typeof fromGraph === 'string') return fromGraph;
  return state.targets[target]?.recent_attempts.find((a) => a.attempt_id === attemptId)?.task_id ?? null;
}
