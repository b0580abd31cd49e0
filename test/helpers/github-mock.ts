import nock from 'nock';

/** Base URL of GitHub's REST API in tests (GITHUB_API_URL's default). */
export const GITHUB_API = 'https://api.github.com';

type ReplyBody = string | Record<string, unknown> | unknown[] | undefined;

interface MockOptions {
  /** Response headers (ETag, Link, content-type). */
  headers?: Record<string, string>;
  /** Only match when these request headers are present with these values. */
  reqheaders?: Record<string, string | RegExp>;
  /** Query string to match; `true` matches any. */
  query?: Record<string, string> | true;
  /** Answer this many milliseconds late (a slow GitHub). */
  delayMs?: number;
  /** The side effect, as a readable string recorded when the mock answers (`owner/repo#1:comment`). */
  effect?: string | ((body: unknown) => string);
}

/**
 * The one wrapper around nock for GitHub: every mock must be used (`done()` fails listing the
 * unused ones) and every request must have a mock (`done()` fails listing requests nothing
 * answered). Mocked writes record readable side effects in `effects`, Prow-fake style.
 */
export class GitHubMock {
  readonly effects: string[] = [];
  private readonly unmatched: string[] = [];
  private readonly scopes: nock.Scope[] = [];
  private readonly onNoMatch = (req: { method?: string; path?: string; href?: string; host?: string; hostname?: string; options?: { method?: string; path?: string; host?: string; hostname?: string } }) => {
    // Loopback requests (the tests' own calls to the control plane) pass through nock unmocked.
    const host = req.hostname ?? req.host ?? req.options?.hostname ?? req.options?.host ?? req.href ?? '';
    if (/127\.0\.0\.1|localhost|\[::1\]/.test(host)) return;
    this.unmatched.push(`${req.method ?? req.options?.method ?? '?'} ${req.path ?? req.options?.path ?? req.href ?? '?'}`);
  };

  constructor() {
    nock.emitter.on('no match', this.onNoMatch);
  }

  /** Answers one request `method path` with `status` and `body`. */
  on(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string | RegExp, status: number, body?: ReplyBody, opts: MockOptions = {}): this {
    const scope = nock(GITHUB_API, opts.reqheaders ? { reqheaders: opts.reqheaders } : {});
    let interceptor = scope.intercept(path, method);
    if (opts.query) interceptor = interceptor.query(opts.query);
    if (opts.delayMs) interceptor = interceptor.delay(opts.delayMs);
    interceptor.reply(status, (_uri, requestBody) => {
      if (opts.effect) this.effects.push(typeof opts.effect === 'function' ? opts.effect(requestBody) : opts.effect);
      return body as nock.Body;
    }, opts.headers);
    this.scopes.push(scope);
    return this;
  }

  /** The installation access token Probot asks for before acting as installation `id`. */
  installationToken(id = 1): this {
    return this.on('POST', `/app/installations/${id}/access_tokens`, 201, {
      token: `ghs_test_installation_${id}`,
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      permissions: { contents: 'write', pull_requests: 'write', issues: 'write', metadata: 'read' },
      repository_selection: 'all',
    });
  }

  /** Mocks not used yet. */
  pending(): string[] {
    return this.scopes.flatMap((s) => s.pendingMocks());
  }

  /**
   * Waits (background work answers webhooks first, then calls GitHub) until every mock is used,
   * then fails on unused mocks or unanswered requests, and resets nock for the next test.
   */
  async done(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending().length > 0 && this.unmatched.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const pending = this.pending();
    const unmatched = [...this.unmatched];
    nock.emitter.removeListener('no match', this.onNoMatch);
    nock.cleanAll();
    if (pending.length > 0) throw new Error(`GitHub mocks never used:\n  ${pending.join('\n  ')}`);
    if (unmatched.length > 0) throw new Error(`GitHub requests without a mock:\n  ${unmatched.join('\n  ')}`);
    if (!nock.isDone()) throw new Error('nock is not done');
  }
}
