import { redirect, type AppLoadContext } from '@remix-run/node';
import '../../src/console/load-context.ts';

/** An error body of the /v1 API: `{error: {code, message, …}}`. */
export interface ApiFailure {
  status: number;
  code: string;
  message: string;
  reason?: string;
}

function signInRedirect(request: Request): never {
  const u = new URL(request.url);
  throw redirect(`/sign-in?next=${encodeURIComponent(u.pathname + u.search)}`);
}

/** The signed-in session, or a redirect to the sign-in page. */
export function requireSession(context: AppLoadContext, request: Request) {
  if (!context.session) signInRedirect(request);
  return context.session;
}

/**
 * GET a /v1 resource as the signed-in user. 401 → sign in; other errors are thrown as the API's
 * own response so the error page shows its message.
 */
export async function apiGet<T>(context: AppLoadContext, request: Request, path: string): Promise<T> {
  requireSession(context, request);
  const res = await context.api(path);
  if (res.status === 401) signInRedirect(request);
  if (!res.ok) {
    throw new Response(await res.text(), { status: res.status, headers: { 'content-type': 'application/json' } });
  }
  return (await res.json()) as T;
}

/** Like apiGet, but a missing resource (404) is null, for optional parts of a page. */
export async function apiGetOptional<T>(context: AppLoadContext, request: Request, path: string): Promise<T | null> {
  requireSession(context, request);
  const res = await context.api(path);
  if (res.status === 401) signInRedirect(request);
  if (res.status === 404 || res.status === 405) return null;
  if (!res.ok) throw new Response(await res.text(), { status: res.status, headers: { 'content-type': 'application/json' } });
  return (await res.json()) as T;
}

/** A /v1 answer as data: the body when it succeeded, the API's own error otherwise. */
export type ApiResult<T> = { ok: true; status: number; body: T } | { ok: false; failure: ApiFailure };

async function asResult<T>(request: Request, res: Response): Promise<ApiResult<T>> {
  if (res.status === 401) signInRedirect(request);
  const body = (await res.json().catch(() => null)) as ({ error?: { code?: string; message?: string; reason?: string } } & T) | null;
  if (res.ok) return { ok: true, status: res.status, body: body as T };
  const e = body?.error;
  return {
    ok: false,
    failure: { status: res.status, code: e?.code ?? 'error', message: e?.message ?? `HTTP ${res.status}`, ...(e?.reason ? { reason: e.reason } : {}) },
  };
}

/** GET a /v1 resource as the signed-in user; failures come back as data, for parts of a page that can do without. */
export async function apiGetResult<T>(context: AppLoadContext, request: Request, path: string): Promise<ApiResult<T>> {
  requireSession(context, request);
  return asResult<T>(request, await context.api(path));
}

/** POST to /v1 as the signed-in user; failures come back as data for the form to show. */
export async function apiPost<T>(context: AppLoadContext, request: Request, path: string, json: unknown): Promise<ApiResult<T>> {
  requireSession(context, request);
  return asResult<T>(request, await context.api(path, { method: 'POST', json }));
}

/**
 * Reads a console form and checks its CSRF token against the session (synchronizer token). The
 * API checks the same token again on the forwarded request.
 */
export async function readActionForm(context: AppLoadContext, request: Request): Promise<FormData> {
  const session = requireSession(context, request);
  const form = await request.formData();
  const given = form.get('csrf');
  if (typeof given !== 'string' || given !== session.csrf) {
    throw new Response(JSON.stringify({ error: { code: 'forbidden', message: 'Missing or invalid CSRF token. Reload the page and try again.' } }), {
      status: 403,
      headers: { 'content-type': 'application/json' },
    });
  }
  return form;
}

export function field(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v.trim() : '';
}

/** `owner/repo` path segments of /v1/targets/:owner/:repo, escaped. */
export function targetPath(target: string): string {
  const [owner, repo] = target.split('/');
  return `/v1/targets/${encodeURIComponent(owner ?? '')}/${encodeURIComponent(repo ?? '')}`;
}
