import type { ApiDeps } from './api-deps.ts';
import { Router } from './http.ts';
import { eventRoutes } from './routes/events.ts';
import { graphRoutes } from './routes/graph.ts';
import { statusRoutes } from './routes/status.ts';
import { targetRoutes } from './routes/targets.ts';
import { schedulerRoutes, type SchedulerRouteDeps } from '../scheduler/scheduler-routes.ts';
import type { OperatorControlOptions } from '../control/autonomy-controls.ts';
import { autonomyRoutes } from './routes/autonomy.ts';
import { diagnosisRoutes } from './routes/diagnosis.ts';

/** No executor: the snapshot route answers, triggers answer 501. */
const NO_SCHEDULER: SchedulerRouteDeps = {
  executor: null,
  trigger: () => Promise.reject(new Error('No scheduler in this control plane')),
};

/**
 * Every /v1 route (plus /health), in one table. Without `scheduler` the snapshot route still
 * answers and triggers answer 501 (no executor). Without `controls` the autonomy controls run
 * embedded (the events are the setting; no cluster).
 */
export function createApiRouter(
  deps: ApiDeps,
  scheduler: SchedulerRouteDeps = NO_SCHEDULER,
  controls: OperatorControlOptions = { cluster: null },
): Router {
  const router = new Router();
  statusRoutes(router, deps, controls);
  eventRoutes(router, deps);
  graphRoutes(router, deps);
  targetRoutes(router, deps);
  schedulerRoutes(router, deps, scheduler);
  autonomyRoutes(router, deps, controls);
  diagnosisRoutes(router, deps, controls);
  return router;
}
