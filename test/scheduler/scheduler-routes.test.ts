import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesClusterControls } from '../../src/kubernetes/cluster-controls.ts';
import type { SchedulerSnapshot } from '../../src/scheduler/snapshot.ts';
import { startFakeKubeApi } from '../helpers/fake-kube-api.ts';
import { READ_TOKEN, startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { FakeExecutor } from './fake-executor.ts';
import { eventsOf, post, seedEvents, TARGET, taskSummary } from './seed.ts';

describe('POST /v1/tasks/trigger', () => {
  let cp: TestControlPlane;
  let executor: FakeExecutor;

  beforeEach(async () => {
    executor = new FakeExecutor();
    cp = await startTestControlPlane({ overrides: { executor } });
  });
  afterEach(async () => {
    await cp.destroy();
  });

  const trigger = (json: unknown, token?: string) => cp.api('/v1/tasks/trigger', { method: 'POST', json, ...(token ? { token } : {}) });

  it('runs the named task now and answers 200 with the attempt id', async () => {
    await post(cp, seedEvents([taskSummary('first', { priority: 'high' }), taskSummary('urgent', { priority: 'low' })]));

    const res = await trigger({ target: TARGET, task_id: 'urgent', reason: 'hotfix' });

    expect(res.status).toBe(200);
    const body = (await res.json()) as { attempt_id: string; task_id: string; target: string };
    expect(body).toMatchObject({ target: TARGET, task_id: 'urgent', attempt_id: expect.any(String) });
    expect(executor.started.map((a) => [a.attempt_id, a.task.id])).toEqual([[body.attempt_id, 'urgent']]);
    expect((await eventsOf(cp, 'task.triggered'))[0]).toMatchObject({ actor: expect.stringMatching(/^token:/), data: { task_id: 'urgent', reason: 'hotfix' } });
    expect((await eventsOf(cp, 'task.selected'))[0]?.data).toMatchObject({ task_id: 'urgent', attempt_id: body.attempt_id, trigger: 'manual' });
    expect((await eventsOf(cp, 'attempt.created'))[0]?.data).toMatchObject({ attempt_id: body.attempt_id, handle: 'fake-1' });
    // The trigger is not a scheduler cycle.
    expect(await eventsOf(cp, 'scheduler.cycle_started')).toEqual([]);
  });

  it('answers 409 with the blocking reason code when a guardrail stands in the way', async () => {
    await post(cp, [
      ...seedEvents([taskSummary('urgent'), taskSummary('x'), taskSummary('y')]),
      { type: 'pr.created', target: TARGET, data: { number: 1, task_id: 'x' } },
      { type: 'pr.created', target: TARGET, data: { number: 2, task_id: 'y' } },
    ]);

    const res = await trigger({ target: TARGET, task_id: 'urgent' });

    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({
      error: { code: 'blocked', message: 'Max open PRs reached (2/2)', reason: 'max_open_prs', outcome: 'blocked', task_id: 'urgent', target: TARGET },
    });
    expect(executor.started).toEqual([]);
    expect(await eventsOf(cp, 'task.triggered')).toHaveLength(1);
  });

  it.each([
    ['a paused target', [{ type: 'target.paused', target: TARGET, data: { reason: 'freeze' } }], 'urgent', 'paused_by_operator'],
    ['autonomy never enabled', null, 'urgent', 'autonomy_disabled'],
  ])('answers 409 for %s', async (_name, extra, taskId, reason) => {
    await post(cp, [...seedEvents([taskSummary('urgent')], { autonomy: extra !== null }), ...(extra ?? [])]);
    const res = await trigger({ target: TARGET, task_id: taskId });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { reason: string } }).error.reason).toBe(reason);
  });

  it('answers 404 task_not_found for a task the backlog does not have, recording nothing', async () => {
    await post(cp, seedEvents([taskSummary('urgent')]));
    const res = await trigger({ target: TARGET, task_id: 'nope' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: Record<string, unknown> }).error).toMatchObject({ code: 'task_not_found', task_id: 'nope' });
    expect(await eventsOf(cp, 'task.triggered')).toEqual([]);
    expect(executor.started).toEqual([]);
  });

  it('answers 409 executor_failed when the executor refuses the worker', async () => {
    executor.failWith = 'no capacity';
    await post(cp, seedEvents([taskSummary('urgent')]));
    const res = await trigger({ target: TARGET, task_id: 'urgent' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { reason: string } }).error.reason).toBe('executor_failed');
    expect((await eventsOf(cp, 'attempt.failed'))[0]?.data).toMatchObject({ failure_type: 'executor_failed' });
  });

  it('refuses read-only tokens with 403', async () => {
    await post(cp, seedEvents([taskSummary('urgent')]));
    const res = await trigger({ target: TARGET, task_id: 'urgent' }, READ_TOKEN);
    expect(res.status).toBe(403);
    expect(executor.started).toEqual([]);
    expect(await eventsOf(cp, 'task.triggered')).toEqual([]);
  });

  it('asks who is calling before looking at the body: 401 without a token, 403 read-only, bad body or not', async () => {
    const bare = (json: unknown) => cp.api('/v1/tasks/trigger', { method: 'POST', json, token: null });
    expect((await bare({})).status).toBe(401);
    expect((await bare({ target: TARGET, task_id: 'x' })).status).toBe(401);
    expect((await trigger({}, READ_TOKEN)).status).toBe(403);
  });

  it('answers 404 for an unknown target and 422 for a bad body', async () => {
    expect((await trigger({ target: 'nobody/here', task_id: 'x' })).status).toBe(404);
    expect((await trigger({ target: 'not a repo', task_id: 'x' })).status).toBe(422);
    expect((await trigger({ target: TARGET })).status).toBe(422);
  });

  it('never starts two workers for two triggers at once', async () => {
    await post(cp, seedEvents([taskSummary('urgent')]));
    const answers = await Promise.all([trigger({ target: TARGET, task_id: 'urgent' }), trigger({ target: TARGET, task_id: 'urgent' })]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(executor.started).toHaveLength(1);
  });
});

describe('POST /v1/tasks/trigger without an executor', () => {
  it('answers 501', async () => {
    const cp = await startTestControlPlane({ overrides: { executor: null } });
    try {
      await post(cp, seedEvents([taskSummary('urgent')]));
      const res = await cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: TARGET, task_id: 'urgent' } });
      expect(res.status).toBe(501);
    } finally {
      await cp.destroy();
    }
  });
});

describe('POST /v1/tasks/trigger in Kubernetes: the ConfigMap wins, as for the tick', () => {
  it('refuses when kubectl turned autonomy off since the last cycle, uses the ConfigMap defaults, and fails closed when it cannot be read', async () => {
    const kube = await startFakeKubeApi();
    const cm = (data: Record<string, string>) => kube.objects.put('ConfigMap', { metadata: { name: 'leviathan-autonomy-config', namespace: 'leviathan' }, data });
    cm({ autonomy_enabled: 'false' });
    const executor = new FakeExecutor();
    const cp = await startTestControlPlane({ overrides: { executor, cluster: new KubernetesClusterControls({ kubeConfig: kube.kubeConfig, namespace: 'leviathan' }) } });
    try {
      // The log says enabled (the last cycle read it so); the ConfigMap says off now.
      await post(cp, seedEvents([taskSummary('urgent'), taskSummary('x')]));
      const trigger = () => cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: TARGET, task_id: 'urgent' } });
      const off = await trigger();
      expect(off.status).toBe(409);
      expect(((await off.json()) as { error: { reason: string } }).error.reason).toBe('autonomy_disabled');

      // On, with a global max_open_prs of 1 that the log has not seen yet: one open PR blocks.
      cm({ autonomy_enabled: 'true', max_open_prs: '1' });
      await post(cp, [{ type: 'pr.created', target: TARGET, data: { number: 1, task_id: 'x' } }]);
      const full = await trigger();
      expect(((await full.json()) as { error: { reason: string; message: string } }).error).toMatchObject({ reason: 'max_open_prs', message: 'Max open PRs reached (1/1)' });

      cm({ autonomy_enabled: 'true' });
      expect((await trigger()).status).toBe(200);
      expect(executor.started.map((a) => a.task.id)).toEqual(['urgent']);

      kube.objects.delete('ConfigMap', 'leviathan', 'leviathan-autonomy-config');
      const unreadable = await trigger();
      expect(((await unreadable.json()) as { error: { reason: string } }).error.reason).toBe('autonomy_disabled');
    } finally {
      await cp.destroy();
      await kube.close();
    }
  });
});

describe('GET /v1/scheduler/snapshot', () => {
  it('gives read tokens the targets with backlog, progress, open PRs, breaker and in-flight attempts', async () => {
    const cp = await startTestControlPlane({ overrides: { executor: null } });
    try {
      await post(cp, [
        ...seedEvents([taskSummary('a'), taskSummary('b')]),
        { type: 'task.selected', target: TARGET, data: { task_id: 'a', attempt_id: 'att-1' } },
        { type: 'attempt.created', target: TARGET, data: { task_id: 'a', attempt_id: 'att-1', handle: 'pid:42' } },
      ]);
      expect((await cp.api('/v1/scheduler/snapshot', { token: null })).status).toBe(401);
      const res = await cp.api('/v1/scheduler/snapshot', { token: READ_TOKEN });
      expect(res.status).toBe(200);
      const { snapshot } = (await res.json()) as { snapshot: SchedulerSnapshot };
      expect(snapshot.autonomy.enabled).toBe(true);
      const t = snapshot.targets[0]!;
      expect(t).toMatchObject({ id: TARGET, installation_id: 1, paused: null, open_prs: [], breaker: { consecutive_failures: 0, open: false } });
      expect(t.backlog.tasks.map((x) => x.id)).toEqual(['a', 'b']);
      expect(t.tasks.a).toMatchObject({ attempts: 1, in_flight_attempt: 'att-1' });
      expect(t.in_flight).toEqual([{ attempt_id: 'att-1', task_id: 'a', created_at: expect.any(String), started: false, handle: 'pid:42' }]);
    } finally {
      await cp.destroy();
    }
  });
});
