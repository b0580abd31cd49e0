import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredEvent } from '../events/envelope.ts';
import type { EventStore, Unsubscribe } from '../store/event-store.ts';
import { evolve } from './evolve.ts';
import { emptyState, type ProjectionState } from './state.ts';

interface Snapshot {
  version: number;
  seq: number;
  /** Hash of the event at `seq`, so a snapshot of another log is never loaded. */
  hash: string;
  state: ProjectionState;
}

const SNAPSHOT_VERSION = 1;

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

  constructor(
    private readonly store: EventStore,
    private readonly opts: { snapshotPath?: string; snapshotEvery?: number; logger?: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void } } = {},
  ) {}

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
    if (this.opts.snapshotEvery && this.sinceSnapshot >= this.opts.snapshotEvery) {
      this.sinceSnapshot = 0;
      void this.saveSnapshot().catch((err) => this.opts.logger?.warn({ err }, 'Projection snapshot failed'));
    }
  }

  private async loadSnapshot(): Promise<void> {
    const path = this.opts.snapshotPath;
    if (!path) return;
    let snap: Snapshot;
    try {
      snap = JSON.parse(await readFile(path, 'utf8')) as Snapshot;
    } catch {
      return; // none yet, or unreadable: a full replay is always correct
    }
    if (snap.version !== SNAPSHOT_VERSION || snap.seq > this.store.health().head.seq) return;
    const page = await this.store.read({ after: snap.seq - 1, limit: 1 });
    if (page.events[0]?.hash !== snap.hash) {
      this.opts.logger?.warn({ seq: snap.seq }, 'Projection snapshot does not match the log; replaying from the start');
      return;
    }
    this.state = snap.state;
    this.hashAtSeq = snap.hash;
    this.opts.logger?.info({ seq: snap.seq }, 'Projection snapshot loaded');
  }

  /** Writes the snapshot atomically (temp file + rename), so a crash never leaves half a file. */
  async saveSnapshot(): Promise<void> {
    const path = this.opts.snapshotPath;
    if (!path || this.state.seq === 0) return;
    const snap: Snapshot = { version: SNAPSHOT_VERSION, seq: this.state.seq, hash: this.hashAtSeq, state: this.state };
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp`;
    await writeFile(tmp, JSON.stringify(snap));
    await rename(tmp, path);
  }
}
