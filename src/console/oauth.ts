import { z } from 'zod';
import type { GitHubClient } from '../github/client.ts';
import { splitTarget, statusOf } from '../github/client.ts';

/** GitHub's answer to the code exchange; errors come back as 200 with `error`. */
const tokenAnswer = z.object({ access_token: z.string().min(1).optional(), error: z.string().optional(), error_description: z.string().optional() });
const userAnswer = z.object({ login: z.string().min(1), type: z.string().optional() });

export class OAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OAuthError';
  }
}

/** Where the browser goes to sign in with the GitHub App's OAuth client. */
export function authorizeUrl(o: { serverUrl: string; clientId: string; state: string; redirectUri: string }): string {
  const u = new URL('/login/oauth/authorize', o.serverUrl);
  u.searchParams.set('client_id', o.clientId);
  u.searchParams.set('state', o.state);
  u.searchParams.set('redirect_uri', o.redirectUri);
  u.searchParams.set('allow_signup', 'false');
  return u.toString();
}

/** Exchanges the callback's code for the user's token. */
export async function exchangeCode(o: {
  serverUrl: string;
  clientId: string;
  clientSecret: string;
  code: string;
  redirectUri: string;
}): Promise<string> {
  const res = await fetch(new URL('/login/oauth/access_token', o.serverUrl), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: o.clientId, client_secret: o.clientSecret, code: o.code, redirect_uri: o.redirectUri }),
  });
  if (!res.ok) throw new OAuthError(`GitHub refused the sign-in code (HTTP ${res.status}).`);
  const parsed = tokenAnswer.safeParse(await res.json());
  if (!parsed.success || !parsed.data.access_token) {
    const why = parsed.success ? (parsed.data.error_description ?? parsed.data.error ?? 'no token') : 'unexpected answer';
    throw new OAuthError(`GitHub refused the sign-in code: ${why}.`);
  }
  return parsed.data.access_token;
}

/** The signed-in user's login. */
export async function fetchUser(client: GitHubClient): Promise<{ login: string; type?: string }> {
  const { data } = await client.request('GET /user');
  const parsed = userAnswer.safeParse(data);
  if (!parsed.success) throw new OAuthError('GitHub did not say who signed in.');
  return parsed.data;
}

/**
 * May this user see the console? They need access to at least one target repository, or
 * membership of one of LEVIATHAN_CONSOLE_ORGS. Asked with their own token, so GitHub decides.
 */
export async function mayView(client: GitHubClient, targets: string[], orgs: string[]): Promise<boolean> {
  // A bounded number of probes: enough for any real install, cheap against rate limits.
  for (const target of targets.slice(0, 25)) {
    const { owner, repo } = splitTarget(target);
    try {
      await client.request('GET /repos/{owner}/{repo}', { owner, repo });
      return true;
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 403) throw err;
    }
  }
  for (const org of orgs) {
    try {
      const { data } = await client.request('GET /user/memberships/orgs/{org}', { org });
      if ((data as { state?: string }).state === 'active') return true;
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 403) throw err;
    }
  }
  return false;
}
