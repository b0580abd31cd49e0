import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { apiGet } from '../api.server.ts';
import type { TargetView } from '../api-types.ts';
import { useLiveRevalidate } from '../components/live.tsx';
import { RelativeTime } from '../components/relative-time.tsx';
import { StatusBadge } from '../components/status.tsx';

export const meta: MetaFunction = () => [{ title: 'Targets · Leviathan' }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  return apiGet<{ targets: TargetView[] }>(context, request, '/v1/targets');
}

export default function Targets() {
  const { targets } = useLoaderData<typeof loader>();
  useLiveRevalidate();
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Targets</h1>
      {targets.length === 0 && <p className="text-slate-600">No targets yet.</p>}
      <ul className="grid gap-3 md:grid-cols-2">
        {targets.map((t) => (
          <li key={t.id} className="rounded-lg border border-slate-200 bg-white p-4">
            <div className="flex items-center gap-2">
              <Link to={`/targets/${t.id}`} className="font-medium text-teal-700 underline">
                {t.id}
              </Link>
              <StatusBadge status={t.status} />
            </div>
            <p className="mt-2 text-sm">{t.headline}</p>
            {t.action && <p className="text-sm text-slate-500">{t.action}</p>}
            <p className="mt-2 text-xs text-slate-500">
              Open PRs {t.open_prs.length}/{t.max_open_prs} · Ready tasks {t.ready_tasks} · Last execution <RelativeTime iso={t.last_execution_at} />
            </p>
          </li>
        ))}
      </ul>
    </div>
  );
}
