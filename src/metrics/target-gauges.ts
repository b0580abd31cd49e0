import type { ProjectionState, TargetState } from '../projections/state.ts';
import { breakerOpen, policyOf, type TargetStatus } from '../projections/target-view.ts';

/** The five per-target gauge values of one scrape. */
export interface TargetGauges {
  status: TargetStatus;
  open_prs: number;
  max_open_prs: number;
  ready_tasks: number;
  breaker_open: boolean;
}

/**
 * The figures `targetView` reports for a target (status, open_prs.length, max_open_prs,
 * ready_tasks, breaker.open), without building its task list.
 *
 * targetView makes a TaskView with an explanation for every backlog task, which costs ~80 µs
 * per target with a dozen tasks: 80+ ms for 1,000 targets, and every scheduler cycle touches
 * every target, so caching would not keep scrapes under the 50 ms budget. This walks the tasks
 * once and only counts. It must agree with targetView exactly (a dashboard saying "blocked" while
 * the console says "idle" is worse than either); test/metrics/target-gauges.test.ts checks that
 * on generated states, so a change to targetView's judgement fails there until it is made here too.
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
  for (const task of tasks) {
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
    if (!(task.dependencies ?? []).some((dep) => !completed(dep))) runnable++;
  }
  byId.clear();

  const max = policy.max_open_prs;
  const open = t.open_prs.length;
  const brk = breakerOpen(t, now);
  const gauges = (status: TargetStatus): TargetGauges => ({ status, open_prs: open, max_open_prs: max, ready_tasks: ready, breaker_open: brk });

  // The order of targetView's judge(): the first rule that matches decides.
  const last = t.last_outcome;
  if (t.lifecycle !== 'active' || t.paused || state.autonomy.emergency_stop || state.autonomy.enabled !== true) return gauges('paused');
  if (t.backlog.state === 'invalid' && t.backlog.error) return gauges('error');
  if (last?.outcome === 'error') return gauges('error');
  if (running > 0) return gauges('active');
  if (brk || open >= max) return gauges('blocked');
  if (t.backlog.state === 'unknown' || runnable === 0) return gauges('idle');
  if (last?.outcome === 'blocked' && last.reason !== 'max_open_prs' && last.reason !== 'circuit_breaker_open') return gauges('blocked');
  return gauges('active');
}

/** Reused between calls (the render is synchronous): one Map per target per scrape is measurable garbage. */
const byId = new Map<string, TargetState['backlog']['tasks'][number]>();

interface Limits {
  max_open_prs: number;
  max_attempts_per_task: number;
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
  const limits = { max_open_prs: policy.max_open_prs, max_attempts_per_task: policy.max_attempts_per_task };
  limitsCache.set(t.backlog, { defaults: state.autonomy.global_defaults, limits });
  return limits;
}
