import type { ProjectionState, TargetState } from '../projections/state.ts';
import { breakerOpen, policyOf, selectionOrder, type TargetStatus } from '../projections/target-view.ts';
import { READY_QUEUE_HEAD } from './metric-names.ts';

/** The per-target gauge values of one scrape. */
export interface TargetGauges {
  status: TargetStatus;
  open_prs: number;
  max_open_prs: number;
  ready_tasks: number;
  breaker_open: boolean;
  /**
   * Ids of the first READY_QUEUE_HEAD tasks in state `ready` (runnable now), in selection order:
   * the scheduler's candidates, in the order it considers them. Tasks counted in `ready_tasks`
   * that wait on dependencies are not in it.
   */
  ready_queue: readonly string[];
}

/** Shared by every target with nothing ready: no array per target per scrape. */
const NO_QUEUE: readonly string[] = Object.freeze([]);

/**
 * The figures `targetView` reports for a target (status, open_prs.length, max_open_prs,
 * ready_tasks, breaker.open, and the head of `tasks` in state `ready`), without building its task
 * list.
 *
 * targetView makes a TaskView with an explanation for every backlog task, which costs ~80 µs
 * per target with a dozen tasks: 80+ ms for 1,000 targets, and every scheduler cycle touches
 * every target, so caching would not keep scrapes under the 50 ms budget. This walks the tasks
 * once and only counts; the queue's head then takes the runnable ones in the selection order
 * (target-view's selectionOrder, which taskViews sorts by), cached per backlog with the limits. It must agree with targetView exactly (a
 * dashboard saying "blocked" while the console says "idle" is worse than either);
 * test/metrics/target-gauges.test.ts checks that on generated states, so a change to targetView's
 * judgement fails there until it is made here too.
 */
export function targetGauges(state: ProjectionState, t: TargetState, now: Date): TargetGauges {
  const policy = limitsOf(state, t);
  const tasks = t.backlog.tasks;
  // As in taskViews: a task id listed twice resolves to its last entry.
  byId.clear();
  for (const task of tasks) byId.set(task.id, task);
  const completed = (id: string): boolean => byId.get(id)?.status === 'completed' || (t.tasks[id]?.merged_pr ?? null) !== null;

  let running = 0;
  let runnable = 0;
  let ready = 0;
  let only = -1; // index of the runnable task while there is just one
  const stamp = nextStamp(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!;
    if (completed(task.id)) continue;
    const p = t.tasks[task.id];
    if (p?.open_pr) continue;
    if (p?.in_flight_attempt) {
      running++;
      continue;
    }
    if (p?.last_failure && (p.attempts ?? 0) >= policy.max_attempts_per_task) continue;
    if (!task.ready || task.status !== 'pending') continue;
    ready++;
    if ((task.dependencies ?? []).some((dep) => !completed(dep))) continue;
    runnable++;
    only = i;
    runnableMarks[i] = stamp;
  }
  byId.clear();

  // The head of the queue: the runnable tasks in selection order. One runnable task needs no order.
  let readyQueue: readonly string[] = NO_QUEUE;
  if (runnable === 1) readyQueue = [tasks[only]!.id];
  else if (runnable > 1) {
    const head: string[] = [];
    for (const i of (policy.order ??= selectionOrder(tasks))) {
      if (runnableMarks[i] !== stamp) continue;
      head.push(tasks[i]!.id);
      if (head.length === READY_QUEUE_HEAD) break;
    }
    readyQueue = head;
  }

  const max = policy.max_open_prs;
  const open = t.open_prs.length;
  const brk = breakerOpen(t, now);
  const gauges = (status: TargetStatus): TargetGauges => ({
    status,
    open_prs: open,
    max_open_prs: max,
    ready_tasks: ready,
    breaker_open: brk,
    ready_queue: readyQueue,
  });

  // The order of targetView's judge(): the first rule that matches decides.
  const last = t.last_outcome;
  if (t.lifecycle !== 'active' || t.paused || state.autonomy.emergency_stop || state.autonomy.enabled !== true) return gauges('paused');
  if (t.backlog.state === 'invalid' && t.backlog.error) return gauges('error');
  if (last?.outcome === 'error') return gauges('error');
  // The scheduler's order (decide): no backlog read yet is idle, whatever the PRs and breaker say.
  if (t.backlog.state === 'unknown') return gauges('idle');
  if (running > 0) return gauges('active');
  if (brk || open >= max) return gauges('blocked');
  if (runnable === 0) return gauges('idle');
  if (last?.outcome === 'blocked' && last.reason !== 'max_open_prs' && last.reason !== 'circuit_breaker_open') return gauges('blocked');
  return gauges('active');
}

/** Reused between calls (the render is synchronous): one Map per target per scrape is measurable garbage. */
const byId = new Map<string, TargetState['backlog']['tasks'][number]>();

/**
 * `runnableMarks[i] === stamp`: task i is runnable in the current call. Reused between calls and
 * never cleared: each call takes a new stamp, so older marks do not match.
 */
let runnableMarks = new Uint32Array(64);
let lastStamp = 0;

function nextStamp(tasks: number): number {
  if (runnableMarks.length < tasks) runnableMarks = new Uint32Array(Math.max(tasks, runnableMarks.length * 2));
  if (lastStamp === 0xffffffff) {
    runnableMarks.fill(0);
    lastStamp = 0;
  }
  return ++lastStamp;
}

interface Limits {
  max_open_prs: number;
  max_attempts_per_task: number;
  /** Indices of the backlog's tasks in selection order, computed when first needed: it changes only with the backlog. */
  order: readonly number[] | null;
}

/**
 * policyOf is ~2 µs (it builds the whole effective policy), and its inputs rarely change: evolve
 * replaces `t.backlog` and `autonomy.global_defaults` with new objects whenever they change, so the
 * pair identifies the result.
 */
const limitsCache = new WeakMap<object, { defaults: object; limits: Limits }>();

function limitsOf(state: ProjectionState, t: TargetState): Limits {
  const cached = limitsCache.get(t.backlog);
  if (cached && cached.defaults === state.autonomy.global_defaults) return cached.limits;
  const policy = policyOf(state, t);
  const limits = { max_open_prs: policy.max_open_prs, max_attempts_per_task: policy.max_attempts_per_task, order: null };
  limitsCache.set(t.backlog, { defaults: state.autonomy.global_defaults, limits });
  return limits;
}
