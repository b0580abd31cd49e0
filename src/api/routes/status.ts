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

export function statusRoutes(router: Router, deps: ApiDeps): void {
  const startedAt = Date.now();
  // Liveness: answers while the process serves HTTP, even degraded (a restart would not fix a full disk).
  router.on('GET', '/health', ({ res }) => sendJson(res, 200, healthBody(deps, startedAt)));
  // Readiness: 503 while the store refuses writes, so traffic goes to a replica that can take it.
  router.on('GET', '/v1/health', ({ res }) => {
    const body = healthBody(deps, startedAt);
    sendJson(res, body.status === 'ok' ? 200 : 503, body);
  });

  router.on('GET', '/v1/autonomy/status', ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    const view = systemView(deps.projector.state, deps.clock.now());
    sendJson(res, 200, {
      enabled: view.autonomy.enabled === true,
      source: view.autonomy.source ?? 'default',
      changed_by: view.autonomy.changed_by,
      changed_at: view.autonomy.changed_at,
      reason: view.autonomy.reason ?? (view.autonomy.enabled === null ? 'No autonomy setting recorded yet; autonomy is off until enabled.' : null),
      emergency_stop: view.autonomy.emergency_stop,
      scheduler: view.scheduler,
      status: view.status,
      label: view.label,
      targets: view.views.map((v) => ({ id: v.id, status: v.status, reason: v.reason, headline: v.headline, action: v.action })),
    });
  });

  router.on('GET', '/v1/status', ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    const { views, ...summary } = systemView(deps.projector.state, deps.clock.now());
    sendJson(res, 200, { ...summary, targets_detail: views });
  });
}
