import { edgesOf, firstAfter, nodesInOrder } from '../../projections/graph-lists.ts';
import { evolve } from '../../projections/evolve.ts';
import { emptyState, type GraphEdge, type GraphNode, type GraphState } from '../../projections/state.ts';
import { requireScope } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { parseIsoTime, sendJson, type Router } from '../http.ts';
import type { ApiDeps } from '../api-deps.ts';
import { parseLimit } from './events.ts';

const NODE_TYPES = ['target', 'task', 'attempt', 'pr', 'action', 'other'];

/** The graph as of a time: replayed from the log up to it (the explorer's "as of"). */
async function graphAsOf(deps: ApiDeps, asOf: string): Promise<GraphState> {
  const state = emptyState();
  for await (const e of deps.store.scan(0)) {
    if (e.time > asOf) break;
    evolve(state, e);
  }
  return state.graph;
}

function neighbours(graph: GraphState, id: string): Array<{ edge: GraphEdge; direction: 'out' | 'in'; node: GraphNode | null }> {
  return edgesOf(graph, id).map((edge) =>
    edge.from === id ? { edge, direction: 'out' as const, node: graph.nodes[edge.to] ?? null } : { edge, direction: 'in' as const, node: graph.nodes[edge.from] ?? null },
  );
}

export function graphRoutes(router: Router, deps: ApiDeps): void {
  // An as_of answer replays the log into a graph of its own; one replay at a time, so concurrent
  // requests cost one graph of memory and one core, not one each.
  let replays: Promise<unknown> = Promise.resolve();
  const replayOneAtATime = (asOf: string): Promise<GraphState> => {
    const next = replays.then(() => graphAsOf(deps, asOf));
    replays = next.catch(() => undefined);
    return next;
  };

  router.on('GET', '/v1/graph/nodes', ({ req, res, url }) => {
    requireScope(deps.authenticate(req), 'read');
    const type = url.searchParams.get('type');
    if (type && !NODE_TYPES.includes(type)) throw new ApiError('invalid_request', `type must be one of ${NODE_TYPES.join(', ')}.`);
    const target = url.searchParams.get('target');
    const limit = parseLimit(url, 100, 1000);
    const rawCursor = url.searchParams.get('cursor');
    if (rawCursor && !/^\d{1,15}$/.test(rawCursor)) throw new ApiError('invalid_cursor', 'cursor must be the next_cursor of a previous page.');
    const after = rawCursor ? Number(rawCursor) : 0;
    // Nodes are ordered by the seq that created them: stable under appends, so cursors never skip.
    // Several nodes can share a first_seq; a page never splits them so the cursor stays exact.
    const all = nodesInOrder(deps.projector.state.graph);
    const page: GraphNode[] = [];
    let more = false;
    for (let i = firstAfter(all, after); i < all.length; i++) {
      const n = all[i]!;
      if ((type && n.type !== type) || (target && n.target !== target)) continue;
      if (page.length >= limit && n.first_seq !== page.at(-1)!.first_seq) {
        more = true;
        break;
      }
      page.push(n);
    }
    sendJson(res, 200, { nodes: page, next_cursor: more ? String(page.at(-1)!.first_seq) : null });
  });

  router.on('GET', '/v1/graph/nodes/:id*', async ({ req, res, url, params }) => {
    requireScope(deps.authenticate(req), 'read');
    const asOfRaw = url.searchParams.get('as_of');
    let graph = deps.projector.state.graph;
    let asOf: string | null = null;
    if (asOfRaw) {
      asOf = parseIsoTime('as_of', asOfRaw);
      graph = await replayOneAtATime(asOf);
    }
    const id = params.id!;
    const node = graph.nodes[id];
    if (!node) throw new ApiError('not_found', `No graph node ${id}${asOf ? ` as of ${asOf}` : ''}.`);
    const page = await deps.store.read({ subject: id, order: 'desc', limit: 50, ...(asOf ? { until: asOf } : {}) });
    sendJson(res, 200, { node, neighbours: neighbours(graph, id), events: page.events, as_of: asOf });
  });
}
