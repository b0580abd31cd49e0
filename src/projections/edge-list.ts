import type { GraphEdge, GraphState } from './state.ts';

/**
 * Every edge of an edge set as a plain array, built on first use and then kept current by evolve
 * as it adds edges. Enumerating the keyed edge record itself costs ~30 ms at 80k edges (V8 sorts
 * a dictionary's keys to enumerate them), too much for every node request; scanning the array
 * takes ~2 ms and costs 8 bytes per edge (a per-node index would answer in microseconds but
 * holds ~8 MB at that size). Held beside the state, keyed by its edges object, rather than in
 * it: derived data, never snapshotted, and kept only by a process that serves node details.
 */
const lists = new WeakMap<GraphState['edges'], GraphEdge[]>();

/** The edges that start or end at `id`, in the order they were added. */
export function edgesOf(graph: GraphState, id: string): GraphEdge[] {
  let list = lists.get(graph.edges);
  if (!list) {
    list = Object.values(graph.edges);
    lists.set(graph.edges, list);
  }
  return list.filter((e) => e.from === id || e.to === id);
}

/** Evolve's report of an edge it added; nothing to do until someone has asked for edgesOf. */
export function edgeAdded(edges: GraphState['edges'], e: GraphEdge): void {
  lists.get(edges)?.push(e);
}
