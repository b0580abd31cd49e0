import { constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GENESIS_HASH, type StoredEvent } from '../events/envelope.ts';
import { matchesFilter, StoreError, type EventFilter } from './event-store.ts';
import { scanLines } from './ndjson-scan.ts';
import { nodeStoreFs, type StoreFs } from './store-fs.ts';
import { parseLogLine, verifyLines } from './verify.ts';

/** Directory (inside the store directory) holding compacted log segments. */
export const ARCHIVE_DIR = 'archive';
/** The checkpoint: which segments hold the compacted prefix of the chain, and where the live log resumes. */
export const CHECKPOINT_FILE = 'checkpoint.json';

/** One compacted, immutable piece of the log: verbatim lines `from..to`, chained from `prev_hash` to `hash`. */
export interface ArchiveSegment {
  /** File name inside `archive/`. */
  file: string;
  from: number;
  to: number;
  prev_hash: string;
  hash: string;
  bytes: number;
  sha256: string;
  /** Time of the last event in the segment, so the store's clock never goes back after a full compaction. */
  last_time: string;
}

export interface Checkpoint {
  version: 1;
  /** Last archived seq and its hash: the live log's first event links here. */
  seq: number;
  hash: string;
  last_time: string;
  segments: ArchiveSegment[];
}

/** Reads `checkpoint.json` from a store directory; null when the log was never compacted. */
export async function readCheckpoint(dir: string): Promise<Checkpoint | null> {
  let text: string;
  try {
    text = await readFile(join(dir, CHECKPOINT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StoreError('store_unavailable', `cannot read ${join(dir, CHECKPOINT_FILE)}: ${(err as Error).message}`);
  }
  let cp: Checkpoint;
  try {
    cp = JSON.parse(text) as Checkpoint;
  } catch {
    throw new StoreError('store_corrupt', `${join(dir, CHECKPOINT_FILE)} is not valid JSON`);
  }
  const ok =
    cp?.version === 1 &&
    Number.isInteger(cp.seq) &&
    typeof cp.hash === 'string' &&
    Array.isArray(cp.segments) &&
    cp.segments.every((s, i) => s.from === (i === 0 ? 1 : cp.segments[i - 1]!.to + 1) && s.to >= s.from) &&
    (cp.segments.at(-1)?.to ?? 0) === cp.seq;
  if (!ok) throw new StoreError('store_corrupt', `${join(dir, CHECKPOINT_FILE)} does not describe a contiguous archive`);
  return cp;
}

/** Seqs per sparse-index entry of a segment: a read seeks to the nearest entry, then skips lines. */
const SPARSE_EVERY = 1024;

/**
 * Reads compacted events. Segments are scanned, not indexed: reads of the archive are rare (a
 * full replay, `ctl verify`, old history) and a sparse offset table built on first use keeps a
 * paged walk through them linear.
 */
export class ArchiveReader {
  private readonly sparse = new Map<string, number[]>();

  constructor(
    private readonly dir: string,
    readonly checkpoint: Checkpoint,
    private readonly fs: StoreFs = nodeStoreFs,
  ) {}

  /** Streams archived events with from ≤ seq ≤ to, in order. */
  async *scan(from: number, to: number): AsyncIterable<StoredEvent> {
    for (const seg of this.checkpoint.segments) {
      if (seg.to < from || seg.from > to) continue;
      const batch: StoredEvent[] = [];
      yield* this.scanSegment(seg, Math.max(from, seg.from), Math.min(to, seg.to), batch);
    }
  }

  private async *scanSegment(seg: ArchiveSegment, from: number, to: number, batch: StoredEvent[]): AsyncIterable<StoredEvent> {
    const path = join(this.dir, ARCHIVE_DIR, seg.file);
    let fd: number;
    try {
      fd = await this.fs.open(path, constants.O_RDONLY);
    } catch (err) {
      throw new StoreError('store_unavailable', `archive segment ${path} is missing: ${(err as Error).message}`);
    }
    try {
      const sparse = await this.sparseOf(seg, fd);
      const k = Math.floor((from - seg.from) / SPARSE_EVERY);
      let seq = seg.from + k * SPARSE_EVERY;
      let pos = sparse[k]!;
      // Batches of parsed events are yielded between reads, so memory stays at one chunk.
      while (seq <= to) {
        let stopAt = -1;
        const { end } = await scanLines(
          this.fs,
          fd,
          pos,
          seg.bytes,
          (buf, start, stop, offset) => {
            if (seq > to || batch.length >= 4096) {
              stopAt = offset;
              return false;
            }
            if (seq >= from) {
              const e = parseLogLine(buf.toString('utf8', start, stop));
              if (e === null || e.seq !== seq) throw new StoreError('store_corrupt', `archive segment ${path} is damaged at seq ${seq}`);
              batch.push(e);
            }
            seq++;
          },
          1 << 20,
        );
        yield* batch.splice(0);
        if (stopAt < 0) {
          if (seq <= to) throw new StoreError('store_corrupt', `archive segment ${path} ends before seq ${to}`);
          break;
        }
        pos = Math.max(stopAt, end);
      }
    } finally {
      await this.fs.close(fd);
    }
  }

  /** Byte offset of every SPARSE_EVERY-th line of a segment, built by one pass on first use. */
  private async sparseOf(seg: ArchiveSegment, fd: number): Promise<number[]> {
    const cached = this.sparse.get(seg.file);
    if (cached) return cached;
    const offsets: number[] = [];
    let i = 0;
    await scanLines(this.fs, fd, 0, seg.bytes, (_buf, _start, _stop, offset) => {
      if (i % SPARSE_EVERY === 0) offsets.push(offset);
      i++;
    });
    this.sparse.set(seg.file, offsets);
    return offsets;
  }

  /**
   * Archived events in [lo, hi] matching `filter`: the first `n` oldest-first, or the last `n`
   * newest-first. Time bounds are checked per event (the archive has no time index).
   */
  async collect(lo: number, hi: number, filter: EventFilter, n: number, desc: boolean): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for await (const e of this.scan(lo, hi)) {
      if (!matchesFilter(e, filter)) continue;
      out.push(e);
      if (!desc && out.length >= n) break;
      if (desc && out.length > n) out.shift();
    }
    return desc ? out.reverse() : out;
  }
}

/** What `verifyDataDir` found: the archive and the live log checked as one chain. */
export type DataDirVerifyResult =
  | { ok: true; archived: number; live: number; head: { seq: number; hash: string }; tornTailBytes: number; segments: number }
  | { ok: false; archived: number; live: number; firstBad: { seq: number; reason: string; file: string } };

/**
 * Verifies a store directory offline: every archive segment from genesis in order, then the live
 * log from the checkpoint it starts at (a live log that still starts at seq 1 — a compaction
 * interrupted before its last step — is checked from genesis). A torn last line of the live log
 * is reported, not failed: the store cuts it off on open.
 */
export async function verifyDataDir(dir: string, logFile = 'events.ndjson', sfs: StoreFs = nodeStoreFs): Promise<DataDirVerifyResult> {
  let checkpoint: Checkpoint | null;
  try {
    checkpoint = await readCheckpoint(dir);
  } catch (err) {
    return { ok: false, archived: 0, live: 0, firstBad: { seq: 0, reason: (err as Error).message, file: CHECKPOINT_FILE } };
  }
  const boundaries = new Map<number, string>([[0, GENESIS_HASH]]);
  let prev = { seq: 0, hash: GENESIS_HASH };
  let archived = 0;
  for (const seg of checkpoint?.segments ?? []) {
    const file = join(ARCHIVE_DIR, seg.file);
    const r = await verifyLines(join(dir, file), prev, sfs, false);
    if (!r.ok) return { ok: false, archived: archived + r.count, live: 0, firstBad: { ...r.firstBad, file } };
    if (r.head.seq !== seg.to || r.head.hash !== seg.hash || seg.prev_hash !== prev.hash) {
      return { ok: false, archived: archived + r.count, live: 0, firstBad: { seq: r.head.seq + 1, reason: 'segment does not end where the checkpoint says', file } };
    }
    archived += r.count;
    prev = r.head;
    boundaries.set(seg.to, seg.hash);
  }
  // Where does the live log start? Its first event names the boundary it links to.
  const first = await firstLine(join(dir, logFile), sfs);
  let start = prev;
  if (first !== null) {
    const at = first.seq - 1;
    if (boundaries.get(at) !== first.prev_hash) {
      return { ok: false, archived, live: 0, firstBad: { seq: first.seq, reason: 'live log does not start at an archive boundary', file: logFile } };
    }
    start = { seq: at, hash: first.prev_hash };
  }
  const r = await verifyLines(join(dir, logFile), start, sfs, true);
  if (!r.ok) return { ok: false, archived, live: r.count, firstBad: { ...r.firstBad, file: logFile } };
  const head = r.count > 0 ? r.head : prev;
  return { ok: true, archived, live: r.count, head, tornTailBytes: r.tornTailBytes, segments: checkpoint?.segments.length ?? 0 };
}

/** The first complete, parsable line of a log, or null (empty, or only a torn line). */
export async function firstLine(path: string, sfs: StoreFs = nodeStoreFs): Promise<StoredEvent | null> {
  let fd: number;
  try {
    fd = await sfs.open(path, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = (await sfs.fstat(fd)).size;
    let found: StoredEvent | null = null;
    await scanLines(sfs, fd, 0, size, (buf, start, stop) => {
      found = parseLogLine(buf.toString('utf8', start, stop));
      return false;
    }, 64 << 10);
    return found;
  } finally {
    await sfs.close(fd);
  }
}

