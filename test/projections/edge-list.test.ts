import { describe, expect, it } from 'vitest';
import { edgesOf } from '../../src/projections/edge-list.ts';
import { evolve } from '../../src/projections/evolve.ts';
import { emptyState, type GraphEdge, type GraphState } from '../../src/projections/state.ts';
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
