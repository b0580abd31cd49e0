import {
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1EnvVar,
  type V1Job,
  type V1ResourceRequirements,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  APP_LABEL,
  ATTEMPT_LABEL,
  TARGET_LABEL,
  TASK_LABEL,
  WORKER_APP,
  WORKER_SELECTOR,
  targetLabelValue,
  toLabelValue,
  workerJobName,
} from '../kubernetes/labels.ts';
import { jobState } from '../kubernetes/job-state.ts';
import { KubernetesError, toKubernetesError } from '../kubernetes/kube-error.ts';
import type { Executor, GitHubTokenSource, WorkerAssignment, WorkerGitHubToken, WorkerRun } from './executor.ts';

/** Stable error codes of this executor (the scheduler's `executor_failed` reason code). */
export const ExecutorErrorCode = {
  Failed: 'executor_failed',
} as const;
export type ExecutorErrorCode = (typeof ExecutorErrorCode)[keyof typeof ExecutorErrorCode];

/**
 * The executor could not start or list workers. `message` is safe to show and log: it is built
 * from the API server's Status message and never from request headers or credentials.
 */
export class ExecutorError extends Error {
  override readonly name = 'ExecutorError';
  constructor(
    readonly code: ExecutorErrorCode,
    message: string,
    /** The underlying Kubernetes failure (`kubernetes_invalid`, `kubernetes_forbidden`, …). */
    readonly kubernetes?: { code: string; status?: number; reason?: string },
  ) {
    super(message);
  }
}

/** Annotation on the pod template holding the assignment JSON; mounted as a file via the downward API. */
export const ASSIGNMENT_ANNOTATION = 'leviathan.dev/assignment';
/** Where the worker container finds the assignment (`LEVIATHAN_TASK_FILE`). */
export const TASK_FILE_PATH = '/etc/leviathan/task/assignment.json';
/**
 * The operator's Secret of the agent's own credentials (an LLM API key, say): every key becomes a
 * variable of the worker, which hands it to the agent. Optional: without it workers start all the same.
 */
export const AGENT_ENV_SECRET = 'leviathan-agent-env';
/** The workspace volume: the worker's clones (LEVIATHAN_WORK_DIR) and working directory. */
export const WORKSPACE_PATH = '/workspace';
/** Default `activeDeadlineSeconds` when an assignment carries no usable timeout (15 minutes). */
export const DEFAULT_TIMEOUT_SECONDS = 900;
/** Finished Jobs stay a day so `kubectl get jobs -l app=leviathan-worker` and logs can explain failures. */
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 86_400;
/** Key of the worker's GitHub token in its Secret, and the variable the worker reads it from. */
export const GITHUB_TOKEN_KEY = 'GITHUB_TOKEN';
/** Key of its expiry beside it (an installation token's; none for a development token), and its variable. */
export const GITHUB_TOKEN_EXPIRES_AT_KEY = 'GITHUB_TOKEN_EXPIRES_AT';
/** Key of the worker's attempt token (toward the control plane) in its Secret, and its variable. */
export const API_TOKEN_KEY = 'LEVIATHAN_API_TOKEN';
/** Kubernetes rejects annotations above 256 KiB in total; leave room for the others. */
const MAX_ASSIGNMENT_BYTES = 200 * 1024;

const DEFAULT_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '250m', memory: '512Mi', 'ephemeral-storage': '1Gi' },
  limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '4Gi' },
};

/** Constructor arguments; everything the executor needs is passed in (nothing read from the environment). */
export interface KubernetesJobExecutorOptions {
  kubeConfig: KubeConfig;
  /** Namespace for worker Jobs (`leviathan`). */
  namespace: string;
  /** Worker image, pinned by tag or digest (the same image as the control plane). */
  image: string;
  /** Where the worker posts its events (`http://leviathan-control-plane:8000`). */
  controlPlaneUrl: string;
  /** Defaults to `leviathan-worker`, which has no Kubernetes permissions. */
  serviceAccountName?: string;
  /**
   * The worker's GitHub token (the repository's installation token). It goes into a Secret of
   * the attempt's own ({@link workerSecretName}), owned by the Job; unset, the worker gets none.
   */
  githubToken?: GitHubTokenSource;
  /**
   * The attempt's own API token, so the worker can post its events (see worker-token.ts). It goes
   * into the attempt's Secret beside the GitHub token, never into the pod spec.
   */
  workerToken?: (assignment: WorkerAssignment) => string;
  /**
   * `LEVIATHAN_AGENT_COMMAND` for the worker. The image has no agent of its own: unset, every
   * attempt fails `agent_error` (the manifests take it from the `leviathan-worker-config` ConfigMap).
   */
  agentCommand?: string;
  /**
   * `LEVIATHAN_REDACTED_VARS` for the worker: globs of the agent variables whose values it masks
   * and keeps out of the diff. Unset, the worker uses its built-in list.
   */
  redactedVars?: string;
  /** Where the worker reaches GitHub: `GITHUB_API_URL`, and `GITHUB_SERVER_URL` when configured (Enterprise Server). */
  github?: { apiUrl: string; serverUrl?: string };
  /** Requests and limits of the worker container. */
  resources?: V1ResourceRequirements;
  ttlSecondsAfterFinished?: number;
  logger?: Logger;
}

/** What goes into an attempt's Secret: its GitHub token (with expiry) and its attempt token. */
export interface SecretTokens {
  github?: WorkerGitHubToken;
  api?: string;
}

/** The Secret holding the tokens of the worker Job `jobName`. */
export function workerSecretName(jobName: string): string {
  return `${jobName}-tokens`;
}

/**
 * Runs each attempt as a batch/v1 Job `leviathan-worker-<attempt-id>`.
 *
 * The assignment travels in a pod-template annotation that a downward-API volume projects to
 * {@link TASK_FILE_PATH}; `LEVIATHAN_TASK_FILE` points there. The JSON is not limited by the
 * 128 KiB per-variable limit of the process environment, and it needs no variable beyond those
 * in `src/env.ts`. The assignment holds no credentials.
 *
 * The worker's GitHub token — an installation token for the target repository alone, minted by
 * the caller — and its attempt token toward the control plane go into a Secret of its own
 * (`<job>-tokens`), referenced by `secretKeyRef`, so neither is in the pod spec or in
 * `kubectl get job -o yaml`. It is created right after the Job, owned by it, and the garbage
 * collector deletes it with the Job. The App's own credentials never reach a worker, and the
 * executor needs no verb on Secrets but create (see createSecret).
 */
export class KubernetesJobExecutor implements Executor {
  readonly kind = 'kubernetes' as const;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly opts: KubernetesJobExecutorOptions;

  constructor(opts: KubernetesJobExecutorOptions) {
    this.opts = opts;
    this.batch = opts.kubeConfig.makeApiClient(BatchV1Api);
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * Mints the worker's tokens, creates the Job, then the Secret holding the tokens, owned by the
   * Job from its creation. A Job that already exists for the same attempt counts as started.
   */
  async start(assignment: WorkerAssignment): Promise<{ handle: string }> {
    // The worker's own deadline, from the Job's creation, as activeDeadlineSeconds counts: time
    // spent pulling an image or waiting for a node comes out of the attempt, not on top of it.
    const timeout = validTimeout(assignment.timeout_seconds);
    const job = this.buildJob({ ...assignment, deadline_at: new Date(Date.now() + timeout * 1000).toISOString() });
    const name = job.metadata!.name!;
    // Errors of the token source pass through as they are (a GitHub problem, not a Kubernetes one).
    const tokens = {
      github: this.opts.githubToken ? await this.opts.githubToken(assignment) : undefined,
      api: this.opts.workerToken?.(assignment),
    };
    const created = await this.createJob(job, assignment);
    if (tokens.github !== undefined || tokens.api !== undefined) await this.createSecret(assignment, tokens, created);
    return { handle: name };
  }

  /** Creates the Job, or finds the one a previous start of this attempt created. */
  private async createJob(job: V1Job, assignment: WorkerAssignment): Promise<{ job: V1Job; adopted: boolean }> {
    const name = job.metadata!.name!;
    const { namespace } = this.opts;
    try {
      const stored = await this.batch.createNamespacedJob({ namespace, body: job });
      this.opts.logger?.info({ job: name, attempt: assignment.attempt_id, target: assignment.target }, 'Executor: Job created');
      return { job: stored, adopted: false };
    } catch (err) {
      const kerr = toKubernetesError(err, `create Job ${name} in namespace ${namespace}`);
      if (kerr.status !== 409) {
        // A timeout or 5xx does not say the create failed: the API server may have stored it.
        // Only a definite refusal (4xx) is final; otherwise look before reporting a failure, or
        // a running Job would be left untracked while its task is started again.
        const ambiguous = kerr.status === undefined || kerr.status >= 500;
        const existing = ambiguous ? await this.readJob(name).catch(() => null) : null;
        if (existing?.metadata?.annotations?.[ATTEMPT_LABEL] === assignment.attempt_id) {
          this.opts.logger?.warn({ job: name, attempt: assignment.attempt_id }, 'Executor: Job create answered with an error but the Job exists; treating as started');
          return { job: existing, adopted: false };
        }
        throw wrap(kerr);
      }
      // A retried start (scheduler crashed after the create, or a duplicate trigger): the Job is
      // ours only if it carries this attempt, otherwise two attempts hashed to one name.
      const existing = await this.readJob(name);
      const owner = existing.metadata?.annotations?.[ATTEMPT_LABEL];
      if (owner !== assignment.attempt_id) {
        throw new ExecutorError(
          ExecutorErrorCode.Failed,
          `Job ${name} already exists for attempt ${owner ?? '(unknown)'}, not ${assignment.attempt_id}`,
        );
      }
      this.opts.logger?.info({ job: name, attempt: assignment.attempt_id }, 'Executor: Job already exists, treating as started');
      return { job: existing, adopted: true };
    }
  }

  /**
   * Creates the attempt's Secret, owned by its Job, so the garbage collector deletes it with the
   * Job (TTL, emergency stop, `kubectl delete job`). Until it exists the worker's pod waits
   * (CreateContainerConfigError, retried by the kubelet); nothing else needs it. Create is the
   * only verb on Secrets the Roles grant: nothing here can change or delete an existing Secret
   * (the App's own included). So when the Secret cannot be made, the start is undone by deleting
   * the Job, and a Secret the create may have stored after all goes with it.
   */
  private async createSecret(assignment: WorkerAssignment, tokens: SecretTokens, created: { job: V1Job; adopted: boolean }): Promise<void> {
    const body = this.buildSecret(assignment, tokens, created.job);
    const name = body.metadata!.name!;
    const { namespace } = this.opts;
    let kerr: KubernetesError;
    try {
      await this.core.createNamespacedSecret({ namespace, body });
      return;
    } catch (err) {
      kerr = toKubernetesError(err, `create Secret ${name} in namespace ${namespace}`);
    }
    if (kerr.status === 409 && created.adopted) {
      // A retried start: the earlier start made this Job's Secret, and its worker already runs with it.
      this.opts.logger?.info({ secret: name, attempt: assignment.attempt_id }, 'Executor: Worker Secret already exists, keeping it');
      return;
    }
    const job = created.job.metadata!.name!;
    // Should this delete fail too, the Job's pod waits for its Secret until activeDeadlineSeconds fails the Job.
    await this.batch.deleteNamespacedJob({ name: job, namespace, body: { propagationPolicy: 'Background' } }).catch((err: unknown) => {
      const derr = toKubernetesError(err, `delete Job ${job} in namespace ${namespace}`);
      this.opts.logger?.warn({ job, attempt: assignment.attempt_id, error: derr.message }, 'Executor: Could not delete the Job of a worker whose Secret could not be created');
    });
    if (kerr.status === 409) {
      // Not this Job's (it was just created): a Secret of an earlier Job of this name that the
      // garbage collector has yet to remove, or something else entirely. Left alone either way.
      throw new ExecutorError(ExecutorErrorCode.Failed, `Secret ${name} already exists and does not belong to Job ${job}; the start was undone`, {
        code: kerr.code,
        status: 409,
        ...(kerr.reason !== undefined ? { reason: kerr.reason } : {}),
      });
    }
    throw wrap(kerr);
  }

  /** Every worker Job still in the namespace (running, or finished within the TTL). */
  async list(): Promise<WorkerRun[]> {
    const { namespace } = this.opts;
    let jobs: V1Job[];
    try {
      jobs = (await this.batch.listNamespacedJob({ namespace, labelSelector: WORKER_SELECTOR })).items;
    } catch (err) {
      throw wrap(toKubernetesError(err, `list Jobs -l ${WORKER_SELECTOR} in namespace ${namespace}`));
    }
    return jobs.map((job) => toWorkerRun(job, namespace));
  }

  /**
   * The Job manifest for an assignment, public so tests and `ctl` can show what is submitted:
   * start() submits it for the assignment with its `deadline_at` set (the Job's creation + timeout).
   */
  buildJob(assignment: WorkerAssignment): V1Job {
    const name = workerJobName(assignment.attempt_id);
    const assignmentJson = JSON.stringify(assignment);
    if (Buffer.byteLength(assignmentJson) > MAX_ASSIGNMENT_BYTES) {
      throw new ExecutorError(
        ExecutorErrorCode.Failed,
        `Assignment for attempt ${assignment.attempt_id} is ${Buffer.byteLength(assignmentJson)} bytes; the limit is ${MAX_ASSIGNMENT_BYTES}`,
      );
    }
    const timeout = validTimeout(assignment.timeout_seconds);
    const { labels, annotations } = jobMetadata(assignment);
    const env: V1EnvVar[] = [
      { name: 'LEVIATHAN_TASK_FILE', value: TASK_FILE_PATH },
      { name: 'LEVIATHAN_CONTROL_PLANE_URL', value: this.opts.controlPlaneUrl },
      // Clones go to the workspace volume (4Gi), not /tmp (1Gi, for git's and the agent's scratch).
      { name: 'LEVIATHAN_WORK_DIR', value: WORKSPACE_PATH },
    ];
    // By reference to the attempt's own Secret. Not optional: the container waits until start()
    // has created it, and a worker must not run with some other token. The expiry travels in the
    // same Secret, so it always describes the token beside it; a development token has none.
    if (this.opts.githubToken) {
      env.push({ name: GITHUB_TOKEN_KEY, valueFrom: { secretKeyRef: { name: workerSecretName(name), key: GITHUB_TOKEN_KEY } } });
      env.push({ name: GITHUB_TOKEN_EXPIRES_AT_KEY, valueFrom: { secretKeyRef: { name: workerSecretName(name), key: GITHUB_TOKEN_EXPIRES_AT_KEY, optional: true } } });
    }
    if (this.opts.workerToken) env.push({ name: API_TOKEN_KEY, valueFrom: { secretKeyRef: { name: workerSecretName(name), key: API_TOKEN_KEY } } });
    if (this.opts.agentCommand) env.push({ name: 'LEVIATHAN_AGENT_COMMAND', value: this.opts.agentCommand });
    if (this.opts.redactedVars) env.push({ name: 'LEVIATHAN_REDACTED_VARS', value: this.opts.redactedVars });
    if (this.opts.github) {
      env.push({ name: 'GITHUB_API_URL', value: this.opts.github.apiUrl });
      if (this.opts.github.serverUrl) env.push({ name: 'GITHUB_SERVER_URL', value: this.opts.github.serverUrl });
    }

    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: this.opts.namespace, labels, annotations },
      spec: {
        activeDeadlineSeconds: timeout,
        // A retry would run the agent a second time and could open a second PR; the scheduler
        // decides about retries (max_attempts_per_task), not the Job controller.
        backoffLimit: 0,
        ttlSecondsAfterFinished: this.opts.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS_AFTER_FINISHED,
        template: {
          metadata: { labels, annotations: { ...annotations, [ASSIGNMENT_ANNOTATION]: assignmentJson } },
          spec: {
            restartPolicy: 'Never',
            serviceAccountName: this.opts.serviceAccountName ?? 'leviathan-worker',
            // The worker talks to GitHub and the control plane, never to the Kubernetes API.
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 10001,
              runAsGroup: 10001,
              fsGroup: 10001,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'worker',
                image: this.opts.image,
                imagePullPolicy: 'IfNotPresent',
                args: ['worker'],
                env,
                // Explicit `env` wins over `envFrom` for a name in both: a key of the operator's
                // Secret never replaces the worker's control plane URL, tokens or work dir.
                envFrom: [{ secretRef: { name: AGENT_ENV_SECRET, optional: true } }],
                resources: this.opts.resources ?? DEFAULT_RESOURCES,
                securityContext: {
                  runAsNonRoot: true,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                volumeMounts: [
                  { name: 'tmp', mountPath: '/tmp' },
                  { name: 'workspace', mountPath: WORKSPACE_PATH },
                  { name: 'task', mountPath: '/etc/leviathan/task', readOnly: true },
                ],
                workingDir: WORKSPACE_PATH,
              },
            ],
            volumes: [
              { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
              { name: 'workspace', emptyDir: { sizeLimit: '4Gi' } },
              {
                name: 'task',
                downwardAPI: {
                  items: [
                    { path: 'assignment.json', fieldRef: { fieldPath: `metadata.annotations['${ASSIGNMENT_ANNOTATION}']` } },
                  ],
                },
              },
            ],
          },
        },
      },
    };
  }

  /** The Secret holding the worker's tokens; labelled and annotated like its Job, and owned by `owner` (the Job). */
  buildSecret(assignment: WorkerAssignment, tokens: SecretTokens, owner: V1Job): V1Secret {
    const { labels, annotations } = jobMetadata(assignment);
    const data: Record<string, string> = {};
    if (tokens.github !== undefined) data[GITHUB_TOKEN_KEY] = Buffer.from(tokens.github.token).toString('base64');
    if (tokens.github?.expires_at !== undefined) data[GITHUB_TOKEN_EXPIRES_AT_KEY] = Buffer.from(tokens.github.expires_at).toString('base64');
    if (tokens.api !== undefined) data[API_TOKEN_KEY] = Buffer.from(tokens.api).toString('base64');
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: workerSecretName(workerJobName(assignment.attempt_id)),
        namespace: this.opts.namespace,
        labels,
        annotations,
        // blockOwnerDeletion would need update on jobs/finalizers where OwnerReferencesPermissionEnforcement
        // is on, and nothing needs to wait for this Secret; the Job controller does not manage it, so no controller.
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: owner.metadata?.name ?? '', uid: owner.metadata?.uid ?? '', blockOwnerDeletion: false }],
      },
      data,
    };
  }

  private async readJob(name: string): Promise<V1Job> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace: this.opts.namespace });
    } catch (err) {
      throw wrap(toKubernetesError(err, `read Job ${name} in namespace ${this.opts.namespace}`));
    }
  }
}

/** Labels (sanitised, for selectors) and annotations (exact values) of an attempt's objects. */
function jobMetadata(assignment: WorkerAssignment): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: {
      [APP_LABEL]: WORKER_APP,
      [TARGET_LABEL]: targetLabelValue(assignment.target),
      [TASK_LABEL]: toLabelValue(assignment.task.id),
      [ATTEMPT_LABEL]: toLabelValue(assignment.attempt_id),
    },
    annotations: {
      [TARGET_LABEL]: assignment.target,
      [TASK_LABEL]: assignment.task.id,
      [ATTEMPT_LABEL]: assignment.attempt_id,
    },
  };
}

function wrap(err: KubernetesError): ExecutorError {
  return new ExecutorError(ExecutorErrorCode.Failed, err.message, {
    code: err.code,
    ...(err.status !== undefined ? { status: err.status } : {}),
    ...(err.reason !== undefined ? { reason: err.reason } : {}),
  });
}

function toWorkerRun(job: V1Job, namespace: string): WorkerRun {
  const meta = job.metadata ?? {};
  const annotations = meta.annotations ?? {};
  const labels = meta.labels ?? {};
  const state = jobState(job);
  const attemptLabel = labels[ATTEMPT_LABEL];
  return {
    attempt_id: annotations[ATTEMPT_LABEL] ?? labels[ATTEMPT_LABEL] ?? '',
    target: annotations[TARGET_LABEL] ?? labels[TARGET_LABEL] ?? '',
    task_id: annotations[TASK_LABEL] ?? labels[TASK_LABEL] ?? '',
    state: state.state,
    ...(state.state === 'failed' ? { failure_type: state.failure_type } : {}),
    handle: meta.name ?? '',
    // A pod that never started says why only in its events (ErrImagePull, FailedScheduling, …).
    ...(attemptLabel ? { inspect: `kubectl -n ${namespace} describe pod -l ${ATTEMPT_LABEL}=${attemptLabel}` } : {}),
  };
}

/** `activeDeadlineSeconds` for an assignment's timeout: the default when it carries no usable one. */
function validTimeout(seconds: number): number {
  return Number.isInteger(seconds) && seconds > 0 ? seconds : DEFAULT_TIMEOUT_SECONDS;
}
