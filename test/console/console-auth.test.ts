import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Router, sendJson } from '../../src/api/http.ts';
import { createHttpServer } from '../../src/api/server.ts';
import { createConsole } from '../../src/console/console.ts';
import { LOGIN_CSRF_COOKIE, SESSION_COOKIE, Signer } from '../../src/console/session.ts';
import { envSchema } from '../../src/env.ts';
import { mintWorkerToken } from '../../src/api/worker-token.ts';
import { READ_TOKEN, startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';

const SECRET = 'console-test-session-secret-0123456789abcdef';
const T = 'acme/radix';

/** A form post to the console's sign-in endpoint with a valid double-submit token. */
async function signInWithToken(cp: TestControlPlane, token: string): Promise<{ cookie: string; csrf: string; location: string | null }> {
  const loginCsrf = 'login-csrf-value';
  const res = await fetch(`${cp.url}/auth/token`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${LOGIN_CSRF_COOKIE}=${encodeURIComponent(new Signer(SECRET).sign(loginCsrf))}` },
    body: new URLSearchParams({ token, csrf: loginCsrf, next: '/targets' }),
  });
  const set = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  const cookie = set ? set.split(';')[0]! : '';
  let csrf = '';
  if (cookie) {
    const s = await fetch(`${cp.url}/auth/session`, { headers: { cookie } });
    csrf = ((await s.json()) as { session: { csrf: string } }).session.csrf;
  }
  return { cookie, csrf, location: res.headers.get('location') };
}

function signOut(cp: TestControlPlane, cookie: string, csrf: string): Promise<Response> {
  return fetch(`${cp.url}/auth/sign-out`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf }),
  });
}

async function seed(cp: TestControlPlane): Promise<void> {
  const res = await cp.api('/v1/events', {
    method: 'POST',
    json: [
      { type: 'target.registered', target: T, subject: `target:${T}`, data: { installation_id: 1, default_branch: 'main' } },
      { type: 'backlog.synced', target: T, subject: `target:${T}`, data: { tasks: [] } },
    ],
  });
  expect(res.status).toBe(200);
}

async function pausedEvents(cp: TestControlPlane): Promise<unknown[]> {
  const res = await cp.api('/v1/graph/events?type=target.paused');
  return ((await res.json()) as { events: unknown[] }).events;
}

describe('console sessions on the API', () => {
  let cp: TestControlPlane;
  const dirs: string[] = [];
  afterEach(async () => {
    await cp?.destroy();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('signs in with an API token: httpOnly, SameSite=Lax cookie, and the session reads the API', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    const loginCsrf = 'x';
    const res = await fetch(`${cp.url}/auth/token`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${LOGIN_CSRF_COOKIE}=${encodeURIComponent(new Signer(SECRET).sign(loginCsrf))}` },
      body: new URLSearchParams({ token: WRITE_TOKEN, csrf: loginCsrf, next: '//evil.example/' }),
    });
    expect(res.status).toBe(303);
    // No open redirect.
    expect(res.headers.get('location')).toBe('/');
    const set = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).not.toMatch(/Secure/);
    const cookie = set.split(';')[0]!;
    expect((await fetch(`${cp.url}/v1/targets`, { headers: { cookie } })).status).toBe(200);
    // A GET needs no CSRF token: the browser's EventSource cannot send one.
    const stream = await fetch(`${cp.url}/v1/events/stream`, { headers: { cookie } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    await stream.body?.cancel();
    const session = (await (await fetch(`${cp.url}/auth/session`, { headers: { cookie } })).json()) as { session: Record<string, unknown> };
    expect(session.session).toMatchObject({ kind: 'token', canWrite: true });
    expect(session.session).not.toHaveProperty('githubToken');
  });

  it('refuses the sign-in form without its double-submit token, and a wrong token', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    const noCsrf = await fetch(`${cp.url}/auth/token`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: WRITE_TOKEN, csrf: 'anything' }),
    });
    expect(noCsrf.status).toBe(303);
    expect(noCsrf.headers.get('location')).toMatch(/^\/sign-in\?error=csrf/);
    expect(noCsrf.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=`))).toBe(false);
    const bad = await signInWithToken(cp, 'wrong-token');
    expect(bad.cookie).toBe('');
    expect(bad.location).toMatch(/error=invalid_token/);
  });

  it('answers 401 to a tampered session cookie', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    const { cookie } = await signInWithToken(cp, WRITE_TOKEN);
    const value = decodeURIComponent(cookie.slice(SESSION_COOKIE.length + 1));
    const tampered = `${SESSION_COOKIE}=${encodeURIComponent(`${value.slice(0, 5)}x${value.slice(6)}`)}`;
    expect((await fetch(`${cp.url}/v1/targets`, { headers: { cookie: tampered } })).status).toBe(401);
    expect((await fetch(`${cp.url}/v1/targets`, { headers: { cookie } })).status).toBe(200);
  });

  it('refuses cookie-authenticated writes without the CSRF token, and records nothing', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    await seed(cp);
    const { cookie, csrf } = await signInWithToken(cp, WRITE_TOKEN);
    const pause = (headers: Record<string, string>) =>
      fetch(`${cp.url}/v1/targets/${T}/pause`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ reason: 'r' }) });
    const missing = await pause({});
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/CSRF/);
    expect((await pause({ 'x-csrf-token': `${csrf}x` })).status).toBe(403);
    expect(await pausedEvents(cp)).toEqual([]);

    const ok = await pause({ 'x-csrf-token': csrf });
    expect(ok.status).toBe(200);
    const events = (await pausedEvents(cp)) as Array<{ actor: string }>;
    expect(events).toHaveLength(1);
    expect(events[0]!.actor).toMatch(/^token:/);
  });

  it('does not let a console session append raw events, even a write-token one', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    const { cookie, csrf } = await signInWithToken(cp, WRITE_TOKEN);
    const res = await fetch(`${cp.url}/v1/events`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'attempt.failed', data: { attempt_id: 'a', failure_type: 'timeout' } }),
    });
    expect(res.status).toBe(403);
  });

  it('refuses a read-only token session that POSTs pause (403) and records nothing', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    await seed(cp);
    const { cookie, csrf } = await signInWithToken(cp, READ_TOKEN);
    expect((await fetch(`${cp.url}/v1/targets/${T}`, { headers: { cookie } })).status).toBe(200);
    const res = await fetch(`${cp.url}/v1/targets/${T}/pause`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'should not happen' }),
    });
    expect(res.status).toBe(403);
    expect(await pausedEvents(cp)).toEqual([]);
  });

  it('bearer tokens need no CSRF token', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    await seed(cp);
    const res = await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', json: { reason: 'api' } });
    expect(res.status).toBe(200);
  });

  it('keeps a session across a restart, and ends it when its token is no longer accepted', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    const { cookie } = await signInWithToken(cp, WRITE_TOKEN);
    const dataDir = cp.dataDir;
    dirs.push(dataDir);
    await cp.close();
    const again = await startTestControlPlane({ dataDir, env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    try {
      expect((await fetch(`${again.url}/v1/targets`, { headers: { cookie } })).status).toBe(200);
    } finally {
      await again.close();
    }
    // The operator removed that token: its console sessions end with it.
    cp = await startTestControlPlane({ dataDir, env: { LEVIATHAN_SESSION_SECRET: SECRET, LEVIATHAN_API_TOKEN: 'a-different-token-0123456789' } });
    expect((await fetch(`${cp.url}/v1/targets`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${cp.url}/auth/session`, { headers: { cookie } })).status).toBe(401);
  });

  it("does not sign in with a worker's attempt token", async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    const workerToken = mintWorkerToken(WRITE_TOKEN, { target: T, attempt_id: 'att-1', task: { id: 't1' }, timeout_seconds: 600 }, Date.now());
    expect((await cp.api('/v1/events', { method: 'POST', json: { type: 'attempt.started', target: T, data: { attempt_id: 'att-1' } }, token: workerToken })).status).toBe(200);
    const { cookie, location } = await signInWithToken(cp, workerToken);
    expect(cookie).toBe('');
    expect(location).toMatch(/^\/sign-in/);
  });

  it('signs out: the cookie no longer works', async () => {
    cp = await startTestControlPlane({ env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    const { cookie, csrf } = await signInWithToken(cp, WRITE_TOKEN);
    expect((await signOut(cp, cookie, 'nope')).status).toBe(403);
    expect((await signOut(cp, cookie, csrf)).status).toBe(303);
    expect((await fetch(`${cp.url}/v1/targets`, { headers: { cookie } })).status).toBe(401);
  });

  it('a sign-out is an event: a restarted (or another) control plane on the same log refuses the cookie too', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'leviathan-signout-'));
    dirs.push(dataDir);
    const first = await startTestControlPlane({ dataDir, env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    let cookie: string;
    let kept: string;
    try {
      const signedIn = await signInWithToken(first, WRITE_TOKEN);
      cookie = signedIn.cookie;
      kept = (await signInWithToken(first, WRITE_TOKEN)).cookie;
      expect((await signOut(first, cookie, signedIn.csrf)).status).toBe(303);
      const [signedOut] = ((await (await first.api('/v1/graph/events?type=console.signed_out')).json()) as { events: Array<{ actor: string; data: Record<string, unknown> }> }).events;
      expect(signedOut!.actor).toMatch(/^token:/);
      expect(signedOut!.data.session).toMatch(/^[0-9a-f]{32}$/);
      // The log names the session by a digest, never by anything the cookie carries.
      expect(decodeURIComponent(cookie)).not.toContain(String(signedOut!.data.session));
    } finally {
      await first.close();
    }
    cp = await startTestControlPlane({ dataDir, env: { LEVIATHAN_SESSION_SECRET: SECRET } });
    expect((await fetch(`${cp.url}/v1/targets`, { headers: { cookie } })).status).toBe(401);
    // Only that session: another one of the same user still works.
    expect((await fetch(`${cp.url}/v1/targets`, { headers: { cookie: kept } })).status).toBe(200);
  });
});

describe('console without a build', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 with how to build it, while the API keeps working', async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-nobuild-'));
    const env = envSchema.parse({ LEVIATHAN_DATA_DIR: dir, LEVIATHAN_SESSION_SECRET: SECRET });
    // Client assets only (a half-finished build): they are served, the pages are not.
    await mkdir(join(dir, 'build', 'client', 'assets'), { recursive: true });
    await mkdir(join(dir, 'build', 'client', '.vite'), { recursive: true });
    await writeFile(join(dir, 'build', 'client', 'assets', 'app-abc123.js'), 'export {};\n');
    await writeFile(join(dir, 'build', 'client', '.vite', 'manifest.json'), '{}');
    const ui = await createConsole({ env, logger: pino({ level: 'silent' }), verifyToken: () => null, targets: () => [], buildDir: join(dir, 'build') });
    const router = new Router().on('GET', '/v1/ping', ({ res }) => sendJson(res, 200, { ok: true }));
    const server = createHttpServer({ router, mounts: [], fallback: ui.mount, logger: pino({ level: 'silent' }) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('npm run build:web');
      expect((await fetch(`${base}/v1/ping`)).status).toBe(200);
      const asset = await fetch(`${base}/assets/app-abc123.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${base}/.vite/manifest.json`)).status).toBe(503);
      expect((await fetch(`${base}/assets/..%2F..%2Fserver%2Findex.js`)).status).toBe(503);
      // /v1 paths never fall through to the console.
      expect((await fetch(`${base}/v1/nope`)).status).toBe(404);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

