import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { parseExposition, valueOf } from './exposition.ts';

let cp: TestControlPlane;
let metricsUrl: string;

beforeAll(async () => {
  cp = await startTestControlPlane({ env: { LEVIATHAN_METRICS_PORT: '0' } });
  metricsUrl = cp.metricsUrl!;
  await cp.api('/v1/events', {
    method: 'POST',
    json: [
      { type: 'target.registered', target: 'acme/web', data: { installation_id: 1 } },
      { type: 'pr.created', target: 'acme/web', data: { number: 4, task_id: 'a' } },
    ],
  });
});
afterAll(async () => {
  await cp?.destroy();
});

/** A raw GET, to see the bytes and headers exactly as sent. */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

describe('the metrics port (LEVIATHAN_METRICS_PORT)', () => {
  it('is a second listener, not the main port', () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metricsUrl).not.toBe(cp.url);
  });

  it('serves /metrics in the Prometheus text format, without a token', async () => {
    const res = await rawGet(`${metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const exp = parseExposition(res.body.toString());
    expect(valueOf(exp, 'leviathan_spider_up')).toBe(1);
    expect(valueOf(exp, 'leviathan_target_open_prs', { target: 'acme/web' })).toBe(1);
    expect(exp.type.get('process_resident_memory_bytes')).toBe('gauge');
  });

  it('answers uncompressed even when gzip is offered (Prometheus always offers it)', async () => {
    const res = await rawGet(`${metricsUrl}/metrics`, { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(valueOf(parseExposition(res.body.toString()), 'leviathan_target_open_prs', { target: 'acme/web' })).toBe(1);
  });

  it('serves /health with the same body as the main port', async () => {
    const res = await fetch(`${metricsUrl}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; version: string; store: { writable: boolean } };
    expect(body).toMatchObject({ status: 'ok', store: { writable: true } });
    const main = (await (await fetch(`${cp.url}/health`)).json()) as { version: string };
    expect(body.version).toBe(main.version);
  });

  it.each(['/', '/v1/targets', '/v1/health', '/v1/events', '/metrics/extra', '/healthz'])('answers %s with a JSON 404 and nothing else', async (path) => {
    const res = await fetch(`${metricsUrl}${path}`, { headers: { authorization: 'Bearer test-write-token-0123456789' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('refuses methods other than GET on /metrics with a JSON 405', async () => {
    const res = await fetch(`${metricsUrl}/metrics`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });
});

describe('GET /metrics on the main port', () => {
  it('needs no token and serves the same leviathan_* series', async () => {
    const main = parseExposition(await (await fetch(`${cp.url}/metrics`)).text());
    const spider = parseExposition(await (await fetch(`${metricsUrl}/metrics`)).text());
    const leviathan = (e: typeof main) => e.samples.filter((s) => s.name.startsWith('leviathan_'));
    expect(leviathan(main).length).toBeGreaterThan(10);
    expect(leviathan(main)).toEqual(leviathan(spider));
  });

  it('leaves the metrics port off when the variable is unset, and closes it on shutdown', async () => {
    const plain = await startTestControlPlane();
    expect(plain.metricsUrl).toBeNull();
    await plain.destroy();

    const withPort = await startTestControlPlane({ env: { LEVIATHAN_METRICS_PORT: '0' } });
    const url = withPort.metricsUrl!;
    expect((await fetch(`${url}/health`)).status).toBe(200);
    await withPort.destroy();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
