import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, toErrorBody } from './errors.ts';

/** Reads the whole body, refusing (413) as soon as it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new ApiError('payload_too_large', `Body is ${declared} bytes; the limit is ${limit}.`));
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // Listeners rather than `for await`: the async iterator costs a few microseconds per request,
  // a tenth of a small ingest's whole budget.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.resume();
        reject(new ApiError('payload_too_large', `Body exceeds the limit of ${limit} bytes.`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    // A client that goes away mid-body: the request is aborted, never ended.
    const onClose = () => {
      if (!req.complete) onError(new Error('request aborted'));
    };
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Parses a JSON body, answering 415 for other content types and 400 for invalid JSON. A body sent
 * as curl's default `-d` type (application/x-www-form-urlencoded), or with none, is taken when it
 * is JSON: the operator document's own curl examples send it so. That opens nothing to other
 * sites: the API takes a bearer token, and a console session must send its x-csrf-token header.
 */
export async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const type = mediaType(req);
  const lenient = type === '' || type === 'application/x-www-form-urlencoded';
  if (type !== 'application/json' && !lenient) {
    throw new ApiError('unsupported_media_type', `Content-Type must be application/json (got ${type}).`);
  }
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    if (lenient) throw new ApiError('unsupported_media_type', `Content-Type must be application/json (got ${type || 'none'}), and the body is not JSON either.`);
    throw new ApiError('invalid_json', `Body is not valid JSON: ${(err as Error).message}`);
  }
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * What a client sent, shortened for an error message: a 10 kB path echoed back whole would make
 * the answer as large as the mistake (and the log line with it).
 */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = toErrorBody(err);
  const headers: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer realm="leviathan"' } : {};
  const allow = status === 405 ? body.error.allow : undefined;
  if (Array.isArray(allow)) headers.allow = allow.join(', ');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body, headers);
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/**
 * A small method + path router. Patterns use `:name` segments; `:name*` matches the rest of the
 * path (graph node ids contain slashes and `#`).
 */
export class Router {
  private readonly routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const source = path
      .split('/')
      .map((seg) => {
        const m = /^:(\w+)(\*)?$/.exec(seg);
        if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        keys.push(m[1]!);
        return m[2] ? '(.+)' : '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  /** Finds the route; 405 when the path exists for other methods, null when no path matches. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } | null {
    let pathExists = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(pathname);
      if (!m) continue;
      pathExists = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        try {
          params[k] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw new ApiError('invalid_request', `Malformed percent-encoding in the path: ${clip(pathname)}`);
        }
      });
      return { handler: r.handler, params };
    }
    if (pathExists) {
      // Only a 405 needs the Allow list, so it is built here, off the hot path.
      const allow = new Set<string>();
      for (const r of this.routes) {
        if (!r.pattern.test(pathname)) continue;
        allow.add(r.method);
        if (r.method === 'GET') allow.add('HEAD');
      }
      const methods = [...allow].sort();
      throw new ApiError('method_not_allowed', `${method} is not allowed on ${clip(pathname)}; use ${methods.join(', ')}.`, { allow: methods });
    }
    return null;
  }
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * The epoch milliseconds of an ISO 8601 time (a date, or a date and time with an optional zone),
 * or null when the value is not one. Date.parse alone takes "Tuesday 1" and "1" too, which only hides
 * a client's mistake behind a surprising filter. A time without a zone is UTC, as a date alone
 * is: Date.parse would read it in the server's own zone, so the same query would select other
 * events on another machine. A day the calendar lacks (February 30) is refused, not rolled over.
 */
export function isoTimeMs(value: string): number | null {
  const m = ISO_TIME.exec(value);
  if (!m) return null;
  const t = Date.parse(m[4] !== undefined && m[5] === undefined ? `${value}Z` : value);
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  const realDay = calendar.getUTCFullYear() === year && calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  return Number.isNaN(t) || !realDay ? null : t;
}

/** A query parameter that must be an ISO 8601 time (see isoTimeMs), as its UTC ISO string. */
export function parseIsoTime(name: string, value: string): string {
  const t = isoTimeMs(value);
  if (t === null) throw new ApiError('invalid_request', `${name} must be an ISO 8601 time such as 2026-12-07T12:00:00Z (got "${clip(value, 100)}").`);
  return new Date(t).toISOString();
}
