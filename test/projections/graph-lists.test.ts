import { describe, expect, it } from 'vitest';
import { edgesOf, firstAfter, nodesInOrder } from '../../src/projections/graph-lists.ts';
import { evolve } from '../../src/projections/evolve.ts';
import { emptyState, type GraphEdge, type GraphNode, type GraphState } from '../../src/projections/state.ts';
import { T, log } from './given.ts';

/** What the index must answer: every edge touching `id`, in the order added (a plain scan). */
const scan = (g: GraphState, id: string): GraphEdge[] => Object.values(g.edges).filter((e) => e.from === id || e.to === id);

const history = log([
  { type: 'target.registered', target: T, data: { installation_id: 1 } },
  { type: 'task.selected', target: T, data: { task_id: 't1', attempt_id: 'a1' } },
  { type: 'attempt.created', target: T, data: { task_id: 't1', attempt_id: 'a1' } },
  { type: 'pr.created', target: T, subject: `pr:${T}#7`, data: { number: 7, task_id: 't1', attempt_id: 'a1' } },
  { type: 'target.paused', target: T, data: { reason: 'look' } },
  { type: 'task.selected', target: T, data: { task_id: 't2', attempt_id: 'a2' } },
  { type: 'attempt.created', target: T, data: { task_id: 't2', attempt_id: 'a2' } },
]);

describe('edgesOf', () => {
  it('answers as a scan of the keyed record would, built on first use and kept current as evolve adds edges', () => {
    const state = emptyState();
    for (const e of history.slice(0, 4)) evolve(state, e);
    const ids = () => Object.keys(state.graph.nodes);
    for (const id of ids()) expect(edgesOf(state.graph, id)).toEqual(scan(state.graph, id));
    // Built now; the rest of the history only updates it.
    for (const e of history.slice(4)) evolve(state, e);
    expect(ids().length).toBeGreaterThan(5);
    for (const id of ids()) expect(edgesOf(state.graph, id), id).toEqual(scan(state.graph, id));
    expect(edgesOf(state.graph, 'task:nowhere/x/none')).toEqual([]);
  });

  it('keeps one list per graph: a replayed graph (as_of) is not mixed with the live one', () => {
    const live = emptyState();
    const past = emptyState();
    for (const e of history) evolve(live, e);
    for (const e of history.slice(0, 3)) evolve(past, e);
    const target = `target:${T}`;
    expect(edgesOf(live.graph, target).length).toBeGreaterThan(edgesOf(past.graph, target).length);
    expect(edgesOf(past.graph, target)).toEqual(scan(past.graph, target));
  });
});

/** The listing order the API promises: creating seq, then id. */
const sorted = (g: GraphState): GraphNode[] => Object.values(g.nodes).sort((a, b) => a.first_seq - b.first_seq || a.id.localeCompare(b.id));

describe('nodesInOrder', () => {
  it('orders by creating seq then id, built on first use and kept in order as evolve adds nodes', () => {
    const state = emptyState();
    for (const e of history.slice(0, 3)) evolve(state, e);
    expect(nodesInOrder(state.graph)).toEqual(sorted(state.graph));
    // One event creating several nodes (ids out of order), and subjects that look like integers,
    // which a plain object enumerates first whatever their seq.
    const more = log([
      ...history.map((e) => ({ type: e.type, target: e.target ?? undefined, subject: e.subject ?? undefined, data: e.data })),
      { type: 'custom.thing', target: T, subject: '42' },
      { type: 'custom.thing', target: T, subject: '7' },
    ]);
    for (const e of more.slice(3)) evolve(state, e);
    expect(nodesInOrder(state.graph)).toEqual(sorted(state.graph));
    expect(nodesInOrder(state.graph).map((n) => n.id)).toContain('7');
  });

  it('finds the first node after a cursor', () => {
    const state = emptyState();
    for (const e of history) evolve(state, e);
    const nodes = nodesInOrder(state.graph);
    for (const seq of [0, 1, 2, 3, 5, 99]) {
      const i = firstAfter(nodes, seq);
      expect(nodes.slice(0, i).every((n) => n.first_seq <= seq)).toBe(true);
      expect(nodes.slice(i).every((n) => n.first_seq > seq)).toBe(true);
    }
  });
});

