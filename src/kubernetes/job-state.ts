import type { V1Job } from '@kubernetes/client-node';

/** What a Job's status says, reduced to the three states the scheduler cares about. */
export type JobState =
  | { state: 'running' }
  | { state: 'succeeded' }
  | { state: 'failed'; failure_type: 'timeout' | 'worker_lost' };

/**
 * Maps `status` of a batch/v1 Job. `DeadlineExceeded` is the Job controller's reason when
 * `activeDeadlineSeconds` ran out → `timeout`. Any other failure (`BackoffLimitExceeded`: the pod
 * died, was evicted or OOM-killed; with `backoffLimit: 0` one failed pod is the end) means the
 * worker ended without reporting its own outcome → `worker_lost`. A Job with no status yet has
 * pods pending, which for the scheduler is still "in flight". The Job does not say whether its
 * container ever ran (a pod in ImagePullBackOff hits the deadline too); the log does — the
 * worker's attempt.started — so lostWorkerEvents tells those apart, not this mapping.
 */
export function jobState(job: V1Job): JobState {
  const status = job.status ?? {};
  const conditions = status.conditions ?? [];
  const failed = conditions.find((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True');
  if (failed) {
    return { state: 'failed', failure_type: failed.reason === 'DeadlineExceeded' ? 'timeout' : 'worker_lost' };
  }
  const complete = conditions.find((c) => (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') && c.status === 'True');
  if (complete) return { state: 'succeeded' };
  // Older controllers (and a Job between pod exit and condition update) only have counters.
  if ((status.active ?? 0) === 0) {
    if ((status.succeeded ?? 0) > 0) return { state: 'succeeded' };
    if ((status.failed ?? 0) > 0) return { state: 'failed', failure_type: 'worker_lost' };
  }
  return { state: 'running' };
}

/** True while the Job has not reached a terminal state (pods pending or running). */
export function isJobActive(job: V1Job): boolean {
  return jobState(job).state === 'running';
}
