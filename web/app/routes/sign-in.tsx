import { safeNext } from '../../../src/console/safe-next.ts';
import { data, redirect, type LoaderFunctionArgs } from '@remix-run/node';
import { useLoaderData } from '@remix-run/react';

const ERRORS: Record<string, string> = {
  invalid_token: 'That token is not valid. Paste a token from LEVIATHAN_API_TOKEN (or the generated api-token file).',
  csrf: 'The sign-in form expired. Please try again.',
  oauth_state: 'Sign-in with GitHub was refused: the request did not come from this browser (state mismatch). Please try again.',
  oauth_failed: 'GitHub sign-in failed. Please try again; if it keeps failing, check the control plane logs.',
  oauth_not_configured: 'Sign in with GitHub is not configured on this control plane.',
  no_access: 'Your GitHub account has no access to any repository Leviathan manages, nor to an allowed organisation.',
};

export async function loader({ context, request }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  const next = url.searchParams.get('next') ?? '/';
  if (context.session) throw redirect(safeNext(next));
  const { csrf, setCookie } = context.issueLoginCsrf();
  const code = url.searchParams.get('error');
  return data(
    { csrf, next, oauth: context.oauthEnabled, error: code ? (ERRORS[code] ?? 'Sign-in failed.') : null },
    { headers: { 'set-cookie': setCookie, 'cache-control': 'no-store' } },
  );
}

export default function SignIn() {
  const { csrf, next, oauth, error } = useLoaderData<typeof loader>();
  return (
    <main className="mx-auto mt-24 max-w-md rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
      <h1 className="text-2xl font-semibold text-teal-800">Leviathan</h1>
      <p className="mt-1 text-slate-600">Sign in to the operator console.</p>
      {error && (
        <p role="alert" className="mt-4 rounded bg-red-50 p-3 text-sm text-red-800">
          {error}
        </p>
      )}
      {oauth && (
        <a
          href={`/auth/github?next=${encodeURIComponent(next)}`}
          className="mt-6 block rounded bg-slate-900 px-4 py-2 text-center font-medium text-white hover:bg-slate-700"
        >
          Sign in with GitHub
        </a>
      )}
      {/* A plain form: the server sets the session cookie and redirects. */}
      <form method="post" action="/auth/token" className="mt-6 space-y-3">
        <input type="hidden" name="csrf" value={csrf} />
        <input type="hidden" name="next" value={next} />
        <label className="block text-sm font-medium" htmlFor="token">
          {oauth ? 'Or sign in with an API token' : 'API token'}
        </label>
        <input
          id="token"
          name="token"
          type="password"
          required
          autoComplete="off"
          className="w-full rounded border border-slate-300 px-3 py-2 font-mono text-sm"
          placeholder="LEVIATHAN_API_TOKEN"
        />
        <button type="submit" className="w-full rounded bg-teal-700 px-4 py-2 font-medium text-white hover:bg-teal-800">
          Sign in
        </button>
        <p className="text-xs text-slate-500">Read-only tokens (read:…) can view but not act.</p>
      </form>
    </main>
  );
}
