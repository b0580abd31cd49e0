import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { redact, toKubernetesError } from '../../src/kubernetes/kube-error.ts';

describe('toKubernetesError', () => {
  it('keeps the Status reason and message and maps the status to a stable code', () => {
    const body = JSON.stringify({ kind: 'Status', code: 422, reason: 'Invalid', message: 'Job.batch "x" is invalid' });
    const err = toKubernetesError(new ApiException(422, 'Unknown API Status Code!', body, {}), 'create Job x');
    expect(err).toMatchObject({ code: 'kubernetes_invalid', status: 422, reason: 'Invalid' });
    expect(err.message).toBe('Kubernetes API refused to create Job x: Job.batch "x" is invalid');
  });

  it('does not carry the client exception (its message embeds headers) as cause', () => {
    const err = toKubernetesError(new ApiException(500, 'x', 'not json', { 'set-cookie': 'session=abc' }), 'list Jobs');
    expect(err.code).toBe('kubernetes_failed');
    expect(err.cause).toBeUndefined();
    expect(err.message).not.toContain('session=abc');
  });

  it('hints at RBAC on 403', () => {
    const err = toKubernetesError(new ApiException(403, 'x', '{"message":"forbidden"}', {}), 'patch CronJob c');
    expect(err.code).toBe('kubernetes_forbidden');
    expect(err.message).toContain('rbac.yaml');
  });
});

describe('redact', () => {
  it.each([
    ['Authorization: Bearer eyJhbGciOi.abc.def', 'eyJhbGciOi'],
    ['{"token":"s3cr3t-value"}', 's3cr3t-value'],
    ['password=hunter2 rest', 'hunter2'],
  ])('removes the credential from %j', (text, secret) => {
    expect(redact(text)).not.toContain(secret);
  });
});
