import type { Logger } from 'pino';

/** Where the worker gets the token it pushes and opens pull requests with. */
export interface Credentials {
  token(): Promise<string>;
}

/** Credentials could not be obtained; always an `auth_error`. The message never holds a secret. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
  readonly code = 'credentials_failed';
}

/**
 * A fixed token: GITHUB_TOKEN, which the executor sets to the repository's installation token
 * (or a development token).
 */
export function staticToken(token: string): Credentials {
  return { token: async () => token };
}

/** A GitHub token and when it expires (ISO 8601), as the control plane hands it out. */
export interface ExpiringToken {
  token: string;
  expires_at: string;
}

/**
 * What asking for a fresh token gives: a token, or `unavailable` when the control plane mints
 * none at all (no GitHub App). The executor then started the worker with a development token,
 * which keeps working. Any other failure throws a {@link CredentialsError}.
 */
export type TokenRefresh = ({ kind: 'refreshed' } & ExpiringToken) | { kind: 'unavailable'; code: string; message: string };

/** The port to the control plane's `POST /v1/attempts/{attempt_id}/github-token`. */
export interface TokenRefresher {
  refresh(): Promise<TokenRefresh>;
}

/** GitHub installation tokens expire an hour after they are minted. */
export const INSTALLATION_TOKEN_LIFETIME_MS = 60 * 60_000;
/**
 * When the executor did not say when the first token expires (GITHUB_TOKEN_EXPIRES_AT: an
 * executor of an earlier release), that token counts as minted when the worker started and is
 * replaced 45 minutes later: a quarter of an hour of margin for the time between the mint and the
 * start (a Job's pod being scheduled, its image pulled).
 */
export const FIRST_TOKEN_REFRESH_AFTER_MS = 45 * 60_000;
/** A token from the control plane, whose expiry is known, is replaced this long before it. */
export const REFRESH_BEFORE_EXPIRY_MS = 10 * 60_000;
/**
 * When a refresh fails, the token held is still used while it has at least this long left (a
 * control plane restarting must not fail an attempt whose token is still good); after that the
 * failure is the answer, an `auth_error`.
 */
export const MIN_REMAINING_MS = 5 * 60_000;

/** Options of {@link refreshingToken}. */
export interface RefreshingTokenOptions {
  /** GITHUB_TOKEN as the executor set it. */
  initial: string;
  /** GITHUB_TOKEN_EXPIRES_AT, when the executor set it: the first token is then replaced 10 minutes before. */
  initialExpiresAt?: string;
  refresher: TokenRefresher;
  /** Epoch milliseconds; tests pass a fake clock. */
  now: () => number;
  /** When the worker started (default: `now()` at creation). */
  startedAt?: number;
  logger?: Logger;
  /** Called with every new token before it is used, e.g. to teach the redactor. */
  onToken?: (token: string) => void;
}

/**
 * Credentials that outlive GitHub's one-hour installation tokens: GITHUB_TOKEN until
 * {@link REFRESH_BEFORE_EXPIRY_MS} before its expiry (or {@link FIRST_TOKEN_REFRESH_AFTER_MS}
 * after the start when none was given), then a fresh token from the control plane, cached until
 * {@link REFRESH_BEFORE_EXPIRY_MS} before its expiry, and so on. Like the AWS SDKs'
 * advisory and mandatory refresh windows, a failed refresh falls back on the held token while it
 * has {@link MIN_REMAINING_MS} left (logged, tried again at the next use), and fails only after.
 * When the control plane mints no tokens for this attempt, the worker was given a development
 * token and keeps it without asking again. Concurrent callers share one refresh.
 */
export function refreshingToken(o: RefreshingTokenOptions): Credentials {
  const startedAt = o.startedAt ?? o.now();
  let current = o.initial;
  // The first token's expiry as the executor gave it, else assumed (see FIRST_TOKEN_REFRESH_AFTER_MS).
  const given = o.initialExpiresAt !== undefined ? Date.parse(o.initialExpiresAt) : NaN;
  let expiresAt = Number.isFinite(given) ? given : startedAt + INSTALLATION_TOKEN_LIFETIME_MS;
  let refreshAt = Number.isFinite(given) ? given - REFRESH_BEFORE_EXPIRY_MS : startedAt + FIRST_TOKEN_REFRESH_AFTER_MS;
  let pending: Promise<string> | null = null;

  // A failed refresh: the held token while it is still good for a while, else the failure.
  const heldOr = (e: unknown): string => {
    const left = expiresAt - o.now();
    const message = e instanceof Error ? e.message : String(e);
    if (left < MIN_REMAINING_MS) throw e instanceof CredentialsError ? e : new CredentialsError(message);
    o.logger?.warn({ error: message, token_minutes_left: Math.floor(left / 60_000) }, 'Worker: Could not refresh the GitHub token; using the current one meanwhile');
    return current;
  };

  const refresh = async (): Promise<string> => {
    let answer: TokenRefresh;
    try {
      answer = await o.refresher.refresh();
    } catch (e) {
      return heldOr(e);
    }
    if (answer.kind === 'unavailable') {
      // Once the control plane has handed out a token, it did mint for this attempt: this is no
      // development setup, and the held token will expire like the others.
      if (current !== o.initial) return heldOr(new CredentialsError(`Could not refresh the GitHub token: the control plane answered ${answer.code}: ${answer.message}`));
      o.logger?.warn({ code: answer.code, message: answer.message }, 'Worker: The control plane mints no GitHub tokens for this attempt; keeping GITHUB_TOKEN');
      refreshAt = Infinity;
      return current;
    }
    const expires = Date.parse(answer.expires_at);
    current = answer.token;
    o.onToken?.(current);
    // An unreadable expiry counts as a full hour from now (the control plane gives ISO 8601).
    expiresAt = Number.isFinite(expires) ? expires : o.now() + INSTALLATION_TOKEN_LIFETIME_MS;
    refreshAt = expiresAt - REFRESH_BEFORE_EXPIRY_MS;
    o.logger?.info({ expires_at: new Date(expiresAt).toISOString() }, 'Worker: GitHub token refreshed');
    return current;
  };

  return {
    token: async () => {
      if (o.now() < refreshAt) return current;
      pending ??= refresh().finally(() => {
        pending = null;
      });
      return pending;
    },
  };
}
