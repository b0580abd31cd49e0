import type { Logger } from 'pino';
import type { GuardrailOverrides } from '../contract/policy.ts';
import type { Executor } from '../executors/executor.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import { InProcessSchedulerControlPlane } from './control-plane-port.ts';
import { lostWorkerEvents } from './lost-workers.ts';

/** How often the control plane looks for local workers that ended without reporting. */
export const WORKER_WATCH_INTERVAL_MS = 30_000;

/**
 * In the control plane, for the local executor: every interval, an in-flight attempt whose
 * worker process has ended (deadline or crash) without reporting is recorded as attempt.failed
 * (`timeout` / `worker_lost`), so the task and the breaker move on without waiting for a tick.
 * Attempts the executor does not know are left to the scheduler's cycle.
 */
export function startWorkerWatch(deps: {
  executor: Executor;
  store: EventStore;
  projector: Projector;
  clock: { now(): Date };
  logger: Logger;
  intervalMs?: number;
}): { stop(): void; check(): Promise<number> } {
  const cp = new InProcessSchedulerControlPlane(deps);
  let running = false;
  const check = async (): Promise<number> => {
    if (running) return 0;
    running = true;
    try {
      const runs = await deps.executor.list();
      if (!runs.some((r) => r.state !== 'running')) return 0;
      const snapshot = await cp.snapshot();
      const lost = lostWorkerEvents(deps.clock.now(), snapshot, runs, {
        globalDefaults: snapshot.autonomy.global_defaults as GuardrailOverrides,
        onlyKnownRuns: true,
      });
      for (const e of lost) deps.logger.warn({ target: e.target, attempt_id: e.data.attempt_id, failure_type: e.data.failure_type }, 'Scheduler: Worker ended without reporting');
      await cp.post(lost);
      return lost.length;
    } catch (err) {
      deps.logger.warn({ error: (err as Error).message }, 'Scheduler: Worker watch failed');
      return 0;
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), deps.intervalMs ?? WORKER_WATCH_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer), check };
}
