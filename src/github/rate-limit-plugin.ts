import { recordRateLimit } from '../metrics/registry.ts';

interface Hooked {
  hook: {
    after(name: 'request', fn: (response: { headers: Record<string, unknown> }) => void): void;
    error(name: 'request', fn: (error: { response?: { headers?: Record<string, unknown> } }) => never | Promise<never>): void;
  };
}

/** Records one response's rate-limit headers (successes and failures both carry them). */
function record(headers: Record<string, unknown> | undefined): void {
  if (!headers) return;
  const reset = headers['x-ratelimit-reset'];
  recordRateLimit({
    // Headers are strings; recordRateLimit ignores anything that is not a finite number.
    remaining: Number(headers['x-ratelimit-remaining']),
    limit: Number(headers['x-ratelimit-limit']),
    reset: reset === undefined ? null : Number(reset),
  });
}

/**
 * Octokit plugin feeding `leviathan_github_rate_limit_*` from every response of every client the
 * control plane makes (App, installations, the scheduler's backlog reads), so GitHubRateLimitLow
 * can predict exhaustion before guardrails start failing closed. In a `leviathan tick` process the
 * reading reaches /metrics through the log: the cycle reports it in `scheduler.cycle_completed`.
 */
export function rateLimitPlugin(octokit: unknown): void {
  const o = octokit as Hooked;
  o.hook.after('request', (response) => record(response.headers));
  o.hook.error('request', (error) => {
    record(error.response?.headers);
    throw error;
  });
}
