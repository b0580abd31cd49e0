import type { Logger } from 'pino';
import { recordOutsideSuspension, type AutonomyControlDeps } from './autonomy-controls.ts';

/** How often the control plane compares the scheduler CronJob's `suspend` with the log. */
export const SUSPENSION_WATCH_INTERVAL_MS = 60_000;

/**
 * In the control plane, with a cluster: keeps the log in step with the CronJob's `suspend`, so a
 * `kubectl patch cronjob … suspend` (the operator document's stop and resume) shows on the
 * dashboard and in the metrics, and an unsuspend lets the next tick execute rather than skip
 * every target for an emergency stop nobody would clear. A failed read changes nothing: the log
 * keeps its last word, and the failure is logged once until the reads work again.
 */
export function startSuspensionWatch(deps: AutonomyControlDeps & { logger: Logger; intervalMs?: number }): { stop(): void; check(): Promise<void> } {
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
  return { stop: () => clearInterval(timer), check };
}
