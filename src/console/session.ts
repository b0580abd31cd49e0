import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** Name of the console session cookie. */
export const SESSION_COOKIE = 'lvn_session';
/** Double-submit cookie protecting the sign-in form, before any session exists. */
export const LOGIN_CSRF_COOKIE = 'lvn_login_csrf';
/** Cookie carrying the OAuth `state` between the redirect to GitHub and the callback. */
export const OAUTH_STATE_COOKIE = 'lvn_oauth_state';

/** Sessions last a working day; signing in again is cheap. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** A signed-in console user, as the session cookie carries it. */
export interface ConsoleSession {
  id: string;
  kind: 'token' | 'github';
  /** Event actor of everything they do: `token:<id>` or `github:<login>`. */
  actor: string;
  login: string | null;
  /** Token sessions: the token's scope. GitHub sessions: true, narrowed per repository by canActOn. */
  canWrite: boolean;
  /** Synchronizer CSRF token: every console POST and cookie-authenticated /v1 write must carry it. */
  csrf: string;
  /** The user's OAuth token (GitHub sessions only); encrypted in the cookie, never shown to pages. */
  githubToken: string | null;
  /**
   * The pasted API token (token sessions only), encrypted in the cookie: every request checks it
   * again, so removing a token from LEVIATHAN_API_TOKEN ends its console sessions too.
   */
  apiToken: string | null;
  createdAt: number;
  expiresAt: number;
}

/** What the console pages may see of the session (no OAuth token). */
export type PublicSession = Pick<ConsoleSession, 'kind' | 'actor' | 'login' | 'canWrite' | 'csrf'>;

export function publicSession(s: ConsoleSession): PublicSession {
  return { kind: s.kind, actor: s.actor, login: s.login, canWrite: s.canWrite, csrf: s.csrf };
}

/**
 * HMAC-SHA256 signing of cookie values: `<value>.<base64url mac>`. Anything altered, truncated or
 * signed with another secret verifies as null.
 */
export class Signer {
  constructor(private readonly secret: string) {
    if (secret.length < 32) throw new Error('The session secret must be at least 32 characters.');
  }

  sign(value: string): string {
    return `${value}.${this.mac(value)}`;
  }

  unsign(signed: string | undefined | null): string | null {
    if (!signed) return null;
    const dot = signed.lastIndexOf('.');
    if (dot <= 0) return null;
    const value = signed.slice(0, dot);
    const given = Buffer.from(signed.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(value), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    return value;
  }

  /** Key material for keys derived from the same secret (the session token encryption). */
  secretForKeys(): string {
    return this.secret;
  }

  private mac(value: string): string {
    return createHmac('sha256', this.secret).update(value).digest('base64url');
  }
}

/** What the cookie carries (signed; the GitHub token inside it encrypted). */
const cookiePayload = z
  .object({
    v: z.literal(1),
    id: z.string().min(1).max(100),
    kind: z.enum(['token', 'github']),
    actor: z.string().min(1).max(200),
    login: z.string().max(100).nullable(),
    canWrite: z.boolean(),
    csrf: z.string().min(1).max(100),
    gh: z.string().max(2000).nullable(),
    tk: z.string().max(2000).nullable(),
    iat: z.number(),
    exp: z.number(),
  })
  .strict();

/**
 * Sessions live in the cookie itself: signed (HMAC-SHA256), the user's GitHub token encrypted
 * (AES-256-GCM), so any replica sharing LEVIATHAN_SESSION_SECRET accepts them and a restart
 * signs nobody out. Sign-out clears the cookie and remembers the session id as revoked until
 * it would have expired: here at once, and everywhere through `signedOut` (the console records
 * each sign-out as an event, so every replica and every restart refuses the cookie too).
 */
export class SessionStore {
  private readonly revoked = new Map<string, number>();
  private readonly key: Buffer;

  constructor(
    readonly signer: Signer,
    private readonly now: () => number = Date.now,
    /** Whether a session, by its sessionKey, was signed out anywhere (the log's view). */
    private readonly signedOut: (key: string) => boolean = () => false,
  ) {
    this.key = createHash('sha256').update(`leviathan-console-session-token\0${signer.secretForKeys()}`).digest();
  }

  create(init: Pick<ConsoleSession, 'kind' | 'actor' | 'login' | 'canWrite' | 'githubToken' | 'apiToken'>): ConsoleSession {
    const t = this.now();
    return { ...init, id: token(), csrf: token(), createdAt: t, expiresAt: t + SESSION_TTL_MS };
  }

  /** The session a cookie header points to, or null (missing, tampered, expired or signed out). */
  fromCookieHeader(header: string | undefined | null): ConsoleSession | null {
    const raw = this.signer.unsign(parseCookies(header)[SESSION_COOKIE]);
    if (!raw) return null;
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    const parsed = cookiePayload.safeParse(json);
    if (!parsed.success) return null;
    const p = parsed.data;
    if (p.exp <= this.now() || this.revoked.has(p.id) || this.signedOut(sessionKey(p.id))) return null;
    const githubToken = p.gh ? this.decrypt(p.gh) : null;
    const apiToken = p.tk ? this.decrypt(p.tk) : null;
    if ((p.gh && !githubToken) || (p.tk && !apiToken)) return null;
    return { id: p.id, kind: p.kind, actor: p.actor, login: p.login, canWrite: p.canWrite, csrf: p.csrf, githubToken, apiToken, createdAt: p.iat, expiresAt: p.exp };
  }

  destroy(s: ConsoleSession): void {
    const t = this.now();
    for (const [id, exp] of this.revoked) if (exp <= t) this.revoked.delete(id);
    this.revoked.set(s.id, s.expiresAt);
  }

  cookieValue(s: ConsoleSession): string {
    const payload = {
      v: 1,
      id: s.id,
      kind: s.kind,
      actor: s.actor,
      login: s.login,
      canWrite: s.canWrite,
      csrf: s.csrf,
      gh: s.githubToken ? this.encrypt(s.githubToken) : null,
      tk: s.apiToken ? this.encrypt(s.apiToken) : null,
      iat: s.createdAt,
      exp: s.expiresAt,
    };
    return this.signer.sign(Buffer.from(JSON.stringify(payload)).toString('base64url'));
  }

  private encrypt(text: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  private decrypt(box: string): string | null {
    try {
      const buf = Buffer.from(box, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, 12));
      decipher.setAuthTag(buf.subarray(12, 28));
      return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}

/** Random 32-byte token, base64url. */
export function token(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two strings (false when either is missing). */
export function sameToken(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function parseCookies(header: string | undefined | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    if (!(name in out)) {
      try {
        out[name] = decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        // A malformed cookie is ignored, as browsers would.
      }
    }
  }
  return out;
}

/** A Set-Cookie header value: always httpOnly and SameSite=Lax; Secure over https. */
export function serializeCookie(name: string, value: string, opts: { secure: boolean; maxAgeSeconds?: number; path?: string }): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, `Path=${opts.path ?? '/'}`, 'HttpOnly', 'SameSite=Lax'];
  if (opts.maxAgeSeconds !== undefined) parts.push(`Max-Age=${opts.maxAgeSeconds}`);
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}

/**
 * LEVIATHAN_SESSION_SECRET, or a secret generated once under the data dir (mode 0600): an
 * unconfigured install still signs its cookies with a key nobody chose or can read.
 */
export async function loadSessionSecret(configured: string | undefined, dataDir: string): Promise<string> {
  if (configured) return configured;
  const path = join(dataDir, 'session-secret');
  try {
    const s = (await readFile(path, 'utf8')).trim();
    if (s.length >= 32) return s;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return secret;
}

/**
 * What a sign-out event names a session by: a digest of its id, so the log never holds a piece
 * of a credential (the id alone cannot forge a cookie, but it is no business of the log's).
 */
export function sessionKey(id: string): string {
  return createHash('sha256').update(`leviathan-console-session-id\0${id}`).digest('hex').slice(0, 32);
}
