import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ApiError, toErrorBody } from './errors.ts';
import { clip, sendError, type Router } from './http.ts';

/** A handler mounted before the router: answers and returns true, or returns false to pass. */
export type Mount = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * One node:http server for everything on the main port: the /v1 router, then the mounts (webhooks,
 * metrics), which get the raw request — the webhook signature is computed over the exact bytes, so
 * nothing parses a body before them — then the console.
 */
export function createHttpServer(opts: { router: Router; mounts: Mount[]; fallback?: Mount; logger: Logger }): Server {
  const server = createServer(async (req, res) => {
    // The access log is at debug: no listener (nor closure, nor clock read) per request when it is off.
    if (opts.logger.isLevelEnabled('debug')) {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // Paths only: query strings may carry filters but never secrets; headers are not logged.
        opts.logger.debug({ method: req.method, path: req.url?.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'HTTP request');
      });
    }
    try {
      const raw = (req.url ?? '/').split('?')[0]!;
      // Dot segments would let a path checked in one form be routed in another; no client needs them.
      if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(raw)) throw new ApiError('invalid_request', 'Dot segments are not allowed in request paths.');
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        throw new ApiError('invalid_request', 'Malformed request path.');
      }
      // The router first: its paths are /v1/… and /health, never a mount's, and the hottest route
      // (POST /v1/events) is then not made to wait for a promise per mount.
      const match = opts.router.match(req.method ?? 'GET', url.pathname);
      if (match) {
        await match.handler({ req, res, url, params: match.params });
        return;
      }
      for (const mount of opts.mounts) if (await mount(req, res)) return;
      if (opts.fallback && !url.pathname.startsWith('/v1/') && (await opts.fallback(req, res))) return;
      throw new ApiError('not_found', `No route for ${req.method} ${clip(url.pathname)}.`);
    } catch (err) {
      // A refusal the client caused (an OperationError's 404/409, …) is not the server failing.
      if (!(err instanceof ApiError) && toErrorBody(err).status >= 500) opts.logger.error({ err, path: clip(req.url?.split('?')[0] ?? '') }, 'Request failed');
      sendError(res, err);
    }
  });
  // Node answers what never reaches the handler (headers over 16 KiB, a malformed request line)
  // itself, with an empty body; answer in the API's own error shape instead.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'invalid_request', 'Request headers are too large (16 KiB at most).']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'invalid_request', 'The request took too long to arrive.']
          : [400, 'invalid_request', 'Malformed HTTP request.'];
    const body = JSON.stringify({ error: { code, message } });
    const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  // Slow-loris protection without cutting long-lived SSE streams (those send heartbeats).
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  return server;
}
