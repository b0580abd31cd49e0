import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { apiGet } from '../api.server.ts';
import type { StoredEvent } from '../api-types.ts';
import { describeEvent } from '../components/describe-event.ts';
import { useLiveRevalidate } from '../components/live.tsx';
import { OPERATOR_ACTION_TYPES } from '../event-types.server.ts';

export const meta: MetaFunction = () => [{ title: 'Audit · Leviathan' }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const { events } = await apiGet<{ events: StoredEvent[] }>(context, request, `/v1/graph/events?type=${OPERATOR_ACTION_TYPES.join(',')}&limit=200`);
  return { events };
}

/** How the action reached Leviathan (console, api, slash_command, ctl). */
function channel(e: StoredEvent): string {
  const via = e.data?.via;
  if (typeof via === 'string') return via;
  return e.type === 'command.received' ? 'slash_command' : '—';
}

function reason(e: StoredEvent): string {
  const r = e.data?.reason;
  return typeof r === 'string' ? r : '';
}

export default function Audit() {
  const { events } = useLoaderData<typeof loader>();
  useLiveRevalidate();
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Audit of operator actions</h1>
      <table className="w-full rounded-lg border border-slate-200 bg-white text-sm" data-testid="audit">
        <thead className="bg-slate-100 text-left text-slate-600">
          <tr>
            <th className="px-3 py-2">Time</th>
            <th className="px-3 py-2">Actor</th>
            <th className="px-3 py-2">Action</th>
            <th className="px-3 py-2">Target</th>
            <th className="px-3 py-2">Reason</th>
            <th className="px-3 py-2">Channel</th>
          </tr>
        </thead>
        <tbody>
          {events.length === 0 && (
            <tr>
              <td colSpan={6} className="px-3 py-2 text-slate-500">
                No operator actions yet.
              </td>
            </tr>
          )}
          {events.map((e) => (
            <tr key={e.seq} className="border-t border-slate-100 align-top">
              <td className="px-3 py-2 font-mono text-xs">{e.time.replace('T', ' ').slice(0, 19)}</td>
              <td className="px-3 py-2">{e.actor}</td>
              <td className="px-3 py-2">
                <span className="font-mono text-xs text-slate-500">{e.type}</span>
                <div>{describeEvent(e).text}</div>
              </td>
              <td className="px-3 py-2">
                {e.target ? (
                  <Link className="text-teal-700 underline" to={`/targets/${e.target}`}>
                    {e.target}
                  </Link>
                ) : (
                  '—'
                )}
              </td>
              <td className="px-3 py-2">{reason(e)}</td>
              <td className="px-3 py-2">{channel(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
