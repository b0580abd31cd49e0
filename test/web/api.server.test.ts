import type { AppLoadContext } from '@remix-run/node';
import { describe, expect, it } from 'vitest';
import { MAX_FORM_BYTES, readActionForm } from '../../web/app/api.server.ts';

const CSRF = 'a-csrf-token-of-the-session-0123456789';
const context = { session: { csrf: CSRF } } as unknown as AppLoadContext;

const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }) =>
  new Request('http://127.0.0.1/targets/acme/web', { method: 'POST', headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);

async function refusal(p: Promise<unknown>): Promise<{ status: number; body: unknown }> {
  const thrown = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(thrown).toBeInstanceOf(Response);
  const res = thrown as Response;
  return { status: res.status, body: await res.json() };
}

describe("readActionForm: the console's check of every action form", () => {
  it('takes a form carrying the session’s CSRF token', async () => {
    const form = await readActionForm(context, post(new URLSearchParams({ csrf: CSRF, intent: 'pause', reason: 'freeze' })));
    expect(form.get('intent')).toBe('pause');
  });

  it.each([
    ['no token', { intent: 'pause' }],
    ['a wrong token of the same length', { csrf: `${CSRF.slice(0, -1)}x`, intent: 'pause' }],
    ['a prefix of the token', { csrf: CSRF.slice(0, 10), intent: 'pause' }],
  ])('refuses %s with 403', async (_name, fields) => {
    expect(await refusal(readActionForm(context, post(new URLSearchParams(fields))))).toEqual({
      status: 403,
      body: { error: { code: 'forbidden', message: 'Missing or invalid CSRF token. Reload the page and try again.' } },
    });
  });

  it('refuses a body over the limit with 413, whether it declares its length or not', async () => {
    const big = `csrf=${CSRF}&reason=${'x'.repeat(MAX_FORM_BYTES)}`;
    expect((await refusal(readActionForm(context, post(big)))).status).toBe(413);
    // Chunked, no content-length: counted as it streams, and the stream is cancelled at the limit.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 16 * 1024;
        c.enqueue(new TextEncoder().encode('x'.repeat(16 * 1024)));
      },
    });
    const r = await refusal(readActionForm(context, post(stream)));
    expect(r).toEqual({ status: 413, body: { error: { code: 'payload_too_large', message: `The form exceeds the limit of ${MAX_FORM_BYTES} bytes.` } } });
    expect(sent).toBeLessThan(MAX_FORM_BYTES + 64 * 1024);
  });

  it('answers 400 to a body that is not a form', async () => {
    expect((await refusal(readActionForm(context, post('{"csrf":"x"}', { 'content-type': 'application/json' })))).status).toBe(400);
  });
});
