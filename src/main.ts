import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { ensureGeneratedToken, TokenAuth } from './api/auth.ts';
import type { Clock } from './api/api-deps.ts';
import { createApiRouter } from './api/router.ts';
import { createHttpServer, type Mount } from './api/server.ts';
import type { Env } from './env.ts';
import { Projector } from './projections/projector.ts';
import type { EventStore } from './store/event-store.ts';
import { openFileEventStore } from './store/file-event-store.ts';
import { createGitHubIntegration } from './github/integration.ts';
import { VERSION } from './version.ts';

export interface ControlPlane {
  url: string;
  port: number;
  store: EventStore;
  projector: Projector;
  logger: Logger;
  /** The API token in force (generated or configured); tests and `ctl` use it. */
  tokens: { write: string | null };
  close(): Promise<void>;
}

export interface ControlPlaneOverrides {
  clock?: Clock;
  logger?: Logger;
  store?: EventStore;
  sseHeartbeatMs?: number;
  /** `serve --insecure-dev-webhooks`: accept webhooks without WEBHOOK_SECRET (local development only). */
  insecureDevWebhooks?: boolean;
}

/** Secrets never reach a log line, whatever object is logged. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  'privateKey',
  'PRIVATE_KEY',
  'WEBHOOK_SECRET',
  'GITHUB_TOKEN',
  'LEVIATHAN_API_TOKEN',
  'secret',
];

export function createLogger(env: Pick<Env, 'LOG_LEVEL'>, name = 'leviathan'): Logger {
  return pino({ name, level: env.LOG_LEVEL, redact: { paths: LOG_REDACT, censor: '***' } });
}

/**
 * The composition root of `leviathan serve`: env → logger → store → projections → HTTP server.
 */
export async function startControlPlane(env: Env, overrides: ControlPlaneOverrides = {}): Promise<ControlPlane> {
  const logger = overrides.logger ?? createLogger(env);
  const clock = overrides.clock ?? { now: () => new Date() };

  let writeToken: string | null = null;
  let tokenSpec = env.LEVIATHAN_API_TOKEN;
  if (!tokenSpec) {
    const generated = await ensureGeneratedToken(env.LEVIATHAN_DATA_DIR);
    tokenSpec = generated.token;
    writeToken = generated.token;
    logger.info(
      { path: generated.path, created: generated.created },
      `No LEVIATHAN_API_TOKEN set: using the generated token in ${generated.path} (curl -H "Authorization: Bearer $(cat ${generated.path})" …)`,
    );
  } else {
    writeToken = tokenSpec.split(',').map((s) => s.trim()).find((s) => s && !s.startsWith('read:')) ?? null;
  }
  const auth = new TokenAuth(tokenSpec);

  const store = overrides.store ?? (await openFileEventStore({ dir: env.LEVIATHAN_DATA_DIR, clock, logger }));
  const projector = new Projector(store, {
    snapshotPath: join(env.LEVIATHAN_DATA_DIR, 'projection.json'),
    snapshotEvery: 10_000,
    logger,
  });
  await projector.start();

  const deps = {
    store,
    projector,
    authenticate: (req: { headers: { authorization?: string } }) => auth.authenticate(req.headers.authorization),
    clock,
    logger,
    version: VERSION,
    sseHeartbeatMs: overrides.sseHeartbeatMs ?? 15_000,
  };
  const mounts: Mount[] = [];
  const router = createApiRouter(deps);
  const github = await createGitHubIntegration(env, { store, projector, logger, clock }, { insecureDevWebhooks: overrides.insecureDevWebhooks });
  if (github) {
    mounts.push(github.mount);
    github.registerRoutes(router);
  }
  const server = createHttpServer({ router, mounts, logger });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${env.HOST === '0.0.0.0' ? '127.0.0.1' : env.HOST}:${port}`;
  logger.info({ url, store: store.health().kind, events: store.health().head.seq }, `Leviathan control plane listening on ${url}`);
  await github?.start();

  return {
    url,
    port,
    store,
    projector,
    logger,
    tokens: { write: writeToken },
    async close() {
      await github?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await projector.stop();
      await store.close();
    },
  };
}
