import { request } from 'node:http';
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

  it('/v1/status gives the dashboard verdict, the per-status counts and the Targets line', async () => {
    const target = (id: string, installation: number) => [
      { type: 'target.registered', target: id, subject: `target:${id}`, data: { installation_id: installation, default_branch: 'main' } },
      {
        type: 'backlog.synced',
        target: id,
        subject: `target:${id}`,
        data: { tasks: [{ id: 'a', title: 'A', priority: 'medium', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'] }] },
      },
    ];
    for (const json of [
      { type: 'autonomy.enabled', data: { reason: 'status test' } },
      ...target('acme/ok', 1),
      ...target('acme/tripped', 2),
      {
        type: 'circuit_breaker.tripped',
        target: 'acme/tripped',
        subject: 'target:acme/tripped',
        data: { consecutive_failures: 2, cooldown_until: new Date(Date.now() + 30 * 60_000).toISOString() },
      },
    ]) {
      expect((await cp.api('/v1/events', { method: 'POST', json })).status).toBeLessThan(300);
    }
    const body = (await (await cp.api('/v1/status', { token: READ_TOKEN })).json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      label: 'Healthy ✓',
      targets: { total: 2, active: 1, idle: 0, blocked: 1, paused: 0, error: 0 },
      targets_line: { active: 1, blocked: 1, paused: 0, error: 0, text: '1 active, 1 blocked' },
    });
  });

  it('a path with broken percent-encoding answers 400 JSON, not 500', async () => {
    const res = await cp.api('/v1/targets/acme/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it.each(['/v1/targets/../autonomy/resume', '/v1/targets/%2e%2e/autonomy/resume', '/v1/./status'])(
    'refuses dot segments (%s) before any route or mount sees them',
    async (path) => {
      // node:http sends the path as written (fetch would resolve the dots first, as browsers do).
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: cp.port, path, method: 'POST', headers: { authorization: 'Bearer x' } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(400);
      expect((JSON.parse(body) as { error: { code: string } }).error.code).toBe('invalid_request');
    },
  );

  it('unknown paths answer 404 JSON', async () => {
    const res = await cp.api('/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No route for GET /v1/nothing-here.' } });
  });
});
