import { z } from 'zod';
import type { ApiDeps } from '../api/api-deps.ts';
import { requireScope } from '../api/auth.ts';
import { sendJson, type Router } from '../api/http.ts';
import { body, mayAct } from '../api/routes/targets.ts';
import { append } from '../control/target-controls.ts';
import { OperationError } from '../control/operation-error.ts';
import { newEvent, targetIdSchema } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import type { Executor } from '../executors/executor.ts';
import { InProcessSchedulerControlPlane } from './control-plane-port.ts';
import { triggerTask } from './run-cycle.ts';
import { buildSnapshot } from './snapshot.ts';

/** What the scheduler's routes need beyond ApiDeps. */
export interface SchedulerRouteDeps {
  /** Null when no executor could be built: triggers answer 501. */
  executor: Executor | null;
  /** LEVIATHAN_MAX_CONCURRENT_WORKERS. */
  maxConcurrentWorkers: number;
}

const triggerBody = z
  .object({
    target: targetIdSchema,
    task_id: z.string().min(1).max(200),
    reason: z.string().trim().max(2000).optional(),
    via: z.enum(['api', 'console', 'ctl']).optional(),
  })
  .strict();

/**
 * GET /v1/scheduler/snapshot (read): what `leviathan tick` decides from.
 * POST /v1/tasks/trigger (write, and permission on the target): runs the decision for one task
 * now and starts its worker — 200 with the attempt id, or 409 `blocked` with the reason code.
 */
export function schedulerRoutes(router: Router, deps: ApiDeps, scheduler: SchedulerRouteDeps): void {
  router.on('GET', '/v1/scheduler/snapshot', async ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    await deps.projector.waitFor(deps.store.health().head.seq);
    sendJson(res, 200, { snapshot: buildSnapshot(deps.projector.state, deps.clock.now()) });
  });

  // Triggers are decided one at a time, so two of them never both see a free slot.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = queue.then(f, f);
    queue = next.catch(() => undefined);
    return next;
  };

  router.on('POST', '/v1/tasks/trigger', async (ctx) => {
    const b = await body(ctx, triggerBody);
    const principal = await mayAct(deps.authenticate(ctx.req), b.target);
    const t = deps.projector.state.targets[b.target];
    if (!t || t.lifecycle === 'removed') throw new OperationError('target_not_found', `No target ${b.target}. Is the GitHub App installed on it?`);
    const executor = scheduler.executor;
    if (!executor) throw new OperationError('not_configured', 'No worker executor is configured on this control plane (see LEVIATHAN_EXECUTOR).');

    const result = await serial(async () => {
      const triggered = await append(
        deps,
        newEvent({
          type: 'task.triggered',
          actor: principal.actor,
          target: b.target,
          subject: subjects.task(b.target, b.task_id),
          data: { task_id: b.task_id, via: b.via ?? 'api', ...(b.reason ? { reason: b.reason } : {}) },
        }),
      );
      const decision = await triggerTask(
        {
          controlPlane: new InProcessSchedulerControlPlane(deps),
          executor,
          clock: deps.clock,
          logger: deps.logger,
          maxConcurrentWorkers: scheduler.maxConcurrentWorkers,
        },
        { target: b.target, task_id: b.task_id, actor: principal.actor, ...(b.reason ? { reason: b.reason } : {}) },
      );
      return { triggered, decision };
    });
    const d = result.decision;
    if (d.outcome !== 'executed') {
      throw new OperationError('blocked', d.detail, { reason: d.reason, outcome: d.outcome, task_id: b.task_id, target: b.target });
    }
    sendJson(ctx.res, 200, {
      target: b.target,
      task_id: b.task_id,
      attempt_id: d.attempt_id,
      event: { id: result.triggered.id, seq: result.triggered.seq, type: result.triggered.type },
    });
  });
}
