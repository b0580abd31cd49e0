import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../../helpers/control-plane.ts';

let cp: TestControlPlane;
const T = 'acme/web';
let midTime = '';

beforeAll(async () => {
  cp = await startTestControlPlane();
  const post = (json: unknown) => cp.api('/v1/events', { method: 'POST', json });
  await post([
    { type: 'target.registered', target: T, data: { installation_id: 1 } },
    { type: 'task.selected', target: T, data: { task_id: 'docs', attempt_id: 'a1' } },
    { type: 'attempt.created', target: T, subject: 'attempt:a1', data: { task_id: 'docs', attempt_id: 'a1' } },
  ]);
  await new Promise((r) => setTimeout(r, 20));
  midTime = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await post({ type: 'pr.created', target: T, subject: `pr:${T}#7`, data: { number: 7, task_id: 'docs', attempt_id: 'a1' } });
});
afterAll(async () => {
  await cp.destroy();
});

type Node = { id: string; type: string };

describe('graph', () => {
  it('lists nodes by type and target with a cursor', async () => {
    const all = (await (await cp.api('/v1/graph/nodes')).json()) as { nodes: Node[] };
    // Nodes born of the same event (seq 2) are ordered by id.
    expect(all.nodes.map((n) => n.id)).toEqual([`target:${T}`, 'attempt:a1', `task:${T}/docs`, `pr:${T}#7`]);
    const prs = (await (await cp.api('/v1/graph/nodes?type=pr')).json()) as { nodes: Node[] };
    expect(prs.nodes.map((n) => n.id)).toEqual([`pr:${T}#7`]);
    const first = (await (await cp.api('/v1/graph/nodes?limit=1')).json()) as { nodes: Node[]; next_cursor: string };
    const rest = (await (await cp.api(`/v1/graph/nodes?limit=10&cursor=${first.next_cursor}`)).json()) as { nodes: Node[] };
    expect([...first.nodes, ...rest.nodes].map((n) => n.id)).toEqual(all.nodes.map((n) => n.id));
    expect((await cp.api('/v1/graph/nodes?type=planet')).status).toBe(400);
  });

  it('shows a node with its neighbours and events', async () => {
    const res = await cp.api(`/v1/graph/nodes/${encodeURIComponent(`pr:${T}#7`)}`);
    const body = (await res.json()) as { node: Node; neighbours: Array<{ edge: { type: string }; node: Node }>; events: Array<{ type: string }> };
    expect(body.node.type).toBe('pr');
    expect(body.neighbours.map((n) => [n.edge.type, n.node.id]).sort()).toEqual(
      [
        ['belongs_to', `target:${T}`],
        ['created_by', 'attempt:a1'],
        ['resolves', `task:${T}/docs`],
      ].sort(),
    );
    expect(body.events.map((e) => e.type)).toEqual(['pr.created']);
  });

  it('rebuilds the graph as of a time', async () => {
    const before = await cp.api(`/v1/graph/nodes/${encodeURIComponent(`pr:${T}#7`)}?as_of=${midTime}`);
    expect(before.status).toBe(404);
    const attempt = (await (await cp.api(`/v1/graph/nodes/attempt:a1?as_of=${midTime}`)).json()) as { node: Node; as_of: string };
    expect(attempt.node.id).toBe('attempt:a1');
    expect((await cp.api('/v1/graph/nodes/attempt:a1?as_of=soon')).status).toBe(400);
  });

  it('answers concurrent as_of requests with one replay at a time', async () => {
    const store = cp.store as unknown as { scan: (from: number) => AsyncIterable<unknown> };
    const scan = store.scan.bind(store);
    let active = 0;
    let most = 0;
    store.scan = async function* (from: number) {
      most = Math.max(most, ++active);
      try {
        yield* scan(from);
      } finally {
        active--;
      }
    };
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () => cp.api(`/v1/graph/nodes/attempt:a1?as_of=${midTime}`)));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(most).toBe(1);
    } finally {
      store.scan = scan;
    }
  });
});
