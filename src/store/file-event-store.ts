import { GroupCommitQueue, passGuards, sealGroup, type PendingAppend, type SealedBatch } from './group-commit.ts';
import { SubscriberSet, type Subscriber } from './subscribers.ts';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { checkLink, GENESIS_HASH, type NewEvent, type StoredEvent } from '../events/envelope.ts';
import {
  StoreError,
  type AppendOptions,
  type AppendResult,
  type EventPage,
  type EventQuery,
  type EventStore,
  type StoreHealth,
  type Unsubscribe,
} from './event-store.ts';
import { ArchiveReader, CHECKPOINT_FILE, readCheckpoint, type Checkpoint } from './archive.ts';
import { IdIndex, idHash } from './id-index.ts';
import { describeHolder, LOCK_LEASE_MS, LOCK_RENEW_MS, lockHolder, releaseLock, renewLock, takeLock, type OwnLock } from './store-lock.ts';
import { encodeSnapshot, readSnapshot, writeFileAtomic, type IndexSnapshot } from './index-snapshot.ts';
import { scanLines } from './ndjson-scan.ts';
import { GrowableF64, GrowableUint, OffsetArray, PostingIndex, PostingList, StringTable } from './posting-index.ts';
import { nodeStoreFs, readFully, writeFully, type StoreFs } from './store-fs.ts';
import { partitionPoint } from '../partition-point.ts';
import { classifyLine, parseLogLine } from './verify.ts';

/** A group commit written to the log and waiting for the fdatasync that makes it durable. */
interface UnsyncedGroup {
  prepared: SealedBatch[];
  /** Byte length of each stored event's line, newline included, in log order. */
  lengths: number[];
  buf: Buffer;
  /** Ids of its stored events: a later group's duplicates of them are caught before the id index knows them. */
  ids: Set<string>;
  /** Where the group's bytes start and end in the log. */
  pos: number;
  end: number;
  timeMs: number;
  /** The head once this group is on: last seq and hash. */
  seq: number;
  hash: string;
  epoch: number;
}

/** The subset of pino the store logs through. */
export interface StoreLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface FileEventStoreOptions {
  /** Directory holding `events.ndjson` and its index sidecar `events.idx`; created if missing. */
  dir: string;
  /** Source of event times; defaults to the system clock. Times never go backwards regardless. */
  clock?: { now(): Date };
  logger?: StoreLogger;
  /** Write the index snapshot after this many new events (default 100,000). */
  snapshotEvery?: number;
  /** …or after this many milliseconds with new events (default 60 s). */
  snapshotIntervalMs?: number;
  /**
   * Open a log whose chain is broken instead of refusing: the intact prefix is readable, appends
   * are refused, and `corruption` says where the chain broke. For `ctl verify` and forensics.
   */
  allowCorrupt?: boolean;
  /** File-system port; tests inject failures and count syncs through it. */
  fs?: StoreFs;
  /**
   * Read query pages with synchronous preads (default true): ~4x faster for page-cached lines,
   * at the price of blocking the event loop for the duration of a cold-disk read. Streaming
   * (scan, subscription backlog, open) is always asynchronous.
   */
  syncQueryReads?: boolean;
  /** How often the lock's lease is renewed (default {@link LOCK_RENEW_MS}); tests shorten it. */
  lockRenewMs?: number;
  /**
   * After a failed write or sync, first retry of the log (default 5 s), doubling up to
   * {@link MAX_WRITE_RETRY_MS}; tests shorten it.
   */
  writeRetryMs?: number;
}

/** Name of the log inside the store directory. */
export const LOG_FILE = 'events.ndjson';
/** Name of the index snapshot sidecar inside the store directory. */
export const INDEX_FILE = 'events.idx';

const noopLogger: StoreLogger = { info() {}, warn() {}, error() {} };
/** Upper bound on events written by one group commit (~8 MiB of typical lines). */
const MAX_GROUP_EVENTS = 16_384;
/** Reads for a query merge into one pread when the lines are at most this far apart. */
const READ_GAP_BYTES = 16 << 10;
const MAX_READ_RUN_BYTES = 1 << 20;
/** Events per read while streaming (scan, subscribe backlog). */
const STREAM_BATCH_BYTES = 1 << 20;
const STREAM_BATCH_EVENTS = 4096;
/** Longest wait between two retries of the log after a failed write. */
const MAX_WRITE_RETRY_MS = 30_000;
/** Written past the end of the log and cut off again, to see whether a write can land. */
const PROBE_BYTES = Buffer.alloc(4096);

/** Opens (creating if needed) the file event store in `opts.dir`, repairing a torn tail. */
export async function openFileEventStore(opts: FileEventStoreOptions): Promise<FileEventStore> {
  const store = new FileEventStore(opts);
  try {
    await store.init();
  } catch (err) {
    await store.release();
    throw err;
  }
  return store;
}

/**
 * The embedded event store: an append-only NDJSON log, one sealed event per line, with in-memory
 * indexes of positions (offset, time, type, id hash, target and subject lists per seq) rather
 * than copies of events. Appends are serialised through one queue and group-committed (one
 * write for everything that arrived while the previous group was being written; one fdatasync
 * for every group written while the previous sync was in flight — see commit).
 */
export class FileEventStore implements EventStore {
  /** Path of the NDJSON log. */
  readonly logPath: string;
  /** Path of the index snapshot sidecar. */
  readonly indexPath: string;

  private readonly dir: string;
  private readonly fs: StoreFs;
  private readonly clock: { now(): Date };
  private readonly logger: StoreLogger;
  private readonly snapshotEvery: number;
  private readonly snapshotIntervalMs: number;
  private readonly allowCorrupt: boolean;
  private readonly syncQueryReads: boolean;

  private fd = -1;
  /** The log was opened read-write (false: directory or file not writable at open, or corrupt). */
  private canWrite = false;
  /** Why appends are refused; set at open or by the last failed write, cleared by a good one. */
  private problem: { code: StoreError['code']; message: string } | null = null;
  private failedWrite = false;
  /** Bytes past `logLength` may hold an unacknowledged partial write that could not be cut. */
  private dirtyTail = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private corrupt: { seq: number; reason: string } | null = null;

  private count = 0;
  /**
   * Events before the live log, moved to the archive by compaction: the live log holds seqs
   * base+1..count, and the position arrays are indexed by seq - base - 1.
   */
  private base = 0;
  private archive: ArchiveReader | null = null;
  /** This process's lock while it holds one, and the timer renewing its lease. */
  private lock: OwnLock | null = null;
  private lockTimer: NodeJS.Timeout | null = null;
  private readonly lockRenewMs: number;
  /** Retrying the log after a failed write (see retryWrite): first delay, timer, retries so far. */
  private readonly writeRetryMs: number;
  private writeRetryTimer: NodeJS.Timeout | null = null;
  private writeRetries = 0;
  private logLength = 0;
  private logCrc = 0;
  private headHash = GENESIS_HASH;
  private lastTimeMs = 0;
  private lastAppendAt: string | null = null;

  private offsets = new OffsetArray();
  private times = new GrowableF64();
  private typeIds = new GrowableUint();
  private types = new StringTable();
  private targets = new PostingIndex();
  private subjects = new PostingIndex();
  private ids = new IdIndex();

  /** While it is busy (sealing or writing a group), the write retry never touches the log. */
  private readonly appends = new GroupCommitQueue((group) => this.commit(group), MAX_GROUP_EVENTS);
  /** Groups written but not yet covered by an fdatasync, oldest first (two at most). */
  private readonly unsynced: UnsyncedGroup[] = [];
  /** Settles once every written group is durable and answered (or refused). */
  private durable: Promise<void> = Promise.resolve();
  /** Log bytes known to be on disk. */
  private syncedTo = 0;
  /** Bumped when a sync fails: groups sealed in an earlier epoch were refused and cut off. */
  private epoch = 0;
  /** The write in progress (it answers its own failure; never rejects). */
  private writing: Promise<unknown> | null = null;
  /** Cutting refused groups off the log after a failed sync: no write may start meanwhile. */
  private recovering: Promise<void> | null = null;
  private readonly subscribers: SubscriberSet;
  private inflightReads = new Set<Promise<unknown>>();

  private snapshotCount = 0;
  private lastSnapshotMs = 0;
  private snapshotting: Promise<void> | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;

  /** Use {@link openFileEventStore}; the constructor does no IO. */
  constructor(opts: FileEventStoreOptions) {
    this.dir = opts.dir;
    this.logPath = join(opts.dir, LOG_FILE);
    this.indexPath = join(opts.dir, INDEX_FILE);
    this.fs = opts.fs ?? nodeStoreFs;
    this.clock = opts.clock ?? { now: () => new Date() };
    this.logger = opts.logger ?? noopLogger;
    this.subscribers = new SubscriberSet(this.logger);
    this.snapshotEvery = opts.snapshotEvery ?? 100_000;
    this.snapshotIntervalMs = opts.snapshotIntervalMs ?? 60_000;
    this.allowCorrupt = opts.allowCorrupt ?? false;
    this.syncQueryReads = (opts.syncQueryReads ?? true) && this.fs.readSync !== undefined;
    this.lockRenewMs = opts.lockRenewMs ?? LOCK_RENEW_MS;
    this.writeRetryMs = opts.writeRetryMs ?? 5_000;
  }

  /** Where the chain breaks, when the store was opened with `allowCorrupt` on a broken log. */
  get corruption(): { seq: number; reason: string } | null {
    return this.corrupt;
  }

  // ---------------------------------------------------------------- open

  /** @internal Opens the files and builds the indexes; called once by openFileEventStore. */
  async init(): Promise<void> {
    const holder = await lockHolder(this.dir);
    if (holder?.alive && (holder.remote || holder.pid !== process.pid)) {
      // Before anything is opened: even cutting a torn tail would cut into the other's appends.
      throw new StoreError(
        'store_unavailable',
        `Another control plane (${describeHolder(holder)}) has the store in ${this.dir} open; two writers would break its hash chain. Stop it, or give this one another LEVIATHAN_DATA_DIR.` +
          (holder.remote ? ` Its lock is taken over once its lease has not been renewed for ${LOCK_LEASE_MS / 1000} s.` : ''),
      );
    }
    if (holder?.remote) this.logger.warn({ path: this.dir, holder: describeHolder(holder) }, 'Store lock of another host has lapsed; taking it over');
    await this.openFiles();
    if (this.fd < 0) return;
    if (this.canWrite) {
      // Left behind by a crash during a snapshot write; the real snapshot is intact.
      await this.fs.unlink(`${this.indexPath}.tmp`).catch(() => undefined);
    }
    const size = (await this.fs.fstat(this.fd)).size;
    await this.loadBase(size);
    let snapshot = await this.loadSnapshot(size);
    const applied = snapshot ? this.applySnapshot(snapshot) : null;
    if (snapshot && applied === null) {
      this.logger.info({ path: this.indexPath, reason: 'inconsistent tables' }, 'Index snapshot ignored; replaying the log');
      snapshot = null;
    }
    if (this.base > 0 && !applied?.archivedIds) await this.indexArchivedIds();
    await this.indexTail(size);
    this.snapshotCount = snapshot ? this.base + snapshot.count : 0;
    this.lastSnapshotMs = this.clock.now().getTime();
    this.logger.info(
      { path: this.logPath, events: this.count, archived: this.base, fromSnapshot: snapshot?.count ?? 0 },
      'Event store opened',
    );
    if (this.canWrite) this.writeLock();
    if (this.canWrite && this.snapshotIntervalMs > 0) {
      this.snapshotTimer = setInterval(() => this.maybeSnapshot(), this.snapshotIntervalMs);
      this.snapshotTimer.unref();
    }
    // A long replay is worth remembering now rather than only at a clean close.
    this.maybeSnapshot();
  }

  /**
   * Finds where the live log starts. A compacted log's first event links to a segment boundary
   * named in checkpoint.json; a log that still starts at seq 1 (never compacted, or a compaction
   * interrupted before it swapped the log) is whole and needs no archive to replay.
   */
  private async loadBase(size: number): Promise<void> {
    const checkpoint = await readCheckpoint(this.dir);
    if (checkpoint === null) return;
    this.archive = new ArchiveReader(this.dir, checkpoint, this.fs);
    let first: StoredEvent | null = null;
    await scanLines(this.fs, this.fd, 0, size, (buf, start, stop) => {
      first = parseLogLine(buf.toString('utf8', start, stop));
      return false;
    }, 64 << 10);
    const e = first as StoredEvent | null;
    let at: { seq: number; hash: string; time: string };
    if (e === null) {
      at = { seq: checkpoint.seq, hash: checkpoint.hash, time: checkpoint.last_time };
    } else if (e.seq === 1) {
      return;
    } else {
      const seg = checkpoint.segments.find((s) => s.to === e.seq - 1 && s.hash === e.prev_hash);
      if (!seg) {
        throw new StoreError('store_corrupt', `event log ${this.logPath} starts at seq ${e.seq}, which is not an archive boundary in ${CHECKPOINT_FILE}`);
      }
      at = { seq: seg.to, hash: seg.hash, time: seg.last_time };
    }
    this.base = at.seq;
    this.count = at.seq;
    this.headHash = at.hash;
    this.lastTimeMs = Date.parse(at.time) || 0;
  }

  /** Events before this seq are in the archive (0: nothing was compacted). */
  get archivedThrough(): number {
    return this.base;
  }

  /** The checkpoint the store opened with, if the log was ever compacted. */
  get checkpoint(): Checkpoint | null {
    return this.archive?.checkpoint ?? null;
  }

  private writeLock(): void {
    this.lock = takeLock(this.dir);
    if (!this.lock) return;
    this.lockTimer = setInterval(() => void this.renewLease(), this.lockRenewMs);
    this.lockTimer.unref();
  }

  /**
   * Renews the lease. Finding the lock in another writer's name means this process stalled past
   * the lease (or lost the volume a while) and was taken over: it stops appending at once, since
   * every further write would interleave with the other writer's.
   */
  private async renewLease(): Promise<void> {
    const own = this.lock;
    if (!own || this.closed) return;
    let renewed: Awaited<ReturnType<typeof renewLock>>;
    try {
      renewed = await renewLock(this.dir, own);
    } catch (err) {
      this.logger.warn({ path: this.dir, err: String(err) }, 'Could not renew the store lock');
      return;
    }
    if (renewed.ok || this.lock !== own) return;
    if (renewed.holder === null) {
      // Removed by hand (or unreadable): nobody else holds it, or it would name them. Written again.
      this.lock = takeLock(this.dir, own);
      this.logger.warn({ path: this.dir }, 'Store lock was removed while the store was open; written again');
      if (!this.lock) this.stopLockTimer();
      return;
    }
    this.stopLockTimer();
    this.lock = null;
    const other = `host ${renewed.holder.hostname ?? '?'} (pid ${renewed.holder.pid})`;
    const message = `The store lock in ${this.dir} now names ${other}: another control plane took the store over, so this one stopped appending. Restart it once only one should write.`;
    this.canWrite = false;
    this.problem = { code: 'store_unavailable', message };
    this.logger.error({ path: this.dir }, message);
  }

  private stopWriteRetry(): void {
    if (this.writeRetryTimer) clearTimeout(this.writeRetryTimer);
    this.writeRetryTimer = null;
  }

  private stopLockTimer(): void {
    if (this.lockTimer) clearInterval(this.lockTimer);
    this.lockTimer = null;
  }

  private removeLock(): void {
    this.stopLockTimer();
    if (!this.lock) return;
    releaseLock(this.dir, this.lock);
    this.lock = null;
  }

  private async openFiles(): Promise<void> {
    try {
      await this.fs.mkdir(this.dir);
      await this.fs.access(this.dir, constants.W_OK);
      this.fd = await this.fs.open(this.logPath, constants.O_RDWR | constants.O_CREAT);
      this.canWrite = true;
      return;
    } catch (err) {
      const se = toStoreError(err, `cannot open ${this.logPath} for writing`);
      if (se.code !== 'store_read_only') throw se;
      this.problem = { code: se.code, message: se.message };
    }
    try {
      this.fd = await this.fs.open(this.logPath, constants.O_RDONLY);
    } catch (err) {
      // A read-only directory without a log is an empty, read-only store.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toStoreError(err, `cannot open ${this.logPath}`);
    }
    this.logger.warn({ path: this.logPath, problem: this.problem?.message }, 'Event store is read-only');
  }

  /** Reads the snapshot and checks that the log still starts with the prefix it covers. */
  private async loadSnapshot(size: number): Promise<IndexSnapshot | null> {
    const snap = await readSnapshot(this.fs, this.indexPath, (n) => Math.max(1024, n >>> 2));
    if (snap === null) return null;
    const reason = typeof snap === 'string' ? snap : await this.snapshotMismatch(snap, size);
    if (reason !== null || typeof snap === 'string') {
      this.logger.info({ path: this.indexPath, reason }, 'Index snapshot ignored; replaying the log');
      return null;
    }
    return snap;
  }

  private async snapshotMismatch(s: IndexSnapshot, size: number): Promise<string | null> {
    if (s.logLength > size) return `covers ${s.logLength} bytes but the log has ${size}`;
    if (s.count === 0) return s.logLength === 0 ? null : 'inconsistent header';
    const start = OffsetArray.wrap(s.offsets, s.count, s.offsetWraps).at(s.count - 1);
    if (!(start < s.logLength)) return 'inconsistent header';
    const line = Buffer.allocUnsafe(s.logLength - start);
    await readFully(this.fs, this.fd, line, line.length, start);
    if (line[line.length - 1] !== 10) return 'head line not where the snapshot says';
    const e = parseLogLine(line.toString('utf8', 0, line.length - 1));
    if (e === null || e.seq !== this.base + s.count || e.hash !== s.headHash) return 'head event differs from the snapshot';
    // The CRC catches an edit anywhere in the covered prefix for the price of reading it (no
    // parsing or hashing), so a tampered line is still found by the full replay that follows.
    const crc = await this.crcOfRange(0, s.logLength);
    if (crc !== s.logCrc) return 'log prefix changed since the snapshot was written';
    return null;
  }

  private async crcOfRange(from: number, to: number): Promise<number> {
    const buf = Buffer.allocUnsafe(Math.min(4 << 20, Math.max(1, to - from)));
    let crc = 0;
    for (let pos = from; pos < to; ) {
      const n = await readFully(this.fs, this.fd, buf, Math.min(buf.length, to - pos), pos);
      if (n === 0) break;
      crc = crc32(buf.subarray(0, n), crc);
      pos += n;
    }
    return crc;
  }

  /**
   * Adopts the snapshot's arrays as the live indexes; null if they are not self-consistent.
   * `archivedIds`: its id table holds the archived events' ids too (snapshots of earlier releases
   * hold only the live log's).
   */
  private applySnapshot(s: IndexSnapshot): { archivedIds: boolean } | null {
    const n = s.count;
    const ids = IdIndex.fromTable(s.ids);
    const targets = PostingIndex.fromTable(s.targets);
    const subjects = PostingIndex.fromTable(s.subjects);
    if (!ids || !targets || !subjects || (ids.size !== n && ids.size !== this.base + n)) return null;
    this.ids = ids;
    this.targets = targets;
    this.subjects = subjects;
    this.offsets = OffsetArray.wrap(s.offsets, n, s.offsetWraps);
    this.times = GrowableF64.wrap(s.times, n);
    this.typeIds = GrowableUint.wrap(s.typeIds, n);
    this.types = new StringTable();
    for (const t of s.types) this.types.intern(t);
    this.count = this.base + n;
    this.logLength = s.logLength;
    this.logCrc = s.logCrc;
    this.headHash = s.headHash;
    this.lastTimeMs = s.lastTimeMs;
    return { archivedIds: this.base > 0 && ids.size === this.base + n };
  }

  /**
   * Replays the log from the end of what is indexed, checking every link (the first one checks
   * the junction with the snapshot). A torn last line (unterminated, or holding NUL bytes: see
   * classifyLine) is cut off; any other unparsable or unchained line, the last included, is corruption.
   */
  private async indexTail(size: number): Promise<void> {
    let prev = { seq: this.count, hash: this.headHash };
    let crc = this.logCrc;
    let unparsable: { offset: number } | null = null;
    let bad: { seq: number; reason: string } | null = null;
    const { end } = await scanLines(this.fs, this.fd, this.logLength, size, (buf, start, stop, offset) => {
      if (unparsable !== null) {
        bad = { seq: prev.seq + 1, reason: 'unparsable' };
        return false;
      }
      // Only what a crash can leave is cut off: an acknowledged event must never vanish silently.
      const e = classifyLine(buf, start, stop);
      if (e === 'bad') {
        bad = { seq: prev.seq + 1, reason: 'unparsable' };
        return false;
      }
      if (e === 'torn') {
        unparsable = { offset };
        return;
      }
      const problem = checkLink(e, prev);
      if (problem) {
        bad = { seq: problem.seq, reason: problem.reason };
        return false;
      }
      this.indexEvent(e, offset, offset + (stop - start) + 1);
      crc = crc32(buf.subarray(start, stop + 1), crc);
      prev = { seq: e.seq, hash: e.hash };
    });
    this.logCrc = crc;
    if (bad !== null) {
      const b: { seq: number; reason: string } = bad;
      const message = `event log ${this.logPath} is corrupt at seq ${b.seq}: ${b.reason}`;
      if (!this.allowCorrupt) throw new StoreError('store_corrupt', message);
      this.corrupt = b;
      this.canWrite = false;
      this.problem = { code: 'store_corrupt', message };
      this.logger.error({ path: this.logPath, seq: b.seq, reason: b.reason }, 'Event log chain is broken');
      return;
    }
    const tornFrom = (unparsable as { offset: number } | null)?.offset ?? end;
    if (tornFrom < size) {
      this.logger.warn(
        { path: this.logPath, offset: tornFrom, bytes: size - tornFrom, lastSeq: this.count },
        'Torn last line of the event log cut off',
      );
      if (this.canWrite) {
        await this.fs.ftruncate(this.fd, tornFrom);
        await this.fs.fdatasync(this.fd);
      }
    }
  }

  /** `timeMs`: Date.parse(e.time) when the caller has it already. */
  private indexEvent(e: StoredEvent, start: number, end: number, timeMs?: number): void {
    const seq = e.seq;
    const t = timeMs ?? Date.parse(e.time);
    this.offsets.push(start);
    this.times.push(t);
    this.typeIds.push(this.types.intern(e.type));
    this.ids.insert(idHash(e.id), seq);
    if (e.target != null) this.targets.add(e.target, seq);
    if (e.subject != null) this.subjects.add(e.subject, seq);
    this.count = seq;
    this.logLength = end;
    this.headHash = e.hash;
    if (t > this.lastTimeMs) this.lastTimeMs = t;
  }

  // ---------------------------------------------------------------- append

  /** Durably appends a batch (all or nothing); duplicate ids are acknowledged, not stored again. */
  append(events: NewEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreError('store_closed', 'event store is closed'));
    if (!this.canWrite) {
      const p = this.problem ?? { code: 'store_read_only' as const, message: 'event store is read-only' };
      return Promise.reject(new StoreError(p.code, p.message));
    }
    if (events.length === 0) return Promise.resolve({ stored: [], duplicates: [] });
    return this.appends.push(events, opts.guard);
  }

  /**
   * Seals a group onto the head of what is written (durable or not), writes it, and hands it to
   * the durability chain; resolves once the group is written and the group before it is durable.
   * So one group's fdatasync overlaps the sealing and writing of the next (two groups in flight at
   * most), and callers are still answered only once their bytes are on disk, in log order.
   */
  private async commit(pending: PendingAppend[]): Promise<void> {
    if (this.recovering) await this.recovering;
    if (!this.canWrite) {
      // The lease was lost while these waited: another writer has the log now.
      for (const p of pending) p.reject(this.problemError());
      return;
    }
    // A guard is checked against a head every reader has applied: wait until nothing is in flight.
    if (pending.some((p) => p.guard)) await this.durable;
    // One process owns the log (store.lock): everything up to `count` is all there is.
    const group = await passGuards(pending, this.count);
    const epoch = this.epoch;
    const head = this.writtenHead();
    const timeMs = Math.max(this.clock.now().getTime(), this.lastTimeMs, head.timeMs);
    // The hash table answers most ids without IO; only a hit needs the disk to confirm.
    const time = new Date(timeMs).toISOString();
    const ids = new Set<string>();
    const prepared = await sealGroup(
      group,
      head,
      time,
      (id) => {
        for (const g of this.unsynced) if (g.ids.has(id)) return true;
        const hits = this.ids.lookup(idHash(id));
        return hits.length > 0 ? this.idAt(id, hits) : false;
      },
      undefined,
      ids,
    );
    const lines = prepared.length === 1 ? prepared[0]!.json : prepared.flatMap((b) => b.json);
    if (lines.length === 0) {
      // Duplicates only: answered once what they duplicate is durable (it may be in a group in flight).
      await this.durable;
      if (epoch !== this.epoch) refuse(prepared, this.problemError());
      else for (const { p, result } of prepared) p.resolve(result);
      return;
    }
    // One buffer for the group, each line encoded straight into it (`lengths` in bytes, newline included).
    const lengths: number[] = [];
    let total = 0;
    for (const line of lines) {
      const len = Buffer.byteLength(line, 'utf8') + 1;
      lengths.push(len);
      total += len;
    }
    const buf = Buffer.allocUnsafe(total);
    let at = 0;
    for (const line of lines) {
      at += buf.write(line, at, 'utf8');
      buf[at++] = 0x0a;
    }
    if (epoch !== this.epoch) {
      // An earlier group failed to sync while this one was being sealed onto it (an id lookup read the disk).
      refuse(prepared, this.problemError());
      return;
    }
    const pos = head.end;
    const writing = this.writeAt(buf, pos, epoch);
    this.writing = writing;
    const err = await writing;
    if (epoch !== this.epoch) {
      // A group before this one failed to sync while this one was being written: this one was
      // sealed onto it, and its bytes are cut off with it (see failUnsynced).
      refuse(prepared, this.problemError());
      return;
    }
    if (err !== null) {
      refuse(prepared, err);
      return;
    }
    // The group's last event: `prepared` may end in a batch of duplicates only.
    const last = prepared.findLast((b) => b.result.stored.length > 0)!.result.stored.at(-1)!;
    const g: UnsyncedGroup = { prepared, lengths, buf, ids, pos, end: pos + total, timeMs, seq: last.seq, hash: last.hash, epoch };
    this.unsynced.push(g);
    const before = this.durable;
    this.durable = before.then(() => this.makeDurable(g));
    // Two groups in flight at most: the one syncing and this one. Measured against letting writes
    // run ahead freely, that answers sooner (fewer, fuller groups) with the same overlap.
    if (this.unsynced.length > 1) await before;
  }

  /** Where the next group goes: after the last written group, or the durable head when none is in flight. */
  private writtenHead(): { seq: number; hash: string; end: number; timeMs: number } {
    const g = this.unsynced[this.unsynced.length - 1];
    return g ? g : { seq: this.count, hash: this.headHash, end: this.logLength, timeMs: this.lastTimeMs };
  }

  /** Writes a group's bytes at `pos`; on failure cuts them back off and returns the store error. */
  private async writeAt(buf: Buffer, pos: number, epoch: number): Promise<StoreError | null> {
    try {
      if (this.dirtyTail) {
        await this.fs.ftruncate(this.fd, pos);
        this.dirtyTail = false;
      }
      await writeFully(this.fs, this.fd, buf, pos);
      return null;
    } catch (err) {
      // After a sync failure of an earlier group the cut goes further back, there (never forward:
      // a truncate past the end would pad the log with zeros).
      if (epoch === this.epoch) await this.undoWrite(pos);
      return this.fail(err);
    }
  }

  /** Once every group before `g` is settled: makes `g` durable (one fdatasync covers every group written so far), then answers it. */
  private async makeDurable(g: UnsyncedGroup): Promise<void> {
    if (g.epoch !== this.epoch) return;
    if (this.syncedTo < g.end) {
      const to = this.writtenHead().end;
      try {
        await this.fs.fdatasync(this.fd);
      } catch (err) {
        if (g.epoch === this.epoch) await this.failUnsynced(err);
        return;
      }
      this.syncedTo = to;
    }
    this.unsynced.shift();
    this.publish(g);
  }

  /**
   * An fdatasync failed: what it covered may not be on disk, and every later group was sealed onto
   * it. All of them are refused and cut off the log (after any write still in progress), and the
   * head goes back to the last durable event.
   */
  private async failUnsynced(err: unknown): Promise<void> {
    const failed = this.unsynced.splice(0);
    this.epoch++;
    const se = this.fail(err);
    for (const g of failed) refuse(g.prepared, se);
    const cut = async () => {
      await this.writing;
      await this.undoWrite(failed[0]!.pos);
    };
    this.recovering = cut().finally(() => {
      this.recovering = null;
    });
    await this.recovering;
  }

  /** Records a failed write or sync: appends are refused with this error until one succeeds. */
  private fail(err: unknown): StoreError {
    const se = toStoreError(err, `append to ${this.logPath} failed`);
    this.failedWrite = true;
    this.problem = { code: se.code, message: se.message };
    this.logger.error({ path: this.logPath, code: se.code, err: String(err) }, 'Event append failed');
    this.scheduleWriteRetry();
    return se;
  }

  /** A write or sync succeeded after a failed one: health says writable again. */
  private writableAgain(): void {
    this.failedWrite = false;
    this.problem = null;
    this.writeRetries = 0;
    this.stopWriteRetry();
    this.logger.info({ path: this.logPath }, 'Event store writable again');
  }

  /**
   * Without this, a failed append would leave health not writable until the next append
   * succeeds; in Kubernetes readiness then takes the pod out of its Service and no append ever
   * comes. So the log is retried on a timer (unref'd: it never holds the process open).
   */
  private scheduleWriteRetry(): void {
    if (this.writeRetryTimer || this.closed || !this.canWrite) return;
    const delay = Math.min(this.writeRetryMs * 2 ** this.writeRetries, MAX_WRITE_RETRY_MS);
    this.writeRetryTimer = setTimeout(() => {
      this.writeRetryTimer = null;
      void this.retryWrite();
    }, delay);
    this.writeRetryTimer.unref();
  }

  /**
   * Writes a block past the durable end of the log, cuts the log back to that end and syncs it:
   * a disk still full or read-only fails the write, one still failing fails the sync. Runs only
   * while nothing is being committed, and as `recovering`, so no commit starts until it is done.
   */
  private async retryWrite(): Promise<void> {
    if (this.closed || !this.canWrite || !this.failedWrite) return;
    if (this.appends.busy || this.unsynced.length > 0 || this.recovering) {
      // An append is under way: its outcome says whether the log is writable; look again later.
      this.scheduleWriteRetry();
      return;
    }
    const attempt = async (): Promise<void> => {
      const end = this.logLength;
      try {
        this.dirtyTail = true;
        await writeFully(this.fs, this.fd, PROBE_BYTES, end);
        await this.fs.ftruncate(this.fd, end);
        this.dirtyTail = false;
        await this.fs.fdatasync(this.fd);
      } catch (err) {
        // The next write cuts the log back first while dirtyTail is still set.
        const se = toStoreError(err, `append to ${this.logPath} failed`);
        this.problem = { code: se.code, message: se.message };
        this.writeRetries++;
        this.logger.warn({ path: this.logPath, code: se.code, err: String(err) }, 'Event store still not writable');
        this.scheduleWriteRetry();
        return;
      }
      // Before `recovering` settles: a commit waiting on it may fail again and must not be cleared.
      if (this.failedWrite && this.canWrite) this.writableAgain();
    };
    this.recovering = attempt().finally(() => {
      this.recovering = null;
    });
    await this.recovering;
  }

  private problemError(): StoreError {
    const p = this.problem ?? { code: 'store_unavailable' as const, message: `append to ${this.logPath} failed` };
    return new StoreError(p.code, p.message);
  }

  /** A group is durable: only now do the indexes (and so readers and subscribers) see its events. */
  private publish(g: UnsyncedGroup): void {
    if (this.failedWrite) this.writableAgain();
    let offset = g.pos;
    let i = 0;
    // One time for the whole group.
    for (const { result } of g.prepared) {
      for (const e of result.stored) {
        const len = g.lengths[i++]!;
        this.indexEvent(e, offset, offset + len, g.timeMs);
        offset += len;
      }
    }
    this.logCrc = crc32(g.buf, this.logCrc);
    this.lastAppendAt = new Date(g.timeMs).toISOString();
    for (const { p, result } of g.prepared) p.resolve(result);
    if (g.prepared.length === 1) this.subscribers.publish(g.prepared[0]!.result.stored);
    else this.subscribers.publish(g.prepared.flatMap(({ result }) => result.stored));
    this.maybeSnapshot();
  }

  /** Cuts a failed write back off so nothing unacknowledged stays in the log. */
  private async undoWrite(pos: number): Promise<void> {
    try {
      await this.fs.ftruncate(this.fd, pos);
      await this.fs.fdatasync(this.fd);
    } catch (err) {
      // Retried before the next write; until then reads never look past logLength.
      this.dirtyTail = true;
      this.logger.error({ path: this.logPath, err: String(err) }, 'Could not cut a failed append off the log');
    }
  }

  /**
   * Puts the archived events' ids into the id index, so an event re-sent after its original was
   * compacted away is still a duplicate. One pass over the archive, when no snapshot holds them
   * yet: `ctl compact` ends with an open that does it and writes the snapshot, so `serve` does
   * not (unless that snapshot is lost).
   */
  private async indexArchivedIds(): Promise<void> {
    const started = Date.now();
    for await (const e of this.archive!.scan(1, this.base)) this.ids.insert(idHash(e.id), e.seq);
    this.logger.info({ path: this.dir, archived: this.base, ms: Date.now() - started }, 'Archived ids indexed for duplicate detection');
  }

  /** Is `id` the id of one of `seqs` (hash hits)? Read from disk, so a hash collision costs IO, never an event. */
  private async idAt(id: string, seqs: number[]): Promise<boolean> {
    seqs.sort((a, b) => a - b);
    const archived = partitionPoint(0, seqs.length, (i) => seqs[i]! <= this.base);
    if (archived > 0) {
      // Rare (an id re-sent after compaction, or a hash collision with an old event): one read per hit.
      for (const seq of seqs.slice(0, archived)) {
        for await (const e of this.archive!.scan(seq, seq)) if (e.id === id) return true;
      }
    }
    const events = await this.readSeqs(archived > 0 ? seqs.slice(archived) : seqs);
    return events.some((e) => e.id === id);
  }

  // ---------------------------------------------------------------- read

  /** A page of events by seq range and filters, served from the indexes with only the needed lines read. */
  async read(query: EventQuery): Promise<EventPage> {
    this.assertOpen();
    const desc = query.order === 'desc';
    const limit = Math.max(0, Math.floor(query.limit));
    let lo = 1;
    let hi = this.count;
    if (query.after !== undefined) lo = Math.max(lo, Math.floor(query.after) + 1);
    if (query.before !== undefined) hi = Math.min(hi, Math.ceil(query.before) - 1);
    if (lo > hi || limit === 0) return { events: [] };
    const want = limit + 1;
    // Compacted seqs are served from the archive, in the same order and with the same filters.
    const archiveHi = Math.min(hi, this.base);
    const fromArchive = (n: number): Promise<StoredEvent[]> =>
      this.archive && lo <= archiveHi ? this.archive.collect(lo, archiveHi, query, n, desc) : Promise.resolve([]);
    const events: StoredEvent[] = [];
    if (!desc) events.push(...(await fromArchive(want)));
    if (events.length < want) events.push(...(await this.readLive(query, Math.max(lo, this.base + 1), hi, want - events.length, desc)));
    if (desc && events.length < want) events.push(...(await fromArchive(want - events.length)));
    const more = events.length > limit;
    if (more) events.pop();
    const page: EventPage = { events };
    if (more) page.next = events[events.length - 1]!.seq;
    return page;
  }

  /** Up to `want` events of the live log in [lo, hi] passing the query's filters, from the indexes. */
  private async readLive(query: EventQuery, lo: number, hi: number, want: number, desc: boolean): Promise<StoredEvent[]> {
    if (query.since !== undefined) lo = Math.max(lo, this.firstSeqAtOrAfter(query.since));
    if (query.until !== undefined) hi = Math.min(hi, this.lastSeqAtOrBefore(query.until));

    let source: PostingList | null = null;
    let other: PostingList | null = null;
    if (query.target !== undefined || query.subject !== undefined) {
      const byTarget = query.target !== undefined ? this.targets.get(query.target) ?? NO_SEQS : null;
      const bySubject = query.subject !== undefined ? this.subjects.get(query.subject) ?? NO_SEQS : null;
      if (byTarget && bySubject) {
        [source, other] = byTarget.length <= bySubject.length ? [byTarget, bySubject] : [bySubject, byTarget];
      } else {
        source = byTarget ?? bySubject;
      }
    }
    const typeOk = this.typeMask(query.type, query.typePrefix, query.types);
    if (typeOk === 'none' || lo > hi) return [];

    const typeIds = this.typeIds.data;
    const base = this.base;
    const accept = (s: number): boolean =>
      (typeOk === 'all' || typeOk[typeIds[s - base - 1]!] === 1) && (other === null || other.has(s));
    const picked: number[] = [];
    if (source !== null) {
      if (desc) {
        for (let i = source.upperBound(hi) - 1; i >= 0 && picked.length < want; i--) {
          const s = source.at(i);
          if (s < lo) break;
          if (accept(s)) picked.push(s);
        }
      } else {
        for (let i = source.lowerBound(lo); i < source.length && picked.length < want; i++) {
          const s = source.at(i);
          if (s > hi) break;
          if (accept(s)) picked.push(s);
        }
      }
    } else if (desc) {
      for (let s = hi; s >= lo && picked.length < want; s--) if (accept(s)) picked.push(s);
    } else {
      for (let s = lo; s <= hi && picked.length < want; s++) if (accept(s)) picked.push(s);
    }
    const ascending = desc ? picked.slice().reverse() : picked;
    const events = await this.readSeqs(ascending);
    if (desc) events.reverse();
    return events;
  }

  /** Per type id: 1 when the type passes the filter; 'all' without a type filter, 'none' if nothing can match. */
  private typeMask(type: string | undefined, prefix: string | undefined, types: string[] | undefined): Uint8Array | 'all' | 'none' {
    if (type === undefined && prefix === undefined && types === undefined) return 'all';
    const mask = new Uint8Array(this.types.size + 1);
    let any = false;
    this.types.names.forEach((name, i) => {
      if (
        (type === undefined || name === type) &&
        (prefix === undefined || name.startsWith(prefix)) &&
        (types === undefined || types.includes(name))
      ) {
        mask[i + 1] = 1;
        any = true;
      }
    });
    return any ? mask : 'none';
  }

  /**
   * Times never decrease along seq, so a time bound is a binary search. Comparison is on the ISO
   * string, exactly as `matchesFilter` compares, using the store's own time format.
   */
  private firstSeqAtOrAfter(since: string): number {
    const times = this.times.data;
    return this.base + partitionPoint(0, this.count - this.base, (i) => isoAt(times, i) < since) + 1;
  }

  private lastSeqAtOrBefore(until: string): number {
    const times = this.times.data;
    return this.base + partitionPoint(0, this.count - this.base, (i) => isoAt(times, i) <= until);
  }

  private endOf(seq: number): number {
    return seq < this.count ? this.offsets.at(seq - this.base) : this.logLength;
  }

  /**
   * Reads the lines of ascending `seqs`, merging lines close together on disk into one pread:
   * a target's newest hundred events usually sit in a few hundred kilobytes of log.
   */
  private async readSeqs(seqs: readonly number[]): Promise<StoredEvent[]> {
    const out: StoredEvent[] = new Array(seqs.length);
    const reads: Promise<void>[] = [];
    const offsets = this.offsets;
    const base = this.base + 1;
    let i = 0;
    while (i < seqs.length) {
      const first = i;
      const start = offsets.at(seqs[i]! - base);
      let end = this.endOf(seqs[i]!);
      i++;
      while (i < seqs.length) {
        const s = offsets.at(seqs[i]! - base);
        const e = this.endOf(seqs[i]!);
        if (s - end > READ_GAP_BYTES || e - start > MAX_READ_RUN_BYTES) break;
        end = e;
        i++;
      }
      const last = i;
      const parseRun = (buf: Buffer): void => {
        for (let k = first; k < last; k++) {
          const seq = seqs[k]!;
          out[k] = this.parseAt(buf, offsets.at(seq - base) - start, this.endOf(seq) - start - 1, seq);
        }
      };
      if (this.syncQueryReads) parseRun(this.preadSync(start, end));
      else reads.push(this.pread(start, end).then(parseRun));
    }
    await Promise.all(reads);
    return out;
  }

  /** Reads seqs [from, to] with one pread; the lines are contiguous. */
  private async readSeqRange(from: number, to: number): Promise<StoredEvent[]> {
    const offsets = this.offsets;
    const b = this.base + 1;
    const base = offsets.at(from - b);
    const buf = await this.pread(base, this.endOf(to));
    const out: StoredEvent[] = [];
    for (let seq = from; seq <= to; seq++) {
      out.push(this.parseAt(buf, offsets.at(seq - b) - base, this.endOf(seq) - base - 1, seq));
    }
    return out;
  }

  private parseAt(buf: Buffer, start: number, end: number, seq: number): StoredEvent {
    const e = parseLogLine(buf.toString('utf8', start, end));
    if (e === null || e.seq !== seq) {
      throw new StoreError('store_corrupt', `event log ${this.logPath} changed under the store at seq ${seq}`);
    }
    return e;
  }

  private async pread(start: number, end: number): Promise<Buffer> {
    if (this.fd < 0) throw new StoreError('store_closed', 'event store is closed');
    const buf = Buffer.allocUnsafe(end - start);
    const p = readFully(this.fs, this.fd, buf, buf.length, start);
    this.inflightReads.add(p);
    try {
      const n = await p;
      if (n !== buf.length) {
        throw new StoreError('store_corrupt', `event log ${this.logPath} is shorter than its index`);
      }
      return buf;
    } finally {
      this.inflightReads.delete(p);
    }
  }

  private preadSync(start: number, end: number): Buffer {
    if (this.fd < 0) throw new StoreError('store_closed', 'event store is closed');
    const buf = Buffer.allocUnsafe(end - start);
    let done = 0;
    while (done < buf.length) {
      const n = this.fs.readSync!(this.fd, buf, done, buf.length - done, start + done);
      if (n === 0) throw new StoreError('store_corrupt', `event log ${this.logPath} is shorter than its index`);
      done += n;
    }
    return buf;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('store_closed', 'event store is closed');
  }

  /** Streams every event with seq > fromSeq in order, reading about a megabyte at a time. */
  async *scan(fromSeq = 0): AsyncIterable<StoredEvent> {
    let cursor = Math.max(0, Math.floor(fromSeq));
    // A full replay reads the archive first, then the live log.
    if (cursor < this.base && this.archive) {
      yield* this.archive.scan(cursor + 1, this.base);
      cursor = this.base;
    }
    while (cursor < this.count) {
      const to = this.streamBatchEnd(cursor + 1);
      const events = await this.readSeqRange(cursor + 1, to);
      for (const e of events) yield e;
      cursor = to;
    }
  }

  /** Last seq of a streaming batch starting at `from`: up to ~1 MB of lines or 4096 events. */
  private streamBatchEnd(from: number): number {
    const i0 = from - this.base - 1;
    const n = this.count - this.base;
    const limit = this.offsets.at(i0) + STREAM_BATCH_BYTES;
    const k = this.offsets.upperBound(limit, i0 + 1, n);
    let end = k >= n && this.logLength <= limit ? this.count : Math.max(from, this.base + k - 1);
    end = Math.min(end, from + STREAM_BATCH_EVENTS - 1, this.count);
    return end;
  }

  // ---------------------------------------------------------------- subscribe

  /** Backlog (seq > fromSeq) then live events, in order, with no gap or repeat at the hand-over. */
  subscribe(fromSeq: number, onEvent: (e: StoredEvent) => void): Unsubscribe {
    this.assertOpen();
    return this.subscribers.add(fromSeq, onEvent, (sub) => this.catchUp(sub));
  }

  /**
   * Delivers what a subscriber missed, from its cursor, then makes it live. A read that fails
   * (EIO, a file briefly unreadable) is retried from where it stopped, 1 s doubling to 30 s, as
   * long as the subscriber is there: dropping it would leave an SSE stream heartbeating with no
   * events and the projector no longer following (every POST /v1/events then waits for it).
   */
  private async catchUp(sub: Subscriber, retryMs = 1_000): Promise<void> {
    try {
      if (sub.cursor < this.base && this.archive) {
        for await (const e of this.archive.scan(sub.cursor + 1, this.base)) {
          if (!this.subscribers.offer(sub, e)) return;
        }
      }
      while (sub.active && sub.cursor < this.count) {
        const events = await this.readSeqRange(sub.cursor + 1, this.streamBatchEnd(sub.cursor + 1));
        for (const e of events) if (!this.subscribers.offer(sub, e)) return;
      }
      // Synchronously after the last check of `count`: a commit cannot slip in between, so the
      // next live event is exactly cursor + 1.
      sub.live = true;
    } catch (err) {
      this.logger.error({ err: String(err), cursor: sub.cursor, retry_ms: retryMs }, 'Event subscription backlog failed; retrying');
      if (!sub.active || this.closed) return;
      setTimeout(() => {
        if (sub.active && !this.closed) void this.catchUp(sub, Math.min(retryMs * 2, 30_000));
      }, retryMs).unref();
    }
  }

  // ---------------------------------------------------------------- health, snapshot, close

  /** Writability (with the reason when not), head of the chain, time of the last append. */
  health(): StoreHealth {
    const h: StoreHealth = {
      writable: this.canWrite && this.problem === null && !this.closed,
      head: { seq: this.count, hash: this.headHash },
      last_append_at: this.lastAppendAt,
      kind: 'file',
    };
    if (this.problem) h.problem = this.problem.message;
    else if (this.closed) h.problem = 'event store is closed';
    return h;
  }

  /** Writes the index snapshot now (also done on close and every `snapshotEvery` events). */
  async snapshot(): Promise<void> {
    while (this.snapshotting) await this.snapshotting;
    if (!this.canWrite || this.count === this.snapshotCount) return;
    this.snapshotting = this.writeSnapshot().finally(() => {
      this.snapshotting = null;
    });
    await this.snapshotting;
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || !this.canWrite || this.closed || this.count === this.snapshotCount) return;
    const due =
      this.count - this.snapshotCount >= this.snapshotEvery ||
      this.clock.now().getTime() - this.lastSnapshotMs >= this.snapshotIntervalMs;
    if (!due) return;
    this.snapshotting = this.writeSnapshot()
      .catch((err: unknown) => {
        this.logger.warn({ path: this.indexPath, err: String(err) }, 'Index snapshot not written');
      })
      .finally(() => {
        this.snapshotting = null;
      });
  }

  private async writeSnapshot(): Promise<void> {
    // Copied synchronously so the snapshot describes one committed state while appends go on.
    const n = this.count;
    const parts = encodeSnapshot({
      // The snapshot covers the live log only; its first event names the archive boundary.
      count: n - this.base,
      logLength: this.logLength,
      logCrc: this.logCrc,
      headHash: this.headHash,
      lastTimeMs: this.lastTimeMs,
      offsets: this.offsets.low,
      offsetWraps: this.offsets.wraps,
      times: this.times.data,
      typeIds: this.typeIds.data,
      types: this.types.names.slice(),
      ids: this.ids.table(),
      targets: this.targets.table(),
      subjects: this.subjects.table(),
    });
    this.lastSnapshotMs = this.clock.now().getTime();
    await writeFileAtomic(this.fs, this.dir, this.indexPath, parts);
    this.snapshotCount = n;
  }

  /** @internal Closes the log without flushing or writing a snapshot: for an open that failed half-way. */
  async release(): Promise<void> {
    this.closed = true;
    this.stopWriteRetry();
    this.removeLock();
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await this.fs.close(fd).catch(() => undefined);
    }
  }

  /** Flushes pending appends, writes the index snapshot and closes the log; later appends fail. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    this.stopWriteRetry();
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    await this.appends.drained();
    await this.durable;
    // A write retry in progress uses the fd.
    while (this.recovering) await this.recovering;
    this.subscribers.clear();
    try {
      await this.snapshot();
    } catch (err) {
      this.logger.warn({ path: this.indexPath, err: String(err) }, 'Index snapshot not written at close');
    }
    await Promise.allSettled([...this.inflightReads]);
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await this.fs.close(fd);
    }
    this.removeLock();
  }
}

/** Answers every batch of a group with the same refusal. */
function refuse(prepared: SealedBatch[], err: unknown): void {
  for (const { p } of prepared) p.reject(err);
}

const NO_SEQS = new PostingList(new Uint32Array(0), 0, 0, undefined);

function isoAt(times: Float64Array, i: number): string {
  return new Date(times[i]!).toISOString();
}

/** Maps a file-system error to the store's stable codes. */
export function toStoreError(err: unknown, context: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = `${context}: ${code ?? String(err)}`;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError('store_full', `${detail} (disk full; free space, then appends resume)`);
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return new StoreError('store_read_only', `${detail} (the data directory is not writable)`);
    default:
      return new StoreError('store_unavailable', detail);
  }
}
