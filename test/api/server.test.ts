import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Router, sendJson } from '../../src/api/http.ts';
import { createHttpServer } from '../../src/api/server.ts';

let close: (() => Promise<void>) | null = null;

afterEach(async () => {
  await close?.();
  close = null;
});

async function start(): Promise<string> {
  const router = new Router().on('GET', '/v1/echo/:rest*', ({ res, url, params }) => {
    sendJson(res, 200, { pathname: url.pathname, search: url.search, q: url.searchParams.get('q'), rest: params.rest });
  });
  const server = createHttpServer({ router, mounts: [], logger: pino({ level: 'silent' }) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('createHttpServer', () => {
  it('routes on the URL pathname and hands handlers the parsed URL', async () => {
    const base = await start();
    for (const path of ['/v1/echo/a/b', '/v1/echo/a//b', '/v1/echo/a%20b', '/v1/echo/é', '/v1/echo/a..b', '/v1/echo/~x_y-z.']) {
      for (const query of ['', '?q=1', '?q=%20x&r', '?']) {
        const res = await fetch(`${base}${path}${query}`);
        expect(res.status).toBe(200);
        const expected = new URL(`${path}${query}`, 'http://localhost');
        expect(await res.json()).toEqual({
          pathname: expected.pathname,
          search: expected.search,
          q: expected.searchParams.get('q'),
          rest: decodeURIComponent(expected.pathname.slice('/v1/echo/'.length)),
        });
      }
    }
    expect((await fetch(`${base}/v1/nothing`)).status).toBe(404);
    // Sent as is (fetch would resolve the dot segment first).
    const status = await new Promise<number | undefined>((resolve, reject) =>
      get({ host: '127.0.0.1', port: new URL(base).port, path: '/v1/echo/../x' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject),
    );
    expect(status).toBe(400);
  });

});
