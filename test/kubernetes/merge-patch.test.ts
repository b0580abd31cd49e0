import { BatchV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergePatchOptions } from '../../src/kubernetes/merge-patch.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';

let api: FakeKubeApi;
let batch: BatchV1Api;
beforeEach(async () => {
  api = await startFakeKubeApi();
  batch = api.kubeConfig.makeApiClient(BatchV1Api);
  api.objects.put('CronJob', {
    metadata: { name: 'leviathan-dev-scheduler', namespace: 'leviathan' },
    spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 't', image: 'i:1' }] } } } } },
  });
});
afterEach(async () => {
  await api.close();
});

const body = { spec: { suspend: true } };

describe('mergePatchOptions', () => {
  // Pins the client behaviour that makes the option necessary: if a client upgrade changes the
  // default, this test says so and the workaround can go.
  it('is needed: @kubernetes/client-node 1.4 sends a plain object as application/json-patch+json, which the server rejects', async () => {
    const err = await batch.patchNamespacedCronJob({ name: 'leviathan-dev-scheduler', namespace: 'leviathan', body }).catch((e: unknown) => e);
    expect(api.requests.at(-1)!.contentType).toBe('application/json-patch+json');
    expect(err).toMatchObject({ code: 400 });
    expect(api.objects.get('CronJob', 'leviathan', 'leviathan-dev-scheduler')!.spec.suspend).toBe(false);
  });

  it('makes the same call a merge patch', async () => {
    const result = await batch.patchNamespacedCronJob({ name: 'leviathan-dev-scheduler', namespace: 'leviathan', body }, mergePatchOptions);
    expect(api.requests.at(-1)!.contentType).toBe('application/merge-patch+json');
    expect(result.spec?.suspend).toBe(true);
    // The per-call middleware is appended, not substituted: authentication still happened.
    expect(api.requests.at(-1)!.authorized).toBe(true);
  });
});
