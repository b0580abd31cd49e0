import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { suspensionDrift } from '../../src/control/autonomy-controls.ts';
import { KubernetesClusterControls } from '../../src/kubernetes/cluster-controls.ts';
import { decide } from '../../src/scheduler/decide.ts';
import type { SchedulerSnapshot } from '../../src/scheduler/snapshot.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';
import { FakeExecutor } from '../scheduler/fake-executor.ts';

const NS = 'leviathan';
const CRON = 'leviathan-dev-scheduler';
const T = 'acme/web';
const NOW = new Date('2026-11-27T12:02:30.000Z');
type Json = Record<string, any>;


/** A fake API server with the autonomy ConfigMap (on) and the scheduler CronJob (not suspended). */
async function clusterWithScheduler(): Promise<FakeKubeApi> {
  const kube = await startFakeKubeApi();
  kube.objects.put('ConfigMap', { metadata: { name: 'leviathan-autonomy-config', namespace: NS }, data: { autonomy_enabled: 'true' } });
  kube.objects.put('CronJob', {
    metadata: { name: CRON, namespace: NS },
    spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: 'leviathan:1' }] } } } } },
  });
  return kube;
}

/** Autonomy on, and target T with one ready task `a`. */
async function seedTarget(cp: TestControlPlane): Promise<void> {
  await cp.api('/v1/events', {
    method: 'POST',
    json: [
      { type: 'autonomy.enabled', data: { reason: 'go', source: 'configmap' } },
      { type: 'target.registered', target: T, data: { installation_id: 1 } },
      { type: 'backlog.synced', target: T, data: { tasks: [{ id: 'a', title: 'A', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'] }] } },
    ],
  });
}

describe('suspensionDrift', () => {
  const cj = (suspended: boolean) => ({ name: CRON, suspended, schedule: '*/5 * * * *' });
  const stop = { by: 'token:abc', at: '2026-11-27T12:00:00Z', reason: 'x' };
  it.each([
    ['suspended, nothing recorded', null, true, 'stopped'],
    ['unsuspended, a stop recorded', stop, false, 'resumed'],
    ['suspended, a stop recorded', stop, true, null],
    ['unsuspended, nothing recorded', null, false, null],
  ] as const)('%s → %s', (_name, recorded, suspended, drift) => {
    expect(suspensionDrift(recorded, cj(suspended))).toBe(drift);
  });
});

describe("the control plane follows the CronJob's suspend flag (real client, fake API server)", () => {
  let kube: FakeKubeApi;
  let cp: TestControlPlane;

  const json = async (path: string): Promise<Json> => (await (await cp.api(path)).json()) as Json;
  const events = async (type: string): Promise<Json[]> => (await json(`/v1/graph/events?type=${type}&order=asc`)).events as Json[];
  /** `kubectl patch cronjob leviathan-dev-scheduler -p '{"spec":{"suspend":…}}'`, as the document does it. */
  const kubectlSuspend = (suspend: boolean) => {
    const cj = kube.objects.get('CronJob', NS, CRON)!;
    kube.objects.put('CronJob', { ...cj, spec: { ...cj.spec, suspend } });
  };
  const until = async (what: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await what()).toBe(true);
  };
  const decideNow = async () => {
    const { snapshot } = (await json('/v1/scheduler/snapshot')) as { snapshot: SchedulerSnapshot };
    return decide(NOW, { cycle_id: 'c-test', control: snapshot, read_problems: {} }, {
      autonomy: { enabled: true, source: 'config', problems: [], defaults: {} },
      max_concurrent_workers: 4,
      executor: 'kubernetes',
    }).outcomes;
  };

  beforeEach(async () => {
    kube = await clusterWithScheduler();
    cp = await startTestControlPlane({
      overrides: { clock: { now: () => NOW }, cluster: new KubernetesClusterControls({ kubeConfig: kube.kubeConfig, namespace: NS }), suspensionWatchMs: 20 },
    });
    await seedTarget(cp);
  });
  afterEach(async () => {
    await cp.destroy();
    await kube.close();
  });

  it('kubectl unsuspend after `ctl stop`: recorded as resumed, and the next tick executes', async () => {
    expect((await cp.api('/v1/autonomy/emergency-stop', { method: 'POST', json: { reason: 'runaway agent' } })).status).toBe(200);
    // The operator's own stop is never taken for an outside change.
    await new Promise((r) => setTimeout(r, 100));
    expect(await events('scheduler.emergency_stopped')).toHaveLength(1);
    expect(await decideNow()).toEqual([expect.objectContaining({ target: T, outcome: 'paused', reason: 'emergency_stop' })]);

    kubectlSuspend(false);
    await until(async () => (await events('scheduler.emergency_resumed')).length === 1);
    expect((await events('scheduler.emergency_resumed'))[0]).toMatchObject({
      actor: 'kubernetes',
      data: { via: 'kubernetes', cronjob: CRON, reason: `CronJob ${CRON} was unsuspended outside Leviathan (kubectl patch?)` },
    });
    expect(await decideNow()).toEqual([expect.objectContaining({ target: T, outcome: 'executed' })]);
  });

  it('kubectl suspend alone: recorded as an emergency stop, so the dashboard and the scheduler say so; recorded once', async () => {
    kubectlSuspend(true);
    await until(async () => (await json('/v1/status')).autonomy.emergency_stop !== null);
    const status = await json('/v1/status');
    expect(status.autonomy.emergency_stop).toMatchObject({ by: 'kubernetes', reason: `CronJob ${CRON} was suspended outside Leviathan (kubectl patch?)` });
    expect(await decideNow()).toEqual([expect.objectContaining({ target: T, outcome: 'paused', reason: 'emergency_stop' })]);
    await new Promise((r) => setTimeout(r, 100));
    expect(await events('scheduler.emergency_stopped')).toHaveLength(1);
    // `ctl resume` then finds the stop recorded and lifts it as usual.
    expect((await cp.api('/v1/autonomy/resume', { method: 'POST', json: { reason: 'done' } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(await events('scheduler.emergency_resumed')).toHaveLength(1);
    expect(kube.objects.get('CronJob', NS, CRON)!.spec.suspend).toBe(false);
  });

  it('the CronJob unreadable: nothing is recorded, the last word stands', async () => {
    kube.objects.delete('CronJob', NS, CRON);
    await new Promise((r) => setTimeout(r, 100));
    expect(await events('scheduler.emergency_stopped')).toEqual([]);
    expect(await events('scheduler.emergency_resumed')).toEqual([]);
  });
});

describe('a decision right after a kubectl unsuspend does not wait for the watch (real client, fake API server)', () => {
  let kube: FakeKubeApi;
  let cp: TestControlPlane;
  let executor: FakeExecutor;
  const json = async (path: string): Promise<Json> => (await (await cp.api(path)).json()) as Json;

  beforeEach(async () => {
    kube = await clusterWithScheduler();
    executor = new FakeExecutor();
    // The interval never comes round during the test: only the decisions' own checks can see the change.
    cp = await startTestControlPlane({
      overrides: { clock: { now: () => NOW }, executor, cluster: new KubernetesClusterControls({ kubeConfig: kube.kubeConfig, namespace: NS }), suspensionWatchMs: 3_600_000 },
    });
    await seedTarget(cp);
    expect((await cp.api('/v1/autonomy/emergency-stop', { method: 'POST', json: { reason: 'runaway agent' } })).status).toBe(200);
    // `kubectl patch cronjob … -p '{"spec":{"suspend":false}}'`
    const cj = kube.objects.get('CronJob', NS, CRON)!;
    kube.objects.put('CronJob', { ...cj, spec: { ...cj.spec, suspend: false } });
  });
  afterEach(async () => {
    await cp.destroy();
    await kube.close();
  });

  it("the tick's snapshot records the resume first and carries no emergency stop", async () => {
    const { snapshot } = (await json('/v1/scheduler/snapshot')) as { snapshot: SchedulerSnapshot };
    expect(snapshot.autonomy.emergency_stop).toBeNull();
    const resumed = (await json('/v1/graph/events?type=scheduler.emergency_resumed')).events as Json[];
    expect(resumed).toEqual([expect.objectContaining({ actor: 'kubernetes' })]);
  });

  it('a trigger executes instead of answering 409 emergency_stop', async () => {
    const res = await cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: T, task_id: 'a' } });
    expect(res.status).toBe(200);
    expect(executor.started.map((a) => a.task.id)).toEqual(['a']);
  });

  it('while the CronJob stays suspended the stop holds', async () => {
    const cj = kube.objects.get('CronJob', NS, CRON)!;
    kube.objects.put('CronJob', { ...cj, spec: { ...cj.spec, suspend: true } });
    const { snapshot } = (await json('/v1/scheduler/snapshot')) as { snapshot: SchedulerSnapshot };
    expect(snapshot.autonomy.emergency_stop).toMatchObject({ reason: 'runaway agent' });
    const res = await cp.api('/v1/tasks/trigger', { method: 'POST', json: { target: T, task_id: 'a' } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as Json).error).toMatchObject({ code: 'blocked', reason: 'emergency_stop' });
  });
});
