import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData } from '@remix-run/react';
import { apiGet } from '../api.server.ts';
import type { StatusAnswer, StoredEvent, TargetView } from '../api-types.ts';
import { describeEvent } from '../components/describe-event.ts';
import { useLive, useLiveRevalidate } from '../components/live.tsx';
import { RelativeTime } from '../components/relative-time.tsx';
import { markClass, prUrl, StatusBadge } from '../components/status.tsx';

export const meta: MetaFunction = () => [{ title: 'Dashboard · Leviathan' }];

/** What "Recent Activity" lists: outcomes an operator cares about, not every step of an attempt. */
const ACTIVITY_TYPES = [
  'pr.created',
  'pr.merged',
  'pr.closed',
  'task.selected',
  'task.triggered',
  'attempt.failed',
  'circuit_breaker.tripped',
  'circuit_breaker.reset',
  'target.paused',
  'target.resumed',
  'backlog.invalid',
  'autonomy.enabled',
  'autonomy.disabled',
];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const [status, activity] = await Promise.all([
    apiGet<StatusAnswer>(context, request, '/v1/status'),
    apiGet<{ events: StoredEvent[] }>(context, request, `/v1/graph/events?type=${ACTIVITY_TYPES.join(',')}&limit=8`),
  ]);
  return { status, activity: activity.events };
}

export default function Dashboard() {
  const { status, activity } = useLoaderData<typeof loader>();
  const { connection, lastContact } = useLive();
  useLiveRevalidate();

  if (connection === 'unreachable') {
    return (
      <Box>
        <Line label="Status">Error ✗</Line>
        <Line label="Control Plane">Unreachable</Line>
        <Line label="Last Contact">
          <RelativeTime iso={lastContact ? new Date(lastContact).toISOString() : null} />
        </Line>
        <div className="mt-4 space-y-1">
          <p>Unable to fetch system status.</p>
          <p className="font-medium">Check control plane health.</p>
        </div>
      </Box>
    );
  }

  const views = status.targets_detail;
  const breaker = status.status === 'blocked' ? views.find((v) => v.reason === 'circuit_breaker_open') : undefined;
  const maxPrs = status.status === 'blocked' && !breaker ? views.find((v) => v.reason === 'max_open_prs') : undefined;
  const atMax = status.open_prs.max > 0 && status.open_prs.open >= status.open_prs.max;

  return (
    <div className="space-y-6">
      <Box>
        <Line label="Status" testId="status-label">
          {status.label}
        </Line>
        <Line label="Targets" testId="targets-line">
          {status.targets_line.text}
        </Line>
        <Line label="Open PRs">
          {status.open_prs.open}/{status.open_prs.max}
          {atMax && ' (MAX REACHED)'}
        </Line>
        <Line label="Ready Tasks">{status.ready_tasks}</Line>
        <Line label="Last Execution">
          <RelativeTime iso={status.last_execution_at} />
        </Line>

        <div className="mt-4 space-y-1" data-testid="headline">
          {breaker ? <BreakerLines view={breaker} /> : status.status !== 'healthy' && <p>{status.headline}</p>}
          {status.action && !breaker && <p className="font-medium">{status.action}</p>}
        </div>

        {maxPrs && (
          <Section title="Open PRs">
            {views.flatMap((v) =>
              v.open_prs.map((pr) => (
                <li key={`${v.id}#${pr.number}`}>
                  •{' '}
                  <a className="text-teal-700 underline" href={prUrl(v.id, pr.number)}>
                    PR #{pr.number}
                  </a>
                  {pr.task_id ? ` (${pr.task_id})` : pr.title ? ` (${pr.title})` : ''}
                </li>
              )),
            )}
          </Section>
        )}

        {breaker && (
          <Section title="Recent Failures">
            {breaker.recent_attempts
              .filter((a) => a.state === 'failed')
              .slice(0, 5)
              .map((a) => (
                <li key={a.attempt_id}>
                  <span className="text-red-700">✗</span> <RelativeTime iso={a.ended_at ?? a.created_at} short />: {a.task_id} ({(a.failure_type ?? 'failure').replace(/_/g, ' ')})
                </li>
              ))}
          </Section>
        )}

        <Section title="Recent Activity">
          {activity.length === 0 && <li className="text-slate-500">No events yet.</li>}
          {activity.map((e) => {
            const d = describeEvent(e);
            return (
              <li key={e.seq}>
                <span className={markClass(d.mark)}>{d.mark}</span> <RelativeTime iso={e.time} short />: {d.text}
              </li>
            );
          })}
        </Section>
      </Box>

      <section>
        <h2 className="mb-2 text-lg font-semibold">Targets</h2>
        {views.length === 0 ? (
          <p className="text-slate-600">No targets yet. Install the GitHub App on a repository with a .leviathan/backlog.yaml.</p>
        ) : (
          <table className="w-full overflow-hidden rounded-lg border border-slate-200 bg-white text-sm">
            <thead className="bg-slate-100 text-left text-slate-600">
              <tr>
                <th className="px-3 py-2">Target</th>
                <th className="px-3 py-2">State</th>
                <th className="px-3 py-2">Why</th>
                <th className="px-3 py-2">Open PRs</th>
                <th className="px-3 py-2">Ready</th>
              </tr>
            </thead>
            <tbody>
              {views.map((v) => (
                <tr key={v.id} className="border-t border-slate-100 align-top" data-testid={`target-row-${v.id}`}>
                  <td className="px-3 py-2">
                    <Link className="text-teal-700 underline" to={`/targets/${v.id}`}>
                      {v.id}
                    </Link>
                  </td>
                  <td className="px-3 py-2">
                    <StatusBadge status={v.status} />
                  </td>
                  <td className="px-3 py-2">
                    <div>{v.headline}</div>
                    {v.action && <div className="text-slate-500">{v.action}</div>}
                  </td>
                  <td className="px-3 py-2">
                    {v.open_prs.length}/{v.max_open_prs}
                  </td>
                  <td className="px-3 py-2">{v.ready_tasks}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

function BreakerLines({ view }: { view: TargetView }) {
  return (
    <>
      <p>Circuit breaker tripped after {view.breaker.consecutive_failures} consecutive failures.</p>
      <p>
        Cooldown expires <RelativeTime iso={view.breaker.cooldown_until} />.
      </p>
      {view.action && <p className="font-medium">{view.action}</p>}
    </>
  );
}

function Box({ children }: { children: React.ReactNode }) {
  return (
    <section className="rounded-lg border border-slate-300 bg-white font-mono text-sm shadow-sm" data-testid="dashboard">
      <h1 className="border-b border-slate-200 px-4 py-2 text-base font-semibold">Leviathan Dashboard</h1>
      <div className="px-4 py-3">{children}</div>
    </section>
  );
}

function Line({ label, children, testId }: { label: string; children: React.ReactNode; testId?: string }) {
  return (
    <p data-testid={testId}>
      {label}: {children}
    </p>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <div className="mt-4">
      <p>{title}:</p>
      <ul className="ml-4 space-y-0.5">{children}</ul>
    </div>
  );
}
