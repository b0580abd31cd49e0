import type { LoaderFunctionArgs, MetaFunction } from '@remix-run/node';
import { useLoaderData } from '@remix-run/react';
import { requireSession } from '../api.server.ts';

export const meta: MetaFunction = () => [{ title: 'Commands · Leviathan' }];

interface CommandHelp {
  name: string;
  usage: string;
  description: string;
  who: string;
  examples: string[];
}

export async function loader({ context, request }: LoaderFunctionArgs) {
  requireSession(context, request);
  const res = await context.api('/v1/commands');
  if (!res.ok) {
    // Not a reason to sign in again or fail the page: the help is simply not available here.
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    return { commands: null, problem: body?.error?.message ?? `The slash-command registry is not available (HTTP ${res.status}).` };
  }
  const { commands } = (await res.json()) as { commands: CommandHelp[] };
  return { commands, problem: null };
}

export default function Commands() {
  const { commands, problem } = useLoaderData<typeof loader>();
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Slash commands</h1>
      <p className="text-sm text-slate-600">Comment these on an issue or pull request of a target repository.</p>
      {problem && <p className="rounded bg-amber-50 p-3 text-sm text-amber-800">{problem}</p>}
      {commands && (
        <table className="w-full rounded-lg border border-slate-200 bg-white text-sm" data-testid="commands">
          <thead className="bg-slate-100 text-left text-slate-600">
            <tr>
              <th className="px-3 py-2">Command</th>
              <th className="px-3 py-2">What it does</th>
              <th className="px-3 py-2">Who may use it</th>
              <th className="px-3 py-2">Examples</th>
            </tr>
          </thead>
          <tbody>
            {commands.map((c) => (
              <tr key={c.name} className="border-t border-slate-100 align-top">
                <td className="px-3 py-2 font-mono text-xs">{c.usage}</td>
                <td className="px-3 py-2">{c.description}</td>
                <td className="px-3 py-2">{c.who === 'write' ? 'write, maintain or admin' : 'anyone who can comment'}</td>
                <td className="px-3 py-2 font-mono text-xs">
                  {c.examples.map((e) => (
                    <div key={e}>{e}</div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
