import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newEvent } from '../../src/events/envelope.ts';
import { openFileEventStore, LOG_FILE } from '../../src/store/file-event-store.ts';
import { LOCK_FILE, LOCK_LEASE_MS, lockHolder } from '../../src/store/store-lock.ts';

const dirs: string[] = [];
const children: Array<{ kill(): boolean }> = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'leviathan-lock-'));
  dirs.push(dir);
  return dir;
}

/** A process that stays alive: the stand-in for another control plane on this host. */
function otherProcess(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

const lock = (dir: string, pid: number, host = hostname()) => writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid, hostname: host, opened_at: '2026-11-27T10:00:00.000Z' }));

describe('store lock', () => {
  it('refuses to open a store a live process on this host holds, before touching the log', async () => {
    const dir = await tempDir();
    const torn = '{"seq":1,"id":"half a li';
    await writeFile(join(dir, LOG_FILE), torn);
    const pid = otherProcess();
    await lock(dir, pid);
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringContaining(`Another control plane (pid ${pid}`),
    });
    // Not even the torn tail was cut: it may be the other writer's append in progress.
    expect(await readFile(join(dir, LOG_FILE), 'utf8')).toBe(torn);
    expect(await lockHolder(dir)).toMatchObject({ pid, alive: true });
  });

  it('opens over a lock left by a crash (dead pid), by another host whose lease lapsed, or by itself', async () => {
    for (const [pid, host, ageMs] of [[2 ** 22 + 12345, hostname(), 0], [1, 'another-host', LOCK_LEASE_MS + 5_000], [process.pid, hostname(), 0]] as const) {
      const dir = await tempDir();
      await lock(dir, pid, host);
      const then = new Date(Date.now() - ageMs);
      await utimes(join(dir, LOCK_FILE), then, then);
      const warnings: string[] = [];
      const logger = { info() {}, error() {}, warn: (_: unknown, msg: string) => warnings.push(msg) };
      const store = await openFileEventStore({ dir, logger });
      expect(await lockHolder(dir)).toMatchObject({ pid: process.pid, alive: true, remote: false });
      expect(warnings).toEqual(host === 'another-host' ? ['Store lock of another host has lapsed; taking it over'] : []);
      await store.close();
      expect(await lockHolder(dir)).toBeNull();
    }
  });

  it('refuses a store whose lock another host renewed within the lease, before touching the log', async () => {
    const dir = await tempDir();
    const torn = '{"seq":1,"id":"half a li';
    await writeFile(join(dir, LOG_FILE), torn);
    await lock(dir, 7, 'another-host');
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringMatching(/Another control plane \(host another-host, pid 7, since .*, lease renewed 0 s ago\).*taken over once its lease has not been renewed for 45 s/),
    });
    expect(await readFile(join(dir, LOG_FILE), 'utf8')).toBe(torn);
  });

  it('renews its lease while open, so another host sees it alive', async () => {
    const dir = await tempDir();
    const store = await openFileEventStore({ dir, lockRenewMs: 20 });
    const path = join(dir, LOCK_FILE);
    const old = new Date(Date.now() - 10 * LOCK_LEASE_MS);
    await utimes(path, old, old);
    await expect.poll(async () => (await stat(path)).mtimeMs, { timeout: 5_000, interval: 20 }).toBeGreaterThan(Date.now() - LOCK_LEASE_MS);
    await store.close();
  });

  it('stops appending once another writer took its lock over, and leaves that writer\'s lock in place at close', async () => {
    const dir = await tempDir();
    const errors: string[] = [];
    const logger = { info() {}, warn() {}, error: (_: unknown, msg: string) => errors.push(msg) };
    const store = await openFileEventStore({ dir, lockRenewMs: 20, logger });
    await store.append([newEvent({ id: 'before', type: 'test.event', actor: 'test', data: {} })]);
    // As a control plane on another node would, after this one stalled past the lease.
    await lock(dir, 4242, 'another-host');
    await expect.poll(() => store.health().writable, { timeout: 5_000, interval: 20 }).toBe(false);
    await expect(store.append([newEvent({ id: 'after', type: 'test.event', actor: 'test', data: {} })])).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringContaining('now names host another-host (pid 4242)'),
    });
    expect(errors.some((m) => m.includes('another control plane took the store over'))).toBe(true);
    await store.close();
    expect(await lockHolder(dir)).toMatchObject({ pid: 4242, hostname: 'another-host', remote: true, alive: true });
    expect(await readFile(join(dir, LOG_FILE), 'utf8')).not.toContain('"after"');
  });

  it('writes its lock again when someone removed it while the store was open, and keeps appending', async () => {
    const dir = await tempDir();
    const warnings: string[] = [];
    const logger = { info() {}, error() {}, warn: (_: unknown, msg: string) => warnings.push(msg) };
    const store = await openFileEventStore({ dir, lockRenewMs: 20, logger });
    const before = await readFile(join(dir, LOCK_FILE), 'utf8');
    await rm(join(dir, LOCK_FILE));
    await expect.poll(() => readFile(join(dir, LOCK_FILE), 'utf8').catch(() => null), { timeout: 5_000, interval: 20 }).toBe(before);
    expect(warnings).toContain('Store lock was removed while the store was open; written again');
    await store.append([newEvent({ id: 'still-writing', type: 'test.event', actor: 'test', data: {} })]);
    expect(store.health().writable).toBe(true);
    await store.close();
    expect(await lockHolder(dir)).toBeNull();
  });

  it('reads a holder on another host by its lease, and an unreadable lock as none', async () => {
    const dir = await tempDir();
    await lock(dir, 1, 'another-host');
    const renewed = new Date('2026-11-27T10:00:05.000Z');
    await utimes(join(dir, LOCK_FILE), renewed, renewed);
    const holder = { pid: 1, hostname: 'another-host', opened_at: '2026-11-27T10:00:00.000Z', renewed_at: renewed.toISOString(), remote: true };
    expect(await lockHolder(dir, renewed.getTime() + LOCK_LEASE_MS - 1)).toEqual({ ...holder, alive: true });
    expect(await lockHolder(dir, renewed.getTime() + LOCK_LEASE_MS)).toEqual({ ...holder, alive: false });
    await writeFile(join(dir, LOCK_FILE), 'not json');
    expect(await lockHolder(dir)).toBeNull();
  });
});
