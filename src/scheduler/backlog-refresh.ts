import type { Logger } from 'pino';
import type { Env } from '../env.ts';
import type { NewEvent } from '../events/envelope.ts';
import { LeviathanFileReadError, syncBacklog } from '../github/backlog-sync.ts';
import { readPrivateKey } from '../github/installation-token.ts';
import { rateLimitPlugin } from '../github/rate-limit-plugin.ts';
import type { GitHubClient } from '../github/client.ts';
import type { ReadProblem } from './decide.ts';
import type { TargetSnapshot } from './snapshot.ts';

/** How old the control plane's cached backlog may be before the scheduler asks GitHub (webhooks keep it fresh in between). */
export const BACKLOG_MAX_AGE_MS = 60 * 60 * 1000;

/** GitHub could not be read for one target; `reason` is the outcome's reason code. */
export class BacklogReadError extends Error {
  override readonly name = 'BacklogReadError';
  constructor(
    readonly reason: ReadProblem['reason'],
    message: string,
  ) {
    super(message);
  }
}

/** Re-reads a target's `.leviathan/` files. */
export interface BacklogRefresher {
  /**
   * The event recording the files (backlog.synced / backlog.invalid), or null when they are
   * unchanged since `target.backlog.etag`. Throws {@link BacklogReadError}.
   */
  refresh(target: TargetSnapshot): Promise<NewEvent | null>;
}

/** Is the cached backlog too old (or never read)? */
export function isStale(target: TargetSnapshot, now: Date, maxAgeMs = BACKLOG_MAX_AGE_MS): boolean {
  const at = target.backlog.synced_at;
  return at === null || now.getTime() - Date.parse(at) > maxAgeMs;
}

/**
 * Reads the files with the App's installation token through {@link syncBacklog}: conditional
 * requests (If-None-Match with the cached ETags), so an unchanged file costs no rate limit.
 */
export class GitHubBacklogRefresher implements BacklogRefresher {
  private readonly clients = new Map<number, GitHubClient>();

  constructor(private readonly app: { appId: string; privateKey: string; baseUrl: string }) {}

  async refresh(target: TargetSnapshot): Promise<NewEvent | null> {
    if (target.installation_id === null) {
      throw new BacklogReadError('github_auth_failed', `No GitHub App installation is known for ${target.id}; reinstall the App on the repository.`);
    }
    let event: NewEvent;
    try {
      event = await syncBacklog(await this.client(target.installation_id), target.id, target.default_branch, target.backlog.etag, { actor: 'scheduler' });
    } catch (err) {
      const status = (err as { status?: unknown })?.status;
      const headers = (err as { response?: { headers?: Record<string, string | undefined> } })?.response?.headers ?? {};
      // GitHub answers an exhausted rate limit with 403 (or 429): not a credentials problem.
      if (status === 429 || (status === 403 && (headers['x-ratelimit-remaining'] === '0' || headers['retry-after'] !== undefined))) {
        const reset = Number(headers['x-ratelimit-reset']);
        const until = Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString()}` : '';
        throw new BacklogReadError('github_rate_limited', `GitHub's API rate limit is exhausted${until}; ${target.id} waits (HTTP ${status}).`);
      }
      if (status === 401 || status === 403) {
        throw new BacklogReadError(
          'github_auth_failed',
          `GitHub refused to read ${target.id} (HTTP ${status}); check APP_ID, the private key and that the App is installed with contents: read.`,
        );
      }
      if (err instanceof LeviathanFileReadError) {
        throw new BacklogReadError('backlog_unreadable', `Could not read ${err.file} of ${target.id} (${err.detail}).`);
      }
      // Not a file's failure: minting the installation token, for one, fails the same way.
      const what = typeof status === 'number' ? `HTTP ${status}` : (err as Error).message;
      throw new BacklogReadError('backlog_unreadable', `Could not read the .leviathan/ files of ${target.id} (${what}).`);
    }
    return event.type === 'backlog.unchanged' ? null : event;
  }

  private async client(installationId: number): Promise<GitHubClient> {
    let c = this.clients.get(installationId);
    if (!c) {
      // Imported on first use: a control plane without the App never loads probot.
      const { ProbotOctokit } = await import('probot');
      c = new (ProbotOctokit.plugin(rateLimitPlugin))({
        auth: { appId: this.app.appId, privateKey: this.app.privateKey, installationId },
        baseUrl: this.app.baseUrl,
        // One conditional request per file per cycle; a failure is reported, not retried into the next cycle.
        retry: { enabled: false },
        throttle: { enabled: false },
        log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      this.clients.set(installationId, c);
    }
    return c;
  }
}

/** GitHub is read only with the App's credentials; without them the control plane's cache is used. */
export async function refresherFromEnv(env: Env, logger: Logger): Promise<BacklogRefresher | null> {
  if (!env.APP_ID) return null;
  const key = await readPrivateKey(env);
  if (!key) {
    logger.warn({ app_id: env.APP_ID }, 'Scheduler: APP_ID is set without a readable private key; using the cached backlogs');
    return null;
  }
  return new GitHubBacklogRefresher({ appId: env.APP_ID, privateKey: key, baseUrl: env.GITHUB_API_URL });
}
