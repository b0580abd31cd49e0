import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signatureValid } from '../../src/github/webhook-receiver.ts';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { example, sign, startApp } from './harness.ts';

let cp: TestControlPlane;
beforeEach(async () => {
  cp = await startApp();
});
afterEach(async () => {
  await cp.destroy();
});

/** Sends a delivery with a valid signature over `body`, whatever it holds. */
async function send(name: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${cp.url}/api/github/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': name, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': sign(body), ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

describe('the webhook receiver', () => {
  it.each([
    ['push', '{}', 422, 'validation_failed'],
    ['pull_request', JSON.stringify({ action: 'opened', repository: { full_name: 'a/b' } }), 422, 'validation_failed'],
    ['issue_comment', JSON.stringify({ action: 'created', repository: { full_name: 'a/b' }, issue: {}, comment: {} }), 422, 'validation_failed'],
    ['installation', '[]', 422, 'validation_failed'],
    ['ping', '"just a string"', 422, 'validation_failed'],
    // Probot would fail authenticating as these installations before any handler ran (a 500).
    ['pull_request', JSON.stringify({ action: 'opened', repository: { full_name: 'a/b' }, pull_request: { number: 1 }, installation: { id: 'abc' } }), 422, 'validation_failed'],
    ['check_run', JSON.stringify({ action: 'created', installation: { id: '../..' } }), 422, 'validation_failed'],
    ['ping', JSON.stringify({ installation: 'x' }), 422, 'validation_failed'],
    ['push', '{"ref":', 400, 'invalid_json'],
    ['', '{}', 400, 'invalid_request'],
    ['Push!', '{}', 400, 'invalid_request'],
  ])('a signed %j delivery of %s → %i %s, in our error format, nothing recorded', async (name, body, status, code) => {
    const head = cp.store.health().head.seq;
    const res = await send(name, body);
    expect(res.status).toBe(status);
    expect(res.body.error?.code).toBe(code);
    expect(res.body.error?.message).not.toMatch(/TypeError|Cannot read/);
    expect(cp.store.health().head.seq).toBe(head);
  });

  it('refuses a bad signature with 401 before reading the payload', async () => {
    const body = JSON.stringify(example('push'));
    const res = await send('push', body, { 'x-hub-signature-256': sign(body, 'wrong-secret') });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
  });

  it('answers 405 to other methods', async () => {
    const res = await fetch(`${cp.url}/api/github/webhooks`);
    expect(res.status).toBe(405);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });
});

describe('signatureValid', () => {
  const body = Buffer.from('{"a":1}');
  it.each([
    [sign('{"a":1}', 's3cret'), true],
    [sign('{"a":2}', 's3cret'), false],
    [sign('{"a":1}', 'other'), false],
    ['sha1=abc', false],
    ['', false],
    [undefined, false],
  ])('%j → %s', (header, ok) => {
    expect(signatureValid('s3cret', body, header)).toBe(ok);
  });
});
