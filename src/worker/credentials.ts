import { ProbotOctokit } from 'probot';
import { z } from 'zod';

/** Where the worker gets the token it pushes and opens pull requests with. */
export interface Credentials {
  token(): Promise<string>;
}

/** Credentials could not be obtained; always an `auth_error`. The message never holds a secret. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
  readonly code = 'credentials_failed';
}

/** A fixed token (`GITHUB_TOKEN`), for development. */
export function staticToken(token: string): Credentials {
  return { token: async () => token };
}

const installationTokenSchema = z.object({ token: z.string().min(1), expiresAt: z.string().optional() });

/**
 * A short-lived installation token minted from the App credentials, restricted to the one target
 * repository, so a leaked token can reach nothing else and expires within the hour. Minted once
 * per worker run and cached.
 */
export function appInstallationToken(options: {
  appId: string;
  privateKey: string;
  installationId: number;
  /** `owner/repo`; the token is scoped to this repository only. */
  target: string;
  baseUrl?: string;
}): Credentials {
  let minted: Promise<string> | undefined;
  const mint = async (): Promise<string> => {
    const repoName = options.target.split('/')[1] ?? options.target;
    // ProbotOctokit's auth strategy wraps @octokit/auth-app: installation auth with the App's JWT.
    const octokit = new ProbotOctokit({
      auth: { appId: options.appId, privateKey: options.privateKey },
      baseUrl: options.baseUrl ?? 'https://api.github.com',
      retry: { enabled: false },
      throttle: { enabled: false },
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    let result: unknown;
    try {
      result = await octokit.auth({
        type: 'installation',
        installationId: options.installationId,
        repositoryNames: [repoName],
      });
    } catch (e) {
      const status = (e as { status?: unknown })?.status;
      throw new CredentialsError(
        `Could not mint an installation token for ${options.target} (installation ${options.installationId}` +
          `${typeof status === 'number' ? `, HTTP ${status}` : ''}): check APP_ID, the private key and that the App is installed on the repository`,
      );
    }
    const parsed = installationTokenSchema.safeParse(result);
    if (!parsed.success) throw new CredentialsError('The installation token response had no token');
    return parsed.data.token;
  };
  return {
    token: () => {
      minted ??= mint();
      return minted;
    },
  };
}

/** Normalises a PEM from the environment, where newlines are often written as `\n`. */
export function normalisePrivateKey(pem: string): string {
  return pem.includes('\\n') ? pem.replace(/\\n/g, '\n') : pem;
}
