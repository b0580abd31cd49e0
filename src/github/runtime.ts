import type { SlashScheduler } from './commands/command.ts';
import type { Logger } from 'pino';
import type { Clock } from '../api/api-deps.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import type { BackgroundWork } from './background.ts';
import type { GitHubClients } from './client.ts';

/** What the App's handlers, commands and reconcile share at run time. */
export interface AppRuntime {
  store: EventStore;
  projector: Projector;
  logger: Logger;
  clock: Clock;
  background: BackgroundWork;
  clients: GitHubClients;
  /** Our App's id (APP_ID): comments made through it are our own, never commands. */
  appId: string;
  /** Runs `/leviathan trigger` and `retry` through the same path as POST /v1/tasks/trigger. */
  scheduler?: SlashScheduler | undefined;
  /**
   * Queues a reconcile of one installation in the background, after any reconcile already
   * running; one waiting per installation, however many webhooks ask, and none within minutes of
   * the last. For a webhook about a repository the log has no target for: the installation is
   * read instead of the name trusted.
   */
  queueReconcile(installationId: number, reason: string): void;
}

/** Actor of everything a GitHub user caused: `github:<login>`. */
export function githubActor(login: string | undefined | null): string {
  return `github:${login || 'unknown'}`;
}
