/**
 * A realistic stretch of a Leviathan day as the API receives it (scheduler, workers, GitHub
 * webhooks), for the metrics tests that run a real control plane.
 */
import { task } from '../projections/given.ts';

/** Events for `web` (busy: attempts, PRs, a tripped breaker) and `api` (one open PR, otherwise quiet). */
export function dayOfEvents(web: string, api: string, now = new Date()): Array<Record<string, unknown>> {
  const cooldown = new Date(now.getTime() + 60 * 60_000).toISOString();
  // Within its window at `now` (a reading past its reset is shown as a full budget).
  const rateLimitReset = rateLimitResetOf(now);
  return [
    { type: 'autonomy.enabled', data: { reason: 'rollout' } },
    { type: 'target.registered', target: web, data: { installation_id: 7, default_branch: 'main' } },
    { type: 'target.registered', target: api, data: { installation_id: 7, default_branch: 'main' } },
    { type: 'backlog.synced', target: web, data: { tasks: [task('a'), task('b', { dependencies: ['a'] }), task('c', { ready: false })], etag: 'w1' } },
    { type: 'backlog.synced', target: api, data: { tasks: [task('x'), task('y')], etag: 'a1' } },
    { type: 'scheduler.cycle_started', data: { cycle_id: 'c1', autonomy_enabled: true } },
    { type: 'task.selected', target: web, data: { task_id: 'a', attempt_id: 'w-1' } },
    { type: 'task.selected', target: api, data: { task_id: 'x', attempt_id: 'a-1' } },
    { type: 'scheduler.cycle_completed', data: { cycle_id: 'c1' } },
    { type: 'attempt.created', target: web, data: { attempt_id: 'w-1', task_id: 'a' } },
    { type: 'attempt.started', target: web, data: { attempt_id: 'w-1', task_id: 'a' } },
    { type: 'attempt.failed', target: web, data: { attempt_id: 'w-1', task_id: 'a', failure_type: 'timeout', duration_seconds: 901 } },
    { type: 'attempt.created', target: api, data: { attempt_id: 'a-1', task_id: 'x' } },
    { type: 'attempt.started', target: api, data: { attempt_id: 'a-1', task_id: 'x' } },
    { type: 'attempt.succeeded', target: api, data: { attempt_id: 'a-1', task_id: 'x', pr_number: 12, duration_seconds: 75 } },
    { type: 'pr.created', target: api, data: { number: 12, task_id: 'x', attempt_id: 'a-1', title: 'Leviathan: x' } },
    { type: 'scheduler.cycle_started', data: { cycle_id: 'c2', autonomy_enabled: true } },
    { type: 'task.selected', target: web, data: { task_id: 'a', attempt_id: 'w-2' } },
    { type: 'task.skipped', target: api, data: { outcome: 'blocked', reason: 'attempt_in_flight' } },
    // The tick's GitHub budget, reported by its cycle (c3 reports none: c2's stays the last).
    { type: 'scheduler.cycle_completed', data: { cycle_id: 'c2', github_rate_limit: { remaining: 3100, limit: 5000, reset: rateLimitReset } } },
    { type: 'attempt.created', target: web, data: { attempt_id: 'w-2', task_id: 'a' } },
    { type: 'attempt.failed', target: web, data: { attempt_id: 'w-2', task_id: 'a', failure_type: 'agent_error', duration_seconds: 40 } },
    { type: 'circuit_breaker.tripped', target: web, data: { consecutive_failures: 2, cooldown_until: cooldown } },
    { type: 'worker.log_uploaded', target: web, data: { bytes: 1234 } },
    { type: 'scheduler.cycle_started', data: { cycle_id: 'c3', autonomy_enabled: true } },
    { type: 'task.skipped', target: web, data: { outcome: 'blocked', reason: 'circuit_breaker_open' } },
    { type: 'task.skipped', target: api, data: { outcome: 'idle', reason: 'no_ready_tasks' } },
    { type: 'scheduler.cycle_completed', data: { cycle_id: 'c3' } },
    { type: 'pr.created', target: web, data: { number: 3, task_id: 'b', title: 'Leviathan: b (manual retry)' } },
    { type: 'pr.merged', target: web, data: { number: 3 } },
  ];
}

/** The reset (Unix seconds) of the rate-limit reading in `dayOfEvents(…, now)`: an hour after `now`. */
export function rateLimitResetOf(now: Date): number {
  return Math.floor(now.getTime() / 1000) + 3600;
}
