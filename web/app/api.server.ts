import { redirect, type AppLoadContext } from '@remix-run/node';
import '../../src/console/load-context.ts';
import { sameToken } from '../../src/console/session.ts';

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

/** The largest console form taken: the policy editor's file is the biggest, and the API takes 64 KiB of JSON. */
export const MAX_FORM_BYTES = 128 * 1024;

function refuse(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { 'content-type': 'application/json' } });
}

/** The body, read up to `limit` bytes: `request.formData()` alone would buffer whatever a client sends. */
async function boundedBody(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get('content-length'));
  const tooLarge = () => refuse(413, 'payload_too_large', `The form exceeds the limit of ${limit} bytes.`);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

/**
 * Reads a console form and checks its CSRF token against the session (synchronizer token), in
 * constant time. This is the check that counts: the console forwards the action to the API with
 * the session's own token, so the API's check of it passes whatever the form carried.
 */
export async function readActionForm(context: AppLoadContext, request: Request): Promise<FormData> {
  const session = requireSession(context, request);
  const body = await boundedBody(request, MAX_FORM_BYTES);
  let form: FormData;
  try {
    form = await new Response(body, { headers: { 'content-type': request.headers.get('content-type') ?? '' } }).formData();
  } catch {
    throw refuse(400, 'invalid_form', 'The request is not a form (application/x-www-form-urlencoded or multipart/form-data).');
  }
  const given = form.get('csrf');
  if (typeof given !== 'string' || !sameToken(given, session.csrf)) {
    throw refuse(403, 'forbidden', 'Missing or invalid CSRF token. Reload the page and try again.');
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
