import { constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../store/index-snapshot.ts';
import { scanLines } from '../store/ndjson-scan.ts';
import { nodeStoreFs } from '../store/store-fs.ts';
import type { GraphEdge, GraphNode, ProjectionState } from './state.ts';

interface SnapshotHeader {
  version: number;
  seq: number;
  /** Hash of the event at `seq`, so a snapshot of another log is never loaded. */
  hash: string;
  nodes: number;
  edges: number;
}

/**
 * NDJSON: a header line, the state without its graph, then one line per graph node
 * (an object) and one per edge (`[from, type, to]`). Read line by line, a snapshot of a million
 * events never exists as one 35 MB string plus its parse tree, which set the process's RSS.
 * The version goes up whenever the state's shape changes or the same log replays to another
 * state (3: signed_out_sessions; 4: scheduler.github_rate_limit and backlog.contract_error; 5:
 * attempts' timeout_seconds and counted, start refusals no longer tries; 6: a PR close tied with
 * the open already applied loses, a renamed target keeps its state, a started attempt keeps its
 * executor handle; 7: attempt-duration buckets up to a day, lost workers' durations); a snapshot of another version is ignored and the log replayed, once, which
 * is always right: filling a new field in on load would have to know whether anything before the
 * snapshot could have set it.
 */
const SNAPSHOT_VERSION = 7;

export function snapshotLines(state: ProjectionState, hash: string): string[] {
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

/**
 * Writes `lines` to `path` as the store writes its index snapshot: temp file, fsync, rename,
 * fsync of the directory, so a crash leaves the old snapshot or the new one, never half of one.
 */
export async function writeSnapshot(path: string, lines: string[]): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(nodeStoreFs, dir, path, lines.map((l) => Buffer.from(l, 'utf8')));
}

/** The snapshot at `path`, or null when there is none or it is not a complete file of this version. */
export async function readSnapshot(path: string): Promise<{ seq: number; hash: string; state: ProjectionState } | null> {
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
function internStrings<T>(value: T, intern: (s: string) => string): T {
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
