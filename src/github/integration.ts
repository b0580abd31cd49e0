import type { SlashScheduler } from './commands/command.ts';
import { rateLimitPlugin } from './rate-limit-plugin.ts';
import { pathOf, webhookReceiver } from './webhook-receiver.ts';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { ProbotOctokit } from 'probot';
import type { Clock } from '../api/api-deps.ts';
import type { Principal } from '../api/auth.ts';
import { ApiError } from '../api/errors.ts';
import { sendError, type Router } from '../api/http.ts';
import type { Mount } from '../api/server.ts';
import type { Env } from '../env.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import { leviathanApp } from './app.ts';
import { resolveAppConfig, WEBHOOK_PATH } from './app-config.ts';
import { BackgroundWork } from './background.ts';
import type { GitHubClient, GitHubClients } from './client.ts';
import { InstallationTokenMinter } from './installation-token.ts';
import { reconcile, reconcileInstallation, type ReconcileOptions, type ReconcileResult } from './reconcile.ts';
import { githubRoutes } from './routes.ts';
import type { AppRuntime } from './runtime.ts';
import { completeRegistration } from './targets.ts';

/**
 * How long after a webhook-queued reconcile of an installation further webhooks about repositories
 * that are not targets queue none. POST /v1/reconcile and the reconcile on start are not limited.
 */
const INSTALLATION_RECONCILE_COOLDOWN_MS = 5 * 60_000;

/** What the control plane gives the GitHub App. */
export interface GitHubDeps {
  store: EventStore;
  projector: Projector;
  logger: Logger;
  clock: Clock;
  /** Resolves the API caller of GET /v1/commands and POST /v1/reconcile, as for every /v1 route. */
  authenticate: (req: IncomingMessage) => Principal | null;
  /** The control plane's scheduler: slash-command triggers take the same path as the API's. */
  scheduler?: SlashScheduler;
}

/** The GitHub App as the control plane sees it. */
export interface GitHubIntegration {
  /** Handles POST /api/github/webhooks (raw body, signature checked) before anything parses the body. */
  mount: Mount;
  /** Adds its /v1 routes (e.g. GET /v1/commands, POST /v1/reconcile). */
  registerRoutes(router: Router): void;
  /** Runs after the server listens (the reconcile on start). */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Installation clients (e.g. policy proposals open PRs with them); null without the App. */
  clients: GitHubClients | null;
  /** Mints workers' repository tokens (POST /v1/attempts/:id/github-token); null without the App. */
  workerTokens: InstallationTokenMinter | null;
}

/** Options of {@link createGitHubIntegration}. */
export interface GitHubOptions {
  /** `serve --insecure-dev-webhooks`: accept unsigned webhooks without WEBHOOK_SECRET (local development only). */
  insecureDevWebhooks?: boolean;
  /** Octokit class for every GitHub call; tests pass one with retry and throttle off. */
  Octokit?: typeof ProbotOctokit;
  /** Reconcile once the server listens (default true). */
  reconcileOnStart?: boolean;
}

/**
 * Builds the GitHub App from the environment. Without APP_ID it still serves GET /v1/commands
 * and answers webhooks and POST /v1/reconcile with 501 and how to register the App. Throws
 * {@link GitHubConfigError} (the service must not start) for an App without a private key, or
 * without WEBHOOK_SECRET unless `insecureDevWebhooks`.
 */
export async function createGitHubIntegration(env: Env, deps: GitHubDeps, opts: GitHubOptions = {}): Promise<GitHubIntegration | null> {
  const config = await resolveAppConfig(env, opts);
  const { authenticate } = deps;

  if (!config.configured) {
    deps.logger.warn({ register: 'README, "Register the GitHub App"' }, config.message);
    return {
      mount: async (req, res) => {
        if (pathOf(req) !== WEBHOOK_PATH) return false;
        req.resume();
        sendError(res, new ApiError('not_configured', config.message));
        return true;
      },
      registerRoutes: (router) => githubRoutes(router, { authenticate, reconcile: null, notConfiguredMessage: config.message }),
      clients: null,
      workerTokens: null,
      start: async () => undefined,
      close: async () => undefined,
    };
  }

  // Loaded only once configured: an unconfigured `serve` (the embedded default) saves its ~10 MB.
  const { Probot, ProbotOctokit } = await import('probot');
  const logger = deps.logger.child({ component: 'github' });
  const Octokit = (opts.Octokit ?? ProbotOctokit).plugin(rateLimitPlugin);
  const probot = new Probot({
    appId: config.appId,
    privateKey: config.privateKey,
    // Never used when insecure: that path skips verification (see below).
    secret: config.secret ?? 'insecure-dev-webhooks',
    baseUrl: config.baseUrl,
    log: logger,
    Octokit,
  });
  const clients: GitHubClients = {
    forApp: () => probot.auth() as Promise<GitHubClient>,
    forInstallation: (id) => probot.auth(id) as Promise<GitHubClient>,
  };
  const background = new BackgroundWork(logger);
  const rt: AppRuntime = {
    store: deps.store,
    projector: deps.projector,
    logger,
    clock: deps.clock,
    background,
    clients,
    appId: config.appId,
    scheduler: deps.scheduler,
    queueReconcile: (installationId, reason) => queueInstallationReconcile(installationId, reason),
  };
  await probot.load(leviathanApp(rt));

  const reconcileOptions = (actor: string): ReconcileOptions => ({
    actor,
    onRegistered: (target, installationId, octokit) =>
      background.run(`register ${target}`, () =>
        completeRegistration(rt, octokit, target, installationId, {
          idBase: `reconcile:${Date.now()}:${target}`,
          actor,
          defaultBranch: deps.projector.state.targets[target]?.default_branch,
          // The reconcile that registered it corrects every target's PRs itself.
          correctPrs: false,
        }),
      ),
  });
  // One reconcile at a time, whole or of one installation: a second waits for the first, then
  // runs on fresh state, so two never record the same correction.
  let last: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = last.catch(() => undefined).then(fn);
    last = next;
    return next;
  };
  const runReconcile = (actor: string): Promise<ReconcileResult> =>
    serially(async () => {
      const result = await reconcile(rt, reconcileOptions(actor));
      logger.info({ corrections: result.corrections.length, errors: result.errors.length, targets: result.targets }, 'GitHub reconcile finished');
      return result;
    });
  const waiting = new Set<number>();
  // When each installation's last webhook-queued reconcile started (ms). Every push or PR of a
  // repository that is still no target after one would otherwise read the whole installation again.
  const reconciledAt = new Map<number, number>();
  function queueInstallationReconcile(installationId: number, reason: string): void {
    if (waiting.has(installationId)) return; // the one waiting will see whatever this webhook saw
    const last = reconciledAt.get(installationId);
    if (last !== undefined && deps.clock.now().getTime() - last < INSTALLATION_RECONCILE_COOLDOWN_MS) {
      logger.debug({ installation: installationId, reason }, 'GitHub reconcile of an installation skipped: reconciled moments ago');
      return;
    }
    waiting.add(installationId);
    logger.info({ installation: installationId, reason }, 'GitHub reconcile of an installation queued');
    background.run(`reconcile installation ${installationId}`, () =>
      serially(async () => {
        waiting.delete(installationId);
        reconciledAt.set(installationId, deps.clock.now().getTime());
        try {
          const result = await reconcileInstallation(rt, installationId, reconcileOptions('leviathan:reconcile'));
          logger.info({ installation: installationId, corrections: result.corrections.length, errors: result.errors.length }, 'GitHub reconcile of an installation finished');
        } catch (err) {
          reconciledAt.delete(installationId); // failed: the next webhook may try again
          throw err;
        }
      }),
    );
  }

  if (!config.secret) {
    logger.warn('Webhook signatures are NOT checked (--insecure-dev-webhooks): anyone who can reach this port can forge GitHub events. Local development only.');
  }
  const mount = webhookReceiver(probot, config.secret ?? null, logger);

  return {
    mount,
    registerRoutes: (router) => githubRoutes(router, { authenticate, reconcile: runReconcile, notConfiguredMessage: '' }),
    clients,
    // The executor mints each attempt's first token the same way (executors/create-executor.ts).
    workerTokens: new InstallationTokenMinter({ appId: config.appId, privateKey: config.privateKey, baseUrl: config.baseUrl }),
    async start() {
      if (!(opts.reconcileOnStart ?? true)) return;
      // In the background: GitHub may be slow or down, and the API must be up meanwhile.
      background.run('reconcile on start', async () => {
        await runReconcile('leviathan:reconcile');
      });
    },
    async close() {
      await background.close();
      await last.catch(() => undefined);
    },
  };
}
