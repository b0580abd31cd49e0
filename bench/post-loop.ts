import { Agent, request } from 'node:http';

export interface LoopResult {
  requests: number;
  non2xx: number;
  errors: number;
  /** Wall time from the first request sent to the last answer read, ms. */
  elapsedMs: number;
}

/**
 * POSTs `body` over `connections` keep-alive connections, each sending its next request as soon as
 * the previous answer is read, for `seconds` (then waits for the requests in flight). For large
 * bodies: autocannon settles a run only on its once-a-second tick, so a fixed amount of 1000-event
 * batches read as whole seconds and capped the figure; this times the run itself.
 */
export async function postLoop(opts: { url: string; path: string; headers: Record<string, string>; body: string; connections: number; seconds: number }): Promise<LoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const body = Buffer.from(opts.body);
  const headers = { ...opts.headers, 'content-length': String(body.length) };
  const { hostname, port } = new URL(opts.url);
  const result: LoopResult = { requests: 0, non2xx: 0, errors: 0, elapsedMs: 0 };
  const once = () =>
    new Promise<void>((resolve) => {
      const req = request({ agent, hostname, port, path: opts.path, method: 'POST', headers }, (res) => {
        if (res.statusCode! < 200 || res.statusCode! >= 300) result.non2xx++;
        res.resume();
        res.once('end', () => {
          result.requests++;
          resolve();
        });
      });
      req.once('error', () => {
        result.errors++;
        resolve();
      });
      req.end(body);
    });
  const t0 = performance.now();
  const until = t0 + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      while (performance.now() < until && result.errors === 0) await once();
    }),
  );
  result.elapsedMs = performance.now() - t0;
  agent.destroy();
  return result;
}
