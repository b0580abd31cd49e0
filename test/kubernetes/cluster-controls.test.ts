import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesClusterControls } from '../../src/kubernetes/cluster-controls.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';

const NS = 'leviathan';
let api: FakeKubeApi;
let controls: KubernetesClusterControls;

function seedConfigMap(data: Record<string, string> = { autonomy_enabled: 'false', max_open_prs: '2' }) {
  api.objects.put('ConfigMap', { metadata: { name: 'leviathan-autonomy-config', namespace: NS }, data });
}

function seedCronJob(suspend = false) {
  api.objects.put('CronJob', {
    metadata: { name: 'leviathan-dev-scheduler', namespace: NS },
    spec: {
      schedule: '*/5 * * * *',
      concurrencyPolicy: 'Forbid',
      suspend,
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: 'ghcr.io/leviathan/leviathan:0.1.0' }] } } } },
    },
    status: { lastScheduleTime: '2026-01-31T10:05:00Z' },
  });
}

function seedWorker(name: string, labels: Record<string, string> = { app: 'leviathan-worker' }) {
  api.objects.put('Job', {
    metadata: { name, namespace: NS, labels },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'worker', image: 'x:1' }] } } },
  });
}

beforeEach(async () => {
  api = await startFakeKubeApi();
  controls = new KubernetesClusterControls({ kubeConfig: api.kubeConfig, namespace: NS });
});
afterEach(async () => {
  await api.close();
});

describe('autonomy toggle', () => {
  it('reads autonomy_enabled and fails closed on anything but "true"', async () => {
    seedConfigMap({ autonomy_enabled: 'false' });
    expect(await controls.getAutonomyConfigMap()).toMatchObject({ name: 'leviathan-autonomy-config', autonomyEnabled: false });
    api.objects.delete('ConfigMap', NS, 'leviathan-autonomy-config');
    seedConfigMap({ autonomy_enabled: 'yes please' });
    expect((await controls.getAutonomyConfigMap()).autonomyEnabled).toBe(false);
  });

  it('merge-patches only autonomy_enabled and the change annotations, keeping other keys', async () => {
    seedConfigMap();
    const result = await controls.setAutonomyEnabled(true, { actor: 'github:octocat', reason: 'tasks ready', at: new Date('2026-02-01T12:00:00Z') });

    const patch = api.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.path).toBe('/api/v1/namespaces/leviathan/configmaps/leviathan-autonomy-config');
    expect(patch.contentType).toBe('application/merge-patch+json');
    expect(patch.body).toEqual({
      metadata: {
        annotations: {
          'leviathan.dev/changed-by': 'github:octocat',
          'leviathan.dev/changed-reason': 'tasks ready',
          'leviathan.dev/changed-at': '2026-02-01T12:00:00.000Z',
        },
      },
      data: { autonomy_enabled: 'true' },
    });
    const stored = api.objects.get('ConfigMap', NS, 'leviathan-autonomy-config')!;
    expect(stored.data).toEqual({ autonomy_enabled: 'true', max_open_prs: '2' });
    expect(result.autonomyEnabled).toBe(true);
    expect(result.annotations['leviathan.dev/changed-by']).toBe('github:octocat');

    await controls.setAutonomyEnabled(false, { actor: 'github:hubot', reason: 'incident', at: '2026-02-01T13:00:00Z' });
    expect(api.objects.get('ConfigMap', NS, 'leviathan-autonomy-config')!.data.autonomy_enabled).toBe('false');
  });

  it('says how to fix a missing ConfigMap instead of creating one', async () => {
    const err = await controls.setAutonomyEnabled(true, { actor: 'a', reason: 'r', at: '2026-01-01T00:00:00Z' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'kubernetes_not_found', status: 404 });
    expect((err as Error).message).toContain('leviathan-autonomy-config');
    expect((err as Error).message).toContain('kubectl apply -k');
    expect(api.objects.list('ConfigMap')).toHaveLength(0);
  });
});

describe('emergency stop and resume', () => {
  it('suspends the scheduler CronJob with a merge patch, and resume reverses it', async () => {
    seedCronJob(false);
    const before = await controls.getSchedulerCronJob();
    expect(before).toEqual({
      name: 'leviathan-dev-scheduler',
      suspended: false,
      schedule: '*/5 * * * *',
      lastScheduleTime: '2026-01-31T10:05:00.000Z',
      resourceVersion: expect.stringMatching(/^\d+$/),
    });

    const stopped = await controls.setSchedulerSuspended(true);
    expect(stopped.suspended).toBe(true);
    // A new version for the new flag: what names one observation of it (recordOutsideSuspension).
    expect(stopped.resourceVersion).toMatch(/^\d+$/);
    expect(stopped.resourceVersion).not.toBe(before.resourceVersion);
    expect(api.objects.get('CronJob', NS, 'leviathan-dev-scheduler')!.spec.suspend).toBe(true);
    const patch = api.requests.find((r) => r.method === 'PATCH')!;
    expect(patch).toMatchObject({
      path: '/apis/batch/v1/namespaces/leviathan/cronjobs/leviathan-dev-scheduler',
      contentType: 'application/merge-patch+json',
      body: { spec: { suspend: true } },
    });

    expect((await controls.setSchedulerSuspended(false)).suspended).toBe(false);
    const stored = api.objects.get('CronJob', NS, 'leviathan-dev-scheduler')!;
    expect(stored.spec.suspend).toBe(false);
    // The rest of the spec survives the patches.
    expect(stored.spec.schedule).toBe('*/5 * * * *');
    expect(stored.spec.concurrencyPolicy).toBe('Forbid');
  });

  it('reports a missing CronJob as not found, naming it and the fix', async () => {
    const err = await controls.setSchedulerSuspended(true).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'kubernetes_not_found', status: 404, reason: 'NotFound' });
    expect((err as Error).message).toMatch(/cronjobs\.batch "leviathan-dev-scheduler" not found/);
    expect((err as Error).message).toContain('k8s/base');
    await expect(controls.getSchedulerCronJob()).rejects.toMatchObject({ code: 'kubernetes_not_found' });
  });

  it('deletes only unfinished worker Jobs, in the background, and returns their names', async () => {
    seedWorker('leviathan-worker-running');
    seedWorker('leviathan-worker-pending');
    seedWorker('leviathan-worker-done');
    seedWorker('leviathan-worker-timed-out');
    seedWorker('not-a-worker', { app: 'leviathan-dev-scheduler' });
    api.setJobStatus(NS, 'leviathan-worker-running', { phase: 'active' });
    api.setJobStatus(NS, 'not-a-worker', { phase: 'active' });
    api.setJobStatus(NS, 'leviathan-worker-done', { phase: 'succeeded' });
    api.setJobStatus(NS, 'leviathan-worker-timed-out', { phase: 'failed', reason: 'DeadlineExceeded' });

    const deleted = await controls.deleteWorkerJobs();
    expect(deleted.sort()).toEqual(['leviathan-worker-pending', 'leviathan-worker-running']);
    expect(api.deletions).toHaveLength(2);
    expect(api.deletions.every((d) => d.propagationPolicy === 'Background')).toBe(true);
    expect(api.objects.list('Job', NS).map((j) => j.metadata.name).sort()).toEqual(['leviathan-worker-done', 'leviathan-worker-timed-out', 'not-a-worker']);
  });

  it('treats a Job that vanished between list and delete as deleted, and surfaces other failures', async () => {
    seedWorker('leviathan-worker-a');
    seedWorker('leviathan-worker-b');
    api.failNext({ method: 'DELETE', path: '/jobs/leviathan-worker-a', code: 404, reason: 'NotFound', message: 'jobs.batch "leviathan-worker-a" not found' });
    expect(await controls.deleteWorkerJobs()).toEqual(['leviathan-worker-b']);

    seedWorker('leviathan-worker-c');
    api.failNext({ method: 'DELETE', code: 403, reason: 'Forbidden', message: 'jobs.batch is forbidden' });
    await expect(controls.deleteWorkerJobs()).rejects.toMatchObject({ code: 'kubernetes_forbidden', message: expect.stringContaining('rbac.yaml') });
  });
});
