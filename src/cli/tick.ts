import { pino, type Logger } from 'pino';
import type { Env } from '../env.ts';
import { clientToken } from './client-token.ts';
import type { GitHubRateLimit } from '../events/types.ts';
import { createExecutor } from '../executors/create-executor.ts';
import type { Executor } from '../executors/executor.ts';
import { lastRateLimit } from '../metrics/registry.ts';
import { refresherFromEnv, type BacklogRefresher } from '../scheduler/backlog-refresh.ts';
import { ControlPlaneError, HttpSchedulerControlPlane } from '../scheduler/control-plane-port.ts';
import { runCycle } from '../scheduler/run-cycle.ts';

/** Ports `tick` builds from the environment unless given (tests pass their own). */
export interface TickOptions {
  logger?: Logger;
  executor?: Executor;
  refresher?: BacklogRefresher | null;
  clock?: { now(): Date };
  /** The process environment, for the local executor's PATH/HOME. */
  processEnv?: Record<string, string | undefined>;
  newCycleId?: () => string;
  /** The process's last GitHub rate-limit reading; the metrics registry's by default. */
  rateLimit?: () => GitHubRateLimit | null;
}

/**
 * `leviathan tick`: one scheduler cycle, then the exit code — 0 whenever the cycle ran (executed,
 * idle and blocked are all normal), 1 when it could not run (control plane unreachable, …).
 */
export async function tick(env: Env, opts: TickOptions = {}): Promise<number> {
  // Not main.ts's createLogger: importing the control plane's composition root would load the console for a five-second job.
  const logger = opts.logger ?? pino({ name: 'leviathan-scheduler', level: env.LOG_LEVEL, redact: { paths: ['token', 'authorization', 'privateKey'], censor: '***' } });
  try {
    const token = await clientToken(env);
    const executor = opts.executor ?? (await buildExecutor(env, token, opts.processEnv ?? {}, logger));
    const refresher = opts.refresher !== undefined ? opts.refresher : await refresherFromEnv(env, logger);
    const result = await runCycle({
      controlPlane: new HttpSchedulerControlPlane({ url: env.LEVIATHAN_CONTROL_PLANE_URL, token }),
      executor,
      clock: opts.clock ?? { now: () => new Date() },
      logger,
      autonomyConfigPath: env.LEVIATHAN_AUTONOMY_CONFIG,
      maxConcurrentWorkers: env.LEVIATHAN_MAX_CONCURRENT_WORKERS,
      refresher,
      // This process's GitHub calls (the backlog reads) end with it: the cycle's event carries the reading.
      rateLimit: opts.rateLimit ?? lastRateLimit,
      ...(opts.newCycleId ? { newCycleId: opts.newCycleId } : {}),
    });
    logger.info(
      { cycle_id: result.cycle_id, outcomes: Object.fromEntries(result.outcomes.map((o) => [o.target, `${o.outcome}:${o.reason}`])) },
      `Scheduler: Exiting cleanly (${result.verdict})`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ControlPlaneError) {
      logger.error({ error: err.message }, 'Scheduler: Control plane unreachable');
    } else {
      logger.error({ error: (err as Error).message ?? String(err) }, 'Scheduler: Cycle failed');
    }
    return 1;
  }
}

/**
 * A misconfigured executor still lets the cycle run: every start fails with the fix, recorded as
 * error executor_failed where the console shows it, instead of a CronJob that silently crashes.
 */
async function buildExecutor(env: Env, token: string | null, processEnv: Record<string, string | undefined>, logger: Logger): Promise<Executor> {
  try {
    return await createExecutor(env, { controlPlaneUrl: env.LEVIATHAN_CONTROL_PLANE_URL, apiToken: token, processEnv, logger });
  } catch (err) {
    const message = (err as Error).message;
    return {
      kind: env.LEVIATHAN_EXECUTOR,
      start: async () => {
        throw new Error(message);
      },
      list: async () => [],
    };
  }
}
