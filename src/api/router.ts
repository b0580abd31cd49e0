import type { ApiDeps } from './api-deps.ts';
import { Router } from './http.ts';
import { eventRoutes } from './routes/events.ts';
import { graphRoutes } from './routes/graph.ts';
import { statusRoutes } from './routes/status.ts';
import { targetRoutes } from './routes/targets.ts';

/** Every /v1 route (plus /health), in one table. */
export function createApiRouter(deps: ApiDeps): Router {
  const router = new Router();
  statusRoutes(router, deps);
  eventRoutes(router, deps);
  graphRoutes(router, deps);
  targetRoutes(router, deps);
  return router;
}
