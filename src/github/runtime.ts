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
  /** Runs `/leviathan trigger` and `retry` through the same path as POST /v1/tasks/trigger. */
  scheduler?: SlashScheduler | undefined;
}

/** Actor of everything a GitHub user caused: `github:<login>`. */
export function githubActor(login: string | undefined | null): string {
  return `github:${login || 'unknown'}`;
}
