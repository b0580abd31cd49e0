import { BatchV1Api, CoreV1Api, type KubeConfig, type V1ConfigMap, type V1CronJob } from '@kubernetes/client-node';
import { isJobActive } from './job-state.ts';
import { KubernetesError, KubernetesErrorCode, toKubernetesError } from './kube-error.ts';
import { WORKER_SELECTOR } from './labels.ts';
import { mergePatchOptions } from './merge-patch.ts';

/** Annotations recording the last autonomy change on the ConfigMap itself, for `kubectl describe`. */
export const AUTONOMY_ANNOTATIONS = {
  changedBy: 'leviathan.dev/changed-by',
  reason: 'leviathan.dev/changed-reason',
  at: 'leviathan.dev/changed-at',
} as const;

/** The ConfigMap key the scheduler reads (`autonomy_enabled: "true" | "false"`). */
export const AUTONOMY_KEY = 'autonomy_enabled';

/** `leviathan-autonomy-config` as read from the cluster. */
export interface AutonomyConfigMap {
  name: string;
  /** True only for `"true"` (any case, trimmed): anything else, or a missing key, fails closed. */
  autonomyEnabled: boolean;
  data: Record<string, string>;
  annotations: Record<string, string>;
  resourceVersion?: string;
}

/** Who changed autonomy, why and when; stored as annotations next to the value. */
export interface ChangeMeta {
  actor: string;
  reason: string;
  at: Date | string;
}

/** The scheduler CronJob as an operator sees it in `kubectl get cronjob`. */
export interface SchedulerCronJobState {
  name: string;
  suspended: boolean;
  schedule: string;
  lastScheduleTime?: string;
  /** The object's version: names one observation of the flag, the same for every replica that reads it. */
  resourceVersion?: string;
}

/**
 * The control plane's levers on the cluster: the operator document's graceful disable
 * (ConfigMap), emergency stop (suspend CronJob, delete worker Jobs) and resume.
 */
export interface ClusterControls {
  getAutonomyConfigMap(): Promise<AutonomyConfigMap>;
  setAutonomyEnabled(enabled: boolean, meta: ChangeMeta): Promise<AutonomyConfigMap>;
  getSchedulerCronJob(): Promise<SchedulerCronJobState>;
  setSchedulerSuspended(suspended: boolean): Promise<SchedulerCronJobState>;
  /** Deletes worker Jobs that have not finished; returns their names. */
  deleteWorkerJobs(): Promise<string[]>;
}

/** Constructor arguments of {@link KubernetesClusterControls}. */
export interface KubernetesClusterControlsOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Defaults to `leviathan-autonomy-config`. */
  autonomyConfigMapName?: string;
  /** Defaults to `leviathan-dev-scheduler` (`LEVIATHAN_SCHEDULER_CRONJOB`). */
  schedulerCronJobName?: string;
}

/**
 * {@link ClusterControls} against a real API server. Every change is a merge patch of just the
 * fields it owns, so concurrent `kubectl edit`s of other keys are not overwritten.
 */
export class KubernetesClusterControls implements ClusterControls {
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly namespace: string;
  private readonly configMapName: string;
  private readonly cronJobName: string;

  constructor(opts: KubernetesClusterControlsOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.batch = opts.kubeConfig.makeApiClient(BatchV1Api);
    this.namespace = opts.namespace;
    this.configMapName = opts.autonomyConfigMapName ?? 'leviathan-autonomy-config';
    this.cronJobName = opts.schedulerCronJobName ?? 'leviathan-dev-scheduler';
  }

  async getAutonomyConfigMap(): Promise<AutonomyConfigMap> {
    const cm = await this.call(`read ConfigMap ${this.configMapName}`, () =>
      this.core.readNamespacedConfigMap({ name: this.configMapName, namespace: this.namespace }),
    );
    return toAutonomy(cm);
  }

  async setAutonomyEnabled(enabled: boolean, meta: ChangeMeta): Promise<AutonomyConfigMap> {
    const at = meta.at instanceof Date ? meta.at.toISOString() : meta.at;
    const body = {
      metadata: {
        annotations: {
          [AUTONOMY_ANNOTATIONS.changedBy]: meta.actor,
          [AUTONOMY_ANNOTATIONS.reason]: meta.reason,
          [AUTONOMY_ANNOTATIONS.at]: at,
        },
      },
      data: { [AUTONOMY_KEY]: enabled ? 'true' : 'false' },
    };
    const cm = await this.call(`patch ConfigMap ${this.configMapName}`, () =>
      this.core.patchNamespacedConfigMap({ name: this.configMapName, namespace: this.namespace, body }, mergePatchOptions),
    );
    return toAutonomy(cm);
  }

  async getSchedulerCronJob(): Promise<SchedulerCronJobState> {
    const cj = await this.call(`read CronJob ${this.cronJobName}`, () =>
      this.batch.readNamespacedCronJob({ name: this.cronJobName, namespace: this.namespace }),
    );
    return toCronJobState(cj);
  }

  async setSchedulerSuspended(suspended: boolean): Promise<SchedulerCronJobState> {
    const cj = await this.call(`patch CronJob ${this.cronJobName}`, () =>
      this.batch.patchNamespacedCronJob(
        { name: this.cronJobName, namespace: this.namespace, body: { spec: { suspend: suspended } } },
        mergePatchOptions,
      ),
    );
    return toCronJobState(cj);
  }

  async deleteWorkerJobs(): Promise<string[]> {
    const list = await this.call(`list Jobs -l ${WORKER_SELECTOR}`, () =>
      this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: WORKER_SELECTOR }),
    );
    const deleted: string[] = [];
    for (const job of list.items.filter(isJobActive)) {
      const name = job.metadata?.name;
      if (!name) continue;
      try {
        // Background: the Job goes now and the garbage collector kills its pods, so the call
        // returns at once even while pods are still terminating.
        await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, body: { propagationPolicy: 'Background' } });
        deleted.push(name);
      } catch (err) {
        const kerr = toKubernetesError(err, `delete Job ${name}`);
        // Already gone (finished and collected between list and delete): the goal is reached.
        if (kerr.status !== 404) throw this.explain(kerr);
      }
    }
    return deleted;
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.explain(toKubernetesError(err, `${action} in namespace ${this.namespace}`));
    }
  }

  /** Adds the fix to the message when an object from `k8s/base` is missing. */
  private explain(err: KubernetesError): KubernetesError {
    if (err.code !== KubernetesErrorCode.NotFound) return err;
    return new KubernetesError(
      err.code,
      `${err.message}. It is created by k8s/base; apply it with \`kubectl apply -k k8s/overlays/dev\` (namespace ${this.namespace}).`,
      err.status,
      err.reason,
    );
  }
}

function toAutonomy(cm: V1ConfigMap): AutonomyConfigMap {
  const data = cm.data ?? {};
  return {
    name: cm.metadata?.name ?? '',
    autonomyEnabled: data[AUTONOMY_KEY]?.trim().toLowerCase() === 'true',
    data,
    annotations: cm.metadata?.annotations ?? {},
    ...(cm.metadata?.resourceVersion ? { resourceVersion: cm.metadata.resourceVersion } : {}),
  };
}

function toCronJobState(cj: V1CronJob): SchedulerCronJobState {
  const last = cj.status?.lastScheduleTime;
  return {
    name: cj.metadata?.name ?? '',
    suspended: cj.spec?.suspend === true,
    schedule: cj.spec?.schedule ?? '',
    ...(last ? { lastScheduleTime: last instanceof Date ? last.toISOString() : String(last) } : {}),
    ...(cj.metadata?.resourceVersion ? { resourceVersion: cj.metadata.resourceVersion } : {}),
  };
}
