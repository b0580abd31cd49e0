import { z } from 'zod';
import type { ApiDeps } from '../api/api-deps.ts';
import { requireScope } from '../api/auth.ts';
import { sendJson, type Router } from '../api/http.ts';
import { body, mayAct } from '../api/routes/targets.ts';
import { OperationError } from '../control/operation-error.ts';
import { targetIdSchema } from '../events/envelope.ts';
import type { InProcessScheduler } from './in-process-scheduler.ts';
import { buildSnapshot } from './snapshot.ts';

/** What the scheduler's routes need beyond ApiDeps: the in-process scheduler (its executor may be null: 501). */
export type SchedulerRouteDeps = Pick<InProcessScheduler, 'executor' | 'trigger'> & Partial<Pick<InProcessScheduler, 'followCluster'>>;

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
 * now and starts its worker — 200 with the attempt id, or 409 `blocked` with the reason code
 * (the request stays in the log as task.triggered: an audit record of who asked), 404 for a task
 * the backlog does not have (nothing recorded).
 */
export function schedulerRoutes(router: Router, deps: ApiDeps, scheduler: SchedulerRouteDeps): void {
  router.on('GET', '/v1/scheduler/snapshot', async ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    // The tick decides from this: a kubectl unsuspend made since the last watch check counts now.
    await scheduler.followCluster?.();
    await deps.projector.waitFor(deps.store.health().head.seq);
    sendJson(res, 200, { snapshot: buildSnapshot(deps.projector.state, deps.clock.now()) });
  });

  router.on('POST', '/v1/tasks/trigger', async (ctx) => {
    // Who is asking before what they ask: without a valid token the answer is 401, whatever the body.
    const caller = requireScope(deps.authenticate(ctx.req), 'write');
    const b = await body(ctx, triggerBody);
    const principal = await mayAct(caller, b.target);
    const t = deps.projector.state.targets[b.target];
    if (!t || t.lifecycle === 'removed') throw new OperationError('target_not_found', `No target ${b.target}. Is the GitHub App installed on it?`);
    // A task the synced backlog does not have is a mistyped id: 404, nothing recorded (as the
    // slash command answers). Other refusals are decided and recorded after task.triggered.
    if (t.backlog.state === 'synced' && !t.backlog.tasks.some((task) => task.id === b.task_id)) {
      throw new OperationError('task_not_found', `No task ${b.task_id} in ${b.target}'s .leviathan/backlog.yaml.`, { target: b.target, task_id: b.task_id });
    }
    if (!scheduler.executor) throw new OperationError('not_configured', 'No worker executor is configured on this control plane (see LEVIATHAN_EXECUTOR).');
    const result = await scheduler.trigger({
      target: b.target,
      task_id: b.task_id,
      actor: principal.actor,
      via: b.via ?? 'api',
      ...(b.reason ? { reason: b.reason } : {}),
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
