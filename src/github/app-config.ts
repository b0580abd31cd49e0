import { readFile } from 'node:fs/promises';
import type { Env } from '../env.ts';

/** Where GitHub posts webhooks (Probot's default path, and the one app.yml declares). */
export const WEBHOOK_PATH = '/api/github/webhooks';

/** How to register the App, said wherever the App is found missing. */
export const REGISTER_HINT =
  'Register it with Probot\'s manifest flow (README, "Register the GitHub App"), then set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET.';

/** The GitHub App settings, or why there is no App. */
export type AppConfig =
  | { configured: false; message: string }
  | {
      configured: true;
      appId: string;
      privateKey: string;
      /** null only with `--insecure-dev-webhooks`: signatures are not checked. */
      secret: string | null;
      baseUrl: string;
    };

/** A GitHub App configuration the service must not start with; the message says the fix. */
export class GitHubConfigError extends Error {
  readonly code = 'github_config_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'GitHubConfigError';
  }
}

/**
 * Reads the App settings from the environment. Without APP_ID the service runs without the App;
 * an App without a private key, or without a webhook secret, is refused: Probot would otherwise
 * fall back to the secret "development", and anyone could forge webhooks.
 */
export async function resolveAppConfig(
  env: Pick<Env, 'APP_ID' | 'PRIVATE_KEY' | 'PRIVATE_KEY_PATH' | 'WEBHOOK_SECRET' | 'GITHUB_API_URL'>,
  opts: { insecureDevWebhooks?: boolean } = {},
): Promise<AppConfig> {
  if (!env.APP_ID) {
    return { configured: false, message: `GitHub App not configured (APP_ID is not set): webhooks, slash commands and reconcile are off. ${REGISTER_HINT}` };
  }
  let privateKey = env.PRIVATE_KEY;
  if (!privateKey && env.PRIVATE_KEY_PATH) {
    try {
      privateKey = await readFile(env.PRIVATE_KEY_PATH, 'utf8');
    } catch (err) {
      throw new GitHubConfigError(`PRIVATE_KEY_PATH=${env.PRIVATE_KEY_PATH} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}). Point it at the .pem file GitHub gave you for App ${env.APP_ID}.`);
    }
  }
  if (!privateKey) {
    throw new GitHubConfigError(`APP_ID=${env.APP_ID} is set but neither PRIVATE_KEY nor PRIVATE_KEY_PATH is. Generate a private key on the App's settings page and set one of them.`);
  }
  privateKey = normalisePem(privateKey);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    throw new GitHubConfigError('The GitHub App private key is not a PEM private key (expected "-----BEGIN RSA PRIVATE KEY-----").');
  }
  if (!env.WEBHOOK_SECRET && !opts.insecureDevWebhooks) {
    throw new GitHubConfigError(
      'WEBHOOK_SECRET is not set. Without it anyone could forge webhooks (Probot would silently use the secret "development"). ' +
        'Set WEBHOOK_SECRET to the webhook secret of the GitHub App, or start with `leviathan serve --insecure-dev-webhooks` for local development only.',
    );
  }
  return { configured: true, appId: env.APP_ID, privateKey, secret: env.WEBHOOK_SECRET ?? null, baseUrl: env.GITHUB_API_URL };
}

/** Kubernetes secrets and .env files often carry the PEM on one line with literal "\n": newlines again. */
export function normalisePem(key: string): string {
  return key.includes('\\n') ? key.replace(/\\n/g, '\n') : key;
}
