import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { apiGet, apiPost, field, readActionForm, targetPath } from '../api.server.ts';
import type { TargetView } from '../api-types.ts';
import { AttemptsChart } from '../components/attempts-chart.tsx';
import { ContractSection } from '../components/contract-section.tsx';
import { CsrfField, useSession } from '../components/csrf.tsx';
import { useLiveRevalidate } from '../components/live.tsx';
import { RelativeTime } from '../components/relative-time.tsx';
import { prUrl, StatusBadge } from '../components/status.tsx';

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.target.id ?? 'Target'} · Leviathan` }];

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const id = `${params.owner}/${params.repo}`;
  return apiGet<{ target: TargetView }>(context, request, targetPath(id));
}

interface ActionResult {
  intent: string;
  ok: boolean;
  message: string;
}

/** Every control goes through the /v1 route of the same name; the API records it with its actor. */
export async function action({ context, request, params }: ActionFunctionArgs): Promise<ActionResult> {
  const form = await readActionForm(context, request);
  const id = `${params.owner}/${params.repo}`;
  const intent = field(form, 'intent');
  const reason = field(form, 'reason');
  if (intent === 'pause') {
    if (!reason) return { intent, ok: false, message: 'A reason is required to pause.' };
    const r = await apiPost(context, request, `${targetPath(id)}/pause`, { reason, via: 'console' });
    return r.ok ? { intent, ok: true, message: `Paused ${id}.` } : { intent, ok: false, message: r.failure.message };
  }
  if (intent === 'resume' || intent === 'reset-breaker') {
    const path = intent === 'resume' ? 'resume' : 'breaker/reset';
    const r = await apiPost(context, request, `${targetPath(id)}/${path}`, { via: 'console', ...(reason ? { reason } : {}) });
    const done = intent === 'resume' ? `Resumed ${id}.` : 'Circuit breaker reset.';
    return r.ok ? { intent, ok: true, message: done } : { intent, ok: false, message: r.failure.message };
  }
  if (intent === 'trigger') {
    const task = field(form, 'task_id');
    if (!task) return { intent, ok: false, message: 'Choose a task to trigger.' };
    const r = await apiPost<{ attempt_id?: string; attempt?: { id?: string } }>(context, request, '/v1/tasks/trigger', {
      target: id,
      task_id: task,
      via: 'console',
      ...(reason ? { reason } : {}),
    });
    if (r.ok) return { intent, ok: true, message: `Triggered ${task}: attempt ${r.body.attempt_id ?? r.body.attempt?.id ?? '(created)'}.` };
    const f = r.failure;
    return { intent, ok: false, message: f.code === 'blocked' ? `Blocked: ${f.message}${f.reason ? ` (${f.reason})` : ''}` : f.message };
  }
  return { intent, ok: false, message: `Unknown action "${intent}".` };
}

export default function TargetDetail() {
  const { target: t } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const session = useSession();
  const busy = useNavigation().state === 'submitting';
  useLiveRevalidate();
  const queue = t.tasks.filter((x) => x.state !== 'completed');
  const canAct = session?.canWrite ?? false;

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold">{t.id}</h1>
        <StatusBadge status={t.status} />
        <a className="text-sm text-teal-700 underline" href={`https://github.com/${t.id}`}>
          on GitHub
        </a>
      </div>
      <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid="target-status">
        <p>
          <span className="text-slate-500">Status:</span> <span data-testid="target-state">{t.status}</span> <span className="text-slate-500">({t.reason})</span>
        </p>
        <p className="mt-1">{t.headline}</p>
        {t.action && <p className="font-medium">{t.action}</p>}
        {t.paused && (
          <p className="mt-2 text-sm text-sky-800">
            Paused by {t.paused.by} <RelativeTime iso={t.paused.at} />: {t.paused.reason}
          </p>
        )}
      </section>

      {result && (
        <p role="status" data-testid="action-result" className={`rounded p-3 text-sm ${result.ok ? 'bg-emerald-50 text-emerald-800' : 'bg-red-50 text-red-800'}`}>
          {result.message}
        </p>
      )}

      <section className="grid gap-4 md:grid-cols-2">
        <div className="rounded-lg border border-slate-200 bg-white p-4">
          <h2 className="font-semibold">Controls</h2>
          {!canAct && <p className="mt-1 text-sm text-amber-800">Your session is read-only: the control plane will refuse these actions.</p>}
          {/* Keys: the two forms must not share their reason field's typed text. */}
          {t.paused ? (
            <Form method="post" className="mt-3 space-y-2" key="resume">
              <CsrfField />
              <input type="hidden" name="intent" value="resume" />
              <input name="reason" placeholder="Reason (optional)" aria-label="Resume reason" className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
              <button type="submit" disabled={busy} className="rounded bg-teal-700 px-3 py-1 text-sm text-white">
                Resume
              </button>
            </Form>
          ) : (
            <Form method="post" className="mt-3 space-y-2" key="pause">
              <CsrfField />
              <input type="hidden" name="intent" value="pause" />
              <input name="reason" required placeholder="Reason (required)" aria-label="Pause reason" className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
              <button type="submit" disabled={busy} className="rounded bg-amber-600 px-3 py-1 text-sm text-white">
                Pause
              </button>
            </Form>
          )}
          <Form method="post" className="mt-4 space-y-2">
            <CsrfField />
            <input type="hidden" name="intent" value="trigger" />
            <select name="task_id" aria-label="Task to trigger" className="w-full rounded border border-slate-300 bg-white px-2 py-1 text-sm">
              {queue.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.id} — {x.state}
                </option>
              ))}
            </select>
            <input name="reason" placeholder="Reason (optional)" aria-label="Trigger reason" className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
            <button type="submit" disabled={busy || queue.length === 0} className="rounded bg-slate-800 px-3 py-1 text-sm text-white">
              Trigger task
            </button>
          </Form>
          {t.breaker.open && (
            <Form method="post" className="mt-4 space-y-2">
              <CsrfField />
              <input type="hidden" name="intent" value="reset-breaker" />
              <input name="reason" placeholder="Reason (optional)" aria-label="Reset reason" className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
              <button type="submit" disabled={busy} className="rounded border border-slate-300 px-3 py-1 text-sm">
                Reset circuit breaker
              </button>
            </Form>
          )}
        </div>

        <div className="rounded-lg border border-slate-200 bg-white p-4">
          <h2 className="font-semibold">Circuit breaker</h2>
          <p className="mt-1 text-sm" data-testid="breaker">
            {t.breaker.open ? (
              <>
                Open after {t.breaker.consecutive_failures} consecutive failures; cooldown ends{' '}
                <RelativeTime iso={t.breaker.cooldown_until} /> ({t.breaker.cooldown_until}).
              </>
            ) : (
              <>
                Closed ({t.breaker.consecutive_failures}/{t.breaker.threshold} consecutive failures).
              </>
            )}
          </p>
          <h2 className="mt-4 font-semibold">
            Open PRs ({t.open_prs.length}/{t.max_open_prs})
          </h2>
          <ul className="mt-1 text-sm">
            {t.open_prs.length === 0 && <li className="text-slate-500">None.</li>}
            {t.open_prs.map((pr) => (
              <li key={pr.number}>
                •{' '}
                <a className="text-teal-700 underline" href={prUrl(t.id, pr.number)}>
                  PR #{pr.number}
                </a>
                {pr.task_id ? ` (${pr.task_id})` : ''} {pr.title ? `— ${pr.title}` : ''}
              </li>
            ))}
          </ul>
        </div>
      </section>

      <ContractSection contract={t.contract} error={t.contract_error} />

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="font-semibold">Ready tasks ({t.ready_tasks})</h2>
        <table className="mt-2 w-full text-sm">
          <thead className="text-left text-slate-500">
            <tr>
              <th className="py-1">Task</th>
              <th>Priority</th>
              <th>State</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {queue.map((x) => (
              <tr key={x.id} className="border-t border-slate-100">
                <td className="py-1">
                  <Link className="text-teal-700 underline" to={`/graph?node=${encodeURIComponent(`task:${t.id}/${x.id}`)}`}>
                    {x.id}
                  </Link>
                </td>
                <td>{x.priority}</td>
                <td>{x.state}</td>
                <td>{x.explanation}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="font-semibold">Attempts</h2>
        <AttemptsChart attempts={t.recent_attempts} />
        <table className="mt-3 w-full text-sm">
          <thead className="text-left text-slate-500">
            <tr>
              <th className="py-1">Attempt</th>
              <th>Task</th>
              <th>State</th>
              <th>Failure type</th>
              <th>When</th>
            </tr>
          </thead>
          <tbody>
            {t.recent_attempts.map((a) => (
              <tr key={a.attempt_id} className="border-t border-slate-100">
                <td className="py-1 font-mono text-xs">
                  <Link className="text-teal-700 underline" to={`/graph?node=${encodeURIComponent(`attempt:${a.attempt_id}`)}`}>
                    {a.attempt_id}
                  </Link>
                </td>
                <td>{a.task_id}</td>
                <td className={a.state === 'failed' ? 'text-red-700' : a.state === 'succeeded' ? 'text-emerald-700' : ''}>
                  {a.state}
                  {a.step && a.state !== 'succeeded' ? <span className="text-slate-500">{a.state === 'failed' ? ` at ${a.step}` : ` · ${a.step}`}</span> : null}
                </td>
                <td>{a.failure_type ?? ''}</td>
                <td>
                  <RelativeTime iso={a.ended_at ?? a.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
