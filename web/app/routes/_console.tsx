import type { LoaderFunctionArgs } from '@remix-run/node';
import { NavLink, Outlet, useLoaderData, useLocation } from '@remix-run/react';
import { apiGet, requireSession } from '../api.server.ts';
import type { StoredEvent } from '../api-types.ts';
import { LiveProvider, useLive } from '../components/live.tsx';
import { RelativeTime } from '../components/relative-time.tsx';
import { KNOWN_EVENT_TYPES } from '../event-types.server.ts';

export async function loader({ context, request }: LoaderFunctionArgs) {
  const session = requireSession(context, request);
  // The newest events: where the live stream starts, and any types beyond the vocabulary.
  const page = await apiGet<{ events: StoredEvent[] }>(context, request, '/v1/graph/events?limit=100');
  const types = [...new Set([...KNOWN_EVENT_TYPES, ...page.events.map((e) => e.type)])].sort();
  return { session, since: page.events[0]?.seq ?? 0, types };
}

// The session and the stream's starting point do not change while the page lives.
export const shouldRevalidate = () => false;

const NAV = [
  ['/', 'Dashboard'],
  ['/stream', 'Events'],
  ['/targets', 'Targets'],
  ['/tasks', 'Task queue'],
  ['/graph', 'Graph'],
  ['/policy', 'Policy'],
  ['/audit', 'Audit'],
  ['/commands', 'Commands'],
] as const;

export default function ConsoleLayout() {
  const { session, since, types } = useLoaderData<typeof loader>();
  return (
    <LiveProvider since={since} types={types}>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-4 px-4 py-3">
          <a href="/" className="font-semibold tracking-tight text-teal-800">
            Leviathan
          </a>
          <nav className="flex flex-wrap gap-1 text-sm">
            {NAV.map(([to, label]) => (
              <NavLink
                key={to}
                to={to}
                end={to === '/'}
                className={({ isActive }) => `rounded px-2 py-1 ${isActive ? 'bg-teal-700 text-white' : 'text-slate-700 hover:bg-slate-100'}`}
              >
                {label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-2 text-sm text-slate-600">
            <span data-testid="actor">{session.login ?? session.actor}</span>
            {!session.canWrite && <span className="rounded bg-amber-100 px-1.5 text-xs text-amber-800">read-only</span>}
            <form method="post" action="/auth/sign-out">
              <input type="hidden" name="csrf" value={session.csrf} />
              <button type="submit" className="rounded border border-slate-300 px-2 py-0.5 hover:bg-slate-100">
                Sign out
              </button>
            </form>
          </div>
        </div>
      </header>
      <ConnectionBanner />
      <main className="mx-auto max-w-6xl px-4 py-6">
        <Outlet />
      </main>
    </LiveProvider>
  );
}

function ConnectionBanner() {
  const { connection, lastContact } = useLive();
  const { pathname } = useLocation();
  // The dashboard shows the full unreachable box itself.
  if (connection !== 'unreachable' || pathname === '/') return null;
  return (
    <div role="alert" className="bg-red-50 px-4 py-2 text-center text-sm text-red-800">
      Control Plane: Unreachable — Last Contact: <RelativeTime iso={lastContact ? new Date(lastContact).toISOString() : null} />. Check control plane health.
    </div>
  );
}
