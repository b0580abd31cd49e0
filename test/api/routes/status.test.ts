import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOKEN, startTestControlPlane, type TestControlPlane } from '../../helpers/control-plane.ts';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane();
});
afterAll(async () => {
  await cp.destroy();
});

describe('health and status', () => {
  it.each(['/health', '/v1/health'])('%s is open and reports the store', async (path) => {
    const res = await cp.api(path, { token: null });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; version: string; store: { writable: boolean; kind: string } };
    expect(body).toMatchObject({ status: 'ok', version: expect.any(String), store: { writable: true, kind: 'file' } });
  });

  it('autonomy status is off until enabled, and says so', async () => {
    const off = (await (await cp.api('/v1/autonomy/status', { token: READ_TOKEN })).json()) as { enabled: boolean; source: string; reason: string };
    expect(off).toMatchObject({ enabled: false, source: 'default' });
    expect(off.reason).toContain('autonomy is off');
    await cp.api('/v1/events', { method: 'POST', json: { type: 'autonomy.enabled', data: { reason: 'go live' } } });
    const on = (await (await cp.api('/v1/autonomy/status')).json()) as { enabled: boolean; changed_by: string; reason: string };
    expect(on).toMatchObject({ enabled: true, reason: 'go live', changed_by: expect.stringMatching(/^token:/) });
    expect((await cp.api('/v1/autonomy/status', { token: null })).status).toBe(401);
  });

  it('a path with broken percent-encoding answers 400 JSON, not 500', async () => {
    const res = await cp.api('/v1/targets/acme/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('unknown paths answer 404 JSON', async () => {
    const res = await cp.api('/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No route for GET /v1/nothing-here.' } });
  });
});
