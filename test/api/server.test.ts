import { get } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
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

  it('answers 405 with an Allow header naming the methods the path takes', async () => {
    const base = await start();
    const res = await fetch(`${base}/v1/echo/x`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.json()).toEqual({ error: { code: 'method_not_allowed', message: 'DELETE is not allowed on /v1/echo/x; use GET, HEAD.', allow: ['GET', 'HEAD'] } });
  });

  it('does not echo a 10 kB path back whole', async () => {
    const base = await start();
    const res = await fetch(`${base}/v1/${'a'.repeat(10_000)}`);
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text.length).toBeLessThan(400);
    expect(JSON.parse(text).error.message).toMatch(/… \(10004 characters\)\.$/);
  });

  it('answers what Node refuses before the handler (headers over 16 KiB) in the API error shape', async () => {
    const base = await start();
    // A raw socket: an HTTP client would still be sending the headers when the answer comes.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () => {
        socket.write(`GET /v1/echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', (err) => (text ? resolve(text) : reject(err)));
    });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(body!)).toEqual({ error: { code: 'invalid_request', message: 'Request headers are too large (16 KiB at most).' } });
  });
});
