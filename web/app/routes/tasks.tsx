import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Link, useLoaderData, useSearchParams } from '@remix-run/react';
import { apiGet } from '../api.server.ts';
import type { TargetView } from '../api-types.ts';
import { useLiveRevalidate } from '../components/live.tsx';

export const meta: MetaFunction = () => [{ title: 'Task queue · Leviathan' }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  return apiGet<{ targets: TargetView[] }>(context, request, '/v1/targets');
}

const STATE_STYLE: Record<string, string> = {
  ready: 'text-emerald-700',
  running: 'text-sky-700',
  pr_open: 'text-sky-700',
  failed: 'text-red-700',
  waiting_on_dependencies: 'text-amber-700',
};

export default function Tasks() {
  const { targets } = useLoaderData<typeof loader>();
  const [params] = useSearchParams();
  const all = params.get('all') === '1';
  useLiveRevalidate();
  // The queue: tasks marked ready and not yet done; "all" shows every task of every backlog.
  const rows = targets.flatMap((t) =>
    t.tasks.filter((x) => all || (x.ready && x.state !== 'completed')).map((x) => ({ target: t, task: x })),
  );
  return (
    <div className="space-y-4">
      <div className="flex items-center gap-3">
        <h1 className="text-xl font-semibold">Task queue</h1>
        <Link className="text-sm text-teal-700 underline" to={all ? '/tasks' : '/tasks?all=1'}>
          {all ? 'Only ready tasks' : 'Show every task'}
        </Link>
      </div>
      <table className="w-full rounded-lg border border-slate-200 bg-white text-sm" data-testid="task-queue">
        <thead className="bg-slate-100 text-left text-slate-600">
          <tr>
            <th className="px-3 py-2">Target</th>
            <th className="px-3 py-2">Task</th>
            <th className="px-3 py-2">Priority</th>
            <th className="px-3 py-2">State</th>
            <th className="px-3 py-2">Why it is or is not running</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={5} className="px-3 py-2 text-slate-500">
                No ready tasks. Add tasks with ready: true to resume execution.
              </td>
            </tr>
          )}
          {rows.map(({ target, task }) => (
            <tr key={`${target.id}/${task.id}`} className="border-t border-slate-100 align-top">
              <td className="px-3 py-2">
                <Link className="text-teal-700 underline" to={`/targets/${target.id}`}>
                  {target.id}
                </Link>
              </td>
              <td className="px-3 py-2">
                <div className="font-medium">{task.id}</div>
                <div className="text-slate-500">{task.title}</div>
              </td>
              <td className="px-3 py-2">{task.priority}</td>
              <td className={`px-3 py-2 ${STATE_STYLE[task.state] ?? 'text-slate-600'}`}>{task.state.replace(/_/g, ' ')}</td>
              <td className="px-3 py-2">
                {task.explanation}
                {task.state === 'ready' && target.status !== 'active' && <div className="text-amber-700">Target is {target.status}: {target.headline}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
