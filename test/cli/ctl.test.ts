import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctl } from '../../src/cli/ctl.ts';
import { envSchema } from '../../src/env.ts';
import { KubernetesClusterControls } from '../../src/kubernetes/cluster-controls.ts';
import { READ_TOKEN, WRITE_TOKEN, startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';

const T = 'acme/web';

/** Runs `leviathan ctl …` in-process against `cp`, capturing what it prints. */
async function run(cp: TestControlPlane, argv: string[], token = WRITE_TOKEN): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        append(chunk.toString());
        done();
      },
    });
  const env = envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: token, LEVIATHAN_DATA_DIR: cp.dataDir });
  const code = await ctl(env, argv, { out: sink((s) => (out += s)), err: sink((s) => (err += s)) });
  return { code, out, err };
}

describe('ctl against an embedded control plane', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane({ overrides: { cluster: null } });
    await cp.api('/v1/events', {
      method: 'POST',
      json: [
        { type: 'target.registered', target: T, data: { installation_id: 1 } },
        { type: 'backlog.synced', target: T, data: { tasks: [{ id: 'a', title: 'A', priority: 'high', ready: false, status: 'pending', dependencies: [], allowed_paths: ['docs/'] }] } },
      ],
    });
  });
  afterAll(async () => {
    await cp.destroy();
  });

  it('autonomy on|off need a reason (usage error, exit 2) and then toggle autonomy', async () => {
    const noReason = await run(cp, ['autonomy', 'on']);
    expect(noReason).toMatchObject({ code: 2, out: '' });
    expect(noReason.err).toContain('autonomy on needs --reason');

    const on = await run(cp, ['autonomy', 'on', '--reason', 'go live']);
    expect(on.code).toBe(0);
    expect(on.out).toMatch(/^Autonomy enabled \(recorded as seq \d+\)\.\nAutonomy: enabled \(source: settings\) — changed by token:\w+ at .+: go live\n/);

    const off = await run(cp, ['autonomy', 'off', '--reason', 'incident 42']);
    expect(off.code).toBe(0);
    expect(off.out).toContain('Autonomy: disabled (source: settings)');
    expect(off.out).toContain(': incident 42');

    const status = await run(cp, ['autonomy']);
    expect(status.code).toBe(0);
    expect(status.out).toContain('Autonomy: disabled');
    expect(status.out).toContain('Scheduler: not suspended (no cycle completed yet)');
    expect(status.out).toContain('Next tick: none — No scheduler loop runs in this process');

    expect((await run(cp, ['autonomy', 'maybe'])).code).toBe(2);
  });

  it("status prints the console's Targets line, paused targets named only when there are some", async () => {
    const res = await run(cp, ['status'], READ_TOKEN);
    expect(res.code).toBe(0);
    // Autonomy is off here: the one target is paused.
    expect(res.out).toContain('Targets: 0 active, 0 blocked, 1 paused\n');
  });

  it('a read-only token is refused: exit 1 with the server’s message', async () => {
    const res = await run(cp, ['autonomy', 'off', '--reason', 'x'], `read:${READ_TOKEN}`);
    expect(res).toEqual({ code: 1, out: '', err: 'forbidden: This token is read-only.\n' });
    expect((await run(cp, ['stop', '--reason', 'x'], `read:${READ_TOKEN}`)).err).toBe('forbidden: This token is read-only.\n');
  });

  it('stop, then resume with no target lifts the emergency stop; a second resume exits 1', async () => {
    expect((await run(cp, ['stop'])).code).toBe(2);
    const stop = await run(cp, ['stop', '--reason', 'runaway PRs']);
    expect(stop.code).toBe(0);
    expect(stop.out).toContain('Emergency stop recorded');
    expect(stop.out).toContain('Running workers continue to completion (add --delete-jobs to stop them).');
    expect(stop.out).toMatch(/Scheduler: SUSPENDED \(emergency stop by token:\w+ at .+: runaway PRs\)/);
    expect(stop.out).toContain('Resume with: leviathan ctl resume');

    const resume = await run(cp, ['resume', '--reason', 'fixed']);
    expect(resume.code).toBe(0);
    expect(resume.out).toContain('Scheduler resumed');
    expect(resume.out).toContain('⚠ Autonomy is still disabled');

    const again = await run(cp, ['resume']);
    expect(again).toEqual({ code: 1, out: '', err: 'not_paused: The scheduler is not emergency-stopped.\n' });
  });

  it('resume owner/repo still resumes that target', async () => {
    expect((await run(cp, ['pause', T, '--reason', 'freeze'])).code).toBe(0);
    const res = await run(cp, ['resume', T]);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^acme\/web: \w+ — /);
    expect((await cp.api(`/v1/targets/${T}`).then((r) => r.json())) as { target: { paused: unknown } }).toMatchObject({ target: { paused: null } });
  });

  it('diagnose prints the first blocking check with its evidence, action and command', async () => {
    const res = await run(cp, ['diagnose', T]);
    expect(res.code).toBe(0);
    const lines = res.out.split('\n');
    expect(lines[0]).toBe('acme/web is not executing: ⚠ Autonomy disabled in configuration. Enable autonomy if disabled.');
    expect(res.out).toContain('✗ autonomy         ⚠ Autonomy disabled in configuration');
    expect(res.out).toMatch(/ {4}seq \d+ \S+ autonomy\.disabled: autonomy\.disabled by token:\w+: incident 42/);
    expect(res.out).toContain('    → Enable autonomy if disabled.');
    expect(res.out).toContain('    $ leviathan ctl autonomy on --reason "…"');
    expect(res.out).toContain('✗ ready_tasks      No ready tasks in backlog.');
    expect(res.out).toContain('✓ paused           Not paused');

    expect((await run(cp, ['diagnose'])).code).toBe(2);
    const missing = await run(cp, ['diagnose', 'acme/nope']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('not_found: No target acme/nope');
  });

  it('reconcile reports the server’s refusal when the GitHub App is not configured (exit 1)', async () => {
    const res = await run(cp, ['reconcile']);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^(not_found|not_configured): /);
  });
});

describe('ctl stop --delete-jobs against Kubernetes (fake API server)', () => {
  let kube: FakeKubeApi;
  let cp: TestControlPlane;
  beforeAll(async () => {
    kube = await startFakeKubeApi();
    kube.objects.put('ConfigMap', { metadata: { name: 'leviathan-autonomy-config', namespace: 'leviathan' }, data: { autonomy_enabled: 'true' } });
    kube.objects.put('CronJob', {
      metadata: { name: 'leviathan-dev-scheduler', namespace: 'leviathan' },
      spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: 'x:1' }] } } } } },
    });
    kube.objects.put('Job', {
      metadata: { name: 'leviathan-worker-a1', namespace: 'leviathan', labels: { app: 'leviathan-worker' } },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'worker', image: 'x:1' }] } } },
    });
    kube.setJobStatus('leviathan', 'leviathan-worker-a1', { phase: 'active' });
    cp = await startTestControlPlane({ overrides: { cluster: new KubernetesClusterControls({ kubeConfig: kube.kubeConfig, namespace: 'leviathan' }) } });
  });
  afterAll(async () => {
    await cp.destroy();
    await kube.close();
  });

  it('suspends the CronJob, deletes the running worker, and shows the CronJob state', async () => {
    const res = await run(cp, ['stop', '--delete-jobs', '--reason', 'bad agent build']);
    expect(res.code).toBe(0);
    expect(res.out).toContain('Deleted worker Jobs: leviathan-worker-a1');
    expect(res.out).toContain('CronJob: leviathan-dev-scheduler "*/5 * * * *" suspend=true');
    expect(res.out).toContain('Autonomy: enabled (source: configmap)');
    expect(kube.deletions).toEqual([{ kind: 'Job', namespace: 'leviathan', name: 'leviathan-worker-a1', propagationPolicy: 'Background' }]);

    const resume = await run(cp, ['resume']);
    expect(resume.code).toBe(0);
    expect(resume.out).toContain('suspend=false');
    expect(resume.out).toMatch(/Next tick: \d{4}-\d\d-\d\dT\d\d:\d[05]:00\.000Z/);
    expect(kube.objects.get('CronJob', 'leviathan', 'leviathan-dev-scheduler')!.spec.suspend).toBe(false);
  });
});
