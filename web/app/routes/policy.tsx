import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { Form, Link, useActionData, useLoaderData, useNavigation } from '@remix-run/react';
import { apiGet, apiGetResult, apiPost, field, readActionForm, targetPath } from '../api.server.ts';
import type { TargetView } from '../api-types.ts';
import { CsrfField } from '../components/csrf.tsx';
import { policyEditor, policyProblem, submittedText } from '../policy.server.ts';

export const meta: MetaFunction = () => [{ title: 'Policy · Leviathan' }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  const { targets } = await apiGet<{ targets: TargetView[] }>(context, request, '/v1/targets');
  const selected = targets.find((t) => t.id === url.searchParams.get('target')) ?? targets[0] ?? null;
  const editor = selected ? await policyEditor(context, request, selected) : null;
  return { targets: targets.map((t) => t.id), selected, editor };
}

interface ActionResult {
  ok: boolean;
  message: string;
  url: string | null;
  /** The refused text, kept for the owner to copy when the editor reloads under them. */
  draft?: string;
}

/**
 * Opens a pull request changing .leviathan/policy.yaml (through the /v1 route); never writes the
 * repository. The text is checked with the scheduler's own parser first, and goes with the blob
 * sha it was edited from, so a file changed meanwhile is never replaced unseen.
 */
export async function action({ context, request }: ActionFunctionArgs): Promise<ActionResult> {
  const form = await readActionForm(context, request);
  const target = field(form, 'target');
  const reason = field(form, 'reason');
  const base = field(form, 'base');
  const policy = submittedText(String(form.get('policy_yaml') ?? ''), field(form, 'eol'));
  if (!reason) return { ok: false, message: 'A reason is required.', url: null };
  const problem = policyProblem(policy);
  if (problem) return { ok: false, message: `Not proposed, ${problem}. Nothing was sent to GitHub.`, url: null };
  if (base !== 'none' && !/^[0-9a-f]{40,64}$/.test(base)) {
    // The editor had no file to start from; say why it still cannot (no App, no permission, GitHub down).
    const r = await apiGetResult(context, request, `${targetPath(target)}/policy/file`);
    const why = r.ok ? 'The current .leviathan/policy.yaml has become readable: reload the page to edit its text.' : r.failure.message;
    return { ok: false, message: `Not proposed: ${why}`, url: null };
  }
  const r = await apiPost<{ pull_request: { number: number; url: string } }>(context, request, `${targetPath(target)}/policy/proposals`, {
    policy_yaml: policy,
    reason,
    via: 'console',
    base_sha: base === 'none' ? null : base,
  });
  if (!r.ok) return { ok: false, message: r.failure.message, url: null, ...(r.failure.code === 'conflict' ? { draft: policy } : {}) };
  return { ok: true, message: `Opened PR #${r.body.pull_request.number} to change the policy.`, url: r.body.pull_request.url };
}

/** Effective-policy keys (as `sources` names them) and how policy.yaml spells each one. */
const KEYS: ReadonlyArray<readonly [key: string, spelled: string]> = [
  ['max_open_prs', 'max_open_prs'],
  ['circuit_breaker.consecutive_failures', 'circuit_breaker.consecutive_failures'],
  ['circuit_breaker.cooldown_minutes', 'circuit_breaker.cooldown_minutes'],
  ['attempt_timeout_minutes', 'attempt_timeout_minutes'],
  ['max_attempts_per_task', 'safety_rules.max_attempts_per_task'],
  ['max_concurrent_attempts', 'safety_rules.max_concurrent_attempts'],
  ['max_tasks_per_day', 'safety_rules.max_tasks_per_day'],
  ['allowed_paths', 'allowed_paths'],
  ['forbidden_paths', 'forbidden_paths'],
  ['max_files_per_task', 'scope_constraints.<scope>.max_files_per_task'],
];

function valueOf(p: TargetView['policy'], key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), p);
}

export default function Policy() {
  const { targets, selected, editor } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  if (!selected || !editor) return <p className="text-slate-600">No targets yet.</p>;
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
            {KEYS.map(([key, spelled]) => (
              <tr key={key} className="border-t border-slate-100">
                <td className="py-1 font-mono text-xs">{spelled}</td>
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
        <p data-testid="policy-editor-source" className={`mt-2 rounded p-2 text-sm ${editor.state === 'unavailable' ? 'bg-amber-50 text-amber-900' : 'bg-slate-50 text-slate-700'}`}>
          {editor.state === 'file' && (
            <>
              The file as it is on {editor.ref} (blob {editor.base.slice(0, 7)}), comments included: what you do not change stays exactly as it is.
            </>
          )}
          {editor.state === 'starter' && (
            <>
              {selected.id} has no .leviathan/policy.yaml on {editor.ref}. This starter changes nothing as it stands: commented-out lines show today&apos;s values and where they come from; uncomment one to set it in
              the file.
            </>
          )}
          {editor.state === 'unavailable' && <>The current .leviathan/policy.yaml cannot be read, so there is nothing to edit: {editor.message}</>}
        </p>
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
        {result?.draft && (
          <details className="mt-2 text-sm">
            <summary>Your edited text (not proposed)</summary>
            <pre className="mt-1 overflow-x-auto rounded bg-slate-50 p-2 font-mono text-xs">{result.draft}</pre>
          </details>
        )}
        {/* Keyed by the blob it was edited from: a file changed meanwhile reloads the editor with its hidden base. */}
        <Form method="post" className="mt-2 space-y-2" key={`${selected.id}:${editor.base}`}>
          <CsrfField />
          <input type="hidden" name="target" value={selected.id} />
          <input type="hidden" name="base" value={editor.base} />
          <input type="hidden" name="eol" value={editor.eol} />
          <textarea
            name="policy_yaml"
            rows={Math.min(40, Math.max(10, editor.text.split('\n').length + 1))}
            defaultValue={editor.text}
            spellCheck={false}
            className="w-full rounded border border-slate-300 p-2 font-mono text-xs"
            aria-label="policy.yaml"
          />
          <input name="reason" required placeholder="Reason (required)" className="w-full rounded border border-slate-300 px-2 py-1 text-sm" />
          <button type="submit" disabled={busy} className="rounded bg-teal-700 px-3 py-1 text-sm text-white">
            Open pull request
          </button>
        </Form>
      </section>
    </div>
  );
}
