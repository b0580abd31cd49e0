import { rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * Lock file naming the process that has the file store open for writing. A second control plane
 * on this host refuses to open a store a live one holds (two writers would interleave appends and
 * break the chain); offline maintenance (`ctl compact`, `restore`) refuses too. A lock left by a
 * crash names a dead pid and is ignored; a lock from another host cannot be checked from here.
 */
export const LOCK_FILE = 'store.lock';

export interface LockHolder {
  pid: number;
  hostname: string | null;
  opened_at: string | null;
  /** The pid still runs here (true), has exited (false), or runs on another host: unknown (null). */
  alive: boolean | null;
}

/** Who `dir`'s lock names, if anyone; null when there is no readable lock. */
export async function lockHolder(dir: string): Promise<LockHolder | null> {
  let lock: { pid?: unknown; hostname?: unknown; opened_at?: unknown };
  try {
    lock = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as typeof lock;
  } catch {
    return null;
  }
  if (typeof lock.pid !== 'number') return null;
  const host = typeof lock.hostname === 'string' ? lock.hostname : null;
  const holder = { pid: lock.pid, hostname: host, opened_at: typeof lock.opened_at === 'string' ? lock.opened_at : null };
  if (host !== hostname()) return { ...holder, alive: null };
  try {
    process.kill(lock.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { ...holder, alive: false };
  }
  return { ...holder, alive: true };
}

/** Names this process as the store's writer; false when the lock cannot be written (then it only informs less). */
export function takeLock(dir: string): boolean {
  try {
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.pid, hostname: hostname(), opened_at: new Date().toISOString() })}\n`);
    return true;
  } catch {
    return false;
  }
}

/** Removes the lock at a clean close; one left behind by a crash names a dead pid and is ignored. */
export function releaseLock(dir: string): void {
  try {
    rmSync(join(dir, LOCK_FILE), { force: true });
  } catch {
    // As a crash would leave it.
  }
}
