import { pipeline } from 'node:stream';
import { safeNext } from './safe-next.ts';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequestHandler, type AppLoadContext, type ServerBuild } from '@remix-run/node';
import { createRequestListener } from '@remix-run/node-fetch-server';
import type { Logger } from 'pino';
import type { Principal } from '../api/auth.ts';
import { readBody } from '../api/http.ts';
import type { Mount } from '../api/server.ts';
import type { Env } from '../env.ts';
import { ConsolePrincipals, userClient } from './console-principal.ts';
import './load-context.ts';
import { authorizeUrl, exchangeCode, fetchUser, mayView, OAuthError } from './oauth.ts';
import {
  LOGIN_CSRF_COOKIE,
  OAUTH_STATE_COOKIE,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  SessionStore,
  Signer,
  loadSessionSecret,
  parseCookies,
  publicSession,
  sameToken,
  serializeCookie,
  token,
  type ConsoleSession,
} from './session.ts';

/** build/ at the repository root (`npm run build:web`). */
export const DEFAULT_BUILD_DIR = fileURLToPath(new URL('../../build/', import.meta.url));

export interface ConsoleOptions {
  env: Pick<
    Env,
    | 'GITHUB_CLIENT_ID'
    | 'GITHUB_CLIENT_SECRET'
    | 'GITHUB_API_URL'
    | 'GITHUB_SERVER_URL'
    | 'LEVIATHAN_SESSION_SECRET'
    | 'LEVIATHAN_CONSOLE_ORGS'
    | 'LEVIATHAN_DATA_DIR'
  >;
  /** Checks a pasted API token (the same TokenAuth as the bearer header). */
  verifyToken(token: string): Principal | null;
  /** Target ids, to decide whether a GitHub user may view the console at all. */
  targets(): string[];
  /**
   * Sign-outs shared through the log: `record` stores one (`console.signed_out`), `has` answers
   * from the projection whether a session, by its sessionKey, was signed out on any replica.
   */
  signOuts?: { record(session: ConsoleSession): Promise<void>; has(key: string): boolean };
  logger: Logger;
  buildDir?: string;
}

export interface Console {
  /** Handles every non-/v1 path: sign-in endpoints, static assets, the Remix app. */
  mount: Mount;
  /** The principal of a request carrying a console session cookie (API auth falls back to it). */
  authenticate(req: IncomingMessage): Principal | null;
  sessions: SessionStore;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The console: sessions, sign-in (API token or GitHub OAuth), and the Remix build. */
export async function createConsole(opts: ConsoleOptions): Promise<Console> {
  const secret = await loadSessionSecret(opts.env.LEVIATHAN_SESSION_SECRET, opts.env.LEVIATHAN_DATA_DIR);
  const signer = new Signer(secret);
  const sessions = new SessionStore(signer, Date.now, opts.signOuts ? (key) => opts.signOuts!.has(key) : undefined);
  const principals = new ConsolePrincipals(sessions, { githubApiUrl: opts.env.GITHUB_API_URL, logger: opts.logger, verifyToken: opts.verifyToken });
  const oauth =
    opts.env.GITHUB_CLIENT_ID && opts.env.GITHUB_CLIENT_SECRET
      ? { clientId: opts.env.GITHUB_CLIENT_ID, clientSecret: opts.env.GITHUB_CLIENT_SECRET }
      : null;
  const orgs = (opts.env.LEVIATHAN_CONSOLE_ORGS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const buildDir = resolve(opts.buildDir ?? DEFAULT_BUILD_DIR);
  const clientDir = join(buildDir, 'client');

  // The loaders call /v1 on this very server; the address is the one that accepted the request.
  let apiBase: string | null = null;
  let remix: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;

  const loadRemix = async () => {
    if (remix) return remix;
    const serverEntry = join(buildDir, 'server', 'index.js');
    if (!(await exists(serverEntry))) return null;
    const build = (await import(pathToFileURL(serverEntry).href)) as ServerBuild;
    const handle = createRequestHandler(build, 'production');
    remix = createRequestListener((request) => handle(request, loadContext(request)), {
      onError: (err) => {
        opts.logger.error({ err }, 'Console: request failed');
      },
    });
    return remix;
  };

  const loadContext = (request: Request): AppLoadContext => {
    const session = principals.validSession(request.headers.get('cookie'));
    const secure = isSecure(request);
    return {
      session: session ? publicSession(session) : null,
      oauthEnabled: oauth !== null,
      issueLoginCsrf() {
        const csrf = token();
        return { csrf, setCookie: serializeCookie(LOGIN_CSRF_COOKIE, signer.sign(csrf), { secure, maxAgeSeconds: 3600 }) };
      },
      async api(path, init = {}) {
        if (!apiBase) throw new Error('Console: API address not known yet');
        const headers: Record<string, string> = { accept: 'application/json' };
        if (session) headers.cookie = `${SESSION_COOKIE}=${encodeURIComponent(sessions.cookieValue(session))}`;
        const method = init.method ?? 'GET';
        if (session && method !== 'GET') headers['x-csrf-token'] = session.csrf;
        if (init.json !== undefined) headers['content-type'] = 'application/json';
        return fetch(`${apiBase}${path}`, { method, headers, ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}) });
      },
    };
  };

  const setSession = (res: ServerResponse, s: ConsoleSession, secure: boolean, location: string) => {
    res.writeHead(303, {
      location,
      'set-cookie': [
        serializeCookie(SESSION_COOKIE, sessions.cookieValue(s), { secure, maxAgeSeconds: Math.floor(SESSION_TTL_MS / 1000) }),
        serializeCookie(LOGIN_CSRF_COOKIE, '', { secure, maxAgeSeconds: 0 }),
        serializeCookie(OAUTH_STATE_COOKIE, '', { secure, maxAgeSeconds: 0 }),
      ],
      'cache-control': 'no-store',
    });
    res.end();
  };

  const redirect = (res: ServerResponse, location: string, cookies: string[] = []) => {
    res.writeHead(303, { location, 'cache-control': 'no-store', ...(cookies.length ? { 'set-cookie': cookies } : {}) });
    res.end();
  };

  const auth = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const secure = isSecureReq(req);
    const cookies = parseCookies(req.headers.cookie);
    const method = req.method ?? 'GET';

    if (url.pathname === '/auth/session' && method === 'GET') {
      const s = principals.validSession(req.headers.cookie);
      json(res, s ? 200 : 401, s ? { session: publicSession(s) } : { error: { code: 'unauthorized', message: 'Not signed in.' } });
      return true;
    }

    if (url.pathname === '/auth/token' && method === 'POST') {
      const form = await readForm(req);
      const next = safeNext(form.get('next'));
      const expected = signer.unsign(cookies[LOGIN_CSRF_COOKIE]);
      if (!sameToken(form.get('csrf'), expected)) {
        redirect(res, `/sign-in?error=csrf&next=${encodeURIComponent(next)}`);
        return true;
      }
      const pasted = (form.get('token') ?? '').trim();
      const principal = opts.verifyToken(pasted);
      if (!principal) {
        redirect(res, `/sign-in?error=invalid_token&next=${encodeURIComponent(next)}`);
        return true;
      }
      const s = sessions.create({ kind: 'token', actor: principal.actor, login: null, canWrite: principal.canWrite, githubToken: null, apiToken: pasted });
      opts.logger.info({ actor: s.actor, canWrite: s.canWrite }, 'Console: signed in with an API token');
      setSession(res, s, secure, next);
      return true;
    }

    if (url.pathname === '/auth/sign-out' && method === 'POST') {
      const s = sessions.fromCookieHeader(req.headers.cookie);
      const form = await readForm(req);
      if (s && !sameToken(form.get('csrf'), s.csrf)) {
        json(res, 403, { error: { code: 'forbidden', message: 'Missing or invalid CSRF token.' } });
        return true;
      }
      if (s) {
        sessions.destroy(s);
        // Signed out here whatever happens; the event makes it so on every replica and restart.
        await opts.signOuts?.record(s).catch((err: unknown) => opts.logger.warn({ err: String(err) }, 'Sign-out not recorded in the log; other replicas accept the session until it expires'));
      }
      redirect(res, '/sign-in', [serializeCookie(SESSION_COOKIE, '', { secure, maxAgeSeconds: 0 })]);
      return true;
    }

    if (url.pathname === '/auth/github' && method === 'GET') {
      if (!oauth) {
        redirect(res, '/sign-in?error=oauth_not_configured');
        return true;
      }
      const state = token();
      const next = safeNext(url.searchParams.get('next'));
      const location = authorizeUrl({ serverUrl: opts.env.GITHUB_SERVER_URL, clientId: oauth.clientId, state, redirectUri: callbackUrl(req) });
      res.writeHead(302, {
        location,
        'cache-control': 'no-store',
        'set-cookie': serializeCookie(OAUTH_STATE_COOKIE, signer.sign(`${state}|${next}`), { secure, maxAgeSeconds: 600 }),
      });
      res.end();
      return true;
    }

    if (url.pathname === '/auth/github/callback' && method === 'GET') {
      const clear = serializeCookie(OAUTH_STATE_COOKIE, '', { secure, maxAgeSeconds: 0 });
      if (!oauth) {
        redirect(res, '/sign-in?error=oauth_not_configured', [clear]);
        return true;
      }
      const stored = signer.unsign(cookies[OAUTH_STATE_COOKIE]);
      const [expectedState, storedNext] = stored ? [stored.slice(0, stored.indexOf('|')), stored.slice(stored.indexOf('|') + 1)] : [null, '/'];
      const code = url.searchParams.get('code');
      // The state ties the callback to a sign-in this browser started (no login CSRF).
      if (!code || !sameToken(url.searchParams.get('state'), expectedState)) {
        opts.logger.warn('Console: OAuth callback refused (state mismatch)');
        redirect(res, '/sign-in?error=oauth_state', [clear]);
        return true;
      }
      try {
        const userToken = await exchangeCode({
          serverUrl: opts.env.GITHUB_SERVER_URL,
          clientId: oauth.clientId,
          clientSecret: oauth.clientSecret,
          code,
          redirectUri: callbackUrl(req),
        });
        const client = await userClient(userToken, opts.env.GITHUB_API_URL);
        const user = await fetchUser(client);
        if (!(await mayView(client, opts.targets(), orgs))) {
          opts.logger.warn({ login: user.login }, 'Console: sign-in refused (no access to any target or allowed organisation)');
          redirect(res, '/sign-in?error=no_access', [clear]);
          return true;
        }
        const s = sessions.create({ kind: 'github', actor: `github:${user.login}`, login: user.login, canWrite: true, githubToken: userToken, apiToken: null });
        opts.logger.info({ actor: s.actor }, 'Console: signed in with GitHub');
        setSession(res, s, secure, safeNext(storedNext));
      } catch (err) {
        opts.logger.warn({ err: err instanceof OAuthError ? err.message : err }, 'Console: GitHub sign-in failed');
        redirect(res, '/sign-in?error=oauth_failed', [clear]);
      }
      return true;
    }
    return false;
  };

  if (!(await exists(join(buildDir, 'server', 'index.js')))) {
    opts.logger.warn({ buildDir }, 'Console not built: it answers 503 until `npm run build:web` has run (the /v1 API works without it)');
  }

  const mount: Mount = async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    apiBase ??= loopbackBase(req);
    if (url.pathname.startsWith('/auth/')) {
      if (await auth(req, res, url)) return true;
    }
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && (await serveStatic(clientDir, url.pathname, req, res))) return true;
    const listener = await loadRemix();
    if (!listener) {
      const text =
        'The Leviathan console is not built. Run `npm run build:web` (or `npm start`, which builds it) and reload.\n' +
        'The /v1 API works without it.\n';
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '30' });
      res.end(text);
      return true;
    }
    // The console's pages carry action forms: never framed by another site (clickjacking).
    res.setHeader('content-security-policy', "frame-ancestors 'none'");
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    await listener(req, res);
    return true;
  };

  return {
    mount,
    sessions,
    authenticate: (req) => principals.authenticate(req),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Files of build/client; /assets/* are content-hashed, so cached for a year. */
async function serveStatic(root: string, pathname: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (pathname === '/' || pathname.includes('\0')) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  // Build metadata (.vite/manifest.json) and other dot-files are not for browsers.
  if (decoded.split('/').some((seg) => seg.startsWith('.'))) return false;
  const file = resolve(root, `.${decoded}`);
  if (!file.startsWith(root + sep)) return false;
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) return false;
    size = s.size;
  } catch {
    return false;
  }
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') res.end();
  // pipeline: a file removed under us (a rebuild) ends this response, not the process.
  else pipeline(createReadStream(file), res, () => undefined);
  return true;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req, 16 * 1024);
  return new URLSearchParams(body.toString('utf8'));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** Only same-site paths: `//evil.example` and absolute URLs would make an open redirect. */

function isSecureReq(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

function isSecure(request: Request): boolean {
  return request.url.startsWith('https:') || request.headers.get('x-forwarded-proto') === 'https';
}

function callbackUrl(req: IncomingMessage): string {
  const proto = isSecureReq(req) ? 'https' : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}/auth/github/callback`;
}

function loopbackBase(req: IncomingMessage): string {
  const address = req.socket.localAddress ?? '127.0.0.1';
  const host = address.includes(':') ? (address.startsWith('::ffff:') ? address.slice(7) : `[${address}]`) : address;
  return `http://${host}:${req.socket.localPort}`;
}
