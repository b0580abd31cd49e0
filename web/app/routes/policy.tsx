import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { apiGet, apiPost, field, readActionForm, targetPath } from '../api.server.ts';
import type { TargetView } from '../api-types.ts';
import { CsrfField } from '../components/csrf.tsx';

export const meta: MetaFunction = () => [{ title: 'Policy · Leviathan' }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  const { targets } = await apiGet<{ targets: TargetView[] }>(context, request, '/v1/targets');
  const selected = targets.find((t) => t.id === url.searchParams.get('target')) ?? targets[0] ?? null;
  return { targets: targets.map((t) => t.id), selected };
}

/** Opens a pull request changing .leviathan/policy.yaml (through the /v1 route); never writes the repository. */
export async function action({ context, request }: ActionFunctionArgs) {
  const form = await readActionForm(context, request);
  const target = field(form, 'target');
  const reason = field(form, 'reason');
  const policy = String(form.get('policy_yaml') ?? '');
  if (!reason) return { ok: false, message: 'A reason is required.', url: null };
  const r = await apiPost<{ pull_request: { number: number; url: string } }>(context, request, `${targetPath(target)}/policy/proposals`, {
    policy_yaml: policy,
    reason,
    via: 'console',
  });
  if (!r.ok) return { ok: false, message: r.failure.message, url: null };
  return { ok: true, message: `Opened PR #${r.body.pull_request.number} to change the policy.`, url: r.body.pull_request.url };
}

/** Policy keys as policy.yaml spells them, in the order of the effective-policy table. */
const KEYS = [
  'max_open_prs',
  'circuit_breaker.consecutive_failures',
  'circuit_breaker.cooldown_minutes',
  'attempt_timeout_minutes',
  'max_attempts_per_task',
  'max_concurrent_attempts',
  'max_tasks_per_day',
  'allowed_paths',
  'forbidden_paths',
  'max_files_per_task',
] as const;

function valueOf(p: TargetView['policy'], key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), p);
}

/** A starting policy.yaml: the values that file sets today (others come from elsewhere). */
function draft(p: TargetView['policy']): string {
  const lines: string[] = ['# .leviathan/policy.yaml'];
  const cb: string[] = [];
  for (const key of KEYS) {
    if (p.sources[key] !== 'policy.yaml') continue;
    const v = valueOf(p, key);
    if (key.startsWith('circuit_breaker.')) cb.push(`  ${key.slice(16)}: ${JSON.stringify(v)}`);
    else lines.push(`${key}: ${JSON.stringify(v)}`);
  }
  if (cb.length) lines.push('circuit_breaker:', ...cb);
  if (lines.length === 1) lines.push(`max_open_prs: ${p.max_open_prs}`);
  return `${lines.join('\n')}\n`;
}

export default function Policy() {
  const { targets, selected } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  if (!selected) return <p className="text-slate-600">No targets yet.</p>;
  const p = selected.policy;
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold">Policy</h1>
        <nav className="flex flex-wrap gap-2 text-sm">
          {targets.map((t) => (
            <Link key={t} to={`/policy?target=${encodeURIComponent(t)}`} className={`rounded px-2 py-0.5 ${t === selected.id ? 'bg-teal-700 text-white' : 'border border-slate-300 bg-white'}`}>
              {t}
            </Link>
          ))}
        </nav>
      </div>
      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="font-semibold">Effective policy of {selected.id}</h2>
        <table className="mt-2 w-full text-sm">
          <thead className="text-left text-slate-500">
            <tr>
              <th className="py-1">Setting</th>
              <th>Value</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {KEYS.map((key) => (
              <tr key={key} className="border-t border-slate-100">
                <td className="py-1 font-mono text-xs">{key}</td>
                <td className="font-mono text-xs">{JSON.stringify(valueOf(p, key))}</td>
                <td>{p.sources[key] ?? 'default'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="mt-2 text-xs text-slate-500">Precedence: default &lt; global (ConfigMap) &lt; backlog.yaml (max_open_prs) &lt; policy.yaml.</p>
      </section>
      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="font-semibold">Propose a change</h2>
        <p className="text-sm text-slate-600">This opens a pull request changing .leviathan/policy.yaml; it takes effect when merged.</p>
        {result && (
          <p role="status" className={`mt-2 rounded p-2 text-sm ${result.ok ? 'bg-emerald-50 text-emerald-800' : 'bg-red-50 text-red-800'}`}>
            {result.message}{' '}
            {result.url && (
              <a className="underline" href={result.url}>
                {result.url}
              </a>
            )}
          </p>
        )}
        <Form method="post" className="mt-2 space-y-2">
          <CsrfField />
          <input type="hidden" name="target" value={selected.id} />
          <textarea name="policy_yaml" rows={10} defaultValue={draft(p)} key={selected.id} className="w-full rounded border border-slate-300 p-2 font-mono text-xs" aria-label="policy.yaml" />
          <input name="reason" required placeholder="Reason (required)" className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
          <button type="submit" disabled={busy} className="rounded bg-teal-700 px-3 py-1 text-sm text-white">
            Open pull request
          </button>
        </Form>
      </section>
    </div>
  );
}
