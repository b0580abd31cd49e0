import { ProbotOctokit } from 'probot';
import { CredentialsError, type Credentials } from './credentials.ts';

/** A pull request as the worker needs it. */
export interface PullRequestRef {
  number: number;
  url: string;
  /** False when the pull request already existed for this branch. */
  created: boolean;
}

/** What a pull request is opened with. */
export interface NewPullRequest {
  owner: string;
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
}

/** The smallest GitHub surface the worker needs. */
export interface PullRequestPort {
  /** Opens a pull request, or returns the open one for `head` when GitHub says it already exists. */
  openPullRequest(input: NewPullRequest): Promise<PullRequestRef>;
  addLabels(input: { owner: string; repo: string; number: number; labels: string[] }): Promise<void>;
}

/** An error from the GitHub API with its HTTP status (0 when the request never got an answer). */
export class GitHubApiError extends Error {
  override readonly name = 'GitHubApiError';
  readonly code = 'github_api_failed';

  constructor(
    readonly status: number,
    message: string,
    /** A rate limit the worker would not wait out: a 403 that says nothing about the credentials. */
    readonly rateLimited = false,
  ) {
    super(message);
  }
}

/** Most retries of one request after a rate limit, however early it resets. */
export const MAX_RATE_LIMIT_RETRIES = 3;

/**
 * Whether to wait out a rate limit (`retryAfterSeconds`, as GitHub gives it) and retry: only a
 * few times, and only when the retry would still come before the attempt's deadline. Octokit's
 * throttle otherwise waits as long as GitHub says (up to an hour for the primary limit), long
 * after the attempt should have ended.
 */
export function rateLimitRetry(input: {
  limit: 'rate limit' | 'secondary rate limit';
  retryAfterSeconds: number;
  retryCount: number;
  now: number;
  deadline: number | undefined;
}): { retry: true } | { retry: false; reason: string } {
  const { limit, retryAfterSeconds, retryCount, now, deadline } = input;
  const retryAt = now + retryAfterSeconds * 1000;
  if (retryCount >= MAX_RATE_LIMIT_RETRIES) {
    return { retry: false, reason: `GitHub ${limit} hit ${retryCount + 1} times in a row; not retried again` };
  }
  if (deadline !== undefined && retryAt >= deadline) {
    return {
      retry: false,
      reason: `GitHub ${limit}: retry allowed in ${retryAfterSeconds}s (${new Date(retryAt).toISOString()}), after the attempt's deadline (${new Date(deadline).toISOString()}); not waiting`,
    };
  }
  return { retry: true };
}

type OctokitInstance = InstanceType<typeof ProbotOctokit>;

/**
 * PullRequestPort on Octokit, authenticated with the worker's credentials: the token is asked for
 * at every call (the same one git pushed with, or a fresher one past the first token's hour), and
 * the client is rebuilt only when the token changed.
 */
export class OctokitPullRequests implements PullRequestPort {
  #octokit: { token: string; client: OctokitInstance } | undefined;

  constructor(
    private readonly options: {
      credentials: Credentials;
      baseUrl?: string;
      /** Tests turn these off so that nock sees exactly one request per call. */
      retry?: boolean;
      throttle?: boolean;
      /** The attempt's deadline (epoch ms): no rate limit is waited out past it. */
      deadline?: number;
      /** Aborts the request under way: the worker is stopping. */
      signal?: AbortSignal;
      /** Milliseconds per second of GitHub's `retry-after` (tests shorten the wait). */
      retryAfterBaseValue?: number;
    },
  ) {}

  /** Why the last rate limit was not waited out; reset before each call (calls run one at a time). */
  #refusal: string | undefined;

  #mayRetry(limit: 'rate limit' | 'secondary rate limit', retryAfterSeconds: number, retryCount: number): boolean {
    const decision = rateLimitRetry({ limit, retryAfterSeconds, retryCount, now: Date.now(), deadline: this.options.deadline });
    this.#refusal = decision.retry ? undefined : decision.reason;
    return decision.retry;
  }

  /** Ends a request at the deadline, or as soon as the worker stops. */
  #signal(): AbortSignal | undefined {
    const { deadline, signal } = this.options;
    const signals = [
      ...(signal ? [signal] : []),
      ...(deadline !== undefined ? [AbortSignal.timeout(Math.max(0, deadline - Date.now()))] : []),
    ];
    return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  }

  /** Runs one API call; a rate limit not waited out fails it with the reason, not as an auth error. */
  async #call<T>(f: (octokit: OctokitInstance, request: { signal?: AbortSignal }) => Promise<T>): Promise<T> {
    const octokit = await this.#client();
    this.#refusal = undefined;
    const signal = this.#signal();
    try {
      return await f(octokit, signal ? { signal } : {});
    } catch (e) {
      if (e instanceof GitHubApiError) throw e;
      if (signal?.aborted) {
        const why = this.options.signal?.aborted ? 'the worker is stopping' : `no answer before the attempt's deadline (${new Date(this.options.deadline ?? 0).toISOString()})`;
        throw new GitHubApiError(0, `GitHub request abandoned: ${why}`);
      }
      const refusal = this.#refusal;
      throw refusal ? new GitHubApiError(statusOf(e), `${refusal} (${errorMessage(e)})`, true) : toApiError(e);
    }
  }

  async #client(): Promise<OctokitInstance> {
    const token = await this.options.credentials.token().catch((e: unknown) => {
      throw e instanceof CredentialsError ? e : new CredentialsError(e instanceof Error ? e.message : String(e));
    });
    if (this.#octokit?.token !== token) {
      const client = new ProbotOctokit({
        auth: { token },
        baseUrl: this.options.baseUrl ?? 'https://api.github.com',
        retry: { enabled: this.options.retry ?? true },
        throttle: {
          enabled: this.options.throttle ?? true,
          onRateLimit: (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) => this.#mayRetry('rate limit', retryAfter, retryCount),
          onSecondaryRateLimit: (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) =>
            this.#mayRetry('secondary rate limit', retryAfter, retryCount),
          ...(this.options.retryAfterBaseValue !== undefined ? { retryAfterBaseValue: this.options.retryAfterBaseValue } : {}),
        },
        // Octokit's default logger writes to console; the worker logs through pino only.
        log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      this.#octokit = { token, client };
    }
    return this.#octokit.client;
  }

  async openPullRequest(input: NewPullRequest): Promise<PullRequestRef> {
    return this.#call(async (octokit, request) => {
      try {
        const { data } = await octokit.rest.pulls.create({ ...input, maintainer_can_modify: false, request });
        return { number: data.number, url: data.html_url, created: true };
      } catch (e) {
        if (statusOf(e) !== 422 || !/already exists/i.test(errorText(e))) throw e;
        const { data } = await octokit.rest.pulls.list({ owner: input.owner, repo: input.repo, head: `${input.owner}:${input.head}`, state: 'open', per_page: 1, request });
        const existing = data[0];
        if (existing) return { number: existing.number, url: existing.html_url, created: false };
        throw e;
      }
    });
  }

  async addLabels(input: { owner: string; repo: string; number: number; labels: string[] }): Promise<void> {
    await this.#call((octokit, request) =>
      octokit.rest.issues.addLabels({ owner: input.owner, repo: input.repo, issue_number: input.number, labels: input.labels, request }),
    );
  }
}

function statusOf(e: unknown): number {
  const s = (e as { status?: unknown })?.status;
  return typeof s === 'number' ? s : 0;
}

function errorText(e: unknown): string {
  const response = (e as { response?: { data?: unknown } })?.response;
  return `${e instanceof Error ? e.message : String(e)} ${JSON.stringify(response?.data ?? '')}`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// Octokit errors carry the request, headers included; only status and message are kept.
function toApiError(e: unknown): GitHubApiError {
  return new GitHubApiError(statusOf(e), errorMessage(e));
}
