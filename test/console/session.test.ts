import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSessionSecret, parseCookies, serializeCookie, SESSION_COOKIE, SESSION_TTL_MS, sessionKey, SessionStore, Signer } from '../../src/console/session.ts';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';

describe('Signer', () => {
  const signer = new Signer(SECRET);

  it('gives back what it signed', () => {
    expect(signer.unsign(signer.sign('abc'))).toBe('abc');
  });

  it('refuses a tampered value, a tampered signature, a truncated cookie and another secret', () => {
    const signed = signer.sign('session-1');
    const [value, mac] = [signed.slice(0, signed.lastIndexOf('.')), signed.slice(signed.lastIndexOf('.') + 1)];
    expect(signer.unsign(`session-2.${mac}`)).toBeNull();
    expect(signer.unsign(`${value}.${mac.slice(0, -2)}AA`)).toBeNull();
    expect(signer.unsign(value)).toBeNull();
    expect(signer.unsign(`${value}.`)).toBeNull();
    expect(signer.unsign('')).toBeNull();
    expect(new Signer(`${SECRET}-other`).unsign(signed)).toBeNull();
  });

  it('refuses a short secret', () => {
    expect(() => new Signer('short')).toThrow(/at least 32/);
  });
});

describe('SessionStore', () => {
  it('finds a session from its signed cookie, not from a forged or expired one', () => {
    let now = 1_000_000;
    const store = new SessionStore(new Signer(SECRET), () => now);
    const s = store.create({ kind: 'token', actor: 'token:abc', login: null, canWrite: true, githubToken: null, apiToken: null });
    const header = `other=1; ${SESSION_COOKIE}=${encodeURIComponent(store.cookieValue(s))}`;
    expect(store.fromCookieHeader(header)?.actor).toBe('token:abc');
    // The bare id (unsigned) is not a session.
    expect(store.fromCookieHeader(`${SESSION_COOKIE}=${s.id}`)).toBeNull();
    // Signed by someone else.
    const forged = new SessionStore(new Signer(`${SECRET}-attacker`)).cookieValue(s);
    expect(store.fromCookieHeader(`${SESSION_COOKIE}=${encodeURIComponent(forged)}`)).toBeNull();
    now += SESSION_TTL_MS + 1;
    expect(store.fromCookieHeader(header)).toBeNull();
  });

  it('survives a restart (same secret) and keeps the GitHub token encrypted in the cookie', () => {
    const store = new SessionStore(new Signer(SECRET));
    const s = store.create({ kind: 'github', actor: 'github:octocat', login: 'octocat', canWrite: true, githubToken: 'gho_secret_user_token', apiToken: null });
    const value = store.cookieValue(s);
    const payload = Buffer.from(value.slice(0, value.lastIndexOf('.')), 'base64url').toString('utf8');
    expect(payload).not.toContain('gho_secret_user_token');
    const restarted = new SessionStore(new Signer(SECRET));
    const back = restarted.fromCookieHeader(`${SESSION_COOKIE}=${encodeURIComponent(value)}`);
    expect(back).toMatchObject({ actor: 'github:octocat', githubToken: 'gho_secret_user_token', csrf: s.csrf });
  });

  it('refuses a payload edited to grant more (the signature no longer matches)', () => {
    const store = new SessionStore(new Signer(SECRET));
    const s = store.create({ kind: 'token', actor: 'token:reader', login: null, canWrite: false, githubToken: null, apiToken: null });
    const value = store.cookieValue(s);
    const body = JSON.parse(Buffer.from(value.slice(0, value.lastIndexOf('.')), 'base64url').toString('utf8')) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...body, canWrite: true })).toString('base64url');
    const forged = `${edited}${value.slice(value.lastIndexOf('.'))}`;
    expect(store.fromCookieHeader(`${SESSION_COOKIE}=${encodeURIComponent(forged)}`)).toBeNull();
  });

  it('forgets a destroyed session and gives every session its own CSRF token', () => {
    const store = new SessionStore(new Signer(SECRET));
    const a = store.create({ kind: 'token', actor: 'token:a', login: null, canWrite: false, githubToken: null, apiToken: null });
    const b = store.create({ kind: 'token', actor: 'token:b', login: null, canWrite: false, githubToken: null, apiToken: null });
    expect(a.csrf).not.toBe(b.csrf);
    expect(a.csrf.length).toBeGreaterThanOrEqual(40);
    store.destroy(a);
    expect(store.fromCookieHeader(`${SESSION_COOKIE}=${encodeURIComponent(store.cookieValue(a))}`)).toBeNull();
  });

  it('refuses a session signed out elsewhere (by its key, which is a digest and not the id)', () => {
    const signedOut = new Set<string>();
    const store = new SessionStore(new Signer(SECRET), Date.now, (key) => signedOut.has(key));
    const s = store.create({ kind: 'token', actor: 'token:a', login: null, canWrite: true, githubToken: null, apiToken: null });
    const cookie = `${SESSION_COOKIE}=${encodeURIComponent(store.cookieValue(s))}`;
    expect(store.fromCookieHeader(cookie)).not.toBeNull();
    expect(sessionKey(s.id)).toMatch(/^[0-9a-f]{32}$/);
    expect(sessionKey(s.id)).not.toContain(s.id.slice(0, 8));
    signedOut.add(sessionKey(s.id));
    expect(store.fromCookieHeader(cookie)).toBeNull();
  });
});

describe('cookies', () => {
  it('are httpOnly and SameSite=Lax, Secure only over https', () => {
    expect(serializeCookie('n', 'v w', { secure: false, maxAgeSeconds: 60 })).toBe('n=v%20w; Path=/; HttpOnly; SameSite=Lax; Max-Age=60');
    expect(serializeCookie('n', 'v', { secure: true })).toMatch(/; Secure$/);
  });

  it('parse the first value of each name and skip malformed ones', () => {
    expect(parseCookies('a=1; b=%E0%A4%A; a=2; c')).toEqual({ a: '1' });
  });
});

describe('loadSessionSecret', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('uses LEVIATHAN_SESSION_SECRET when set', async () => {
    expect(await loadSessionSecret(SECRET, '/nonexistent')).toBe(SECRET);
  });

  it('generates a secret under the data dir with mode 0600 and keeps it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-secret-'));
    const first = await loadSessionSecret(undefined, dir);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect((await stat(join(dir, 'session-secret'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, 'session-secret'), 'utf8')).trim()).toBe(first);
    expect(await loadSessionSecret(undefined, dir)).toBe(first);
  });
});
