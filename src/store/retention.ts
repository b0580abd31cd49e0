import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GENESIS_HASH } from '../events/envelope.ts';
import { ARCHIVE_DIR, CHECKPOINT_FILE, readCheckpoint, verifyDataDir, type ArchiveSegment, type Checkpoint } from './archive.ts';
import { INDEX_FILE, LOG_FILE, openFileEventStore } from './file-event-store.ts';
import { scanLines } from './ndjson-scan.ts';
import { describeHolder, LOCK_FILE, LOCK_LEASE_MS, lockHolder } from './store-lock.ts';
import { nodeStoreFs } from './store-fs.ts';
import { parseLogLine } from './verify.ts';

/** Name of the projection snapshot the control plane keeps next to the log (src/main.ts). */
export const PROJECTION_FILE = 'projection.ndjson';
/** Manifest written last into a backup: its presence marks the copy complete. */
export const BACKUP_MANIFEST = 'backup.json';

/** A maintenance step that cannot go ahead, with what to do about it. */
export class MaintenanceError extends Error {
  constructor(
    readonly code: 'store_in_use' | 'backup_invalid' | 'target_not_empty' | 'invalid_argument',
    message: string,
  ) {
    super(message);
    this.name = 'MaintenanceError';
  }
}

/**
 * Refuses while another live process has the store open for writing: its lock names a pid that
 * still runs on this host, or comes from another host and its lease is still being renewed.
 * `force` overrides the latter and removes that lock (the operator knows that writer is stopped,
 * e.g. behind a frozen mount). A lock naming a dead pid, or whose lease lapsed, is what a crash leaves and is ignored.
 */
export async function assertNoLiveWriter(dir: string, force = false): Promise<void> {
  const lock = await lockHolder(dir);
  // This very process counts too: a control plane started in-process holds the store as much as another one.
  if (lock === null || !lock.alive) return;
  if (lock.remote) {
    if (force) {
      // The operator says that writer is stopped: its lock goes, or every open here would refuse it.
      await rm(join(dir, LOCK_FILE), { force: true });
      return;
    }
    throw new MaintenanceError(
      'store_in_use',
      `${join(dir, LOCK_FILE)} says another host has the store open (${describeHolder(lock)}). Stop that control plane (scale it to 0) and wait for its lease to lapse (${LOCK_LEASE_MS / 1000} s), or pass --force if it is stopped.`,
    );
  }
  throw new MaintenanceError(
    'store_in_use',
    `The control plane (pid ${lock.pid}) has the store in ${dir} open. Stop \`leviathan serve\` first: this command replaces files it writes.`,
  );
}

/** Writes `data` to `path` durably: temp file, fsync, rename, fsync of the directory. */
async function writeDurably(path: string, chunks: AsyncIterable<Uint8Array> | Uint8Array[]): Promise<{ bytes: number; sha256: string }> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const c of chunks) {
      await fh.write(c);
      hash.update(c);
      bytes += c.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
  return { bytes, sha256: hash.digest('hex') };
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Streams bytes [from, to) of a file in megabyte chunks. */
async function* fileRange(path: string, from: number, to: number): AsyncIterable<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    for (let pos = from; pos < to; ) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, to - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) throw new Error(`${path} shrank while being copied`);
      yield buf.subarray(0, bytesRead);
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Opens and closes the store: cuts a torn tail, flushes and writes the index snapshot. */
async function settle(dir: string): Promise<{ seq: number; hash: string }> {
  const store = await openFileEventStore({ dir, snapshotIntervalMs: 0 });
  const head = store.health().head;
  await store.close();
  return head;
}

export interface CompactResult {
  /** Events moved to the archive by this run. */
  archived: number;
  segment: ArchiveSegment | null;
  /** Events now archived in total, and left in the live log. */
  archivedTotal: number;
  live: number;
  head: { seq: number; hash: string };
}

/**
 * Moves every event older than `before` (ISO time) out of the live log into a new archive segment
 * and records the boundary in checkpoint.json, so the chain stays provable end to end. Offline:
 * the caller has checked that no control plane has the store open.
 *
 * Crash-safe by ordering: the segment is durable before the checkpoint names it, and the
 * checkpoint before the live log is swapped (one rename). A crash in between leaves a live log
 * that still starts at an older boundary — valid, and finished by running compact again.
 */
export async function compactStore(dir: string, before: string): Promise<CompactResult> {
  await settle(dir);
  const logPath = join(dir, LOG_FILE);
  const cp = await readCheckpoint(dir);
  const size = (await sizeOf(logPath)) ?? 0;
  // Lines at or below the checkpoint can still be in the live log after an interrupted run.
  const base = cp?.seq ?? 0;
  let startOff = -1;
  let cut: { seq: number; hash: string; end: number; time: string } | null = null;
  let bad: string | null = null;
  const fd = await nodeStoreFs.open(logPath, constants.O_RDONLY);
  try {
    await scanLines(nodeStoreFs, fd, 0, size, (buf, start, stop, offset) => {
      const e = parseLogLine(buf.toString('utf8', start, stop));
      if (e === null) {
        bad = `unparsable line at byte ${offset}`;
        return false;
      }
      if (e.seq <= base) {
        if (e.seq === base && e.hash !== cp?.hash) {
          bad = `seq ${base} in the live log differs from the checkpoint`;
          return false;
        }
        return;
      }
      if (startOff < 0) startOff = offset;
      // Times never decrease along the log, so the first event at or after `before` ends the run.
      if (e.time >= before) return false;
      cut = { seq: e.seq, hash: e.hash, end: offset + (stop - start) + 1, time: e.time };
    });
  } finally {
    await nodeStoreFs.close(fd);
  }
  if (bad !== null) throw new MaintenanceError('backup_invalid', `cannot compact ${logPath}: ${bad}`);
  const c = cut as { seq: number; hash: string; end: number; time: string } | null;
  if (c === null) {
    // Nothing new to archive; finish an interrupted run whose live log still holds archived lines.
    const keepFrom = startOff >= 0 ? startOff : size;
    if (keepFrom > 0) {
      await writeDurably(logPath, fileRange(logPath, keepFrom, size));
      await rm(join(dir, INDEX_FILE), { force: true });
    }
    const check = await verifyDataDir(dir);
    const head = await settle(dir);
    return { archived: 0, segment: null, archivedTotal: base, live: check.live, head };
  }

  const from = base + 1;
  const file = `events-${String(from).padStart(12, '0')}-${String(c.seq).padStart(12, '0')}.ndjson`;
  const written = await writeDurably(join(dir, ARCHIVE_DIR, file), fileRange(logPath, startOff, c.end));
  const segment: ArchiveSegment = {
    file,
    from,
    to: c.seq,
    prev_hash: cp?.hash ?? GENESIS_HASH,
    hash: c.hash,
    bytes: written.bytes,
    sha256: written.sha256,
    last_time: c.time,
  };
  const next: Checkpoint = { version: 1, seq: c.seq, hash: c.hash, last_time: c.time, segments: [...(cp?.segments ?? []), segment] };
  await writeDurably(join(dir, CHECKPOINT_FILE), [Buffer.from(`${JSON.stringify(next, null, 2)}\n`)]);
  await writeDurably(logPath, fileRange(logPath, c.end, size));
  // The index snapshot describes the old file; the next open rebuilds it from the (short) live log.
  await rm(join(dir, INDEX_FILE), { force: true });
  const check = await verifyDataDir(dir);
  if (!check.ok) throw new MaintenanceError('backup_invalid', `compaction left ${dir} unverifiable at seq ${check.firstBad.seq}: ${check.firstBad.reason}`);
  const head = await settle(dir);
  return { archived: c.seq - base, segment, archivedTotal: c.seq, live: check.live, head };
}

export interface BackupFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  version: 1;
  created_at: string;
  /** Did a control plane have the store open while it was copied? */
  online: boolean;
  head: { seq: number; hash: string };
  archived: number;
  files: BackupFile[];
}

/**
 * Copies the store to `dest` consistently and verifies the copy. Safe while `serve` runs: the
 * log is append-only and every acknowledged event is on disk, so copying it up to its last
 * complete line is a consistent cut; snapshots are copied before it, so they never describe more
 * than the copied log (and are checked against it on open anyway). Offline, the store is opened
 * and closed first so a torn tail is cut and the index snapshot is current.
 * Secrets in the data dir (api-token, session-secret) are deliberately not copied.
 */
export async function backupStore(dir: string, dest: string): Promise<BackupManifest> {
  const existing = await readdir(dest).catch(() => [] as string[]);
  if (existing.length > 0) throw new MaintenanceError('target_not_empty', `${dest} is not empty; back up into a new directory.`);
  let online = false;
  try {
    await assertNoLiveWriter(dir);
  } catch (err) {
    if (!(err instanceof MaintenanceError)) throw err;
    online = true;
  }
  if (!online) await settle(dir);
  await mkdir(dest, { recursive: true });
  const files: BackupFile[] = [];
  const copy = async (rel: string, to?: number): Promise<void> => {
    const src = join(dir, rel);
    const size = await sizeOf(src);
    if (size === null) return;
    const w = await writeDurably(join(dest, rel), fileRange(src, 0, to ?? size));
    files.push({ path: rel, ...w });
  };
  await copy(PROJECTION_FILE);
  await copy(INDEX_FILE);
  await copy(CHECKPOINT_FILE);
  const cp = await readCheckpoint(dir);
  for (const seg of cp?.segments ?? []) await copy(join(ARCHIVE_DIR, seg.file));
  await copy(LOG_FILE, await lastCompleteLine(join(dir, LOG_FILE)));
  const check = await verifyDataDir(dest);
  if (!check.ok) {
    throw new MaintenanceError('backup_invalid', `the copy in ${dest} does not verify at seq ${check.firstBad.seq} (${check.firstBad.file}): ${check.firstBad.reason}`);
  }
  const manifest: BackupManifest = { version: 1, created_at: new Date().toISOString(), online, head: check.head, archived: check.archived, files };
  await writeDurably(join(dest, BACKUP_MANIFEST), [Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]);
  return manifest;
}

/** Length of a file up to and including its last newline (a concurrent append may be half-written). */
async function lastCompleteLine(path: string): Promise<number> {
  const size = await sizeOf(path);
  if (!size) return 0;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(64 << 10);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - buf.length);
      const { bytesRead } = await fh.read(buf, 0, end - start, start);
      const nl = buf.subarray(0, bytesRead).lastIndexOf(10);
      if (nl >= 0) return start + nl + 1;
      end = start;
    }
    return 0;
  } finally {
    await fh.close();
  }
}

/** Checks a backup: manifest present, every file's size and SHA-256, the chain, and the head it promises. */
export async function checkBackup(src: string): Promise<BackupManifest> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(join(src, BACKUP_MANIFEST), 'utf8')) as BackupManifest;
  } catch {
    throw new MaintenanceError('backup_invalid', `${src} has no readable ${BACKUP_MANIFEST}: not a complete backup.`);
  }
  if (manifest?.version !== 1 || !Array.isArray(manifest.files)) throw new MaintenanceError('backup_invalid', `${join(src, BACKUP_MANIFEST)} is not a backup manifest.`);
  for (const f of manifest.files) {
    if (f.path.includes('..') || f.path.startsWith('/')) throw new MaintenanceError('backup_invalid', `manifest names a path outside the backup: ${f.path}`);
    let data: Buffer;
    try {
      data = await readFile(join(src, f.path));
    } catch {
      throw new MaintenanceError('backup_invalid', `${f.path} is missing from the backup.`);
    }
    const sha = createHash('sha256').update(data).digest('hex');
    if (data.length !== f.bytes || sha !== f.sha256) throw new MaintenanceError('backup_invalid', `${f.path} differs from the manifest (damaged or edited).`);
  }
  const check = await verifyDataDir(src);
  if (!check.ok) throw new MaintenanceError('backup_invalid', `the backup's chain breaks at seq ${check.firstBad.seq} (${check.firstBad.file}): ${check.firstBad.reason}`);
  if (check.head.seq !== manifest.head.seq || check.head.hash !== manifest.head.hash) {
    throw new MaintenanceError('backup_invalid', `the backup ends at seq ${check.head.seq}, not at the seq ${manifest.head.seq} its manifest promises.`);
  }
  return manifest;
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** Where the store files that were in the data dir were moved, when there were any. */
  movedAside: string | null;
  head: { seq: number; hash: string };
}

/**
 * Restores a backup into `dir` after checking it completely; a broken backup is refused before
 * anything in `dir` changes, another host's lock included. Refused while a control plane has
 * `dir` open (see assertNoLiveWriter; `force` removes a live lease of another host). An existing
 * event log is moved aside (never deleted), and only with `force`.
 */
export async function restoreStore(src: string, dir: string, force = false): Promise<RestoreResult> {
  const manifest = await checkBackup(src);
  await mkdir(dir, { recursive: true });
  await assertNoLiveWriter(dir, force);
  const present = (await readdir(dir)).filter((f) => [LOG_FILE, INDEX_FILE, CHECKPOINT_FILE, PROJECTION_FILE, ARCHIVE_DIR].includes(f));
  const logSize = (await sizeOf(join(dir, LOG_FILE))) ?? 0;
  let movedAside: string | null = null;
  if (present.length > 0) {
    if ((logSize > 0 || present.includes(CHECKPOINT_FILE)) && !force) {
      throw new MaintenanceError('target_not_empty', `${dir} already holds an event log; pass --force to move it aside (into ${dir}/pre-restore-<time>/) and restore.`);
    }
    movedAside = join(dir, `pre-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    await mkdir(movedAside);
    for (const f of present) await rename(join(dir, f), join(movedAside, f));
    await fsyncDir(dir);
  }
  for (const f of manifest.files) {
    const size = (await sizeOf(join(src, f.path))) ?? 0;
    await writeDurably(join(dir, f.path), fileRange(join(src, f.path), 0, size));
  }
  const head = await settle(dir);
  if (head.seq !== manifest.head.seq || head.hash !== manifest.head.hash) {
    throw new MaintenanceError('backup_invalid', `the restored store opens at seq ${head.seq}, not ${manifest.head.seq}.`);
  }
  return { manifest, movedAside, head };
}
