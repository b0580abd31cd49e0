import { constants } from 'node:fs';
import { rename, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredEvent } from '../events/envelope.ts';
import type { EventStore, Unsubscribe } from '../store/event-store.ts';
import { scanLines } from '../store/ndjson-scan.ts';
import { nodeStoreFs } from '../store/store-fs.ts';
import { evolve } from './evolve.ts';
import { emptyState, type GraphEdge, type GraphNode, type ProjectionState } from './state.ts';

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
   * Writes the snapshot atomically (temp file + rename), so a crash never leaves half a file.
   * The lines are built synchronously: the state keeps changing once this yields, and a
   * snapshot must be the state at exactly one seq. That blocks the event loop for a time that
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
    const write = async () => {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.tmp`;
      await writeFile(tmp, chunks);
      await rename(tmp, path);
    };
    this.saving = write().finally(() => (this.saving = null));
    await this.saving;
  }
}

interface SnapshotHeader {
  version: number;
  seq: number;
  /** Hash of the event at `seq`, so a snapshot of another log is never loaded. */
  hash: string;
  nodes: number;
  edges: number;
}

/**
 * Format 2, NDJSON: a header line, the state without its graph, then one line per graph node
 * (an object) and one per edge (`[from, type, to]`). Read line by line, a snapshot of a million
 * events never exists as one 35 MB string plus its parse tree, which set the process's RSS.
 */
const SNAPSHOT_VERSION = 2;

function snapshotLines(state: ProjectionState, hash: string): string[] {
  const { graph, ...rest } = state;
  const nodes = Object.values(graph.nodes);
  const edges = Object.values(graph.edges);
  const header: SnapshotHeader = { version: SNAPSHOT_VERSION, seq: state.seq, hash, nodes: nodes.length, edges: edges.length };
  const out = [`${JSON.stringify(header)}\n${JSON.stringify(rest)}\n`];
  // Joined in blocks: one string per line would be ~140k writes; one string for all is the peak we avoid.
  let block: string[] = [];
  const flush = () => {
    out.push(`${block.join('\n')}\n`);
    block = [];
  };
  for (const n of nodes) {
    block.push(JSON.stringify(n));
    if (block.length === 4096) flush();
  }
  for (const e of edges) {
    block.push(JSON.stringify([e.from, e.type, e.to]));
    if (block.length === 4096) flush();
  }
  if (block.length > 0) flush();
  return out;
}

/** The snapshot at `path`, or null when there is none or it is not a complete format-2 file. */
async function readSnapshot(path: string): Promise<{ seq: number; hash: string; state: ProjectionState } | null> {
  let fd: number;
  try {
    fd = await nodeStoreFs.open(path, constants.O_RDONLY);
  } catch {
    return null;
  }
  const intern = stringPool();
  let header: SnapshotHeader | null = null;
  let state: ProjectionState | null = null;
  let nodes = 0;
  let edges = 0;
  try {
    const size = (await nodeStoreFs.fstat(fd)).size;
    await scanLines(nodeStoreFs, fd, 0, size, (buf, start, end) => {
      const value: unknown = JSON.parse(buf.toString('utf8', start, end));
      if (!header) {
        header = value as SnapshotHeader;
        return header.version === SNAPSHOT_VERSION;
      }
      if (!state) {
        state = internStrings({ ...(value as Omit<ProjectionState, 'graph'>), graph: { nodes: {}, edges: {} } }, intern);
        return;
      }
      const graph = state.graph;
      if (Array.isArray(value)) {
        const [from, type, to] = value as [string, GraphEdge['type'], string];
        // The node's own id string, so an edge costs no copy of the ids it joins.
        const f = graph.nodes[from]?.id ?? intern(from);
        const t = graph.nodes[to]?.id ?? intern(to);
        graph.edges[`${f}|${type}|${t}`] = { from: f, to: t, type: intern(type) as GraphEdge['type'] };
        edges++;
      } else {
        const node = internStrings(value as GraphNode, intern);
        graph.nodes[node.id] = node;
        nodes++;
      }
    });
  } catch {
    return null;
  } finally {
    await nodeStoreFs.close(fd).catch(() => undefined);
  }
  const h = header as SnapshotHeader | null;
  if (!h || !state || h.version !== SNAPSHOT_VERSION || h.nodes !== nodes || h.edges !== edges) return null;
  return { seq: h.seq, hash: h.hash, state };
}

/** A string interner: one shared instance per distinct short text (long ones are returned as is). */
function stringPool(): (s: string) => string {
  const pool = new Map<string, string>();
  return (s) => {
    if (s.length > 128) return s;
    const shared = pool.get(s);
    if (shared !== undefined) return shared;
    pool.set(s, s);
    return s;
  };
}

/**
 * Replaces every string in `value` by `intern(string)`, in place. A parsed snapshot holds a
 * separate copy of each target name, node id, timestamp and state per occurrence (nodes repeat
 * targets, edges repeat node ids); sharing them roughly halves the projection's heap at a
 * million events.
 */
export function internStrings<T>(value: T, intern: (s: string) => string): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x === 'string') v[i] = intern(x);
        else if (x !== null && typeof x === 'object') stack.push(x);
      }
    } else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k in o) {
        const x = o[k];
        if (typeof x === 'string') o[k] = intern(x);
        else if (x !== null && typeof x === 'object') stack.push(x);
      }
    }
  }
  return value;
}
