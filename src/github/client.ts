import type { ProbotOctokit } from 'probot';

/**
 * The smallest GitHub client the App's components need: Octokit's `request` and `paginate`.
 * Handlers get the installation client Probot made for the event; reconcile and the API get one
 * from {@link GitHubClients}.
 */
export type GitHubClient = Pick<ProbotOctokit, 'request' | 'paginate'>;

/** Authenticated clients: as the App (JWT) or as one installation (installation token). */
export interface GitHubClients {
  forApp(): Promise<GitHubClient>;
  forInstallation(installationId: number): Promise<GitHubClient>;
}

/** HTTP status of an Octokit error (0 when there was no answer). */
export function statusOf(err: unknown): number {
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' ? s : 0;
}

/** Splits `owner/repo`. */
export function splitTarget(target: string): { owner: string; repo: string } {
  const i = target.indexOf('/');
  return { owner: target.slice(0, i), repo: target.slice(i + 1) };
}
