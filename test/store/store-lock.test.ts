import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileEventStore, LOG_FILE } from '../../src/store/file-event-store.ts';
import { LOCK_FILE, lockHolder } from '../../src/store/store-lock.ts';

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

  it('opens over a lock left by a crash (dead pid), by another host (cannot be checked) or by itself', async () => {
    for (const [pid, host] of [[2 ** 22 + 12345, hostname()], [1, 'another-host'], [process.pid, hostname()]] as const) {
      const dir = await tempDir();
      await lock(dir, pid, host);
      const store = await openFileEventStore({ dir });
      expect(await lockHolder(dir)).toMatchObject({ pid: process.pid, alive: true });
      await store.close();
      expect(await lockHolder(dir)).toBeNull();
    }
  });

  it('reads a holder on another host as unknown, and an unreadable lock as none', async () => {
    const dir = await tempDir();
    await lock(dir, 1, 'another-host');
    expect(await lockHolder(dir)).toEqual({ pid: 1, hostname: 'another-host', opened_at: '2026-11-27T10:00:00.000Z', alive: null });
    await writeFile(join(dir, LOCK_FILE), 'not json');
    expect(await lockHolder(dir)).toBeNull();
  });
});
