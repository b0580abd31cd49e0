import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ApiError } from '../api/errors.ts';
import { sendError, sendJson } from '../api/http.ts';
import type { Metrics } from './registry.ts';

/** The second listener of `leviathan serve` (LEVIATHAN_METRICS_PORT). */
export interface MetricsServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * The operator document's Spider Node: `/metrics` and `/health` on their own port (8001 in
 * Kubernetes), so Prometheus and the kubelet reach them without a route to the API port, and a
 * NetworkPolicy can open this port to the monitoring namespace alone. Nothing else is served
 * here, not even read-only API routes: every path but these two is a JSON 404.
 */
export async function startMetricsServer(opts: {
  port: number;
  host: string;
  metrics: Pick<Metrics, 'handler'>;
  /** The body of `/health`, the same as on the main port. */
  health: () => unknown;
  logger: Logger;
}): Promise<MetricsServer> {
  const server = createServer(async (req, res) => {
    try {
      if (await opts.metrics.handler(req, res)) return;
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/health') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError('method_not_allowed', `${req.method} is not allowed on /health; use GET.`);
        // Liveness, as on the main port: 200 while the process serves, even with a degraded store.
        sendJson(res, 200, opts.health());
        return;
      }
      throw new ApiError('not_found', `No route for ${req.method} ${path} on the metrics port; it serves only GET /metrics and GET /health.`);
    } catch (err) {
      if (!(err instanceof ApiError)) opts.logger.error({ err, path: req.url?.split('?')[0] }, 'Metrics request failed');
      sendError(res, err);
    }
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${port}`;
  opts.logger.info({ url }, `Metrics and health listening on ${url}`);
  return {
    server,
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
