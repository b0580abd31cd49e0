import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesClusterControls } from '../../../src/kubernetes/cluster-controls.ts';
import { decide } from '../../../src/scheduler/decide.ts';
import type { SchedulerSnapshot } from '../../../src/scheduler/snapshot.ts';
import { READ_TOKEN, startTestControlPlane, type TestControlPlane } from '../../helpers/control-plane.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../../helpers/fake-kube-api.ts';

const NS = 'leviathan';
const CM = 'leviathan-autonomy-config';
const CRON = 'leviathan-dev-scheduler';
const T = 'acme/web';
/** Fixed, so the next tick of `*\/5 * * * *` is known: 12:05. */
const NOW = new Date('2026-11-27T12:02:30.000Z');

type Json = Record<string, any>;

async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

async function eventsOf(cp: TestControlPlane, type: string): Promise<Json[]> {
  return (await json(await cp.api(`/v1/graph/events?type=${type}`))).events as Json[];
}

const post = (cp: TestControlPlane, path: string, body: unknown, token?: string) => cp.api(path, { method: 'POST', json: body, ...(token ? { token } : {}) });

describe('in Kubernetes (real client against the fake API server)', () => {
  let kube: FakeKubeApi;
  let cp: TestControlPlane;

  beforeEach(async () => {
    kube = await startFakeKubeApi();
    kube.objects.put('ConfigMap', { metadata: { name: CM, namespace: NS }, data: { autonomy_enabled: 'false', max_open_prs: '2' } });
    kube.objects.put('CronJob', {
      metadata: { name: CRON, namespace: NS },
      spec: {
        schedule: '*/5 * * * *',
        concurrencyPolicy: 'Forbid',
        jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: 'leviathan:1' }] } } } },
      },
      status: { lastScheduleTime: '2026-11-27T12:00:00Z' },
    });
    for (const name of ['leviathan-worker-a1', 'leviathan-worker-b2', 'leviathan-worker-done']) {
      kube.objects.put('Job', {
        metadata: { name, namespace: NS, labels: { app: 'leviathan-worker' } },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'worker', image: 'leviathan:1' }] } } },
      });
      kube.setJobStatus(NS, name, name.endsWith('done') ? { phase: 'succeeded' } : { phase: 'active' });
    }
    cp = await startTestControlPlane({
      overrides: { clock: { now: () => NOW }, cluster: new KubernetesClusterControls({ kubeConfig: kube.kubeConfig, namespace: NS }) },
    });
  });
  afterEach(async () => {
    await cp.destroy();
    await kube.close();
  });

  it('autonomy on: merge-patches the ConfigMap, records autonomy.enabled (source configmap), and the status agrees', async () => {
    const res = await post(cp, '/v1/autonomy', { enabled: true, reason: 'tasks are ready' });
    expect(res.status).toBe(200);
    const body = await json(res);

    const patch = kube.requests.find((r) => r.method === 'PATCH' && r.path.endsWith(`/configmaps/${CM}`))!;
    expect(patch.contentType).toBe('application/merge-patch+json');
    expect(patch.body).toMatchObject({
      data: { autonomy_enabled: 'true' },
      metadata: { annotations: { 'leviathan.dev/changed-by': expect.stringMatching(/^token:/), 'leviathan.dev/changed-reason': 'tasks are ready' } },
    });
    // Only our key changed: other keys someone put there survive.
    expect(kube.objects.get('ConfigMap', NS, CM)!.data).toEqual({ autonomy_enabled: 'true', max_open_prs: '2' });

    const [event] = await eventsOf(cp, 'autonomy.enabled');
    expect(event).toMatchObject({ seq: body.event.seq, actor: expect.stringMatching(/^token:/), data: { reason: 'tasks are ready', source: 'configmap', via: 'api', configmap: CM } });
    expect(body.autonomy).toMatchObject({ mode: 'kubernetes', enabled: true, source: 'configmap', reason: 'tasks are ready', drift: null });

    const status = await json(await cp.api('/v1/autonomy/status', { token: READ_TOKEN }));
    expect(status).toMatchObject({
      mode: 'kubernetes',
      enabled: true,
      source: 'configmap',
      changed_by: event!.actor,
      changed_at: event!.time,
      reason: 'tasks are ready',
      configmap: { name: CM, enabled: true },
      scheduler: { suspended: false, cronjob: { name: CRON, schedule: '*/5 * * * *', suspended: false }, next_tick_at: '2026-11-27T12:05:00.000Z' },
    });
  });

  it('autonomy off: patches autonomy_enabled "false" and records autonomy.disabled', async () => {
    await post(cp, '/v1/autonomy', { enabled: true, reason: 'go' });
    const res = await post(cp, '/v1/autonomy', { enabled: false, reason: 'incident 42', via: 'ctl' });
    expect(res.status).toBe(200);
    expect(kube.objects.get('ConfigMap', NS, CM)!.data.autonomy_enabled).toBe('false');
    expect((await eventsOf(cp, 'autonomy.disabled'))[0]).toMatchObject({ data: { reason: 'incident 42', source: 'configmap', via: 'ctl' } });
    expect((await json(res)).autonomy).toMatchObject({ enabled: false, reason: 'incident 42' });
  });

  it('when someone ran kubectl edit, the ConfigMap wins and the status says so', async () => {
    await post(cp, '/v1/autonomy', { enabled: true, reason: 'go' });
    const cm = kube.objects.get('ConfigMap', NS, CM)!;
    kube.objects.put('ConfigMap', { ...cm, data: { ...cm.data, autonomy_enabled: 'false' } });

    const status = await json(await cp.api('/v1/autonomy/status'));
    expect(status).toMatchObject({ enabled: false, source: 'configmap', changed_by: null, last_change: { enabled: true, reason: 'go' } });
    expect(status.reason).toContain('Changed outside Leviathan');
    expect(status.drift.message).toContain(`ConfigMap ${CM} says autonomy_enabled=false`);
    expect(status.drift.message).toContain('The ConfigMap wins');
  });

  it('emergency stop without job deletion: suspends the CronJob (merge patch), leaves workers running, records the stop', async () => {
    const res = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'runaway PRs' });
    expect(res.status).toBe(200);
    const body = await json(res);

    const patch = kube.requests.find((r) => r.method === 'PATCH' && r.path.endsWith(`/cronjobs/${CRON}`))!;
    expect(patch.contentType).toBe('application/merge-patch+json');
    expect(patch.body).toEqual({ spec: { suspend: true } });
    expect(kube.objects.get('CronJob', NS, CRON)!.spec.suspend).toBe(true);
    expect(kube.deletions).toEqual([]);
    expect(kube.objects.list('Job', NS)).toHaveLength(3);

    const [event] = await eventsOf(cp, 'scheduler.emergency_stopped');
    expect(event).toMatchObject({ data: { reason: 'runaway PRs', deleted_jobs: [], delete_running_jobs: false, cronjob: CRON } });
    expect(body).toMatchObject({ deleted_jobs: [], cronjob: { suspended: true }, warnings: [] });

    const status = await json(await cp.api('/v1/autonomy/status'));
    expect(status.emergency_stop).toMatchObject({ by: event!.actor, reason: 'runaway PRs' });
    expect(status.scheduler).toMatchObject({ suspended: true, next_tick_at: null });
    expect(status.scheduler.next_tick_note).toContain('suspended');
  });

  it('emergency stop with job deletion: deletes only running worker Jobs, propagationPolicy Background', async () => {
    const res = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'bad agent build', delete_running_jobs: true });
    expect(res.status).toBe(200);
    expect((await json(res)).deleted_jobs).toEqual(['leviathan-worker-a1', 'leviathan-worker-b2']);
    expect(kube.deletions).toEqual([
      { kind: 'Job', namespace: NS, name: 'leviathan-worker-a1', propagationPolicy: 'Background' },
      { kind: 'Job', namespace: NS, name: 'leviathan-worker-b2', propagationPolicy: 'Background' },
    ]);
    expect(kube.objects.list('Job', NS).map((j) => j.metadata.name)).toEqual(['leviathan-worker-done']);
    expect(kube.requests.find((r) => r.method === 'GET' && r.path.includes('/jobs?'))!.path).toContain('labelSelector=app%3Dleviathan-worker');
    expect((await eventsOf(cp, 'scheduler.emergency_stopped'))[0]!.data).toMatchObject({
      delete_running_jobs: true,
      deleted_jobs: ['leviathan-worker-a1', 'leviathan-worker-b2'],
    });
  });

  it('a failed job deletion still records the stop (the scheduler is suspended) and warns with the kubectl command', async () => {
    kube.failNext({ method: 'GET', path: '/jobs', code: 403, reason: 'Forbidden', message: 'jobs.batch is forbidden' });
    const res = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'stop', delete_running_jobs: true });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(kube.objects.get('CronJob', NS, CRON)!.spec.suspend).toBe(true);
    expect(body.warnings[0]).toContain('kubectl -n leviathan delete jobs -l app=leviathan-worker');
    expect((await eventsOf(cp, 'scheduler.emergency_stopped'))[0]!.data.delete_error).toContain('forbidden');
  });

  it('a second stop is refused with the standing stop; asked to delete Jobs, it still deletes the running ones and records no stop', async () => {
    expect((await post(cp, '/v1/autonomy/emergency-stop', { reason: 'first' })).status).toBe(200);
    const [first] = await eventsOf(cp, 'scheduler.emergency_stopped');

    const res = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'kill the workers too', delete_running_jobs: true });
    expect(res.status).toBe(409);
    const { error } = await json(res);
    expect(error).toMatchObject({
      code: 'already_stopped',
      emergency_stop: { by: first!.actor, at: first!.time, reason: 'first' },
      deleted_jobs: ['leviathan-worker-a1', 'leviathan-worker-b2'],
      warnings: [],
    });
    expect(error.message).toContain(`already emergency-stopped by ${first!.actor} since ${first!.time}: first`);
    expect(error.message).toContain('Deleted the running worker Jobs as asked: leviathan-worker-a1, leviathan-worker-b2');
    expect(kube.objects.list('Job', NS).map((j) => j.metadata.name)).toEqual(['leviathan-worker-done']);
    // The CronJob was suspended once, and the log still holds one stop, the first.
    expect(kube.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/cronjobs/${CRON}`))).toHaveLength(1);
    expect((await eventsOf(cp, 'scheduler.emergency_stopped')).map((e) => e.data.reason)).toEqual(['first']);
    expect((await json(await cp.api('/v1/autonomy/status'))).emergency_stop).toMatchObject({ reason: 'first' });

    // Without --delete-jobs the repeat touches nothing at all.
    const again = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'third' });
    expect(again.status).toBe(409);
    expect((await json(again)).error).not.toHaveProperty('deleted_jobs');
    expect((await eventsOf(cp, 'scheduler.emergency_stopped')).map((e) => e.data.reason)).toEqual(['first']);
  });

  it('a recorded stop whose CronJob was unsuspended with kubectl is not standing: a new stop suspends it again and is recorded', async () => {
    await post(cp, '/v1/autonomy/emergency-stop', { reason: 'first' });
    const cj = kube.objects.get('CronJob', NS, CRON)!;
    kube.objects.put('CronJob', { ...cj, spec: { ...cj.spec, suspend: false } });
    const res = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'second' });
    expect(res.status).toBe(200);
    expect(kube.objects.get('CronJob', NS, CRON)!.spec.suspend).toBe(true);
    expect((await json(await cp.api('/v1/autonomy/status'))).emergency_stop).toMatchObject({ reason: 'second' });
  });

  it('resume unsuspends the CronJob, records emergency_resumed, warns while autonomy is off; a second resume is refused', async () => {
    await post(cp, '/v1/autonomy/emergency-stop', { reason: 'stop' });
    const res = await post(cp, '/v1/autonomy/resume', { reason: 'fixed' });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(kube.objects.get('CronJob', NS, CRON)!.spec.suspend).toBe(false);
    const patches = kube.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/cronjobs/${CRON}`));
    expect(patches.map((p) => [p.contentType, p.body])).toEqual([
      ['application/merge-patch+json', { spec: { suspend: true } }],
      ['application/merge-patch+json', { spec: { suspend: false } }],
    ]);
    expect((await eventsOf(cp, 'scheduler.emergency_resumed'))[0]).toMatchObject({ data: { reason: 'fixed', cronjob: CRON } });
    expect(body.autonomy).toMatchObject({ emergency_stop: null, scheduler: { suspended: false, next_tick_at: '2026-11-27T12:05:00.000Z' } });
    expect(body.warnings[0]).toContain('Autonomy is still disabled');

    const again = await post(cp, '/v1/autonomy/resume', {});
    expect(again.status).toBe(409);
    expect((await json(again)).error.code).toBe('not_paused');
  });

  it('resume also lifts a suspension made with kubectl (no event recorded), without a body', async () => {
    const cj = kube.objects.get('CronJob', NS, CRON)!;
    kube.objects.put('CronJob', { ...cj, spec: { ...cj.spec, suspend: true } });
    expect((await json(await cp.api('/v1/autonomy/status'))).scheduler.suspended).toBe(true);
    const res = await cp.api('/v1/autonomy/resume', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(kube.objects.get('CronJob', NS, CRON)!.spec.suspend).toBe(false);
  });

  it('a missing ConfigMap is a 501 that says how to create it, and nothing is recorded', async () => {
    kube.objects.delete('ConfigMap', NS, CM);
    const res = await post(cp, '/v1/autonomy', { enabled: true, reason: 'go' });
    expect(res.status).toBe(501);
    const body = await json(res);
    expect(body.error).toMatchObject({ code: 'not_configured', kubernetes_code: 'kubernetes_not_found' });
    expect(body.error.message).toContain('kubectl apply -k');
    expect(await eventsOf(cp, 'autonomy.enabled')).toEqual([]);
    // The status still answers, from the log, and says what it could not read.
    const status = await json(await cp.api('/v1/autonomy/status'));
    expect(status).toMatchObject({ enabled: false, configmap: null });
    expect(status.cluster_errors[0]).toContain(CM);
  });

  it('the diagnosis reads the cluster: a suspended CronJob blocks with the kubectl command', async () => {
    await post(cp, '/v1/events', [
      { type: 'target.registered', target: T, data: { installation_id: 1 } },
      { type: 'backlog.synced', target: T, data: { tasks: [{ id: 'a', title: 'A', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'] }] } },
    ]);
    await post(cp, '/v1/autonomy', { enabled: true, reason: 'go' });
    await post(cp, '/v1/autonomy/emergency-stop', { reason: 'stop' });
    const { diagnosis } = await json(await cp.api(`/v1/targets/${T}/diagnosis`, { token: READ_TOKEN }));
    expect(diagnosis.blocking).toBe('emergency_stop');
    const check = (diagnosis.checks as Json[]).find((c) => c.id === 'emergency_stop')!;
    expect(check.commands).toContain(`kubectl -n leviathan patch cronjob ${CRON} -p '{"spec":{"suspend":false}}'`);
    expect(check.evidence.map((e: Json) => e.type)).toEqual(['scheduler.emergency_stopped', 'cronjob']);
  });
});

describe('embedded (no Kubernetes): the events are the setting', () => {
  let cp: TestControlPlane;
  beforeEach(async () => {
    cp = await startTestControlPlane({ overrides: { clock: { now: () => NOW }, cluster: null } });
  });
  afterEach(async () => {
    await cp.destroy();
  });

  it('autonomy off/on records the change with source settings, and the status follows the log', async () => {
    const off = await post(cp, '/v1/autonomy', { enabled: false, reason: 'maintenance' });
    expect(off.status).toBe(200);
    expect((await eventsOf(cp, 'autonomy.disabled'))[0]).toMatchObject({ data: { reason: 'maintenance', source: 'settings', via: 'api' } });
    expect(await json(await cp.api('/v1/autonomy/status'))).toMatchObject({ mode: 'embedded', enabled: false, source: 'settings', reason: 'maintenance', configmap: null, drift: null });

    await post(cp, '/v1/autonomy', { enabled: true, reason: 'done' });
    const status = await json(await cp.api('/v1/autonomy/status'));
    expect(status).toMatchObject({ enabled: true, source: 'settings', reason: 'done', changed_by: expect.stringMatching(/^token:/) });
    // No scheduler loop in this process: no next tick, and the status says why.
    expect(status.scheduler).toMatchObject({ suspended: false, cronjob: null, next_tick_at: null });
    expect(status.scheduler.next_tick_note).toContain('leviathan tick');
  });

  it('emergency stop: the event alone stops the scheduler (decide skips every target), resume lifts it', async () => {
    await post(cp, '/v1/events', [
      { type: 'autonomy.enabled', data: { reason: 'go' } },
      { type: 'target.registered', target: T, data: { installation_id: 1 } },
      { type: 'backlog.synced', target: T, data: { tasks: [{ id: 'a', title: 'A', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'] }] } },
    ]);
    const res = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'runaway', delete_running_jobs: true });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.deleted_jobs).toEqual([]);
    expect(body.warnings).toEqual(['No Kubernetes cluster is configured: running local workers continue to completion.']);
    expect(body.autonomy).toMatchObject({ emergency_stop: { reason: 'runaway' }, scheduler: { suspended: true, next_tick_at: null } });

    const decideNow = async () => {
      const { snapshot } = (await json(await cp.api('/v1/scheduler/snapshot'))) as { snapshot: SchedulerSnapshot };
      return decide(NOW, { cycle_id: 'c-test', control: snapshot, read_problems: {} }, {
        autonomy: { enabled: true, source: 'control_plane', problems: [], defaults: {} },
        max_concurrent_workers: 4,
        executor: 'local',
      }).outcomes;
    };
    expect(await decideNow()).toEqual([expect.objectContaining({ target: T, outcome: 'paused', reason: 'emergency_stop' })]);

    expect((await post(cp, '/v1/autonomy/resume', { reason: 'ok' })).status).toBe(200);
    expect(await decideNow()).toEqual([expect.objectContaining({ target: T, outcome: 'executed' })]);
    const again = await post(cp, '/v1/autonomy/resume', {});
    expect(again.status).toBe(409);
    expect((await json(again)).error.message).toBe('The scheduler is not emergency-stopped.');
  });
});

describe('embedded with LEVIATHAN_AUTONOMY_CONFIG: the file is the switch', () => {
  let dir: string;
  let file: string;
  let cp: TestControlPlane;
  const start = async (contents: string | null) => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-autonomy-'));
    file = join(dir, 'autonomy.yaml');
    if (contents !== null) await writeFile(file, contents);
    cp = await startTestControlPlane({ env: { LEVIATHAN_AUTONOMY_CONFIG: file }, overrides: { clock: { now: () => NOW }, cluster: null } });
  };
  afterEach(async () => {
    await cp.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    [true, false],
    [false, true],
  ])('file says %s: autonomy %s is refused (409 managed_by_file, naming the file), nothing is recorded, the status reports the file', async (inFile, asked) => {
    await start(`autonomy_enabled: ${inFile}\n`);
    const res = await post(cp, '/v1/autonomy', { enabled: asked, reason: 'incident 4711', via: 'ctl' });
    expect(res.status).toBe(409);
    const { error } = await json(res);
    expect(error).toMatchObject({ code: 'managed_by_file', path: file, file_enabled: inFile, requested_enabled: asked });
    expect(error.message).toContain(file);
    expect(error.message).toContain(`autonomy_enabled: ${asked}`);
    expect(error.message).toContain('Nothing was recorded');
    expect(cp.store.health().head.seq).toBe(0);

    const status = await json(await cp.api('/v1/autonomy/status', { token: READ_TOKEN }));
    expect(status).toMatchObject({ mode: 'embedded', enabled: inFile, source: 'file', configmap: null });
    expect(status.reason).toContain(file);
  });

  it('a repeat of what the file already says is refused too: the API never records a setting the scheduler does not read', async () => {
    await start('autonomy_enabled: true\n');
    const res = await post(cp, '/v1/autonomy', { enabled: true, reason: 'go' });
    expect(res.status).toBe(409);
    expect((await json(res)).error.message).toContain('already says autonomy_enabled: true');
    expect(cp.store.health().head.seq).toBe(0);
  });

  it('when the log last recorded something else, the file wins and the status says so (drift), as the ConfigMap does', async () => {
    await start('autonomy_enabled: false\n');
    // Recorded before the file was configured (or by an older version that pretended).
    await post(cp, '/v1/events', [{ type: 'autonomy.enabled', data: { reason: 'go', source: 'settings' } }]);
    await cp.projector.waitFor(cp.store.health().head.seq);
    const status = await json(await cp.api('/v1/autonomy/status'));
    expect(status).toMatchObject({ enabled: false, source: 'file', changed_by: null, changed_at: null, last_change: { enabled: true, reason: 'go' } });
    expect(status.drift).toMatchObject({ file, file_enabled: false, recorded_enabled: true });
    expect(status.drift.message).toContain(`${file} says autonomy_enabled: false`);
    expect(status.drift.message).toContain('The file wins');
  });

  it('a missing file is off with the reason, like the scheduler reads it', async () => {
    await start(null);
    const status = await json(await cp.api('/v1/autonomy/status'));
    expect(status).toMatchObject({ enabled: false, source: 'file' });
    expect(status.reason).toContain('not found');
    const res = await post(cp, '/v1/autonomy', { enabled: true, reason: 'go' });
    expect(res.status).toBe(409);
    expect((await json(res)).error.message).toContain('not found');
  });

  it('resume warns with the file to edit, not `ctl autonomy on` (which would be refused)', async () => {
    await start('autonomy_enabled: false\n');
    expect((await post(cp, '/v1/autonomy/emergency-stop', { reason: 'stop' })).status).toBe(200);
    const body = await json(await post(cp, '/v1/autonomy/resume', {}));
    expect(body.warnings).toEqual([expect.stringContaining(file)]);
    expect(body.warnings[0]).not.toContain('ctl autonomy on');
  });
});

describe('a second emergency stop', () => {
  let cp: TestControlPlane;
  afterEach(async () => {
    await cp.destroy();
  });

  it('embedded: is refused (409 already_stopped, naming the standing stop), records nothing, and the first stop stands', async () => {
    cp = await startTestControlPlane({ overrides: { clock: { now: () => NOW }, cluster: null } });
    expect((await post(cp, '/v1/autonomy/emergency-stop', { reason: 'first' })).status).toBe(200);
    const [first] = await eventsOf(cp, 'scheduler.emergency_stopped');
    const seq = cp.store.health().head.seq;

    const res = await post(cp, '/v1/autonomy/emergency-stop', { reason: 'second', delete_running_jobs: true });
    expect(res.status).toBe(409);
    const { error } = await json(res);
    expect(error).toMatchObject({ code: 'already_stopped', emergency_stop: { by: first!.actor, at: first!.time, reason: 'first' }, deleted_jobs: [] });
    expect(error.message).toBe(
      `The scheduler is already emergency-stopped by ${first!.actor} since ${first!.time}: first. This stop was not recorded. ` +
        'No Kubernetes cluster is configured: running local workers continue to completion. Resume with: leviathan ctl resume',
    );
    expect(cp.store.health().head.seq).toBe(seq);
    expect((await json(await cp.api('/v1/autonomy/status'))).emergency_stop).toMatchObject({ reason: 'first' });
  });
});

describe('refusals', () => {
  let cp: TestControlPlane;
  beforeEach(async () => {
    cp = await startTestControlPlane({ overrides: { cluster: null } });
  });
  afterEach(async () => {
    await cp.destroy();
  });

  it.each([
    ['/v1/autonomy', { enabled: false, reason: 'x' }],
    ['/v1/autonomy/emergency-stop', { reason: 'x' }],
    ['/v1/autonomy/resume', { reason: 'x' }],
  ])('%s: 403 for a read-only token, 401 without one, and nothing recorded', async (path, payload) => {
    const res = await post(cp, path, payload, READ_TOKEN);
    expect(res.status).toBe(403);
    expect((await json(res)).error).toEqual({ code: 'forbidden', message: 'This token is read-only.' });
    expect((await cp.api(path, { method: 'POST', json: payload, token: null })).status).toBe(401);
    expect(cp.store.health().head.seq).toBe(0);
  });

  it.each([
    ['/v1/autonomy', { enabled: false }, 'reason: Required'],
    ['/v1/autonomy', { enabled: false, reason: '   ' }, 'reason: a reason is required'],
    ['/v1/autonomy', { reason: 'x' }, 'enabled: enabled (true or false) is required'],
    ['/v1/autonomy', { enabled: 'false', reason: 'x' }, 'enabled: Expected boolean, received string'],
    ['/v1/autonomy', { enabled: true, reason: 'x', force: true }, "body: Unrecognized key(s) in object: 'force'"],
    ['/v1/autonomy/emergency-stop', {}, 'reason: Required'],
    ['/v1/autonomy/emergency-stop', { reason: 'x', delete_running_jobs: 'yes' }, 'delete_running_jobs: Expected boolean, received string'],
    ['/v1/autonomy/resume', { reason: 42 }, 'reason: Expected string, received number'],
  ])('%s %j → 422 %s', async (path, payload, message) => {
    const res = await post(cp, path, payload);
    expect(res.status).toBe(422);
    expect((await json(res)).error).toEqual({ code: 'validation_failed', message });
    expect(cp.store.health().head.seq).toBe(0);
  });

  it('a GET on a write route is 405, a non-JSON body 415', async () => {
    expect((await cp.api('/v1/autonomy/emergency-stop')).status).toBe(405);
    expect((await cp.api('/v1/autonomy', { method: 'POST', body: 'enabled=true', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
  });
});
