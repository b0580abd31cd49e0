import type { StoredEvent } from '../events/envelope.ts';
import type { EventStore, Unsubscribe } from '../store/event-store.ts';
import { evolve } from './evolve.ts';
import { readSnapshot, snapshotLines, writeSnapshot } from './snapshot-file.ts';
import { emptyState, type ProjectionState } from './state.ts';

/**
 * Keeps the projection current: loads a snapshot if it still matches the log, replays the tail,
 * then follows the store's live subscription. Everything the API and metrics show comes from here.
 */
export class Projector {
  state: ProjectionState = emptyState();
  private hashAtSeq = '';
  private unsubscribe: Unsubscribe | null = null;
  private waiters: Array<{ seq: number; resolve: () => void }> = [];
  private listeners = new Set<(e: StoredEvent, state: ProjectionState) => void>();
  private sinceSnapshot = 0;
  /** Monotonic ms before which no periodic snapshot starts (see {@link Projector.saveSnapshot}). */
  private nextSnapshotAt = 0;
  /** The snapshot being written: two writes of the same temp file must never interleave. */
  private saving: Promise<void> | null = null;
  private readonly now: () => number;

  constructor(
    private readonly store: EventStore,
    private readonly opts: {
      snapshotPath?: string;
      /** Events between periodic snapshots (none when unset); spaced further apart when a snapshot is slow to build. */
      snapshotEvery?: number;
      logger?: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
      /** Monotonic milliseconds (tests); performance.now by default. */
      now?: () => number;
    } = {},
  ) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Loads the snapshot (when valid), replays the tail and starts following the log. */
  async start(): Promise<void> {
    await this.loadSnapshot();
    for await (const e of this.store.scan(this.state.seq)) this.apply(e);
    this.unsubscribe = this.store.subscribe(this.state.seq, (e) => this.apply(e));
  }

  /** Resolves once events up to `seq` are reflected in `state` (read-your-writes for the API). */
  waitFor(seq: number): Promise<void> {
    if (this.state.seq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  /** Called after each applied event (metrics, live views). */
  onEvent(listener: (e: StoredEvent, state: ProjectionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.saveSnapshot();
  }

  private apply(e: StoredEvent): void {
    if (e.seq <= this.state.seq) return;
    evolve(this.state, e);
    this.hashAtSeq = e.hash;
    for (const l of this.listeners) l(e, this.state);
    if (this.waiters.length > 0) {
      const due = this.waiters.filter((w) => w.seq <= this.state.seq);
      this.waiters = this.waiters.filter((w) => w.seq > this.state.seq);
      for (const w of due) w.resolve();
    }
    this.sinceSnapshot += 1;
    if (this.opts.snapshotEvery && this.sinceSnapshot >= this.opts.snapshotEvery && !this.saving && this.now() >= this.nextSnapshotAt) {
      this.sinceSnapshot = 0;
      void this.saveSnapshot().catch((err) => this.opts.logger?.warn({ err }, 'Projection snapshot failed'));
    }
  }

  private async loadSnapshot(): Promise<void> {
    const path = this.opts.snapshotPath;
    if (!path) return;
    const snap = await readSnapshot(path);
    if (!snap || snap.seq > this.store.health().head.seq) return; // none yet, unreadable or another format: a full replay is always correct
    const page = await this.store.read({ after: snap.seq - 1, limit: 1 });
    if (page.events[0]?.hash !== snap.hash) {
      this.opts.logger?.warn({ seq: snap.seq }, 'Projection snapshot does not match the log; replaying from the start');
      return;
    }
    this.state = snap.state;
    this.hashAtSeq = snap.hash;
    this.opts.logger?.info({ seq: snap.seq }, 'Projection snapshot loaded');
  }

  /**
   * Writes the snapshot, atomically (snapshot-file.ts). Its lines are built synchronously: the
   * state keeps changing once this yields, and a snapshot must be the state at one seq. That blocks the event loop for a time that
   * grows with the graph (~0.1 s at 60k nodes), so periodic snapshots wait at least 9x as long
   * as the last one took: they never take more than a tenth of the process's time.
   */
  async saveSnapshot(): Promise<void> {
    const path = this.opts.snapshotPath;
    if (!path) return;
    while (this.saving) await this.saving.catch(() => undefined);
    if (this.state.seq === 0) return;
    const t0 = this.now();
    const chunks = snapshotLines(this.state, this.hashAtSeq);
    const t1 = this.now();
    this.nextSnapshotAt = t1 + 9 * (t1 - t0);
    this.saving = writeSnapshot(path, chunks).finally(() => (this.saving = null));
    await this.saving;
  }
}
