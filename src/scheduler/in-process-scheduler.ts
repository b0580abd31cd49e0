import type { Logger } from 'pino';
import type { AutonomyConfig } from '../contract/policy.ts';
import { append } from '../control/target-controls.ts';
import { newEvent, type StoredEvent } from '../events/envelope.ts';
import { subjects, type GitHubRateLimit } from '../events/types.ts';
import type { Executor } from '../executors/executor.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import type { BacklogRefresher } from './backlog-refresh.ts';
import { InProcessSchedulerControlPlane } from './control-plane-port.ts';
import type { TargetDecision } from './decide.ts';
import { runCycle, triggerTask, type CycleResult } from './run-cycle.ts';

/** A manual trigger, from the API, the console, `ctl` or a slash command. */
export interface TriggerCall {
  target: string;
  task_id: string;
  actor: string;
  reason?: string;
  via: 'api' | 'console' | 'ctl' | 'slash_command';
  /** Extra fields for the task.triggered event (e.g. the comment URL of a slash command). */
  data?: Record<string, unknown>;
}

/**
 * The scheduler inside the control plane: manual triggers, and — on one machine, where no CronJob
 * ticks — the cycle every few minutes. Triggers and cycles share one queue, so two decisions never
 * both see the same free slot (the CronJob's `concurrencyPolicy: Forbid`, in-process).
 */
export class InProcessScheduler {
  /** Set once the server listens (local workers need its address); null: triggers answer 501. */
  executor: Executor | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private next: Date | null = null;

  constructor(
    private readonly deps: {
      store: EventStore;
      projector: Projector;
      clock: { now(): Date };
      logger: Logger;
      maxConcurrentWorkers: number;
      refresher?: BacklogRefresher | null;
      /** The process's last GitHub rate-limit reading, reported by each cycle (CycleDeps.rateLimit). */
      rateLimit?: () => GitHubRateLimit | null;
      /** The autonomy config as it is now, for triggers (see triggerTask): the ConfigMap in Kubernetes, else LEVIATHAN_AUTONOMY_CONFIG's file when set. */
      autonomyConfig?: () => Promise<AutonomyConfig>;
      /** LEVIATHAN_AUTONOMY_CONFIG: the in-process cycle reads it as `leviathan tick` does (CycleDeps.autonomyConfigPath). */
      autonomyConfigPath?: string;
      /** In Kubernetes: brings the log in step with the CronJob's suspend flag (SuspensionWatch.settle). */
      followSuspension?: () => Promise<void>;
    },
  ) {}

  /**
   * Before a decision reads the log's emergency stop: in Kubernetes, a suspend or unsuspend of the
   * CronJob made outside Leviathan is recorded first, so a tick or trigger right after
   * `kubectl patch cronjob … suspend:false` is not refused for a stop already lifted.
   */
  async followCluster(): Promise<void> {
    await this.deps.followSuspension?.();
  }

  get maxConcurrentWorkers(): number {
    return this.deps.maxConcurrentWorkers;
  }

  /** Records task.triggered, then decides for that one task now: the schedule is bypassed, the guardrails are not. */
  trigger(call: TriggerCall): Promise<{ triggered: StoredEvent; decision: TargetDecision }> {
    const executor = this.executor;
    if (!executor) return Promise.reject(new Error('No worker executor is configured'));
    return this.serial(async () => {
      await this.followCluster();
      const triggered = await append(
        this.deps,
        newEvent({
          type: 'task.triggered',
          actor: call.actor,
          target: call.target,
          subject: subjects.task(call.target, call.task_id),
          data: { task_id: call.task_id, via: call.via, ...(call.reason ? { reason: call.reason } : {}), ...call.data },
        }),
      );
      const decision = await triggerTask(
        {
          controlPlane: new InProcessSchedulerControlPlane(this.deps),
          executor,
          clock: this.deps.clock,
          logger: this.deps.logger,
          maxConcurrentWorkers: this.deps.maxConcurrentWorkers,
          ...(this.deps.autonomyConfig ? { autonomyConfig: this.deps.autonomyConfig } : {}),
        },
        { target: call.target, task_id: call.task_id, actor: call.actor, ...(call.reason ? { reason: call.reason } : {}) },
      );
      return { triggered, decision };
    });
  }

  /** One full cycle, as `leviathan tick` runs it, against this control plane's own projection. */
  cycle(): Promise<CycleResult> {
    const executor = this.executor;
    if (!executor) return Promise.reject(new Error('No worker executor is configured'));
    return this.serial(() =>
      runCycle({
        controlPlane: new InProcessSchedulerControlPlane(this.deps),
        executor,
        clock: this.deps.clock,
        logger: this.deps.logger,
        maxConcurrentWorkers: this.deps.maxConcurrentWorkers,
        refresher: this.deps.refresher ?? null,
        ...(this.deps.autonomyConfigPath !== undefined ? { autonomyConfigPath: this.deps.autonomyConfigPath } : {}),
        ...(this.deps.rateLimit ? { rateLimit: this.deps.rateLimit } : {}),
      }),
    );
  }

  /**
   * Runs a cycle at every multiple of `intervalMs` on the wall clock (every 5 minutes: :00, :05, …,
   * like the CronJob `*\/5 * * * *`), so the next tick time is predictable and shown in the status.
   */
  startLoop(intervalMs: number): void {
    const arm = () => {
      const now = this.deps.clock.now().getTime();
      this.next = new Date(Math.floor(now / intervalMs) * intervalMs + intervalMs);
      this.timer = setTimeout(() => {
        this.cycle().then(
          (r) => this.deps.logger.info({ cycle_id: r.cycle_id }, `Scheduler: Exiting cleanly (${r.verdict})`),
          (err: unknown) => this.deps.logger.error({ error: (err as Error).message }, 'Scheduler: Cycle failed'),
        );
        arm();
      }, this.next.getTime() - now);
      this.timer.unref();
    };
    arm();
  }

  /** When the in-process loop runs next; null when it is off. */
  nextTick(): Date | null {
    return this.timer ? this.next : null;
  }

  /** Stops the loop and waits for a cycle or trigger in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.queue;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
