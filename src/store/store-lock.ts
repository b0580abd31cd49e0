import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * Lock file naming the process that has the file store open for writing: a lease. A second
 * control plane refuses to open a store a live one holds (two writers would interleave appends
 * and break the chain); offline maintenance (`ctl compact`, `restore`) refuses too. On this host
 * liveness is the pid. From another host (a shared volume, a pod rescheduled onto another node)
 * it is the lock's mtime, which the holder renews every {@link LOCK_RENEW_MS}: a lock not renewed
 * for {@link LOCK_LEASE_MS} was left by a writer that is gone, and is taken over.
 */
export const LOCK_FILE = 'store.lock';
/** How often the holder renews its lease (touches the lock). */
export const LOCK_RENEW_MS = 10_000;
/** A lock from another host not renewed for this long has lapsed: several missed renewals, with room for clock skew. */
export const LOCK_LEASE_MS = 45_000;

export interface LockHolder {
  pid: number;
  hostname: string | null;
  opened_at: string | null;
  /** When the holder last renewed its lease (the lock's mtime). */
  renewed_at: string;
  /** On this host: the pid still runs. On another: the lease was renewed within {@link LOCK_LEASE_MS}. */
  alive: boolean;
  /** The holder is on another host, so `alive` rests on the lease, not on the pid. */
  remote: boolean;
}

interface LockRecord {
  pid: number;
  hostname: string | null;
  opened_at: string | null;
}

/** A lock file's record, or null when it is not one (unparsable, no pid). */
function parseLock(text: string): LockRecord | null {
  let lock: { pid?: unknown; hostname?: unknown; opened_at?: unknown };
  try {
    lock = JSON.parse(text) as typeof lock;
  } catch {
    return null;
  }
  if (typeof lock?.pid !== 'number') return null;
  return { pid: lock.pid, hostname: typeof lock.hostname === 'string' ? lock.hostname : null, opened_at: typeof lock.opened_at === 'string' ? lock.opened_at : null };
}

async function readLock(path: string): Promise<LockRecord | null> {
  return parseLock(await readFile(path, 'utf8').catch(() => ''));
}

/** Does the lock still say what this process wrote? */
function isOwn(lock: LockRecord | null, own: OwnLock): boolean {
  return lock !== null && lock.pid === own.pid && lock.hostname === own.hostname && lock.opened_at === own.opened_at;
}

/** Who `dir`'s lock names, if anyone; null when there is no readable lock. */
export async function lockHolder(dir: string, nowMs = Date.now()): Promise<LockHolder | null> {
  const path = join(dir, LOCK_FILE);
  const lock = await readLock(path);
  if (lock === null) return null;
  let renewedMs: number;
  try {
    renewedMs = (await stat(path)).mtimeMs;
  } catch {
    return null;
  }
  const holder = { ...lock, renewed_at: new Date(renewedMs).toISOString() };
  if (lock.hostname !== hostname()) return { ...holder, alive: nowMs - renewedMs < LOCK_LEASE_MS, remote: true };
  try {
    process.kill(lock.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { ...holder, alive: false, remote: false };
  }
  return { ...holder, alive: true, remote: false };
}

/** How a holder reads in an error message: pid, host when another, and how fresh its lease is. */
export function describeHolder(holder: LockHolder, nowMs = Date.now()): string {
  const where = holder.remote ? `host ${holder.hostname ?? '?'}, pid ${holder.pid}` : `pid ${holder.pid}`;
  const renewed = holder.remote ? `, lease renewed ${Math.max(0, Math.round((nowMs - Date.parse(holder.renewed_at)) / 1000))} s ago` : '';
  return `${where}, since ${holder.opened_at ?? '?'}${renewed}`;
}

/** This process's lock, as written by {@link takeLock}; renewals check the file still says this. */
export interface OwnLock {
  pid: number;
  hostname: string;
  opened_at: string;
}

/**
 * Names this process as the store's writer (`own`: writes that record again); null when the lock
 * cannot be written (then it only informs less).
 */
export function takeLock(dir: string, own: OwnLock = { pid: process.pid, hostname: hostname(), opened_at: new Date().toISOString() }): OwnLock | null {
  try {
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(own)}\n`);
    return own;
  } catch {
    return null;
  }
}

/**
 * Renews this process's lease. Not ok, with who holds it now, when the lock names another writer
 * (this process stalled past the lease and someone took over) or none (it was removed).
 */
export async function renewLock(dir: string, own: OwnLock): Promise<{ ok: true } | { ok: false; holder: LockRecord | null }> {
  const path = join(dir, LOCK_FILE);
  const lock = await readLock(path);
  if (!isOwn(lock, own)) return { ok: false, holder: lock };
  const now = new Date();
  await utimes(path, now, now);
  return { ok: true };
}

/** Removes this process's lock at a clean close, unless another writer's lock has replaced it. */
export function releaseLock(dir: string, own: OwnLock): void {
  const path = join(dir, LOCK_FILE);
  try {
    if (isOwn(parseLock(readFileSync(path, 'utf8')), own)) rmSync(path, { force: true });
  } catch {
    // Gone already, or unreadable: as a crash would leave it.
  }
}
