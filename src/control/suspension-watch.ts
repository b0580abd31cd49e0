import type { Logger } from 'pino';
import { recordOutsideSuspension, type AutonomyControlDeps } from './autonomy-controls.ts';

/** How often the control plane compares the scheduler CronJob's `suspend` with the log. */
export const SUSPENSION_WATCH_INTERVAL_MS = 60_000;

/** How long a decision waits for a check of its own (`settle`) before it goes with the log's word. */
export const SUSPENSION_SETTLE_MS = 5_000;

export interface SuspensionWatch {
  stop(): void;
  /** One comparison now (or the one in progress). Never rejects: a failed read is logged. */
  check(): Promise<void>;
  /**
   * A check waited for at most `ms`: called before a tick's snapshot or a trigger decides, so a
   * `kubectl patch … suspend:false` made seconds ago counts at once rather than at the next
   * interval; a slow API server holds no decision longer than that.
   */
  settle(ms?: number): Promise<void>;
}

/**
 * In the control plane, with a cluster: keeps the log in step with the CronJob's `suspend`, so a
 * `kubectl patch cronjob … suspend` (the operator document's stop and resume) shows on the
 * dashboard and in the metrics, and an unsuspend lets the next tick execute rather than skip
 * every target for an emergency stop nobody would clear. A failed read changes nothing: the log
 * keeps its last word, and the failure is logged once until the reads work again.
 */
export function startSuspensionWatch(deps: AutonomyControlDeps & { logger: Logger; intervalMs?: number }): SuspensionWatch {
  let failing = false;
  let running: Promise<void> | null = null;
  const check = (): Promise<void> =>
    (running ??= (async () => {
      try {
        const event = await recordOutsideSuspension(deps);
        if (event) {
          deps.logger.warn(
            { seq: event.seq, cronjob: event.data.cronjob },
            event.type === 'scheduler.emergency_stopped'
              ? 'Scheduler: CronJob suspended outside Leviathan; recorded as an emergency stop'
              : 'Scheduler: CronJob unsuspended outside Leviathan; recorded as resumed',
          );
        }
        failing = false;
      } catch (err) {
        if (!failing) deps.logger.warn({ error: (err as Error).message }, 'Scheduler: Could not read the scheduler CronJob; its suspend flag is not followed meanwhile');
        failing = true;
      } finally {
        running = null;
      }
    })());
  void check();
  const timer = setInterval(() => void check(), deps.intervalMs ?? SUSPENSION_WATCH_INTERVAL_MS);
  timer.unref();
  const settle = (ms = SUSPENSION_SETTLE_MS): Promise<void> => {
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timeout = setTimeout(resolve, ms);
      timeout.unref();
    });
    return Promise.race([check(), late]).finally(() => clearTimeout(timeout));
  };
  return { stop: () => clearInterval(timer), check, settle };
}
