import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Env } from '../env.ts';
import { normalisePem } from './app-config.ts';

/**
 * What a worker's token may do: push its branch and open its pull request. `metadata: read` is
 * implied by GitHub for every installation token; it is named so the request says all it grants.
 */
export const WORKER_TOKEN_PERMISSIONS = { contents: 'write', pull_requests: 'write', metadata: 'read' } as const;

/**
 * No installation token could be minted. `code` is the scheduler's reason code, so the target
 * shows a GitHub credentials problem rather than an executor one. The message never holds a secret.
 */
export class InstallationTokenError extends Error {
  override readonly name = 'InstallationTokenError';
  readonly code = 'github_auth_failed';
}

/** An installation token and when GitHub expires it (an hour after minting). */
export interface RepositoryToken {
  token: string;
  expires_at: string;
}

const accessTokenSchema = z.object({ token: z.string().min(1), expiresAt: z.string() });

/**
 * Mints installation access tokens as the GitHub App, each restricted to one repository and
 * {@link WORKER_TOKEN_PERMISSIONS} (`POST /app/installations/{id}/access_tokens`). Runs where
 * the App's private key already is (the scheduler, the control plane), so a worker is handed
 * only the token: a hostile agent that reads its worker's environment reaches one repository
 * for at most an hour, never every installation.
 */
export class InstallationTokenMinter {
  private octokit: Promise<{ auth(options: Record<string, unknown>): Promise<unknown> }> | undefined;

  constructor(private readonly app: { appId: string; privateKey: string; baseUrl: string }) {}

  /** A fresh token for `owner/repo` of installation `installationId`. Throws {@link InstallationTokenError}. */
  async mint(installationId: number, target: string): Promise<RepositoryToken> {
    const repoName = target.split('/')[1] ?? target;
    let result: unknown;
    try {
      const octokit = await this.client();
      result = await octokit.auth({
        type: 'installation',
        installationId,
        repositoryNames: [repoName],
        permissions: WORKER_TOKEN_PERMISSIONS,
        // Never a cached token: one minted for an earlier attempt may have minutes left.
        refresh: true,
      });
    } catch (e) {
      const status = (e as { status?: unknown })?.status;
      throw new InstallationTokenError(
        `Could not mint a GitHub token for ${target} (installation ${installationId}${typeof status === 'number' ? `, HTTP ${status}` : ''}): ` +
          'check APP_ID, the private key, that the App is installed on the repository and that it has contents: write and pull_requests: write',
      );
    }
    const parsed = accessTokenSchema.safeParse(result);
    if (!parsed.success) throw new InstallationTokenError(`GitHub answered the token request for ${target} without a token`);
    return { token: parsed.data.token, expires_at: parsed.data.expiresAt };
  }

  private client() {
    // Imported on first use: a control plane without the App never loads probot. ProbotOctokit's
    // auth strategy wraps @octokit/auth-app, as for every other call Leviathan makes as the App.
    this.octokit ??= import('probot').then(
      ({ ProbotOctokit }) =>
        new ProbotOctokit({
          auth: { appId: this.app.appId, privateKey: this.app.privateKey },
          baseUrl: this.app.baseUrl,
          // A failed mint fails that start; the next cycle is the retry.
          retry: { enabled: false },
          throttle: { enabled: false },
          log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
        }),
    );
    return this.octokit;
  }
}

/**
 * The App's private key from PRIVATE_KEY or the file PRIVATE_KEY_PATH names, with `\n` escapes
 * (Kubernetes Secrets, .env files) turned into newlines; undefined when neither gives one.
 */
export async function readPrivateKey(env: Pick<Env, 'PRIVATE_KEY' | 'PRIVATE_KEY_PATH'>): Promise<string | undefined> {
  const key = env.PRIVATE_KEY ?? (env.PRIVATE_KEY_PATH ? await readFile(env.PRIVATE_KEY_PATH, 'utf8').catch(() => undefined) : undefined);
  if (!key) return undefined;
  return normalisePem(key);
}
