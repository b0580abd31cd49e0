import { z } from 'zod';
import {
  AutonomyRefusal,
  emergencyStop,
  resumeScheduler,
  setAutonomy,
  type AutonomyControlDeps,
  type OperatorControlOptions,
} from '../../control/autonomy-controls.ts';
import type { StoredEvent } from '../../events/envelope.ts';
import { KubernetesError, KubernetesErrorCode } from '../../kubernetes/kube-error.ts';
import { requireScope } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { sendJson, type Router } from '../http.ts';
import type { ApiDeps } from '../api-deps.ts';
import { autonomyStatusBody } from './status.ts';
import { body } from './targets.ts';

const reason = z.string().trim().min(1, 'a reason is required').max(2000);
const via = z.enum(['api', 'console', 'ctl']).optional();

const autonomyBody = z.object({ enabled: z.boolean({ required_error: 'enabled (true or false) is required' }), reason, via }).strict();
const stopBody = z.object({ reason, delete_running_jobs: z.boolean().optional(), via }).strict();
const resumeBody = z.object({ reason: z.string().trim().max(2000).optional(), via }).strict();

/**
 * The global operator controls of the operator document, as API routes (write scope):
 * `POST /v1/autonomy` (graceful disable / re-enable), `POST /v1/autonomy/emergency-stop` and
 * `POST /v1/autonomy/resume`. Each answers with the event it recorded and the new status, or
 * 409 when it recorded nothing (an AutonomyRefusal, which errors.ts maps): `managed_by_file`
 * (the switch is LEVIATHAN_AUTONOMY_CONFIG's file), `already_stopped` (a stop stands; its
 * who/when/why in `emergency_stop`).
 */
export function autonomyRoutes(router: Router, deps: ApiDeps, controls: OperatorControlOptions): void {
  const cdeps: AutonomyControlDeps = { ...controls, store: deps.store, projector: deps.projector, clock: deps.clock };

  router.on('POST', '/v1/autonomy', async (ctx) => {
    const principal = requireScope(deps.authenticate(ctx.req), 'write');
    const b = await body(ctx, autonomyBody);
    const result = await kube(() => setAutonomy(cdeps, b.enabled, { actor: principal.actor, reason: b.reason, via: b.via ?? 'api' }));
    deps.logger.info({ actor: principal.actor, enabled: b.enabled, source: result.event.data.source }, b.enabled ? 'Autonomy enabled' : '⚠ Autonomy disabled');
    sendJson(ctx.res, 200, { event: ref(result.event), autonomy: await autonomyStatusBody(deps, controls) });
  });

  router.on('POST', '/v1/autonomy/emergency-stop', async (ctx) => {
    const principal = requireScope(deps.authenticate(ctx.req), 'write');
    const b = await body(ctx, stopBody);
    const result = await kube(() => emergencyStop(cdeps, { actor: principal.actor, reason: b.reason, via: b.via ?? 'api', deleteRunningJobs: b.delete_running_jobs ?? false })).catch(
      (err: unknown) => {
        // A refusal (a stop stands) is a 409 (errors.ts); the Jobs it still deleted are logged here.
        const deleted = err instanceof AutonomyRefusal ? err.details.deleted_jobs : undefined;
        // No stop event says so: the log has the attempts these Jobs ended; the log line the rest.
        if (Array.isArray(deleted) && deleted.length > 0) {
          deps.logger.warn({ actor: principal.actor, deleted_jobs: deleted }, 'Emergency stop: worker Jobs deleted under the standing stop');
        }
        throw err;
      },
    );
    deps.logger.warn({ actor: principal.actor, deleted_jobs: result.deleted_jobs }, 'Emergency stop: scheduler suspended');
    sendJson(ctx.res, 200, {
      event: ref(result.event),
      deleted_jobs: result.deleted_jobs,
      cronjob: result.cronjob ?? null,
      warnings: result.warnings,
      autonomy: await autonomyStatusBody(deps, controls),
    });
  });

  router.on('POST', '/v1/autonomy/resume', async (ctx) => {
    const principal = requireScope(deps.authenticate(ctx.req), 'write');
    const b = await body(ctx, resumeBody);
    const result = await kube(() => resumeScheduler(cdeps, { actor: principal.actor, reason: b.reason, via: b.via ?? 'api' }));
    deps.logger.info({ actor: principal.actor }, 'Emergency stop lifted: scheduler resumed');
    sendJson(ctx.res, 200, {
      event: ref(result.event),
      cronjob: result.cronjob ?? null,
      warnings: result.warnings,
      autonomy: await autonomyStatusBody(deps, controls),
    });
  });
}

function ref(e: StoredEvent) {
  return { id: e.id, seq: e.seq, type: e.type };
}

/**
 * Kubernetes failures become API errors here (errors.ts knows only its own codes): a missing
 * ConfigMap or CronJob is a deployment that is not set up (501), a conflict is a 409, anything
 * else a 500 whose message — already redacted — says what the API server refused and why.
 */
async function kube<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof KubernetesError)) throw err;
    const details = { kubernetes_code: err.code, ...(err.status !== undefined ? { kubernetes_status: err.status } : {}) };
    if (err.code === KubernetesErrorCode.NotFound) throw new ApiError('not_configured', err.message, details);
    if (err.code === KubernetesErrorCode.Conflict) throw new ApiError('conflict', err.message, details);
    throw new ApiError('internal', err.message, details);
  }
}
