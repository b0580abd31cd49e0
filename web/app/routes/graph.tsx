import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Form, Link, useLoaderData } from '@remix-run/react';
import { apiGet } from '../api.server.ts';
import type { GraphEdge, GraphNode, StoredEvent } from '../api-types.ts';
import { describeEvent } from '../components/describe-event.ts';
import { markClass } from '../components/status.tsx';

export const meta: MetaFunction = () => [{ title: 'Graph · Leviathan' }];

interface NodeAnswer {
  node: GraphNode;
  neighbours: Array<{ edge: GraphEdge; direction: 'out' | 'in'; node: GraphNode | null }>;
  events: StoredEvent[];
  as_of: string | null;
}

export async function loader({ context, request }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  const id = url.searchParams.get('node');
  const asOf = url.searchParams.get('as_of') ?? '';
  if (!id) {
    const { nodes } = await apiGet<{ nodes: GraphNode[] }>(context, request, '/v1/graph/nodes?limit=500');
    return { mode: 'list' as const, nodes, asOf };
  }
  // The picker sends a time without a zone; the console speaks UTC, like the event times it shows.
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(asOf) ? asOf : `${asOf}Z`;
  const q = asOf ? `?as_of=${encodeURIComponent(zoned)}` : '';
  const detail = await apiGet<NodeAnswer>(context, request, `/v1/graph/nodes/${encodeURIComponent(id)}${q}`);
  return { mode: 'node' as const, detail, asOf };
}

const link = (id: string, asOf: string) => `/graph?node=${encodeURIComponent(id)}${asOf ? `&as_of=${encodeURIComponent(asOf)}` : ''}`;

export default function Graph() {
  const data = useLoaderData<typeof loader>();
  if (data.mode === 'list') {
    const byType = new Map<string, GraphNode[]>();
    for (const n of data.nodes) byType.set(n.type, [...(byType.get(n.type) ?? []), n]);
    return (
      <div className="space-y-4">
        <h1 className="text-xl font-semibold">Graph explorer</h1>
        <p className="text-sm text-slate-600">Pick a node to see its neighbours and its events.</p>
        {data.nodes.length === 0 && <p className="text-slate-500">The graph is empty.</p>}
        {[...byType.entries()].map(([type, nodes]) => (
          <section key={type}>
            <h2 className="font-semibold capitalize">{type}s</h2>
            <ul className="mt-1 flex flex-wrap gap-2 text-sm">
              {nodes.map((n) => (
                <li key={n.id}>
                  <Link className="rounded border border-slate-200 bg-white px-2 py-0.5 text-teal-700 hover:bg-slate-100" to={link(n.id, '')}>
                    {n.label}
                  </Link>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    );
  }
  const { node, neighbours, events, as_of } = data.detail;
  return (
    <div className="space-y-4">
      <p className="text-sm">
        <Link className="text-teal-700 underline" to="/graph">
          All nodes
        </Link>
      </p>
      <div className="flex flex-wrap items-end gap-4">
        <div className="mr-auto">
          <h1 className="text-xl font-semibold" data-testid="node-label">
            {node.label}
          </h1>
          <p className="font-mono text-xs text-slate-500">
            {node.id} · {node.type}
            {node.target ? ` · ${node.target}` : ''}
          </p>
        </div>
        <Form method="get" className="flex items-end gap-2 text-sm">
          <input type="hidden" name="node" value={node.id} />
          <label className="flex flex-col">
            <span className="text-slate-600">As of (UTC)</span>
            <input type="datetime-local" step="1" name="as_of" defaultValue={as_of ? as_of.slice(0, 19) : ''} className="rounded border border-slate-300 px-2 py-1" />
          </label>
          <button type="submit" className="rounded bg-teal-700 px-3 py-1 text-white">
            Show
          </button>
          {as_of && (
            <Link className="text-teal-700 underline" to={link(node.id, '')}>
              Now
            </Link>
          )}
        </Form>
      </div>
      {as_of && <p className="rounded bg-sky-50 p-2 text-sm text-sky-800">As of {as_of}.</p>}
      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="font-semibold">Properties</h2>
        <dl className="mt-1 grid grid-cols-[12rem_1fr] gap-x-3 text-sm">
          {Object.entries(node.props).map(([k, v]) => (
            <div key={k} className="contents">
              <dt className="text-slate-500">{k}</dt>
              <dd className="font-mono text-xs">{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
            </div>
          ))}
        </dl>
      </section>
      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="font-semibold">Neighbours</h2>
        <ul className="mt-1 text-sm" data-testid="neighbours">
          {neighbours.length === 0 && <li className="text-slate-500">None.</li>}
          {neighbours.map(({ edge, direction, node: other }) => {
            const otherId = direction === 'out' ? edge.to : edge.from;
            return (
              <li key={`${edge.from}>${edge.to}:${edge.type}`}>
                {direction === 'out' ? '→' : '←'} <span className="text-slate-500">{edge.type}</span>{' '}
                <Link className="text-teal-700 underline" to={link(otherId, data.asOf)}>
                  {other?.label ?? otherId}
                </Link>{' '}
                <span className="font-mono text-xs text-slate-400">{otherId}</span>
              </li>
            );
          })}
        </ul>
      </section>
      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="font-semibold">Events</h2>
        <ol className="mt-1 text-sm">
          {events.map((e) => {
            const d = describeEvent(e);
            return (
              <li key={e.seq}>
                <span className={markClass(d.mark)}>{d.mark}</span> <span className="font-mono text-xs text-slate-500">{e.time.replace('T', ' ').slice(0, 19)}</span> {d.text}{' '}
                <span className="text-slate-500">· {e.actor}</span>
              </li>
            );
          })}
        </ol>
      </section>
    </div>
  );
}
