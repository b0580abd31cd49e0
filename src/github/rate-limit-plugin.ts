import { recordRateLimit } from '../metrics/registry.ts';

interface Hooked {
  hook: {
    after(name: 'request', fn: (response: { headers: Record<string, unknown> }) => void): void;
    error(name: 'request', fn: (error: { response?: { headers?: Record<string, unknown> } }) => never | Promise<never>): void;
  };
}

/** The octokit options that say whose budget a client spends (Probot's and @octokit/auth-app's `auth`). */
interface ClientOptions {
  auth?: unknown;
}

/**
 * Whose budget a client spends: one installation's (an installation token), the App's own (its
 * JWT), or a plain token's. GitHub counts each separately, so each is a budget of its own.
 */
export function credentialOf(options: ClientOptions | undefined): string {
  const auth = options?.auth;
  if (auth && typeof auth === 'object') {
    const { installationId, appId } = auth as { installationId?: unknown; appId?: unknown };
    if (installationId !== undefined && installationId !== null) return `installation:${String(installationId)}`;
    if (appId !== undefined && appId !== null) return 'app';
  }
  return 'token';
}

/** Records one response's rate-limit headers (successes and failures both carry them) under its budget. */
function record(credential: string, headers: Record<string, unknown> | undefined): void {
  if (!headers) return;
  const reset = headers['x-ratelimit-reset'];
  // REST calls count against `core`; GitHub names the resource when it is another (search, graphql).
  const resource = typeof headers['x-ratelimit-resource'] === 'string' ? headers['x-ratelimit-resource'] : 'core';
  recordRateLimit({
    // Headers are strings; recordRateLimit ignores anything that is not a finite number.
    remaining: Number(headers['x-ratelimit-remaining']),
    limit: Number(headers['x-ratelimit-limit']),
    reset: reset === undefined ? null : Number(reset),
    budget: `${credential}/${resource}`,
  });
}

/**
 * Octokit plugin feeding `leviathan_github_rate_limit_*` from every response of every client the
 * control plane makes (App, installations, the scheduler's backlog reads), so GitHubRateLimitLow
 * can predict exhaustion before guardrails start failing closed. Readings are kept per
 * installation (and resource) and the gauges show the most constrained: one exhausted
 * installation is not hidden by another's full budget. In a `leviathan tick` process the reading
 * reaches /metrics through the log: the cycle reports it in `scheduler.cycle_completed`.
 */
export function rateLimitPlugin(octokit: unknown, options?: ClientOptions): void {
  const o = octokit as Hooked;
  const credential = credentialOf(options);
  o.hook.after('request', (response) => record(credential, response.headers));
  o.hook.error('request', (error) => {
    record(credential, error.response?.headers);
    throw error;
  });
}
