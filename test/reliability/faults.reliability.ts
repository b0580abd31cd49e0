/**
 * Faults, measured: a full or read-only disk under the file store (injected through the StoreFs
 * seam), GitHub failing in every way the scheduler meets (5xx, rate limits, timeouts, refused
 * tokens), and a worker that cannot reach the control plane. Each must end the way an operator
 * can act on: degraded health and clear refusals with nothing torn, guardrails that fail closed
 * with a diagnosis that says why, and events that arrive once the control plane is back.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import nock from 'nock';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { tick } from '../../src/cli/tick.ts';
import { envSchema } from '../../src/env.ts';
import { GitHubBacklogRefresher } from '../../src/scheduler/backlog-refresh.ts';
import { openFileEventStore } from '../../src/store/file-event-store.ts';
import { nodeStoreFs, type StoreFs } from '../../src/store/store-fs.ts';
import { verifyChain, verifyLogFile } from '../../src/store/verify.ts';
import { startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';
import { FakeExecutor } from '../scheduler/fake-executor.ts';
import { seedEvents, taskSummary } from '../scheduler/seed.ts';
import { record } from './helpers/figures.ts';
import { deliverTo, prPayload, startLeviathan } from './helpers/leviathan.ts';
import { freePort } from '../helpers/free-port.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
let cp: TestControlPlane | null = null;
const dirs: string[] = [];

afterEach(async () => {
  await cp?.destroy();
  cp = null;
  nock.cleanAll();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'leviathan-faults-'));
  dirs.push(d);
  return d;
}

/** A file system that fails writes and syncs with `fault` while it is set (tests run as root: chmod stops nothing). */
function faultyFs(): StoreFs & { fault: string | null; partial: boolean } {
  const f: StoreFs & { fault: string | null; partial: boolean } = {
    ...nodeStoreFs,
    fault: null,
    partial: false,
    async write(fd, buf, offset, length, position) {
      if (f.fault) {
        // A disk that fills mid-write leaves part of the batch on disk before failing.
        if (f.partial && length > 1) await nodeStoreFs.write(fd, buf, offset, Math.floor(length / 2), position);
        throw Object.assign(new Error(`${f.fault}: injected`), { code: f.fault });
      }
      return nodeStoreFs.write(fd, buf, offset, length, position);
    },
    async fdatasync(fd) {
      if (f.fault) throw Object.assign(new Error(`${f.fault}: injected`), { code: f.fault });
      return nodeStoreFs.fdatasync(fd);
    },
  };
  return f;
}

async function body(res: Response): Promise<{ error?: { code: string; message: string }; status?: string; store?: { problem?: string } }> {
  return (await res.json()) as never;
}

describe('disk full and read-only data directory', () => {
  it('degrades health, refuses appends with 507/503 JSON, tears nothing, and recovers when the fault clears', { timeout: 60_000 }, async () => {
    const dataDir = await tempDir();
    const sfs = faultyFs();
    const store = await openFileEventStore({ dir: dataDir, fs: sfs });
    cp = await startLeviathan({ dataDir, overrides: { store } });
    const post = (events: unknown) => cp!.api('/v1/events', { method: 'POST', json: events });
    expect((await post([{ type: 'target.registered', target: 'acme/app', data: { installation_id: 1 } }])).status).toBe(200);

    const figures: Record<string, string> = {};
    for (const [fault, status, code] of [['ENOSPC', 507, 'store_full'], ['EROFS', 503, 'store_read_only'], ['EDQUOT', 507, 'store_full'], ['EIO', 503, 'store_unavailable']] as const) {
      for (const partial of [false, true]) {
        const head = cp.store.health().head;
        const size = (await stat(join(dataDir, 'events.ndjson'))).size;
        sfs.fault = fault;
        sfs.partial = partial;
        const single = await post({ type: 'attempt.started', target: 'acme/app', data: { attempt_id: 'a1' } });
        const batch = await post(Array.from({ length: 50 }, (_, i) => ({ type: 'attempt.started', target: 'acme/app', data: { attempt_id: `a${i}` } })));
        const hook = await deliverTo(cp.url, 'pull_request', prPayload('acme/app', 7, 'opened', { updatedAt: '2026-05-01T00:00:00Z', ours: true }));
        const health = await fetch(`${cp.url}/health`);
        const ready = await fetch(`${cp.url}/v1/health`);
        const healthBody = await body(health);
        expect(single.status).toBe(status);
        expect(await body(single)).toMatchObject({ error: { code, message: expect.stringContaining(fault) } });
        expect(batch.status).toBe(status);
        // A webhook GitHub sent while the disk is full must fail (so it can be redelivered), never 200.
        expect(hook.status).toBeGreaterThanOrEqual(500);
        expect(health.status).toBe(200);
        expect(healthBody).toMatchObject({ status: 'degraded', store: { writable: false, problem: expect.stringContaining(fault) } });
        expect(ready.status).toBe(503);
        // Nothing torn, nothing half-stored.
        expect(cp.store.health().head).toEqual(head);
        expect((await stat(join(dataDir, 'events.ndjson'))).size).toBe(size);
        expect(await verifyLogFile(join(dataDir, 'events.ndjson'))).toMatchObject({ ok: true, tornTailBytes: 0 });

        sfs.fault = null;
        const started = performance.now();
        const again = await post({ type: 'attempt.started', target: 'acme/app', data: { attempt_id: 'a2' } });
        expect(again.status).toBe(200);
        expect((await fetch(`${cp.url}/v1/health`)).status).toBe(200);
        const hookAgain = await deliverTo(cp.url, 'pull_request', prPayload('acme/app', 7, 'opened', { updatedAt: '2026-05-01T00:00:00Z', ours: true }));
        expect(hookAgain.status).toBe(200);
        figures[`${fault}${partial ? ' (half-written)' : ''}`] = `${single.status} ${code}; /health degraded; /v1/health 503; recovered in ${Math.round(performance.now() - started)} ms`;
      }
    }
    expect(await verifyChain(cp.store.scan())).toMatchObject({ ok: true });
    record('faults: disk', {
      ...figures,
      'torn or half-stored events after all faults': [0, '0'],
    });
  });

  it('opened on a read-only data directory: serves reads, refuses writes with 503, recovers on restart', { timeout: 30_000 }, async () => {
    const dataDir = await tempDir();
    const first = await startTestControlPlane({ dataDir });
    expect((await first.api('/v1/events', { method: 'POST', json: { type: 'target.registered', target: 'acme/app', data: {} } })).status).toBe(200);
    await first.close();
    // Opening O_RDWR fails as on a read-only mount; everything else reads normally.
    const readOnly: StoreFs = {
      ...nodeStoreFs,
      open: (path, flags, mode) => ((flags & 3) !== 0 ? Promise.reject(Object.assign(new Error('EROFS'), { code: 'EROFS' })) : nodeStoreFs.open(path, flags, mode)),
      access: () => Promise.reject(Object.assign(new Error('EROFS'), { code: 'EROFS' })),
    };
    cp = await startTestControlPlane({ dataDir, overrides: { store: await openFileEventStore({ dir: dataDir, fs: readOnly }) } });
    expect((await cp.api('/v1/targets')).status).toBe(200);
    expect((await fetch(`${cp.url}/v1/health`)).status).toBe(503);
    const refused = await cp.api('/v1/events', { method: 'POST', json: { type: 'x.y' } });
    expect(refused.status).toBe(503);
    expect(await body(refused)).toMatchObject({ error: { code: 'store_read_only' } });
    await cp.close();
    cp = await startTestControlPlane({ dataDir });
    expect((await fetch(`${cp.url}/v1/health`)).status).toBe(200);
    expect((await cp.api('/v1/events', { method: 'POST', json: { type: 'x.y' } })).status).toBe(200);
    record('faults: disk', { 'read-only at start': '/v1/health 503, reads 200, POST 503 store_read_only; writable after restart on a writable disk' });
  });
});

describe('GitHub failing during a scheduler cycle', () => {
  const API = 'https://api.github.com';
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const TARGET = 'acme/widgets';
  const token = () => nock(API).post('/app/installations/1/access_tokens').reply(201, { token: 'ghs_fault_token', expires_at: '2099-01-01T00:00:00Z' });
  const contents = () => nock(API).get(/^\/repos\/acme\/widgets\/contents\//);

  const scenarios: Array<[string, () => void]> = [
    ['GitHub 502 on the backlog', () => (token(), contents().query(true).times(3).reply(502, 'Bad gateway'))],
    ['GitHub 503 on the installation token', () => nock(API).post('/app/installations/1/access_tokens').reply(503, { message: 'unavailable' })],
    ['rate limited (403, x-ratelimit-remaining: 0)', () => (token(), contents().query(true).times(3).reply(403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 600) }))],
    ['secondary rate limit (429, retry-after)', () => (token(), contents().query(true).times(3).reply(429, { message: 'secondary rate limit' }, { 'retry-after': '60' }))],
    ['timeout (ETIMEDOUT)', () => (token(), contents().query(true).times(3).replyWithError({ code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' }))],
    ['connection reset', () => (token(), contents().query(true).times(3).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' }))],
  ];

  it('fails closed in every case: no worker started, and the diagnosis says why', { timeout: 90_000 }, async () => {
    const rows: Record<string, string> = {};
    let workers = 0;
    for (const [name, mock] of scenarios) {
      cp = await startTestControlPlane({ overrides: { executor: null } });
      // A ready task in a backlog read long ago: only a fresh read may run it.
      const res = await cp.api('/v1/events', { method: 'POST', json: seedEvents([taskSummary('docs-a')]) });
      expect(res.status).toBe(200);
      mock();
      const executor = new FakeExecutor();
      const later = { now: () => new Date(Date.now() + 2 * 3600_000) };
      const code = await tick(envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: cp.dataDir, LOG_LEVEL: 'silent' }), {
        logger: pino({ level: 'silent' }),
        executor,
        clock: later,
        refresher: new GitHubBacklogRefresher({ appId: '424242', privateKey, baseUrl: API }),
        newCycleId: () => 'fault-cycle',
      });
      workers += executor.started.length;
      expect(code).toBe(0);
      expect(executor.started).toEqual([]);
      const skipped = (await cp.store.read({ type: 'task.skipped', limit: 10 })).events.at(-1);
      const diag = (await (await cp.api(`/v1/targets/${TARGET}/diagnosis`)).json()) as { diagnosis?: { summary: string; blocking: string | null } };
      // A rate limit is its own reason: telling the operator to rotate credentials would mislead.
      expect(skipped?.data).toMatchObject({ outcome: 'error', reason: /rate limit|429/.test(name) ? 'github_rate_limited' : expect.stringMatching(/^(backlog_unreadable|github_auth_failed)$/) });
      expect(diag.diagnosis?.blocking).toBeTruthy();
      rows[name] = `no worker; ${String(skipped?.data.reason)}; diagnosis: ${diag.diagnosis?.blocking}`;
      nock.cleanAll();
      await cp.destroy();
      cp = null;
    }
    record('faults: GitHub', { ...rows, 'workers started while GitHub failed': [workers, '0'] });
  });
});

describe('control plane unreachable from a worker (separate processes)', () => {
  const child = join(root, 'test/reliability/helpers/sink-child.ts');
  it('buffers while the control plane is down and delivers once it is back, exactly once', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const spool = await tempDir();
    const dataDir = await tempDir();
    // Worker 1: the control plane is down for its whole life; it exits with its events spooled.
    const w1 = await run(process.execPath, ['--import', 'tsx', child, url, spool, 'att-1', '40', '800'], { cwd: root });
    expect(w1.stdout.trim()).toBe('pending 40');
    const spooled = (await readFile(join(spool, 'att-1.ndjson'), 'utf8')).split('\n').filter(Boolean).length;
    // Worker 2 starts while the control plane is still down; the control plane comes up during its flush.
    const w2 = run(process.execPath, ['--import', 'tsx', child, url, spool, 'att-2', '25', '20000'], { cwd: root });
    await new Promise((r) => setTimeout(r, 1500));
    cp = await startTestControlPlane({ dataDir, env: { PORT: String(port) } });
    const { stdout } = await w2;
    expect(stdout.trim()).toBe('pending 0');
    const events = (await cp.store.read({ type: 'attempt.step', limit: 1000 })).events;
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => id.startsWith('att-1:')).length).toBe(40);
    expect(ids.filter((id) => id.startsWith('att-2:')).length).toBe(25);
    record('faults: worker ↔ control plane', {
      'events spooled by a worker that never reached the control plane': spooled,
      'delivered by the next worker once the control plane was up': `${ids.length} of 65, each once`,
      'events lost': [65 - ids.length, '0'],
    });
  });
});
