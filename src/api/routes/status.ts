import { autonomyStatus, type OperatorControlOptions } from '../../control/autonomy-controls.ts';
import { systemView } from '../../projections/system-view.ts';
import { requireScope } from '../auth.ts';
import { sendJson, type Router } from '../http.ts';
import type { ApiDeps } from '../api-deps.ts';

/** Health payload shared by /health, /v1/health and the metrics port. */
export function healthBody(deps: Pick<ApiDeps, 'store' | 'version'>, startedAt: number) {
  const store = deps.store.health();
  return {
    status: store.writable ? 'ok' : 'degraded',
    version: deps.version,
    uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    store,
  };
}

export function statusRoutes(router: Router, deps: ApiDeps, controls: OperatorControlOptions = { cluster: null }): void {
  const startedAt = Date.now();
  // Liveness: answers while the process serves HTTP, even degraded (a restart would not fix a full disk).
  router.on('GET', '/health', ({ res }) => sendJson(res, 200, healthBody(deps, startedAt)));
  // Readiness: 503 while the store refuses writes, so traffic goes to a replica that can take it.
  router.on('GET', '/v1/health', ({ res }) => {
    const body = healthBody(deps, startedAt);
    sendJson(res, body.status === 'ok' ? 200 : 503, body);
  });

  router.on('GET', '/v1/autonomy/status', async ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    sendJson(res, 200, await autonomyStatusBody(deps, controls));
  });

  router.on('GET', '/v1/status', ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    const { views, ...summary } = systemView(deps.projector.state, deps.clock.now());
    sendJson(res, 200, { ...summary, targets_detail: views });
  });
}

/**
 * The body of `GET /v1/autonomy/status`, also returned by the autonomy controls after a change.
 * Enabled, source and who/when/why come from the ConfigMap in Kubernetes (it wins over the log
 * when they disagree, and `drift` says so); the scheduler's suspension and next tick from the
 * CronJob, or from the log and the local loop when embedded.
 */
export async function autonomyStatusBody(deps: ApiDeps, controls: OperatorControlOptions) {
  const autonomy = await autonomyStatus({ ...controls, store: deps.store, projector: deps.projector, clock: deps.clock });
  const view = systemView(deps.projector.state, deps.clock.now());
  return {
    mode: autonomy.mode,
    enabled: autonomy.enabled,
    source: autonomy.source,
    changed_by: autonomy.changed_by,
    changed_at: autonomy.changed_at,
    reason: autonomy.reason,
    last_change: autonomy.last_change,
    configmap: autonomy.configmap,
    file: autonomy.file,
    drift: autonomy.drift,
    emergency_stop: autonomy.emergency_stop,
    scheduler: {
      ...view.scheduler,
      suspended: autonomy.scheduler_suspended,
      cronjob: autonomy.cronjob,
      next_tick_at: autonomy.next_tick_at,
      next_tick_note: autonomy.next_tick_note,
    },
    ...(autonomy.cluster_errors.length ? { cluster_errors: autonomy.cluster_errors } : {}),
    status: view.status,
    label: view.label,
    targets: view.views.map((v) => ({ id: v.id, status: v.status, reason: v.reason, headline: v.headline, action: v.action })),
  };
}
