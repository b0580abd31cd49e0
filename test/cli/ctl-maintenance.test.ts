import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl } from '../../src/cli/ctl.ts';
import { envSchema } from '../../src/env.ts';
import { startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';

const dirs: string[] = [];
let cp: TestControlPlane | null = null;

afterEach(async () => {
  await cp?.close();
  cp = null;
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'leviathan-ctl-maint-'));
  dirs.push(d);
  return d;
}

/** Runs `leviathan ctl …` in-process against `dataDir` (and the server, when one runs). */
async function run(dataDir: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runWith({}, dataDir, ...argv);
}

async function runWith(extraEnv: Record<string, string>, dataDir: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const env = envSchema.parse({ LEVIATHAN_DATA_DIR: dataDir, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_CONTROL_PLANE_URL: cp?.url ?? 'http://127.0.0.1:9', ...extraEnv });
  const code = await ctl(env, argv, { out: sink((s) => (out += s)), err: sink((s) => (err += s)) });
  return { code, out, err };
}

/** A clock that moves an hour per call to `advance`, from 2026-03-01. */
function clock() {
  let t = Date.parse('2026-03-01T00:00:00.000Z');
  return { now: () => new Date(t), advance: () => (t += 3_600_000) };
}

async function seed(server: TestControlPlane, c: ReturnType<typeof clock>, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const res = await server.api('/v1/events', {
      method: 'POST',
      json: [
        { id: `reg-${i}`, type: 'target.registered', target: `acme/r${i % 4}`, data: { installation_id: 7 } },
        { id: `pause-${i}`, type: i % 2 ? 'target.paused' : 'target.resumed', target: `acme/r${i % 4}`, data: { reason: `step ${i}` } },
      ],
    });
    expect(res.status).toBe(200);
    c.advance();
  }
}

const targets = async (server: TestControlPlane) => (await (await server.api('/v1/targets')).json()) as unknown;
const nodes = async (server: TestControlPlane) => (await (await server.api('/v1/graph/nodes?limit=1000')).json()) as unknown;

describe('leviathan ctl compact / backup / restore / verify --offline', () => {
  it('refuses to compact while the control plane has the store open, then compacts it offline without changing what the API shows', async () => {
    const dataDir = await tempDir();
    const c = clock();
    cp = await startTestControlPlane({ dataDir, overrides: { clock: c } });
    await seed(cp, c, 0, 40);

    const busy = await run(dataDir, 'compact', '--before', '2026-03-01T20:00:00Z');
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/has the store in .* open\. Stop `leviathan serve` first/);

    const beforeTargets = await targets(cp);
    const beforeNodes = await nodes(cp);
    await cp.close();
    cp = null;

    const done = await run(dataDir, 'compact', '--before', '2026-03-01T20:00:00Z');
    expect(done.err).toBe('');
    expect(done.code).toBe(0);
    expect(done.out).toMatch(/Archived 40 events \(seq 1–40\) into .*archive\/events-000000000001-000000000040\.ndjson; 40 events stay live\./);
    expect(done.out).toMatch(/Chain OK through seq 80/);
    const offline = await run(dataDir, 'verify', '--offline');
    expect(offline).toMatchObject({ code: 0, out: expect.stringMatching(/Chain OK: 80 events \(40 archived in 1 segment, 40 live\)/) });

    cp = await startTestControlPlane({ dataDir, overrides: { clock: c } });
    expect(await targets(cp)).toEqual(beforeTargets);
    expect(await nodes(cp)).toEqual(beforeNodes);
    // The API walk of `ctl verify` reads the archived range from the archive.
    expect(await run(dataDir, 'verify')).toMatchObject({ code: 0, out: expect.stringMatching(/^Chain OK: 80 events/) });
    const oldest = (await (await cp.api('/v1/graph/events?order=asc&limit=3')).json()) as { events: Array<{ seq: number; id: string }> };
    expect(oldest.events.map((e) => e.id)).toEqual(['reg-0', 'pause-0', 'reg-1']);
  });

  it('backs up while serving and restores into an empty data dir that then serves the same state', async () => {
    const dataDir = await tempDir();
    const c = clock();
    cp = await startTestControlPlane({ dataDir, overrides: { clock: c } });
    await seed(cp, c, 0, 15);
    const dest = join(await tempDir(), 'backup');
    const backup = await run(dataDir, 'backup', dest);
    expect(backup.code).toBe(0);
    expect(backup.out).toMatch(/\(online, while serving\): 30 events \(0 archived\)/);
    const expected = await targets(cp);
    await cp.close();
    cp = null;

    const fresh = await tempDir();
    const restored = await run(fresh, 'restore', dest);
    expect(restored).toMatchObject({ code: 0, out: expect.stringMatching(/Restored .* 30 events, head [0-9a-f]{64}/) });
    cp = await startTestControlPlane({ dataDir: fresh });
    expect(await targets(cp)).toEqual(expected);
  });

  it('answers usage errors with exit 2 and a clear message', async () => {
    const dataDir = await tempDir();
    expect(await run(dataDir, 'compact')).toMatchObject({ code: 2, err: expect.stringMatching(/compact needs --before/) });
    // LEVIATHAN_RETENTION_DAYS is the default age when --before is not given.
    expect((await runWith({ LEVIATHAN_RETENTION_DAYS: '30' }, dataDir, 'compact')).code).toBe(0);
    expect(await run(dataDir, 'compact', '--before', 'yesterday-ish')).toMatchObject({ code: 2, err: expect.stringMatching(/ISO 8601/) });
    // Date.parse would take these (and roll February 30 over to March 2); --before is strict ISO 8601.
    expect(await run(dataDir, 'compact', '--before', 'March 1 2026')).toMatchObject({ code: 2, err: expect.stringMatching(/ISO 8601/) });
    expect(await run(dataDir, 'compact', '--before', '2026-02-30')).toMatchObject({ code: 2, err: expect.stringMatching(/ISO 8601/) });
    expect(await run(dataDir, 'compact', '--before', '2999-01-01T00:00:00Z')).toMatchObject({ code: 2, err: expect.stringMatching(/in the future/) });
    expect(await run(dataDir, 'backup')).toMatchObject({ code: 2, err: expect.stringMatching(/Usage: leviathan ctl backup <dir>/) });
    expect(await run(dataDir, 'restore', join(dataDir, 'nope'))).toMatchObject({ code: 1, err: expect.stringMatching(/not a complete backup/) });
  });

  it('treats a lock from another host as busy while its lease is renewed unless --force, and a lapsed lease or a dead pid on this host as stale', async () => {
    const dataDir = await tempDir();
    await writeFile(join(dataDir, 'store.lock'), JSON.stringify({ pid: 1, hostname: 'elsewhere', opened_at: 'x' }));
    expect(await run(dataDir, 'compact', '--before', '1d')).toMatchObject({ code: 1, err: expect.stringMatching(/another host .*host elsewhere, pid 1.* lease renewed 0 s ago.* pass --force/) });
    expect((await run(dataDir, 'compact', '--before', '1d', '--force')).code).toBe(0);
    await writeFile(join(dataDir, 'store.lock'), JSON.stringify({ pid: 1, hostname: 'elsewhere', opened_at: 'x' }));
    const lapsed = new Date(Date.now() - 60_000);
    await utimes(join(dataDir, 'store.lock'), lapsed, lapsed);
    expect((await run(dataDir, 'compact', '--before', '1d')).code).toBe(0);
    await writeFile(join(dataDir, 'store.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: hostname() }));
    expect((await run(dataDir, 'compact', '--before', '1d')).code).toBe(0);
  });

  it('restore --force checks the backup before it removes another host\'s lock', async () => {
    const dataDir = await tempDir();
    const lock = JSON.stringify({ pid: 1, hostname: 'elsewhere', opened_at: 'x' });
    await writeFile(join(dataDir, 'store.lock'), lock);
    expect(await run(dataDir, 'restore', join(dataDir, 'nope'), '--force')).toMatchObject({ code: 1, err: expect.stringMatching(/not a complete backup/) });
    expect(await readFile(join(dataDir, 'store.lock'), 'utf8')).toBe(lock);
  });
});
