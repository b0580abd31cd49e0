import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_TOKEN, startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../../helpers/control-plane.ts';

let cp: TestControlPlane;
const T = 'acme/web';

beforeAll(async () => {
  cp = await startTestControlPlane();
  await cp.api('/v1/events', {
    method: 'POST',
    json: [
      { type: 'autonomy.enabled', data: {} },
      { type: 'target.registered', target: T, data: { installation_id: 42, default_branch: 'main' } },
      {
        type: 'backlog.synced',
        target: T,
        data: { tasks: [{ id: 'docs', title: 'Docs', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'] }] },
      },
    ],
  });
});
afterAll(async () => {
  await cp.destroy();
});

type TargetBody = { target: { id: string; status: string; reason: string; headline: string; installation_id: number; paused: { by: string; reason: string } | null } };

describe('targets', () => {
  it('lists targets with status, reason and installation', async () => {
    const res = await cp.api('/v1/targets', { token: READ_TOKEN });
    const body = (await res.json()) as { targets: Array<TargetBody['target']> };
    expect(body.targets).toEqual([expect.objectContaining({ id: T, status: 'active', reason: 'ready', installation_id: 42 })]);
  });

  it('shows one target; unknown → 404', async () => {
    const body = (await (await cp.api(`/v1/targets/${T}`)).json()) as TargetBody;
    expect(body.target.id).toBe(T);
    // No contract.yaml: both present, both null.
    expect(body.target).toMatchObject({ contract: null, contract_error: null });
    const missing = await cp.api('/v1/targets/acme/nope');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('pause needs a reason, changes the state at once, and records the actor', async () => {
    const noReason = await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', json: {} });
    expect(noReason.status).toBe(422);
    const paused = await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', json: { reason: 'release freeze' } });
    expect(paused.status).toBe(200);
    const body = (await paused.json()) as TargetBody;
    expect(body.target).toMatchObject({ status: 'paused', reason: 'paused_by_operator' });
    expect(body.target.paused?.by).toMatch(/^token:/);
    const again = await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', json: { reason: 'again' } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('already_paused');

    const resumed = (await (await cp.api(`/v1/targets/${T}/resume`, { method: 'POST', json: { reason: 'done' } })).json()) as TargetBody;
    expect(resumed.target.status).toBe('active');
    expect((await cp.api(`/v1/targets/${T}/resume`, { method: 'POST', json: {} })).status).toBe(409);

    const audit = (await (await cp.api('/v1/graph/events?type=target.paused,target.resumed')).json()) as { events: Array<{ type: string; data: { via: string } }> };
    expect(audit.events.map((e) => [e.type, e.data.via])).toEqual([
      ['target.resumed', 'api'],
      ['target.paused', 'api'],
    ]);
  });

  it('five concurrent pauses are one pause and four 409s, not five overwriting events', async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => cp.api(`/v1/targets/${T}/pause`, { method: 'POST', json: { reason: `r${i}` } })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    await cp.api(`/v1/targets/${T}/resume`, { method: 'POST', json: {} });
  });

  it('refuses actions from read-only tokens and unknown targets', async () => {
    expect((await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', json: { reason: 'x' }, token: READ_TOKEN })).status).toBe(403);
    expect((await cp.api('/v1/targets/acme/nope/pause', { method: 'POST', json: { reason: 'x' } })).status).toBe(404);
    expect((await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', body: 'reason=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await cp.api(`/v1/targets/${T}/pause`, { method: 'GET' })).status).toBe(405);
  });

  it('refuses a literal null body (422) and records nothing: only an absent body counts as {}', async () => {
    const head = cp.store.health().head.seq;
    const res = await cp.api(`/v1/targets/${T}/breaker/reset`, { method: 'POST', body: 'null', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    expect(cp.store.health().head.seq).toBe(head);
  });

  it("takes JSON sent as curl's default -d type, as the operator document's examples send it, and nothing else under that type", async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const paused = await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', body: JSON.stringify({ reason: 'curl -d' }), headers: form });
    expect(paused.status).toBe(200);
    const refused = await cp.api(`/v1/targets/${T}/resume`, { method: 'POST', body: 'reason=x', headers: form });
    expect(refused.status).toBe(415);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toBe(
      'Content-Type must be application/json (got application/x-www-form-urlencoded), and the body is not JSON either.',
    );
    expect((await cp.api(`/v1/targets/${T}/resume`, { method: 'POST', json: {} })).status).toBe(200);
  });

  it('resets the circuit breaker', async () => {
    await cp.api('/v1/events', {
      method: 'POST',
      json: { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 2, cooldown_until: '2999-01-01T00:00:00Z' } },
    });
    expect(((await (await cp.api(`/v1/targets/${T}`)).json()) as TargetBody).target.reason).toBe('circuit_breaker_open');
    const reset = (await (await cp.api(`/v1/targets/${T}/breaker/reset`, { method: 'POST', json: { reason: 'fixed the flaky test' } })).json()) as TargetBody;
    expect(reset.target.status).toBe('active');
  });

  it('a reset of a closed breaker that counts no failures is 409 breaker_closed and records nothing', async () => {
    const head = cp.store.health().head.seq;
    const res = await cp.api(`/v1/targets/${T}/breaker/reset`, { method: 'POST', json: { reason: 'just in case' } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: unknown }).error).toEqual({
      code: 'breaker_closed',
      message: `${T}'s circuit breaker is closed and counts no failures: there is nothing to reset.`,
    });
    expect(cp.store.health().head.seq).toBe(head);

    // Closed but counting failures: the reset forgets them, so it is recorded.
    await cp.api('/v1/events', { method: 'POST', json: { type: 'attempt.failed', target: T, data: { attempt_id: 'bf-1', task_id: 'docs', failure_type: 'agent_error' } } });
    expect(((await (await cp.api(`/v1/targets/${T}`)).json()) as { target: { breaker: { consecutive_failures: number } } }).target.breaker.consecutive_failures).toBe(1);
    expect((await cp.api(`/v1/targets/${T}/breaker/reset`, { method: 'POST', json: {} })).status).toBe(200);
  });

  it('resume and breaker reset take a POST with no body at all, as autonomy resume does', async () => {
    const bare = (path: string) => fetch(`${cp.url}/v1/targets/${T}/${path}`, { method: 'POST', headers: { authorization: `Bearer ${WRITE_TOKEN}` } });
    expect((await cp.api(`/v1/targets/${T}/pause`, { method: 'POST', json: { reason: 'bare resume' } })).status).toBe(200);
    const resumed = await bare('resume');
    expect(resumed.status).toBe(200);
    expect(((await resumed.json()) as TargetBody).target.paused).toBeNull();

    await cp.api('/v1/events', { method: 'POST', json: { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 2, cooldown_until: '2999-01-01T00:00:00Z' } } });
    const reset = await bare('breaker/reset');
    expect(reset.status).toBe(200);
    expect(((await reset.json()) as TargetBody).target.status).toBe('active');
    // A pause still needs its reason: no body is {}, refused for what it lacks, not for its type.
    expect(((await (await bare('pause')).json()) as { error: { code: string; message: string } }).error).toEqual({ code: 'validation_failed', message: 'reason: Required' });
  });

  it('shows contract.yaml on the target: its documented fields as text, or why it was refused', async () => {
    const synced = (target: string, data: Record<string, unknown>) => [
      { type: 'target.registered', target, data: { installation_id: 43, default_branch: 'main' } },
      { type: 'backlog.synced', target, data: { tasks: [], ...data } },
    ];
    const posted = await cp.api('/v1/events', {
      method: 'POST',
      json: [
        ...synced('acme/contracted', {
          contract: { name: 'Contracted', purpose: 'Show it', definition_of_done: ['Tests pass'], quality_gates: ['npm test'], scope: 'docs', safety: { no: 'secrets' }, extra: '<b>x</b>' },
        }),
        ...synced('acme/refused', { contract_error: { line: 4, reason: 'definition_of_done must be a list of text, not a mapping' } }),
      ],
    });
    expect(posted.status).toBe(200);
    type ContractBody = { target: { status: string; contract: Record<string, unknown> | null; contract_error: string | null } };
    const good = (await (await cp.api('/v1/targets/acme/contracted', { token: READ_TOKEN })).json()) as ContractBody;
    expect(good.target.contract).toEqual({
      name: 'Contracted',
      purpose: 'Show it',
      definition_of_done: ['Tests pass'],
      scope: 'docs',
      safety: 'no: secrets',
      quality_gates: ['npm test'],
    });
    expect(good.target.contract_error).toBeNull();
    const bad = (await (await cp.api('/v1/targets/acme/refused', { token: READ_TOKEN })).json()) as ContractBody;
    expect(bad.target.contract).toBeNull();
    expect(bad.target.contract_error).toBe('.leviathan/contract.yaml line 4: definition_of_done must be a list of text, not a mapping');
    // Informational: the target's status is not held by it.
    expect(bad.target.status).not.toBe('error');
  });
});
