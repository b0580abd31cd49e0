import type { Logger } from 'pino';
import type { Clock } from '../api/api-deps.ts';
import type { Router } from '../api/http.ts';
import type { Mount } from '../api/server.ts';
import type { Env } from '../env.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';

/** What the control plane gives the GitHub App. */
export interface GitHubDeps {
  store: EventStore;
  projector: Projector;
  logger: Logger;
  clock: Clock;
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
}

/**
 * Builds the GitHub integration from the environment, or explains why it is off. Placeholder
 * until the GitHub App lands: the service runs without it.
 */
export async function createGitHubIntegration(
  _env: Env,
  deps: GitHubDeps,
  _opts: { insecureDevWebhooks?: boolean } = {},
): Promise<GitHubIntegration | null> {
  deps.logger.warn('GitHub App not configured: webhooks are off (see README, "Register the GitHub App").');
  return null;
}
