import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';

// The fake is only worth something if it says "no" where a real API server does; these tests
// talk to it with plain fetch so they do not depend on the client library under test.
let api: FakeKubeApi;
beforeEach(async () => {
  api = await startFakeKubeApi();
});
afterEach(async () => {
  await api.close();
});

async function call(method: string, path: string, body?: unknown, contentType = 'application/json') {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.token}`, 'content-type': contentType },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const jobs = '/apis/batch/v1/namespaces/leviathan/jobs';
const job = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, labels },
  spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'img:1' }] } } },
});

describe('fake Kubernetes API', () => {
  it('rejects requests without the bearer token with a 401 Status', async () => {
    const res = await fetch(`${api.url}${jobs}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('answers 404 NotFound, 409 AlreadyExists and 422 Invalid as metav1.Status objects', async () => {
    const missing = await call('GET', `${jobs}/nope`);
    expect(missing).toMatchObject({
      status: 404,
      body: { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'jobs.batch "nope" not found', details: { name: 'nope', group: 'batch', kind: 'jobs' } },
    });

    expect((await call('POST', jobs, job('a'))).status).toBe(201);
    const dup = await call('POST', jobs, job('a'));
    expect(dup).toMatchObject({ status: 409, body: { reason: 'AlreadyExists', code: 409, message: 'jobs.batch "a" already exists' } });

    const badName = await call('POST', jobs, job('Not_A_Name'));
    expect(badName).toMatchObject({ status: 422, body: { reason: 'Invalid', code: 422, details: { causes: [{ field: 'metadata.name' }] } } });

    const noContainers = await call('POST', jobs, { metadata: { name: 'b' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [] } } } });
    expect(noContainers.status).toBe(422);
    expect(noContainers.body.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.template.spec.containers' }));

    const tooLong = await call('POST', jobs, job(`j${'x'.repeat(63)}`));
    expect(tooLong.status).toBe(422);
  });

  it('assigns resourceVersion and creationTimestamp, and bumps the version on every change', async () => {
    const created = await call('POST', '/api/v1/namespaces/leviathan/configmaps', { metadata: { name: 'cm' }, data: { a: '1' } });
    expect(created.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const v1 = Number(created.body.metadata.resourceVersion);
    const patched = await call('PATCH', '/api/v1/namespaces/leviathan/configmaps/cm', { data: { b: '2' } }, 'application/merge-patch+json');
    expect(Number(patched.body.metadata.resourceVersion)).toBeGreaterThan(v1);
    expect(patched.body.metadata.creationTimestamp).toBe(created.body.metadata.creationTimestamp);
  });

  it('filters lists by label selector (equality, inequality, set-based, existence)', async () => {
    await call('POST', jobs, job('w1', { app: 'leviathan-worker', 'leviathan.dev/target': 'o.r1' }));
    await call('POST', jobs, job('w2', { app: 'leviathan-worker', 'leviathan.dev/target': 'o.r2' }));
    await call('POST', jobs, job('other', { app: 'something-else' }));
    const names = async (selector: string) =>
      (await call('GET', `${jobs}?labelSelector=${encodeURIComponent(selector)}`)).body.items.map((i: any) => i.metadata.name);

    expect(await names('app=leviathan-worker')).toEqual(['w1', 'w2']);
    expect(await names('app=leviathan-worker,leviathan.dev/target=o.r2')).toEqual(['w2']);
    expect(await names('app!=leviathan-worker')).toEqual(['other']);
    expect(await names('leviathan.dev/target in (o.r1,o.r3)')).toEqual(['w1']);
    expect(await names('!leviathan.dev/target')).toEqual(['other']);
    expect((await call('GET', `${jobs}?labelSelector=${encodeURIComponent('app=(bad')}`)).status).toBe(400);
  });

  it('applies merge patch and JSON patch with their own semantics, and refuses unknown patch types', async () => {
    const cm = '/api/v1/namespaces/leviathan/configmaps/cm';
    await call('POST', '/api/v1/namespaces/leviathan/configmaps', { metadata: { name: 'cm', labels: { keep: 'yes' } }, data: { a: '1', b: '2' } });

    // RFC 7386: objects merge, null deletes.
    const merged = await call('PATCH', cm, { data: { a: '10', b: null } }, 'application/merge-patch+json');
    expect(merged.body.data).toEqual({ a: '10' });
    expect(merged.body.metadata.labels).toEqual({ keep: 'yes' });

    // The same object under the JSON-patch type is not a list of operations: rejected, unchanged.
    const wrongType = await call('PATCH', cm, { data: { a: '99' } }, 'application/json-patch+json');
    expect(wrongType.status).toBe(400);
    expect(api.objects.get('ConfigMap', 'leviathan', 'cm')!.data).toEqual({ a: '10' });

    // RFC 6902: explicit operations; a failing test op aborts the whole patch.
    const ops = await call('PATCH', cm, [{ op: 'add', path: '/data/c', value: '3' }, { op: 'remove', path: '/metadata/labels/keep' }], 'application/json-patch+json');
    expect(ops.body.data).toEqual({ a: '10', c: '3' });
    expect(ops.body.metadata.labels).toEqual({});
    const failedTest = await call('PATCH', cm, [{ op: 'test', path: '/data/a', value: 'nope' }, { op: 'replace', path: '/data/a', value: 'x' }], 'application/json-patch+json');
    expect(failedTest.status).toBe(422);
    expect(api.objects.get('ConfigMap', 'leviathan', 'cm')!.data.a).toBe('10');

    const unsupported = await call('PATCH', cm, { data: { a: '1' } }, 'application/json');
    expect(unsupported).toMatchObject({ status: 415, body: { reason: 'UnsupportedMediaType', code: 415 } });
  });

  it('records the propagation policy from the DeleteOptions body or the query', async () => {
    await call('POST', jobs, job('d1'));
    await call('POST', jobs, job('d2'));
    const del = await call('DELETE', `${jobs}/d1`, { propagationPolicy: 'Background' });
    expect(del.body).toMatchObject({ kind: 'Status', status: 'Success' });
    await call('DELETE', `${jobs}/d2?propagationPolicy=Foreground`);
    expect(api.deletions.map((d) => [d.name, d.propagationPolicy])).toEqual([
      ['d1', 'Background'],
      ['d2', 'Foreground'],
    ]);
    expect((await call('DELETE', `${jobs}/d1`)).status).toBe(404);
  });

  const secrets = '/api/v1/namespaces/leviathan/secrets';
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('stores Secrets: base64 data, stringData folded into data, Opaque by default, 409 and 404 as Status objects', async () => {
    const created = await call('POST', secrets, { metadata: { name: 's1', labels: { app: 'leviathan-worker' } }, data: { A: b64('one') }, stringData: { B: 'two' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'Secret', apiVersion: 'v1', type: 'Opaque', data: { A: b64('one'), B: b64('two') } });
    expect(created.body).not.toHaveProperty('stringData');
    expect((await call('GET', `${secrets}/s1`)).body.data).toEqual({ A: b64('one'), B: b64('two') });

    expect(await call('POST', secrets, { metadata: { name: 's1' }, data: {} })).toMatchObject({
      status: 409,
      body: { kind: 'Status', reason: 'AlreadyExists', message: 'secrets "s1" already exists', details: { name: 's1', kind: 'secrets' } },
    });
    expect(await call('GET', `${secrets}/nope`)).toMatchObject({ status: 404, body: { reason: 'NotFound', message: 'secrets "nope" not found' } });
    expect(await call('DELETE', `${secrets}/nope`)).toMatchObject({ status: 404, body: { reason: 'NotFound' } });
    // Not base64: the request cannot be decoded at all.
    expect((await call('POST', secrets, { metadata: { name: 's2' }, data: { A: 'not base64!' } })).status).toBe(400);
    expect((await call('POST', secrets, { metadata: { name: 's2' }, data: { 'bad/key': b64('x') } })).status).toBe(422);
    expect(api.objects.get('Secret', 'leviathan', 's2')).toBeUndefined();
  });

  it('lists Secrets by label selector, patches them by merge and JSON patch, keeps their type, deletes them', async () => {
    await call('POST', secrets, { metadata: { name: 'w1', labels: { app: 'leviathan-worker' }, annotations: { 'leviathan.dev/attempt': 'a1' } }, data: { T: b64('t1') } });
    await call('POST', secrets, { metadata: { name: 'other', labels: { app: 'other' } }, data: {} });
    const listed = await call('GET', `${secrets}?labelSelector=${encodeURIComponent('app=leviathan-worker')}`);
    expect(listed.body).toMatchObject({ kind: 'SecretList' });
    expect(listed.body.items.map((i: any) => i.metadata.name)).toEqual(['w1']);

    // A JSON patch whose test fails changes nothing.
    const wrongOwner = await call(
      'PATCH',
      `${secrets}/w1`,
      [{ op: 'test', path: '/metadata/annotations/leviathan.dev~1attempt', value: 'a2' }, { op: 'replace', path: '/data', value: { T: b64('stolen') } }],
      'application/json-patch+json',
    );
    expect(wrongOwner.status).toBe(422);
    expect(api.objects.get('Secret', 'leviathan', 'w1')!.data).toEqual({ T: b64('t1') });
    const replaced = await call(
      'PATCH',
      `${secrets}/w1`,
      [{ op: 'test', path: '/metadata/annotations/leviathan.dev~1attempt', value: 'a1' }, { op: 'replace', path: '/data', value: { T: b64('t2') } }],
      'application/json-patch+json',
    );
    expect(replaced.body.data).toEqual({ T: b64('t2') });

    const merged = await call('PATCH', `${secrets}/w1`, { stringData: { U: 'u' } }, 'application/merge-patch+json');
    expect(merged.body.data).toEqual({ T: b64('t2'), U: b64('u') });
    const retyped = await call('PATCH', `${secrets}/w1`, { type: 'kubernetes.io/tls' }, 'application/merge-patch+json');
    expect(retyped).toMatchObject({ status: 422, body: { reason: 'Invalid', details: { causes: [{ field: 'type' }] } } });

    expect((await call('DELETE', `${secrets}/w1`)).body).toMatchObject({ kind: 'Status', status: 'Success' });
    expect(api.objects.get('Secret', 'leviathan', 'w1')).toBeUndefined();
  });

  it('merge-patches ownerReferences, validates them, and collects dependents when the owner goes with Background or Foreground', async () => {
    const owner = async (name: string) => (await call('POST', jobs, job(name))).body;
    const owned = async (name: string, job: Record<string, any>) => {
      await call('POST', secrets, { metadata: { name }, data: { T: b64(name) } });
      const ref = { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, blockOwnerDeletion: false };
      return call('PATCH', `${secrets}/${name}`, { metadata: { ownerReferences: [ref] } }, 'application/merge-patch+json');
    };
    const [j1, j2, j3] = [await owner('j1'), await owner('j2'), await owner('j3')];
    const patched = await owned('s1', j1);
    expect(patched.body.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: 'j1', uid: j1.metadata.uid, blockOwnerDeletion: false }]);
    await owned('s2', j2);
    await owned('s3', j3);

    expect((await call('PATCH', `${secrets}/s1`, { metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j1' }] } }, 'application/merge-patch+json')).status).toBe(422);

    await call('DELETE', `${jobs}/j1`, { propagationPolicy: 'Background' });
    await call('DELETE', `${jobs}/j2?propagationPolicy=Foreground`);
    expect(api.objects.get('Secret', 'leviathan', 's1')).toBeUndefined();
    expect(api.objects.get('Secret', 'leviathan', 's2')).toBeUndefined();
    expect(api.collected).toEqual([
      { kind: 'Secret', namespace: 'leviathan', name: 's1', owner: j1.metadata.uid },
      { kind: 'Secret', namespace: 'leviathan', name: 's2', owner: j2.metadata.uid },
    ]);
    // A Job deleted without a policy orphans what it owns (the API's default for Jobs).
    await call('DELETE', `${jobs}/j3`);
    expect(api.objects.get('Secret', 'leviathan', 's3')).toMatchObject({ data: { T: b64('s3') } });
    expect(api.objects.get('Secret', 'leviathan', 's3')!.metadata.ownerReferences).toBeUndefined();

    // An owner that does not exist: the collector deletes the object.
    await call('POST', secrets, { metadata: { name: 'dangling', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'gone', uid: 'no-such-uid' }] }, data: {} });
    expect(api.objects.get('Secret', 'leviathan', 'dangling')).toBeUndefined();
  });

  it('lets a test set Job status and inject one failure', async () => {
    await call('POST', jobs, job('s'));
    api.setJobStatus('leviathan', 's', { phase: 'failed', reason: 'DeadlineExceeded' });
    expect((await call('GET', `${jobs}/s`)).body.status.conditions[0]).toMatchObject({ type: 'Failed', reason: 'DeadlineExceeded' });

    api.failNext({ method: 'GET', path: '/jobs/s', code: 500, reason: 'InternalError', message: 'etcd timeout' });
    expect((await call('GET', `${jobs}/s`)).status).toBe(500);
    expect((await call('GET', `${jobs}/s`)).status).toBe(200);
  });
});
