import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { ensureGeneratedToken, TokenAuth } from './api/auth.ts';
import type { Clock } from './api/api-deps.ts';
import { createApiRouter } from './api/router.ts';
import { attemptRoutes } from './api/routes/attempts.ts';
import type { ClusterBinding, OperatorControlOptions } from './control/autonomy-controls.ts';
import { autonomyFromKeys, readAutonomyConfig, type AutonomyConfig } from './contract/policy.ts';
import type { ClusterControls } from './kubernetes/cluster-controls.ts';
import { createExecutor } from './executors/create-executor.ts';
import type { Executor } from './executors/executor.ts';
import { refresherFromEnv } from './scheduler/backlog-refresh.ts';
import { InProcessScheduler } from './scheduler/in-process-scheduler.ts';
import { startWorkerWatch } from './scheduler/worker-watch.ts';
import { startSuspensionWatch, type SuspensionWatch } from './control/suspension-watch.ts';
import { AppendLog } from './store/append-log.ts';
import { createConsole } from './console/console.ts';
import { sessionKey } from './console/session.ts';
import { newEvent } from './events/envelope.ts';
import { octokitPolicyPort, policyProposalRoutes } from './console/policy-proposal.ts';
import { createHttpServer, type Mount } from './api/server.ts';
import { healthBody } from './api/routes/status.ts';
import { createMetrics, lastRateLimit } from './metrics/registry.ts';
import { startMetricsServer } from './metrics/metrics-server.ts';
import type { Env } from './env.ts';
import { Projector } from './projections/projector.ts';
import type { EventStore } from './store/event-store.ts';
import { openFileEventStore } from './store/file-event-store.ts';
import { PROJECTION_FILE } from './store/retention.ts';
import { createGitHubIntegration, type GitHubOptions } from './github/integration.ts';
import { VERSION } from './version.ts';

export interface ControlPlane {
  url: string;
  port: number;
  store: EventStore;
  projector: Projector;
  logger: Logger;
  /** The API token in force (generated or configured); tests and `ctl` use it. */
  tokens: { write: string | null };
  /** The LEVIATHAN_METRICS_PORT listener (/metrics and /health only); null when the variable is unset. */
  metricsUrl: string | null;
  close(): Promise<void>;
}

export interface ControlPlaneOverrides {
  clock?: Clock;
  logger?: Logger;
  store?: EventStore;
  sseHeartbeatMs?: number;
  /** `serve --insecure-dev-webhooks`: accept webhooks without WEBHOOK_SECRET (local development only). */
  insecureDevWebhooks?: boolean;
  /** GitHub App options: tests pass an Octokit with retry and throttle off, and skip the reconcile on start. */
  github?: Pick<GitHubOptions, 'Octokit' | 'reconcileOnStart'>;
  /** The worker executor for POST /v1/tasks/trigger (tests pass a fake); default from LEVIATHAN_EXECUTOR. */
  executor?: Executor | null;
  /**
   * The cluster the autonomy controls steer (tests pass one on the fake API server); null forces
   * embedded mode. Default: in-cluster when LEVIATHAN_EXECUTOR=kubernetes, else none.
   */
  cluster?: ClusterControls | null;
  /** false: no in-process scheduler loop even with the local executor (tests drive cycles themselves). */
  localSchedule?: boolean;
  /** With a cluster: how often the CronJob's suspend flag is compared with the log (SUSPENSION_WATCH_INTERVAL_MS). */
  suspensionWatchMs?: number;
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
  const startedAt = Date.now();
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

  // PostgreSQL when configured (N replicas share it; pg is loaded only then); otherwise the embedded file store.
  // Every event stored through this process is logged ("Control Plane: Event received: <type>"), whoever appends it.
  const store = new AppendLog(
    overrides.store ??
      (env.LEVIATHAN_DATABASE_URL
        ? await (await import('./store/postgres-event-store.ts')).openPostgresEventStore({ url: env.LEVIATHAN_DATABASE_URL, clock, logger })
        : await openFileEventStore({ dir: env.LEVIATHAN_DATA_DIR, clock, logger })),
    logger,
  );
  const projector = new Projector(store, {
    snapshotPath: join(env.LEVIATHAN_DATA_DIR, PROJECTION_FILE),
    snapshotEvery: 10_000,
    logger,
  });
  await projector.start();

  // Whatever fails from here on (the GitHub App refusing to start, a port in use) must not leave
  // the store open: its lock and index snapshot belong to the next start.
  let suspension: SuspensionWatch | null = null;
  try {
    const consoleUi = await createConsole({
      env,
      logger,
      // A worker's attempt token reports its attempt; it never signs anyone in.
      verifyToken: (token) => {
        const p = auth.authenticate(`Bearer ${token}`);
        return p?.worker ? null : p;
      },
      targets: () => Object.keys(projector.state.targets),
      signOuts: {
        record: async (s) => {
          const data = { session: sessionKey(s.id), expires_at: new Date(s.expiresAt).toISOString() };
          await store.append([newEvent({ type: 'console.signed_out', actor: s.actor, data })]);
        },
        has: (key) => Object.hasOwn(projector.state.signed_out_sessions, key),
      },
    });
    const deps = {
      store,
      projector,
      // A bearer token when one is sent (no CSRF needed); otherwise the console session cookie.
      authenticate: (req: IncomingMessage) =>
        req.headers.authorization ? auth.authenticate(req.headers.authorization) : consoleUi.authenticate(req),
      clock,
      logger,
      version: VERSION,
      sseHeartbeatMs: overrides.sseHeartbeatMs ?? 15_000,
    };
    // /metrics before anything else and without auth: Prometheus scrapes it and it carries no secrets.
    const metrics = createMetrics({ projector, clock });
    const mounts: Mount[] = [metrics.handler];
    const operator = await operatorControls(env, overrides.cluster);
    const cluster = operator.cluster;
    // One machine with LEVIATHAN_AUTONOMY_CONFIG: that file is the switch, for the schedule, the
    // triggers and the autonomy controls alike (with a cluster, the ConfigMap is).
    const autonomyFile = cluster ? undefined : env.LEVIATHAN_AUTONOMY_CONFIG;
    // In Kubernetes, `kubectl patch cronjob … suspend` (the document's stop and resume) reaches the
    // log: every minute, and before each tick's snapshot and each trigger (scheduler.followCluster).
    suspension = cluster
      ? startSuspensionWatch({ ...operator, store, projector, clock, logger, ...(overrides.suspensionWatchMs ? { intervalMs: overrides.suspensionWatchMs } : {}) })
      : null;
    // The executor is built once the server listens (local workers need its real address).
    const scheduler = new InProcessScheduler({
      store,
      projector,
      clock,
      logger,
      maxConcurrentWorkers: env.LEVIATHAN_MAX_CONCURRENT_WORKERS,
      refresher: await refresherFromEnv(env, logger),
      // Embedded cycles report this process's own reading: the same one /metrics shows.
      rateLimit: lastRateLimit,
      // In Kubernetes a trigger asks the ConfigMap, as the tick does: it wins over the log. On one
      // machine a LEVIATHAN_AUTONOMY_CONFIG file, when set, is read as `leviathan tick` reads it.
      ...(cluster
        ? { autonomyConfig: () => clusterAutonomyConfig(cluster) }
        : autonomyFile !== undefined
          ? { autonomyConfig: () => readAutonomyConfig(autonomyFile), autonomyConfigPath: autonomyFile }
          : {}),
      ...(suspension ? { followSuspension: suspension.settle } : {}),
    });
    const controls = { ...operator, ...(autonomyFile !== undefined ? { autonomyFile } : {}), nextLocalTick: () => scheduler.nextTick() };
    const router = createApiRouter(deps, scheduler, controls);
    // Same caller resolution as every /v1 route, so the console's session can read GET /v1/commands.
    const authenticate = (req: { headers: { authorization?: string } }) => deps.authenticate(req as IncomingMessage);
    const github = await createGitHubIntegration(env, { store, projector, logger, clock, authenticate, scheduler }, { ...overrides.github, insecureDevWebhooks: overrides.insecureDevWebhooks });
    if (github) {
      mounts.push(github.mount);
      github.registerRoutes(router);
    }
    const clients = github?.clients;
    policyProposalRoutes(router, deps, clients ? async (installationId) => octokitPolicyPort(await clients.forInstallation(installationId)) : null);
    attemptRoutes(router, deps, github?.workerTokens ?? null);
    const server = createHttpServer({ router, mounts, fallback: consoleUi.mount, logger });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(env.PORT, env.HOST, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const url = `http://${env.HOST === '0.0.0.0' ? '127.0.0.1' : env.HOST}:${port}`;
    logger.info({ url, store: store.health().kind, events: store.health().head.seq }, `Leviathan control plane listening on ${url}`);
    const metricsServer =
      env.LEVIATHAN_METRICS_PORT === undefined
        ? null
        : await startMetricsServer({ port: env.LEVIATHAN_METRICS_PORT, host: env.HOST, metrics, health: () => healthBody(deps, startedAt), logger }).catch(
            async (err: unknown) => {
              server.closeAllConnections();
              await new Promise<void>((resolve) => server.close(() => resolve()));
              throw err;
            },
          );
    await github?.start();
    const watch = await wireExecutor(env, scheduler, { url, writeToken, logger, clock, store, projector, override: overrides.executor });
    // One machine, no CronJob: serve ticks itself (Kubernetes runs `leviathan tick` as a CronJob).
    if (scheduler.executor?.kind === 'local' && env.LEVIATHAN_LOCAL_SCHEDULE_SECONDS > 0 && overrides.localSchedule !== false) {
      scheduler.startLoop(env.LEVIATHAN_LOCAL_SCHEDULE_SECONDS * 1000);
      logger.info({ every_seconds: env.LEVIATHAN_LOCAL_SCHEDULE_SECONDS, next: scheduler.nextTick() }, 'Scheduler: running in-process (local executor)');
    }

    return {
      url,
      port,
      store,
      projector,
      logger,
      tokens: { write: writeToken },
      metricsUrl: metricsServer?.url ?? null,
      async close() {
        await metricsServer?.close();
        await scheduler.stop();
        watch?.stop();
        suspension?.stop();
        await github?.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await projector.stop();
        await store.close();
      },
    };
  } catch (err) {
    suspension?.stop();
    await projector.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** The autonomy ConfigMap as the API server has it now; unreadable fails closed, like a missing mount for the tick. */
async function clusterAutonomyConfig(cluster: ClusterBinding): Promise<AutonomyConfig> {
  try {
    return autonomyFromKeys((await cluster.controls.getAutonomyConfigMap()).data);
  } catch (err) {
    return { enabled: false, defaults: {}, problems: [`cannot read ConfigMap ${cluster.configMap}: ${(err as Error).message}; autonomy is off`] };
  }
}

/** Builds the executor for triggers and, for local workers, watches for ones that end without reporting. */
async function wireExecutor(
  env: Env,
  scheduler: InProcessScheduler,
  ctx: { url: string; writeToken: string | null; logger: Logger; clock: Clock; store: EventStore; projector: Projector; override: Executor | null | undefined },
): Promise<{ stop(): void } | null> {
  try {
    scheduler.executor =
      ctx.override !== undefined
        ? ctx.override
        : await createExecutor(env, {
            controlPlaneUrl: env.LEVIATHAN_EXECUTOR === 'local' ? ctx.url : env.LEVIATHAN_CONTROL_PLANE_URL,
            apiToken: ctx.writeToken,
            processEnv: process.env,
            logger: ctx.logger,
          });
  } catch (err) {
    ctx.logger.warn({ error: (err as Error).message }, 'No worker executor: manual triggers are off');
    return null;
  }
  if (scheduler.executor?.kind !== 'local') return null;
  return startWorkerWatch({ executor: scheduler.executor, store: ctx.store, projector: ctx.projector, clock: ctx.clock, logger: ctx.logger });
}

/**
 * The cluster behind the autonomy controls: the override when given, the in-cluster service
 * account when workers run as Kubernetes Jobs, else none (embedded: the events are the setting).
 * The client is imported only when needed, so the embedded mode never loads it.
 */
async function operatorControls(env: Env, override: ClusterControls | null | undefined): Promise<OperatorControlOptions> {
  const names = { namespace: env.LEVIATHAN_NAMESPACE, cronJob: env.LEVIATHAN_SCHEDULER_CRONJOB, configMap: 'leviathan-autonomy-config' };
  if (override !== undefined) return { cluster: override ? { controls: override, ...names } : null };
  if (env.LEVIATHAN_EXECUTOR !== 'kubernetes') return { cluster: null };
  const [{ KubeConfig }, { KubernetesClusterControls }] = await Promise.all([import('@kubernetes/client-node'), import('./kubernetes/cluster-controls.ts')]);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromCluster();
  const controls = new KubernetesClusterControls({ kubeConfig, namespace: names.namespace, schedulerCronJobName: names.cronJob, autonomyConfigMapName: names.configMap });
  return { cluster: { controls, ...names } };
}
