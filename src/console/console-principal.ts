import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from '../api/auth.ts';
import { ApiError } from '../api/errors.ts';
import type { GitHubClient } from '../github/client.ts';
import { splitTarget } from '../github/client.ts';
import { mayChange, repoPermission } from '../github/permissions.ts';
import { sameToken, type ConsoleSession, type SessionStore } from './session.ts';

/** How long a user's repository permission is trusted before asking GitHub again. */
export const PERMISSION_TTL_MS = 60_000;

/**
 * /v1 writes a console session may make. Raw event ingestion and anything else stays with
 * bearer tokens: a browser session must not be able to forge scheduler or worker events.
 */
const COOKIE_WRITES = [
  /^\/v1\/targets\/[^/]+\/[^/]+\/(pause|resume|breaker\/reset|policy\/proposals)$/,
  /^\/v1\/tasks\/trigger$/,
];

/** A GitHub client acting as the signed-in user (their OAuth token); probot is loaded on first sign-in. */
export async function userClient(token: string, baseUrl: string): Promise<GitHubClient> {
  const { ProbotOctokit } = await import('probot');
  return new ProbotOctokit({ auth: { token }, baseUrl, retry: { enabled: false }, throttle: { enabled: false } });
}

/**
 * Turns the console session cookie into an API principal, so the console's loaders, actions and
 * the browser's EventSource go through exactly the same /v1 checks as any API client.
 */
export class ConsolePrincipals {
  private readonly permissions = new Map<string, { ok: boolean; until: number }>();

  constructor(
    private readonly sessions: SessionStore,
    private readonly opts: {
      githubApiUrl: string;
      logger: Logger;
      /** Checks a token session's API token again (the same TokenAuth as the bearer header). */
      verifyToken: (token: string) => Principal | null;
      now?: () => number;
      client?: (token: string) => GitHubClient | Promise<GitHubClient>;
    },
  ) {}

  /**
   * The principal of a cookie-authenticated request, or null without a valid session. Writes
   * must carry the session's CSRF token in `x-csrf-token` (a cross-site form cannot set headers
   * nor read the token), else 403.
   */
  authenticate(req: IncomingMessage): Principal | null {
    const session = this.validSession(req.headers.cookie);
    if (!session) return null;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      const header = req.headers['x-csrf-token'];
      if (!sameToken(typeof header === 'string' ? header : null, session.csrf)) {
        throw new ApiError('forbidden', 'Missing or invalid CSRF token (x-csrf-token). Reload the console and try again.');
      }
      // The path the router will match: dot segments and their %2e forms resolved, exactly as it does.
      let path: string;
      try {
        path = new URL(req.url ?? '/', 'http://localhost').pathname;
      } catch {
        throw new ApiError('invalid_request', 'Malformed request path.');
      }
      if (!COOKIE_WRITES.some((re) => re.test(path))) {
        throw new ApiError('forbidden', 'A console session cannot do this; use an API token.');
      }
    }
    return this.principalOf(session);
  }

  /** The session of a cookie header, if it is still good: a token session's token must still be accepted. */
  validSession(cookieHeader: string | undefined | null): ConsoleSession | null {
    const session = this.sessions.fromCookieHeader(cookieHeader);
    if (!session) return null;
    if (session.kind === 'token') {
      const p = session.apiToken ? this.opts.verifyToken(session.apiToken) : null;
      if (!p) return null;
      // The token's scope now, not when the session began.
      return { ...session, actor: p.actor, canWrite: p.canWrite };
    }
    return session.githubToken && session.login ? session : null;
  }

  principalOf(session: ConsoleSession): Principal {
    if (session.kind === 'token') {
      const canWrite = session.canWrite;
      return { actor: session.actor, canWrite, canActOn: async () => canWrite };
    }
    return { actor: session.actor, canWrite: true, canActOn: (target) => this.mayActOn(session, target) };
  }

  /** write, maintain or admin on the repository, asked with the user's own token and cached briefly. */
  private async mayActOn(session: ConsoleSession, target: string): Promise<boolean> {
    const now = (this.opts.now ?? Date.now)();
    const key = `${session.id}\n${target}`;
    const hit = this.permissions.get(key);
    if (hit && hit.until > now) return hit.ok;
    const { owner, repo } = splitTarget(target);
    const client = this.opts.client ?? ((t: string) => userClient(t, this.opts.githubApiUrl));
    let ok = false;
    try {
      ok = mayChange(await repoPermission(await client(session.githubToken!), owner, repo, session.login!));
    } catch (err) {
      // Fail closed: an unanswered permission check refuses the action (and is not cached).
      this.opts.logger.warn({ err, target, actor: session.actor }, 'Console: permission check failed');
      return false;
    }
    this.permissions.set(key, { ok, until: now + PERMISSION_TTL_MS });
    return ok;
  }
}
