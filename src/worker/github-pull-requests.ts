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
  ) {
    super(message);
  }
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
    },
  ) {}

  async #client(): Promise<OctokitInstance> {
    const token = await this.options.credentials.token().catch((e: unknown) => {
      throw e instanceof CredentialsError ? e : new CredentialsError(e instanceof Error ? e.message : String(e));
    });
    if (this.#octokit?.token !== token) {
      const client = new ProbotOctokit({
        auth: { token },
        baseUrl: this.options.baseUrl ?? 'https://api.github.com',
        retry: { enabled: this.options.retry ?? true },
        throttle: { enabled: this.options.throttle ?? true },
        // Octokit's default logger writes to console; the worker logs through pino only.
        log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      this.#octokit = { token, client };
    }
    return this.#octokit.client;
  }

  async openPullRequest(input: NewPullRequest): Promise<PullRequestRef> {
    const octokit = await this.#client();
    try {
      const { data } = await octokit.rest.pulls.create({ ...input, maintainer_can_modify: false });
      return { number: data.number, url: data.html_url, created: true };
    } catch (e) {
      if (statusOf(e) === 422 && /already exists/i.test(errorText(e))) {
        const { data } = await octokit.rest.pulls
          .list({ owner: input.owner, repo: input.repo, head: `${input.owner}:${input.head}`, state: 'open', per_page: 1 })
          .catch((err: unknown) => {
            throw toApiError(err);
          });
        const existing = data[0];
        if (existing) return { number: existing.number, url: existing.html_url, created: false };
      }
      throw toApiError(e);
    }
  }

  async addLabels(input: { owner: string; repo: string; number: number; labels: string[] }): Promise<void> {
    const octokit = await this.#client();
    try {
      await octokit.rest.issues.addLabels({
        owner: input.owner,
        repo: input.repo,
        issue_number: input.number,
        labels: input.labels,
      });
    } catch (e) {
      throw toApiError(e);
    }
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

// Octokit errors carry the request, headers included; only status and message are kept.
function toApiError(e: unknown): GitHubApiError {
  return new GitHubApiError(statusOf(e), e instanceof Error ? e.message : String(e));
}
