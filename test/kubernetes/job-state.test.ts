import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isJobActive, jobState } from '../../src/kubernetes/job-state.ts';

const job = (status: V1Job['status']): V1Job => ({ metadata: { name: 'j' }, status });
const cond = (type: string, reason?: string) => ({ type, status: 'True', ...(reason ? { reason } : {}) });

describe('jobState', () => {
  it.each([
    ['no status yet (pods pending)', undefined, { state: 'running' }],
    ['active pod', { active: 1 }, { state: 'running' }],
    ['Complete', { succeeded: 1, conditions: [cond('Complete')] }, { state: 'succeeded' }],
    ['SuccessCriteriaMet before Complete', { conditions: [cond('SuccessCriteriaMet')] }, { state: 'succeeded' }],
    ['deadline exceeded', { failed: 1, conditions: [cond('Failed', 'DeadlineExceeded')] }, { state: 'failed', failure_type: 'timeout' }],
    // Kubernetes ≥ 1.31 adds FailureTarget while pods are still being terminated.
    ['FailureTarget with DeadlineExceeded', { active: 1, conditions: [cond('FailureTarget', 'DeadlineExceeded')] }, { state: 'failed', failure_type: 'timeout' }],
    ['backoff limit (pod died)', { failed: 1, conditions: [cond('Failed', 'BackoffLimitExceeded')] }, { state: 'failed', failure_type: 'worker_lost' }],
    ['counter only, failed', { failed: 1 }, { state: 'failed', failure_type: 'worker_lost' }],
    ['counter only, succeeded', { succeeded: 1 }, { state: 'succeeded' }],
    ['condition present but False', { active: 1, conditions: [{ type: 'Failed', status: 'False' }] }, { state: 'running' }],
  ] as const)('%s', (_name, status, expected) => {
    expect(jobState(job(status as V1Job['status']))).toEqual(expected);
    expect(isJobActive(job(status as V1Job['status']))).toBe(expected.state === 'running');
  });
});
