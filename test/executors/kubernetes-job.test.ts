import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { envSchema } from '../../src/env.ts';
import { createExecutor } from '../../src/executors/create-executor.ts';
import type { BacklogTask, EffectivePolicy } from '../../src/contract/types.ts';
import type { WorkerAssignment } from '../../src/executors/executor.ts';
import { ExecutorError, KubernetesJobExecutor, TASK_FILE_PATH, type KubernetesJobExecutorOptions } from '../../src/executors/kubernetes-job.ts';
import { InstallationTokenError } from '../../src/github/installation-token.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';
import { DEFAULT_POLICY } from '../../src/contract/policy.ts';
import { mintWorkerToken, verifyWorkerToken } from '../../src/api/worker-token.ts';

const WRITE_TOKEN = 'operator-write-token-0123456789';

const NS = 'leviathan';

function task(overrides: Partial<BacklogTask> = {}): BacklogTask {
  return {
    id: 'api-base-normalization-test',
    title: 'Normalise API base',
    scope: 'tests',
    priority: 'high',
    ready: true,
    status: 'pending',
    dependencies: [],
    allowed_paths: ['tests/'],
    acceptance_criteria: ['tests pass'],
    estimated_size: 'small',
    line: 3,
    ...overrides,
  };
}

const policy: EffectivePolicy = { ...DEFAULT_POLICY, forbidden_paths: ['.git/**'], sources: {} };

function assignment(overrides: Partial<WorkerAssignment> = {}): WorkerAssignment {
  return {
    attempt_id: 'att-01',
    target: 'iangreen74/radix',
    installation_id: 42,
    default_branch: 'main',
    task: task(),
    policy,
    timeout_seconds: 600,
    ...overrides,
  };
}

let api: FakeKubeApi;
let executor: KubernetesJobExecutor;
/** Installation tokens handed out, one per start, as the executor's token source minted them. */
let minted: string[];

const JOB = 'leviathan-worker-att-01';
const SECRET = `${JOB}-tokens`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const EXPIRES_AT = '2026-11-28T11:00:00.000Z';

/** An executor on the fake API server, with these token sources (or none). */
function executorWith(tokens: Pick<KubernetesJobExecutorOptions, 'workerToken' | 'githubToken'> = {}): KubernetesJobExecutor {
  return new KubernetesJobExecutor({
    kubeConfig: api.kubeConfig,
    namespace: NS,
    image: 'ghcr.io/leviathan/leviathan:0.1.0',
    controlPlaneUrl: 'http://leviathan-control-plane:8000',
    ...tokens,
  });
}
const attemptToken = (a: WorkerAssignment) => mintWorkerToken(WRITE_TOKEN, a, Date.now());

beforeEach(async () => {
  api = await startFakeKubeApi();
  minted = [];
  executor = executorWith({
    workerToken: attemptToken,
    githubToken: async (a) => {
      minted.push(`ghs_installation${minted.length + 1}for${a.target.replace(/\W/g, '')}0123456789`);
      return { token: minted.at(-1)!, expires_at: EXPIRES_AT };
    },
  });
});
afterEach(async () => {
  await api.close();
});

describe('KubernetesJobExecutor.start', () => {
  it('creates one Job per attempt with the operator-facing labels, a deadline and no retries', async () => {
    const { handle } = await executor.start(assignment());
    expect(handle).toBe('leviathan-worker-att-01');

    const job = api.objects.get('Job', NS, handle)!;
    expect(job.metadata.labels).toEqual({
      app: 'leviathan-worker',
      'leviathan.dev/target': 'iangreen74.radix',
      'leviathan.dev/task': 'api-base-normalization-test',
      'leviathan.dev/attempt': 'att-01',
    });
    expect(job.metadata.annotations).toMatchObject({
      'leviathan.dev/target': 'iangreen74/radix',
      'leviathan.dev/attempt': 'att-01',
    });
    expect(job.spec).toMatchObject({ activeDeadlineSeconds: 600, backoffLimit: 0, ttlSecondsAfterFinished: 86400 });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.serviceAccountName).toBe('leviathan-worker');
    expect(pod.automountServiceAccountToken).toBe(false);
    // `kubectl logs -l app=leviathan-worker` selects pods, so the pods need the label too.
    expect(job.spec.template.metadata.labels.app).toBe('leviathan-worker');
  });

  it('runs `leviathan worker` as non-root with a read-only root filesystem and bounded resources', async () => {
    await executor.start(assignment());
    const pod = api.objects.get('Job', NS, 'leviathan-worker-att-01')!.spec.template.spec;
    const [c] = pod.containers;
    expect(c.image).toBe('ghcr.io/leviathan/leviathan:0.1.0');
    expect(c.args).toEqual(['worker']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.resources.requests).toHaveProperty('memory');
    expect(c.resources.limits).toHaveProperty('memory');
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    expect(mounts['/tmp']).toBe('tmp');
    expect(mounts['/workspace']).toBe('workspace');
    const volumes = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
    expect(volumes.tmp.emptyDir).toBeDefined();
    expect(volumes.workspace.emptyDir).toBeDefined();
  });

  it('tells the worker where GitHub is, as the control plane has it (Enterprise Server), and what to redact, when built from the environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'leviathan-kubeconfig-'));
    const file = join(dir, 'config');
    await writeFile(file, api.kubeConfig.exportConfig());
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    try {
      const env = envSchema.parse({
        LEVIATHAN_EXECUTOR: 'kubernetes',
        LEVIATHAN_NAMESPACE: NS,
        LEVIATHAN_WORKER_IMAGE: 'ghcr.io/leviathan/leviathan:0.1.0',
        LEVIATHAN_AGENT_COMMAND: 'my-agent --task-from-stdin',
        LEVIATHAN_REDACTED_VARS: '*_KEY,MY_LLM_CREDS',
        GITHUB_API_URL: 'https://ghe.example.com/api/v3',
        GITHUB_SERVER_URL: 'https://ghe.example.com',
      });
      const built = await createExecutor(env, { controlPlaneUrl: 'http://leviathan-control-plane:8000', apiToken: WRITE_TOKEN, processEnv: { GITHUB_SERVER_URL: 'https://ghe.example.com' } });
      await built.start(assignment());
      const vars = Object.fromEntries(api.objects.get('Job', NS, 'leviathan-worker-att-01')!.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
      expect(vars).toMatchObject({ GITHUB_API_URL: 'https://ghe.example.com/api/v3', GITHUB_SERVER_URL: 'https://ghe.example.com', LEVIATHAN_AGENT_COMMAND: 'my-agent --task-from-stdin', LEVIATHAN_REDACTED_VARS: '*_KEY,MY_LLM_CREDS' });
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hands the assignment to the worker as a file projected from a pod annotation', async () => {
    const a = assignment();
    const before = Date.now();
    await executor.start(a);
    const after = Date.now();
    const template = api.objects.get('Job', NS, 'leviathan-worker-att-01')!.spec.template;
    const env = Object.fromEntries(template.spec.containers[0].env.map((e: any) => [e.name, e]));
    expect(env.LEVIATHAN_TASK_FILE.value).toBe(TASK_FILE_PATH);
    expect(env.LEVIATHAN_CONTROL_PLANE_URL.value).toBe('http://leviathan-control-plane:8000');
    // Clones go to the 4Gi workspace volume, not the 1Gi /tmp.
    expect(env.LEVIATHAN_WORK_DIR.value).toBe('/workspace');
    // Unset: the worker's built-in redaction list, not an empty one.
    expect(env).not.toHaveProperty('LEVIATHAN_REDACTED_VARS');
    // The agent's own credentials, from the operator's Secret when there is one; never over the worker's variables.
    expect(template.spec.containers[0].envFrom).toEqual([{ secretRef: { name: 'leviathan-agent-env', optional: true } }]);

    const item = template.spec.volumes.find((v: any) => v.name === 'task').downwardAPI.items[0];
    expect(`/etc/leviathan/task/${item.path}`).toBe(TASK_FILE_PATH);
    const annotation = item.fieldRef.fieldPath.match(/^metadata\.annotations\['(.+)'\]$/)[1];
    const handed = JSON.parse(template.metadata.annotations[annotation]);
    // Plus the worker's own deadline: the Job's creation + the timeout, as activeDeadlineSeconds counts.
    const { deadline_at, ...rest } = handed;
    expect(rest).toEqual(a);
    expect(Date.parse(deadline_at)).toBeGreaterThanOrEqual(before + a.timeout_seconds * 1000);
    expect(Date.parse(deadline_at)).toBeLessThanOrEqual(after + a.timeout_seconds * 1000);
  });

  it('gives the worker only its repository token and its attempt token, both by reference to its own Secret', async () => {
    await executor.start(assignment());
    const job = api.objects.get('Job', NS, JOB)!;
    const env: any[] = job.spec.template.spec.containers[0].env;
    expect(env.find((e) => e.name === 'GITHUB_TOKEN')).toEqual({ name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: SECRET, key: 'GITHUB_TOKEN' } } });
    // Its expiry from the same Secret, so the two always match; optional: a development token has none.
    expect(env.find((e) => e.name === 'GITHUB_TOKEN_EXPIRES_AT')).toEqual({
      name: 'GITHUB_TOKEN_EXPIRES_AT',
      valueFrom: { secretKeyRef: { name: SECRET, key: 'GITHUB_TOKEN_EXPIRES_AT', optional: true } },
    });
    // The App's credentials are nowhere in the pod, and the token is in no value of it.
    for (const name of ['APP_ID', 'PRIVATE_KEY', 'PRIVATE_KEY_PATH']) expect(env.map((e) => e.name), name).not.toContain(name);
    expect(JSON.stringify(job)).not.toContain('leviathan-github-app');
    expect(minted).toHaveLength(1);
    expect(JSON.stringify(job)).not.toContain(minted[0]);
    expect(JSON.stringify(job)).not.toContain(b64(minted[0]!));
    // Not the operator's token: one that may only report this attempt, from the same Secret.
    expect(env.find((e) => e.name === 'LEVIATHAN_API_TOKEN')).toEqual({
      name: 'LEVIATHAN_API_TOKEN',
      valueFrom: { secretKeyRef: { name: SECRET, key: 'LEVIATHAN_API_TOKEN' } },
    });
    const token = Buffer.from(api.objects.get('Secret', NS, SECRET)!.data.LEVIATHAN_API_TOKEN, 'base64').toString('utf8');
    expect(JSON.stringify(job)).not.toContain(token);
    expect(JSON.stringify(job)).not.toContain(WRITE_TOKEN);
    expect(verifyWorkerToken([WRITE_TOKEN], token, Date.now())).toMatchObject({ target: 'iangreen74/radix', attempt_id: 'att-01' });
    // Only what the worker needs: not the webhook secret or the OAuth client secret.
    expect(env.map((e) => e.name)).not.toContain('WEBHOOK_SECRET');
    expect(env.map((e) => e.name)).not.toContain('GITHUB_CLIENT_SECRET');
    expect(JSON.stringify(job)).not.toContain(api.token);
  });

  it('uses the default 900 s deadline when the assignment has no usable timeout', async () => {
    await executor.start(assignment({ timeout_seconds: 0 }));
    expect(api.objects.get('Job', NS, 'leviathan-worker-att-01')!.spec.activeDeadlineSeconds).toBe(900);
  });

  it('turns any attempt id and target into valid, deterministic names and labels', async () => {
    const longId = `Attempt_${'x'.repeat(80)}/#1`;
    const { handle } = await executor.start(assignment({ attempt_id: longId, target: 'Some-Org/my_repo.js' }));
    expect(handle.length).toBeLessThanOrEqual(63);
    expect(handle).toMatch(/^leviathan-worker-[a-z0-9-]*[a-z0-9]$/);
    const job = api.objects.get('Job', NS, handle)!;
    expect(job.metadata.labels['leviathan.dev/target']).toBe('Some-Org.my_repo.js');
    expect(job.metadata.annotations['leviathan.dev/attempt']).toBe(longId);
    // Same input, same name: that is what makes a retried start idempotent.
    expect(executor.buildJob(assignment({ attempt_id: longId })).metadata!.name).toBe(handle);
    expect(executor.buildJob(assignment({ attempt_id: `${longId}2` })).metadata!.name).not.toBe(handle);
  });

  it('treats a second start of the same attempt as already started', async () => {
    const first = await executor.start(assignment());
    const second = await executor.start(assignment());
    expect(second).toEqual(first);
    expect(api.objects.list('Job', NS)).toHaveLength(1);
    expect(api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/jobs')).length).toBe(2);
  });

  it('refuses to adopt an existing Job that belongs to another attempt', async () => {
    api.objects.put('Job', {
      metadata: { name: 'leviathan-worker-att-01', namespace: NS, annotations: { 'leviathan.dev/attempt': 'someone-else' } },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'x:1' }] } } },
    });
    await expect(executor.start(assignment())).rejects.toMatchObject({ code: 'executor_failed', message: expect.stringContaining('someone-else') });
  });

  it('reports an API rejection as executor_failed with the server reason and without the token', async () => {
    api.failNext({ method: 'POST', path: '/jobs', code: 422, reason: 'Invalid', message: 'Job.batch "leviathan-worker-att-01" is invalid: spec.template.spec.containers[0].image: Required value' });
    const err = await executor.start(assignment()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err).toMatchObject({ code: 'executor_failed', kubernetes: { code: 'kubernetes_invalid', status: 422, reason: 'Invalid' } });
    expect((err as Error).message).toContain('containers[0].image: Required value');
    expect(JSON.stringify({ ...(err as object), message: (err as Error).message, stack: (err as Error).stack })).not.toContain(api.token);
  });

  it('never leaks the bearer token, even when the server echoes it back', async () => {
    api.failNext({ method: 'POST', code: 403, reason: 'Forbidden', message: `token Bearer ${api.token} cannot create jobs` });
    const err = (await executor.start(assignment()).catch((e: unknown) => e)) as ExecutorError;
    expect(err.code).toBe('executor_failed');
    expect(err.kubernetes?.code).toBe('kubernetes_forbidden');
    expect(`${err.message}\n${err.stack}`).not.toContain(api.token);
  });

  it('a create answered with a 5xx after the Job was stored counts as started, not failed', async () => {
    api.failNext({ method: 'POST', path: '/jobs', code: 504, reason: 'Timeout', message: 'request timed out', afterApply: true });
    const { handle } = await executor.start(assignment());
    expect(handle).toBe('leviathan-worker-att-01');
    // A 5xx that stored nothing is still a failure.
    api.failNext({ method: 'POST', path: '/jobs', code: 503, reason: 'ServiceUnavailable', message: 'etcd unavailable' });
    await expect(executor.start(assignment({ attempt_id: 'att-02' }))).rejects.toMatchObject({ code: 'executor_failed' });
  });

  it('reports an unreachable API server as executor_failed', async () => {
    await api.close();
    await expect(executor.start(assignment())).rejects.toMatchObject({ code: 'executor_failed', kubernetes: { code: 'kubernetes_unreachable' } });
    api = await startFakeKubeApi(); // afterEach closes it
  });
});

describe('KubernetesJobExecutor: the worker\'s tokens Secret', () => {
  const secretRequests = () =>
    api.requests.filter((r) => r.path.includes('/secrets') || r.path.includes('/jobs')).map((r) => `${r.method} ${r.path.replace(`/namespaces/${NS}`, '')} ${r.contentType ?? ''}`.trim());

  it('creates the Job, then its Secret, owned by the Job from the start', async () => {
    await executor.start(assignment());
    const job = api.objects.get('Job', NS, JOB)!;
    const secret = api.objects.get('Secret', NS, SECRET)!;
    expect(secret.type).toBe('Opaque');
    expect(secret.data).toEqual({
      GITHUB_TOKEN: b64(minted[0]!),
      GITHUB_TOKEN_EXPIRES_AT: b64(EXPIRES_AT),
      LEVIATHAN_API_TOKEN: expect.stringMatching(/^[A-Za-z0-9+/=]+$/),
    });
    expect(secret.metadata.labels).toEqual(job.metadata.labels);
    expect(secret.metadata.annotations).toMatchObject({ 'leviathan.dev/attempt': 'att-01', 'leviathan.dev/target': 'iangreen74/radix' });
    expect(secret.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: JOB, uid: job.metadata.uid, blockOwnerDeletion: false }]);
    // Create is the only verb used on Secrets: nothing here could change or delete an existing one.
    expect(secretRequests()).toEqual(['POST /apis/batch/v1/jobs application/json', 'POST /api/v1/secrets application/json']);
  });

  it('goes with its Job: deleting the Job (Background, as emergency stop and the TTL controller do) deletes the Secret', async () => {
    await executor.start(assignment());
    const uid = api.objects.get('Job', NS, JOB)!.metadata.uid;
    const res = await fetch(`${api.url}/apis/batch/v1/namespaces/${NS}/jobs/${JOB}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ propagationPolicy: 'Background' }),
    });
    expect(res.status).toBe(200);
    expect(api.objects.get('Secret', NS, SECRET)).toBeUndefined();
    expect(api.collected).toEqual([{ kind: 'Secret', namespace: NS, name: SECRET, owner: uid }]);
  });

  it('makes no Secret when the Job cannot be created', async () => {
    api.failNext({ method: 'POST', path: '/jobs', code: 403, reason: 'Forbidden', message: 'jobs.batch is forbidden: exceeded quota' });
    const err = await executor.start(assignment()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'executor_failed', message: expect.stringContaining('exceeded quota') });
    expect(api.objects.list('Secret', NS)).toEqual([]);
    expect(api.objects.list('Job', NS)).toEqual([]);
    expect(secretRequests()).toEqual(['POST /apis/batch/v1/jobs application/json']);
    expect(`${(err as Error).message}\n${(err as Error).stack}`).not.toContain(minted[0]);
  });

  it('undoes the start when the Secret cannot be created: the Job is deleted, nothing is left', async () => {
    api.failNext({ method: 'POST', path: '/secrets', code: 403, reason: 'Forbidden', message: 'secrets is forbidden: exceeded quota' });
    const err = await executor.start(assignment()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'executor_failed', message: expect.stringContaining('exceeded quota') });
    expect(api.objects.list('Secret', NS)).toEqual([]);
    expect(api.objects.list('Job', NS)).toEqual([]);
    expect(api.deletions).toEqual([{ kind: 'Job', namespace: NS, name: JOB, propagationPolicy: 'Background' }]);
    expect(`${(err as Error).message}\n${(err as Error).stack}`).not.toContain(minted[0]);
  });

  it('a Secret stored by a create that then timed out goes with the Job the undone start deletes', async () => {
    api.failNext({ method: 'POST', path: '/secrets', code: 504, reason: 'Timeout', message: 'request timed out', afterApply: true });
    await expect(executor.start(assignment())).rejects.toMatchObject({ code: 'executor_failed', message: expect.stringContaining('timed out') });
    expect(api.objects.list('Job', NS)).toEqual([]);
    expect(api.objects.list('Secret', NS)).toEqual([]);
    expect(api.collected).toEqual([expect.objectContaining({ kind: 'Secret', name: SECRET })]);
  });

  it('a retried start of the same attempt keeps its Job and the Secret the first start made', async () => {
    await executor.start(assignment());
    const uid = api.objects.get('Job', NS, JOB)!.metadata.uid;
    await executor.start(assignment());
    expect(api.objects.list('Job', NS)).toHaveLength(1);
    expect(api.deletions).toEqual([]);
    const secret = api.objects.get('Secret', NS, SECRET)!;
    // The running worker read the first token already; a fresh one comes from the control plane when it needs one.
    expect(secret.data.GITHUB_TOKEN).toBe(b64(minted[0]!));
    expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', name: JOB, uid })]);
  });

  it('a Job an earlier start left without its Secret gets one, owned by that Job', async () => {
    api.failNext({ method: 'POST', path: '/secrets', code: 403, reason: 'Forbidden', message: 'secrets is forbidden' });
    api.failNext({ method: 'DELETE', path: '/jobs/', code: 503, reason: 'ServiceUnavailable', message: 'etcd unavailable' });
    await expect(executor.start(assignment())).rejects.toMatchObject({ code: 'executor_failed' });
    const uid = api.objects.get('Job', NS, JOB)!.metadata.uid;
    expect(api.objects.list('Secret', NS)).toEqual([]);
    await executor.start(assignment());
    expect(api.objects.get('Secret', NS, SECRET)!.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', name: JOB, uid })]);
    expect(api.objects.get('Secret', NS, SECRET)!.data.GITHUB_TOKEN).toBe(b64(minted[1]!));
  });

  it('refuses a Secret of the same name that is not its new Job\'s: leaves it alone and undoes the Job', async () => {
    api.objects.put('Secret', { metadata: { name: SECRET, namespace: NS, annotations: { 'leviathan.dev/attempt': 'someone-else' } }, data: { GITHUB_TOKEN: b64('theirs') } });
    await expect(executor.start(assignment())).rejects.toMatchObject({ code: 'executor_failed', message: expect.stringContaining(`does not belong to Job ${JOB}`) });
    expect(api.objects.get('Secret', NS, SECRET)!.data).toEqual({ GITHUB_TOKEN: b64('theirs') });
    expect(api.objects.list('Job', NS)).toEqual([]);
  });

  it('creates nothing when no token can be minted, and passes the credentials error on', async () => {
    const failing = executorWith({
      githubToken: async () => {
        throw new InstallationTokenError('Could not mint a GitHub token for iangreen74/radix (installation 42, HTTP 404)');
      },
    });
    await expect(failing.start(assignment())).rejects.toMatchObject({ code: 'github_auth_failed' });
    expect(api.requests).toEqual([]);
  });

  it('without a token source the worker gets no GitHub variable and no Secret is made', async () => {
    await executorWith().start(assignment());
    const env: any[] = api.objects.get('Job', NS, JOB)!.spec.template.spec.containers[0].env;
    expect(env.map((e) => e.name)).toEqual(['LEVIATHAN_TASK_FILE', 'LEVIATHAN_CONTROL_PLANE_URL', 'LEVIATHAN_WORK_DIR']);
    expect(api.objects.list('Secret', NS)).toEqual([]);
  });

  it('with only an attempt token (no GitHub App, no GITHUB_TOKEN) the Secret holds just that', async () => {
    await executorWith({ workerToken: attemptToken }).start(assignment());
    const env: any[] = api.objects.get('Job', NS, JOB)!.spec.template.spec.containers[0].env;
    expect(env.map((e) => e.name)).toEqual(['LEVIATHAN_TASK_FILE', 'LEVIATHAN_CONTROL_PLANE_URL', 'LEVIATHAN_WORK_DIR', 'LEVIATHAN_API_TOKEN']);
    expect(Object.keys(api.objects.get('Secret', NS, SECRET)!.data)).toEqual(['LEVIATHAN_API_TOKEN']);
  });
});

describe('KubernetesJobExecutor.list', () => {
  async function startAll(...ids: string[]) {
    for (const id of ids) await executor.start(assignment({ attempt_id: id, task: task({ id: `task-${id}` }) }));
  }

  it('maps Job status to worker runs: active, succeeded, deadline exceeded, lost', async () => {
    await startAll('pending', 'run', 'ok', 'slow', 'lost', 'evicted');
    api.setJobStatus(NS, 'leviathan-worker-run', { phase: 'active' });
    api.setJobStatus(NS, 'leviathan-worker-ok', { phase: 'succeeded' });
    api.setJobStatus(NS, 'leviathan-worker-slow', { phase: 'failed', reason: 'DeadlineExceeded' });
    api.setJobStatus(NS, 'leviathan-worker-lost', { phase: 'failed', reason: 'BackoffLimitExceeded' });
    // A pod that died before the controller wrote a condition: only the counter says so.
    api.setJobStatus(NS, 'leviathan-worker-evicted', { phase: 'raw', status: { failed: 1 } });

    const runs = Object.fromEntries((await executor.list()).map((r) => [r.attempt_id, r]));
    expect(runs.pending).toMatchObject({ state: 'running', handle: 'leviathan-worker-pending' });
    expect(runs.run).toEqual({
      attempt_id: 'run',
      target: 'iangreen74/radix',
      task_id: 'task-run',
      state: 'running',
      handle: 'leviathan-worker-run',
      // Where an operator reads why a pod never started: its events, by the Job's attempt label.
      inspect: `kubectl -n ${NS} describe pod -l leviathan.dev/attempt=run`,
    });
    expect(runs.ok).toMatchObject({ state: 'succeeded' });
    expect(runs.ok).not.toHaveProperty('failure_type');
    expect(runs.slow).toMatchObject({ state: 'failed', failure_type: 'timeout' });
    expect(runs.lost).toMatchObject({ state: 'failed', failure_type: 'worker_lost' });
    expect(runs.evicted).toMatchObject({ state: 'failed', failure_type: 'worker_lost' });
  });

  it('lists only worker Jobs, by the app=leviathan-worker selector', async () => {
    await startAll('a1');
    api.objects.put('Job', {
      metadata: { name: 'unrelated', namespace: NS, labels: { app: 'something-else' } },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x:1' }] } } },
    });
    const runs = await executor.list();
    expect(runs.map((r) => r.handle)).toEqual(['leviathan-worker-a1']);
    const listCall = api.requests.find((r) => r.method === 'GET' && r.path.includes('/jobs?'))!;
    expect(new URL(listCall.path, api.url).searchParams.get('labelSelector')).toBe('app=leviathan-worker');
  });

  it('reports a failed list as executor_failed', async () => {
    api.failNext({ method: 'GET', code: 500, reason: 'InternalError', message: 'etcdserver: request timed out' });
    await expect(executor.list()).rejects.toMatchObject({ code: 'executor_failed', message: expect.stringContaining('etcdserver') });
  });
});
