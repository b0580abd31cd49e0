import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ctl } from '../../src/cli/ctl.ts';
import { stoppedAttemptEvents } from '../../src/control/autonomy-controls.ts';
import { envSchema } from '../../src/env.ts';
import { KubernetesClusterControls } from '../../src/kubernetes/cluster-controls.ts';
import { lostWorkerEvents } from '../../src/scheduler/lost-workers.ts';
import { buildSnapshot } from '../../src/scheduler/snapshot.ts';
import { startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';
import { project, target, task, type GivenEvent } from '../scheduler/given.ts';
import { eventsOf, post } from '../scheduler/seed.ts';

const NS = 'leviathan';
const T = 'acme/web';
type Json = Record<string, any>;

/** Tasks a, b and c of T, each with an attempt in flight (a1, b1, c1) that reported attempt.started. */
const running = (...attempts: Array<[task: string, attempt: string]>) =>
  attempts.flatMap(([taskId, attempt]) => [
    { type: 'task.selected', target: T, data: { task_id: taskId, attempt_id: attempt } },
    { type: 'attempt.created', target: T, data: { task_id: taskId, attempt_id: attempt, executor: 'kubernetes', handle: `leviathan-worker-${attempt}`, timeout_seconds: 900 } },
    { type: 'attempt.started', target: T, actor: `worker:${attempt}`, data: { task_id: taskId, attempt_id: attempt } },
  ]);

describe('stoppedAttemptEvents', () => {
  const given: GivenEvent[] = [...target(T, [task('a'), task('b')]), ...running(['a', 'a1'], ['b', 'b1'])];

  it("ends each attempt in flight whose Job was deleted, with the worker's own failure id, as not counted", () => {
    const events = stoppedAttemptEvents(project(given), ['leviathan-worker-a1', 'leviathan-worker-gone'], { actor: 'token:ops', reason: 'runaway agent' });
    expect(events).toEqual([
      expect.objectContaining({
        id: 'a1:failed',
        type: 'attempt.failed',
        actor: 'scheduler',
        target: T,
        subject: 'attempt:a1',
        data: expect.objectContaining({ attempt_id: 'a1', task_id: 'a', failure_type: 'other', error_kind: 'cancelled', phase: 'emergency_stop', stopped_by: 'token:ops' }),
      }),
    ]);
    expect(events[0]!.data.message).toContain('emergency stop of token:ops (runaway agent)');
  });

  it('ends nothing for attempts already ended or Jobs of no attempt in flight', () => {
    const ended: GivenEvent[] = [...given, { type: 'attempt.succeeded', target: T, data: { attempt_id: 'a1', task_id: 'a' } }];
    expect(stoppedAttemptEvents(project(ended), ['leviathan-worker-a1'], { actor: 'ops', reason: '' })).toEqual([]);
    expect(stoppedAttemptEvents(project(given), [], { actor: 'ops', reason: '' })).toEqual([]);
  });
});

describe('ctl stop --delete-jobs (real client, fake API server)', () => {
  let kube: FakeKubeApi;
  let cp: TestControlPlane;

  beforeEach(async () => {
    kube = await startFakeKubeApi();
    kube.objects.put('ConfigMap', { metadata: { name: 'leviathan-autonomy-config', namespace: NS }, data: { autonomy_enabled: 'true' } });
    kube.objects.put('CronJob', {
      metadata: { name: 'leviathan-dev-scheduler', namespace: NS },
      spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: 'leviathan:1' }] } } } } },
    });
    // a1 and b1 run; c1's worker has finished but not reported yet, so its Job is not deleted.
    for (const [attempt, phase] of [['a1', 'active'], ['b1', 'active'], ['c1', 'succeeded']] as const) {
      const name = `leviathan-worker-${attempt}`;
      kube.objects.put('Job', {
        metadata: { name, namespace: NS, labels: { app: 'leviathan-worker' } },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'worker', image: 'leviathan:1' }] } } },
      });
      kube.setJobStatus(NS, name, { phase });
    }
    cp = await startTestControlPlane({ overrides: { cluster: new KubernetesClusterControls({ kubeConfig: kube.kubeConfig, namespace: NS }) } });
    const tasks = ['a', 'b', 'c'].map((id) => task(id));
    await post(cp, [
      { type: 'autonomy.enabled', data: { reason: 'go', source: 'configmap' } },
      { type: 'target.registered', target: T, data: { installation_id: 1 } },
      { type: 'backlog.synced', target: T, data: { tasks } },
      ...running(['a', 'a1'], ['b', 'b1'], ['c', 'c1']),
    ]);
  });
  afterEach(async () => {
    await cp.destroy();
    await kube.close();
  });

  it("costs the stopped tasks no try and the breaker nothing, and the first tick after resume finds nothing lost", async () => {
    const res = await cp.api('/v1/autonomy/emergency-stop', { method: 'POST', json: { reason: 'runaway agent', delete_running_jobs: true } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).deleted_jobs).toEqual(['leviathan-worker-a1', 'leviathan-worker-b1']);

    // Stored with the stop, which names them.
    const failed = await eventsOf(cp, 'attempt.failed');
    expect(failed.map((e) => [e.id, e.data.phase])).toEqual([
      ['a1:failed', 'emergency_stop'],
      ['b1:failed', 'emergency_stop'],
    ]);
    const [stop] = await eventsOf(cp, 'scheduler.emergency_stopped');
    expect(stop!.data.cancelled_attempts).toEqual(['a1', 'b1']);
    expect(failed[0]!.seq).toBe(stop!.seq + 1);

    const t = () => cp.projector.state.targets[T]!;
    expect(t().tasks.a).toMatchObject({ attempts: 0, failures: 0, in_flight_attempt: null, last_failure: null });
    expect(t().tasks.b).toMatchObject({ attempts: 0, failures: 0, in_flight_attempt: null });
    expect(t().tasks.c).toMatchObject({ attempts: 1, in_flight_attempt: 'c1' });
    expect(t().breaker.consecutive_failures).toBe(0);
    expect(t().recent_attempts.find((a) => a.attempt_id === 'a1')).toMatchObject({ state: 'failed', counted: false });

    // The killed worker's own report, had it made one, is the same id: acknowledged, not stored.
    const late = await cp.api('/v1/events', {
      method: 'POST',
      json: { id: 'a1:failed', type: 'attempt.failed', target: T, actor: 'worker:a1', data: { attempt_id: 'a1', task_id: 'a', failure_type: 'agent_error' } },
    });
    expect(((await late.json()) as Json).duplicates).toEqual(['a1:failed']);

    // Resume; the first tick, long after the deadlines, lists the Jobs that are left and judges the rest.
    expect((await cp.api('/v1/autonomy/resume', { method: 'POST', json: { reason: 'fixed' } })).status).toBe(200);
    const later = new Date(Date.now() + 2 * 3600_000);
    const lost = lostWorkerEvents(later, buildSnapshot(cp.projector.state, later), [], { globalDefaults: {} });
    expect(lost.map((e) => e.data.attempt_id)).toEqual(['c1']);
  });

  it('a stop already standing: --delete-jobs still deletes the running Jobs and ends their attempts uncounted, but records no second stop', async () => {
    expect((await cp.api('/v1/autonomy/emergency-stop', { method: 'POST', json: { reason: 'first' } })).status).toBe(200);
    const res = await cp.api('/v1/autonomy/emergency-stop', { method: 'POST', json: { reason: 'kill them', delete_running_jobs: true } });
    expect(res.status).toBe(409);
    const { error } = (await res.json()) as Json;
    expect(error).toMatchObject({
      code: 'already_stopped',
      emergency_stop: { reason: 'first' },
      deleted_jobs: ['leviathan-worker-a1', 'leviathan-worker-b1'],
      cancelled_attempts: ['a1', 'b1'],
    });
    expect(error.message).toContain('(attempts a1, b1 ended, not counted as tries)');
    expect((await eventsOf(cp, 'scheduler.emergency_stopped')).map((e) => e.data.reason)).toEqual(['first']);
    const failed = await eventsOf(cp, 'attempt.failed');
    expect(failed.map((e) => [e.id, e.data.phase, e.data.stopped_by])).toEqual([
      ['a1:failed', 'emergency_stop', expect.stringMatching(/^token:/)],
      ['b1:failed', 'emergency_stop', expect.stringMatching(/^token:/)],
    ]);
    expect(cp.projector.state.targets[T]!.tasks.a).toMatchObject({ attempts: 0, failures: 0, in_flight_attempt: null });
    expect(cp.projector.state.autonomy.emergency_stop).toMatchObject({ reason: 'first' });
  });
});

/** `leviathan ctl …` in-process against `cp`: what an operator sees, stdout and stderr together. */
async function runCtl(cp: TestControlPlane, argv: string[]): Promise<string> {
  let printed = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      printed += chunk.toString();
      done();
    },
  });
  const env = envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: cp.dataDir });
  await ctl(env, argv, { out: sink, err: sink });
  return printed;
}

describe('what ctl answers (embedded, real client)', () => {
  let cp: TestControlPlane;
  let dir: string | null = null;
  afterEach(async () => {
    await cp.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = null;
  });

  it('ctl stop twice: the second says the first stop stands, with its who/when/why, and records nothing', async () => {
    cp = await startTestControlPlane({ overrides: { cluster: null } });
    expect(await runCtl(cp, ['stop', '--reason', 'first'])).toContain('Emergency stop recorded');
    const seq = cp.store.health().head.seq;
    const [first] = await eventsOf(cp, 'scheduler.emergency_stopped');

    const second = await runCtl(cp, ['stop', '--reason', 'second']);
    expect(second).not.toContain('Emergency stop recorded');
    expect(second).toContain(`already emergency-stopped by ${first!.actor} since ${first!.time}: first`);
    expect(cp.store.health().head.seq).toBe(seq);
    expect(await runCtl(cp, ['autonomy'])).toContain(`emergency stop by ${first!.actor} at ${first!.time}: first`);
  });

  it('ctl autonomy off under LEVIATHAN_AUTONOMY_CONFIG: refused, naming the file to edit; ctl autonomy shows the file as the source', async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-autonomy-'));
    const file = join(dir, 'autonomy.yaml');
    await writeFile(file, 'autonomy_enabled: true\n');
    cp = await startTestControlPlane({ env: { LEVIATHAN_AUTONOMY_CONFIG: file }, overrides: { cluster: null } });
    const off = await runCtl(cp, ['autonomy', 'off', '--reason', 'x']);
    expect(off).toContain('managed_by_file');
    expect(off).toContain(file);
    expect(off).not.toContain('Autonomy disabled');
    expect(cp.store.health().head.seq).toBe(0);
    expect(await runCtl(cp, ['autonomy'])).toContain('Autonomy: enabled (source: file)');
  });
});
