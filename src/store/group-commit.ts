import { sealEventJson, type NewEvent, type StoredEvent } from '../events/envelope.ts';
import type { AppendResult } from './event-store.ts';

/** One caller's batch, waiting for its commit. */
export interface PendingAppend {
  events: NewEvent[];
  /** See AppendOptions.guard. */
  guard?: (head: number) => Promise<void>;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** A batch sealed onto the log: what its caller will be answered once the group is durable. */
export interface SealedBatch {
  p: PendingAppend;
  result: AppendResult;
  /** `JSON.stringify` of each of `result.stored`, in order: the file store's log lines. */
  json: string[];
}

/**
 * Group commit, shared by every store: appends that arrive while a commit is in flight queue up
 * and go out together in the next one (one write + fdatasync for the file store, one transaction
 * for PostgreSQL). Commits run one at a time, which is what keeps `seq` gap-free and the hash
 * chain linear under any concurrency.
 */
export class GroupCommitQueue {
  private queue: PendingAppend[] = [];
  private flushing: Promise<void> | null = null;

  /**
   * @param commit makes one group durable and answers every batch in it (resolve or reject).
   * @param maxGroupEvents bounds one group, so a huge burst does not hold everything in memory.
   */
  constructor(
    private readonly commit: (group: PendingAppend[]) => Promise<void>,
    private readonly maxGroupEvents: number,
  ) {}

  push(events: NewEvent[], guard?: (head: number) => Promise<void>): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push(guard ? { events, guard, resolve, reject } : { events, resolve, reject });
      // Start on a microtask so appends made in the same tick share the first commit too.
      this.flushing ??= Promise.resolve().then(() => this.drain());
    });
  }

  /**
   * A group is queued or being committed: from the first push until the last commit returns
   * (including a commit still waiting for the store to let it start). Commits run one at a time.
   */
  get busy(): boolean {
    return this.flushing !== null;
  }

  /** Resolves once nothing is queued or being committed (close waits for this). */
  async drained(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.take();
        try {
          await this.commit(group);
        } catch (err) {
          // commit answers its own batches; anything reaching here is a bug, not a storage error.
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  private take(): PendingAppend[] {
    let events = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || events + this.queue[n]!.events.length <= this.maxGroupEvents)) {
      events += this.queue[n]!.events.length;
      n++;
    }
    return this.queue.splice(0, n);
  }
}

/**
 * The batches of a group whose guards (if any) pass against `head`, in order; a batch whose guard
 * throws is rejected with that error and left out. Guards run one after the other.
 */
export async function passGuards(group: PendingAppend[], head: number): Promise<PendingAppend[]> {
  if (!group.some((p) => p.guard)) return group;
  const admitted: PendingAppend[] = [];
  for (const p of group) {
    try {
      if (p.guard) await p.guard(head);
      admitted.push(p);
    } catch (err) {
      p.reject(err);
    }
  }
  return admitted;
}

/**
 * Seals every batch of a group onto the head at one `time`. An id already in the log, earlier in
 * the batch or earlier in the group is a duplicate: acknowledged, not stored. A batch holding an
 * event that cannot be sealed (data JSON cannot represent) is rejected alone and takes no seqs.
 *
 * `inLog` may answer synchronously (PostgreSQL read the group's ids up front) or asynchronously
 * (the file store confirms an id-index hit on disk); false/true are not awaited, which keeps a
 * large batch free of a microtask per event. `ids` receives the id of every event stored.
 */
export async function sealGroup(
  group: PendingAppend[],
  head: { seq: number; hash: string },
  time: string,
  inLog: (id: string) => boolean | Promise<boolean>,
  prepare: (e: NewEvent) => NewEvent = (e) => e,
  ids: Set<string> = new Set(),
): Promise<SealedBatch[]> {
  const sealed: SealedBatch[] = [];
  let seq = head.seq;
  let prevHash = head.hash;
  for (const p of group) {
    const stored: StoredEvent[] = [];
    try {
      const json: string[] = [];
      const duplicates: string[] = [];
      let s = seq;
      let h = prevHash;
      for (const e of p.events) {
        // One set for the batch and the group: a batch that fails takes its ids back out (below).
        const known = ids.has(e.id) ? true : inLog(e.id);
        if (known === true || (known !== false && (await known))) {
          duplicates.push(e.id);
          continue;
        }
        const sealedEvent = sealEventJson(prepare(e), ++s, time, h);
        ids.add(e.id);
        h = sealedEvent.event.hash;
        stored.push(sealedEvent.event);
        json.push(sealedEvent.json);
      }
      seq = s;
      prevHash = h;
      sealed.push({ p, result: { stored, duplicates }, json });
    } catch (err) {
      for (const e of stored) ids.delete(e.id);
      p.reject(err);
    }
  }
  return sealed;
}
