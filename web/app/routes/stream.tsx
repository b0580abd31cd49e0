import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Form, Link, useLoaderData } from '@remix-run/react';
import { useEffect, useRef, useState } from 'react';
import { apiGet } from '../api.server.ts';
import type { StoredEvent } from '../api-types.ts';
import { describeEvent, graphLink } from '../components/describe-event.ts';
import { useLive } from '../components/live.tsx';
import { markClass } from '../components/status.tsx';

export const meta: MetaFunction = () => [{ title: 'Events · Leviathan' }];

const KEEP = 500;

export async function loader({ context, request }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  const target = url.searchParams.get('target') ?? '';
  const type = url.searchParams.get('type') ?? '';
  const q = new URLSearchParams({ limit: '100' });
  if (target) q.set('target', target);
  if (type) q.set('type', type);
  const [page, targets] = await Promise.all([
    apiGet<{ events: StoredEvent[] }>(context, request, `/v1/graph/events?${q}`),
    apiGet<{ targets: Array<{ id: string }> }>(context, request, '/v1/targets'),
  ]);
  return { events: page.events, target, type, targets: targets.targets.map((t) => t.id) };
}

/** The same matching as the API's stream filter: exact type, a comma list, or a `prefix.*`. */
function matches(e: StoredEvent, target: string, type: string): boolean {
  if (target && e.target !== target) return false;
  if (!type) return true;
  if (type.endsWith('.*') || type.endsWith('.')) return e.type.startsWith(type.replace(/\*$/, ''));
  return type.split(',').includes(e.type);
}

export default function Stream() {
  const { events: initial, target, type, targets } = useLoaderData<typeof loader>();
  const { subscribe, connection } = useLive();
  const [events, setEvents] = useState<StoredEvent[]>(initial);
  const [paused, setPaused] = useState(false);
  const [buffered, setBuffered] = useState<StoredEvent[]>([]);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  // A new filter (a new loader answer) starts a new list.
  useEffect(() => {
    setEvents(initial);
    setBuffered([]);
  }, [initial]);

  useEffect(
    () =>
      subscribe((e) => {
        if (!matches(e, target, type)) return;
        if (pausedRef.current) setBuffered((b) => [e, ...b]);
        else setEvents((list) => (list.some((x) => x.seq === e.seq) ? list : [e, ...list].slice(0, KEEP)));
      }),
    [subscribe, target, type],
  );

  const resume = () => {
    setEvents((list) => [...buffered, ...list.filter((x) => !buffered.some((b) => b.seq === x.seq))].slice(0, KEEP));
    setBuffered([]);
    setPaused(false);
  };

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-end gap-3">
        <h1 className="mr-auto text-xl font-semibold">Event stream</h1>
        <Form method="get" className="flex flex-wrap items-end gap-2 text-sm">
          <label className="flex flex-col">
            <span className="text-slate-600">Target</span>
            <select name="target" defaultValue={target} className="rounded border border-slate-300 bg-white px-2 py-1">
              <option value="">All targets</option>
              {targets.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label className="flex flex-col">
            <span className="text-slate-600">Type</span>
            <input name="type" defaultValue={type} placeholder="e.g. pr.created or attempt.*" className="rounded border border-slate-300 px-2 py-1" />
          </label>
          <button type="submit" className="rounded bg-teal-700 px-3 py-1 text-white">
            Filter
          </button>
        </Form>
        {paused ? (
          <button type="button" onClick={resume} className="rounded border border-slate-300 bg-white px-3 py-1 text-sm">
            Resume{buffered.length > 0 ? ` (${buffered.length} new)` : ''}
          </button>
        ) : (
          <button type="button" onClick={() => setPaused(true)} className="rounded border border-slate-300 bg-white px-3 py-1 text-sm">
            Pause
          </button>
        )}
      </div>
      <p className="text-sm text-slate-500" data-testid="stream-state">
        {connection === 'live' ? (paused ? 'Paused: new events are held until you resume.' : 'Live.') : connection === 'connecting' ? 'Connecting…' : 'Control Plane: Unreachable'}
      </p>
      <ol className="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white text-sm" data-testid="event-list">
        {events.length === 0 && <li className="px-3 py-2 text-slate-500">No events match.</li>}
        {events.map((e) => {
          const d = describeEvent(e);
          const link = graphLink(e.subject);
          return (
            <li key={e.seq} className="grid grid-cols-[5rem_11rem_1fr] gap-2 px-3 py-1.5" data-seq={e.seq}>
              <span className="font-mono text-slate-400">#{e.seq}</span>
              <time className="font-mono text-xs text-slate-500" dateTime={e.time}>
                {e.time.replace('T', ' ').slice(0, 19)}
              </time>
              <span>
                <span className={markClass(d.mark)}>{d.mark}</span> <span className="font-mono text-xs text-slate-500">{e.type}</span> {d.text}
                {e.target && <span className="text-slate-500"> · {e.target}</span>}
                <span className="text-slate-500"> · {e.actor}</span>
                {link && (
                  <>
                    {' '}
                    ·{' '}
                    <Link className="text-teal-700 underline" to={link}>
                      {e.subject}
                    </Link>
                  </>
                )}
              </span>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
