import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_ROUTES } from '../../../src/api/routes/events.ts';
import { mintWorkerToken } from '../../../src/api/worker-token.ts';
import { OPERATOR_ACTION_TYPES } from '../../../src/events/types.ts';
import { READ_TOKEN, startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../../helpers/control-plane.ts';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane();
});
afterAll(async () => {
  await cp.destroy();
});

const post = (body: string, type = 'application/json', token?: string | null) =>
  cp.api('/v1/events', { method: 'POST', body, headers: { 'content-type': type }, ...(token !== undefined ? { token } : {}) });

async function errorOf(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, ...body.error };
}

describe('POST /v1/events', () => {
  it('stores one event and answers with its seq', async () => {
    const res = await post(JSON.stringify({ id: 'one-1', type: 'target.registered', target: 'acme/api', data: { installation_id: 3 } }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { stored: Array<{ id: string; seq: number }>; duplicates: string[] };
    expect(body.stored).toEqual([{ id: 'one-1', seq: expect.any(Number) }]);
    expect(body.duplicates).toEqual([]);
  });

  it('stores a JSON array batch and an NDJSON batch; duplicates are acknowledged, not stored twice', async () => {
    const batch = [1, 2, 3].map((i) => ({ id: `batch-${i}`, type: 'note.added', data: { i } }));
    const first = (await (await post(JSON.stringify(batch))).json()) as { stored: unknown[]; duplicates: string[] };
    expect(first.stored).toHaveLength(3);
    const ndjson = [...batch.slice(1), { id: 'batch-4', type: 'note.added' }].map((e) => JSON.stringify(e)).join('\n');
    const second = (await (await post(ndjson, 'application/x-ndjson')).json()) as { stored: Array<{ id: string }>; duplicates: string[] };
    expect(second.stored.map((s) => s.id)).toEqual(['batch-4']);
    expect(second.duplicates).toEqual(['batch-2', 'batch-3']);
    const page = (await (await cp.api('/v1/graph/events?type=note.added&limit=100')).json()) as { events: unknown[] };
    expect(page.events).toHaveLength(4);
  });

  it.each([
    ['invalid JSON', 400, 'invalid_json', '{"type":', 'application/json'],
    ['invalid NDJSON line', 400, 'invalid_json', '{"type":"a.b"}\n{oops', 'application/x-ndjson'],
    ['wrong content type', 415, 'unsupported_media_type', '{"type":"a.b"}', 'text/plain'],
    ['missing type', 422, 'invalid_event', '{"data":{}}', 'application/json'],
    ['bad type shape', 422, 'invalid_event', '{"type":"DROP TABLE"}', 'application/json'],
    ['unknown field', 422, 'invalid_event', '{"type":"a.b","seq":5}', 'application/json'],
    ['bad target', 422, 'invalid_event', '{"type":"a.b","target":"not a repo"}', 'application/json'],
    ['known type with bad data', 422, 'invalid_event', '{"type":"pr.merged","target":"a/b","data":{"number":"x"}}', 'application/json'],
    ['empty batch', 422, 'invalid_event', '[]', 'application/json'],
    ['data nested too deep', 422, 'invalid_event', `{"type":"a.b","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5001)}`, 'application/json'],
    ['data too large', 422, 'invalid_event', JSON.stringify({ type: 'a.b', data: { x: 'y'.repeat(70_000) } }), 'application/json'],
  ])('%s → %i %s', async (_name, status, code, body, type) => {
    const res = await post(body, type);
    expect(await errorOf(res)).toMatchObject({ status, code });
  });

  it('a batch with one bad event stores nothing and names the bad one', async () => {
    const before = cp.store.health().head.seq;
    const res = await post(JSON.stringify([{ id: 'good-1', type: 'a.b' }, { type: 'bad' }]));
    const err = await errorOf(res);
    expect(err).toMatchObject({ status: 422, code: 'invalid_event' });
    expect(err.message).toContain('events[1]');
    expect(cp.store.health().head.seq).toBe(before);
  });

  it('refuses bodies over the limit with 413', async () => {
    const huge = JSON.stringify(Array.from({ length: 10_001 }, () => ({ type: 'a.b' })));
    expect(await errorOf(await post(huge))).toMatchObject({ status: 413, code: 'payload_too_large' });
    const tooBig = 'x'.repeat(11 * 1024 * 1024);
    expect((await post(tooBig)).status).toBe(413);
  });

  it('needs a write token: none → 401, read-only → 403', async () => {
    const none = await post('{"type":"a.b"}', 'application/json', null);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(await errorOf(none)).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(await errorOf(await post('{"type":"a.b"}', 'application/json', READ_TOKEN))).toMatchObject({ status: 403, code: 'forbidden' });
    expect(await errorOf(await post('{"type":"a.b"}', 'application/json', 'wrong-token'))).toMatchObject({ status: 401 });
  });

  it("validates attempt.failed's step: optional (older workers, the scheduler), else a step's name", async () => {
    const failed = (data: Record<string, unknown>) => ({ type: 'attempt.failed', target: 'acme/api', data: { attempt_id: 'att-s', failure_type: 'push_rejected', ...data } });
    expect((await post(JSON.stringify([failed({}), failed({ step: 'push branch' })]))).status).toBe(200);
    for (const step of [5, '', 'x'.repeat(101), null]) {
      expect(await errorOf(await post(JSON.stringify(failed({ step }))))).toMatchObject({ status: 422, code: 'invalid_event', message: expect.stringContaining('event.data.step') });
    }
  });

  it('validates policy.change_proposed as the policy editor writes it (console/policy-proposal.ts)', async () => {
    const written = { reason: 'Allow docs/ changes', via: 'console', pr_number: 42, pr_url: 'https://github.com/acme/api/pull/42', branch: 'leviathan/policy-20261128T100000-a1b2c3' };
    const proposed = (data: Record<string, unknown>) => JSON.stringify({ type: 'policy.change_proposed', target: 'acme/api', subject: 'target:acme/api', data });
    expect((await post(proposed(written)))).toMatchObject({ status: 200 });
    for (const [bad, field] of [
      [{ ...written, reason: '' }, 'reason'],
      [{ ...written, via: 'slack' }, 'via'],
      [{ ...written, pr_number: 0 }, 'pr_number'],
      [{ ...written, pr_url: undefined }, 'pr_url'],
      [{ ...written, branch: undefined }, 'branch'],
    ] as const) {
      expect(await errorOf(await post(proposed(bad)))).toMatchObject({ status: 422, code: 'invalid_event', message: expect.stringContaining(`event.data.${field}`) });
    }
  });

  it('refuses an operator action that names another actor (403, nothing of the batch stored), pointing to its route', async () => {
    const head = cp.store.health().head.seq;
    const forged = { type: 'target.paused', target: 'acme/forged', actor: 'github:ceo', data: { reason: 'forged', via: 'console' } };
    const e = await errorOf(await post(JSON.stringify([{ type: 'note.added' }, forged])));
    expect(e).toMatchObject({ status: 403, code: 'forbidden' });
    expect(e.message).toMatch(/^events\[1\]: target\.paused is an operator action and is recorded as its caller, token:[0-9a-f]{8}, not as github:ceo; to act, use POST \/v1\/targets\/acme\/forged\/pause\.$/);
    expect(await errorOf(await post(JSON.stringify({ type: 'autonomy.enabled', actor: 'github:ceo', data: {} })))).toMatchObject({
      status: 403,
      message: expect.stringContaining('use POST /v1/autonomy.'),
    });
    expect(cp.store.health().head.seq).toBe(head);

    // Without an actor, or as the caller itself, it is the caller's own record (fixtures seed state so).
    expect((await post(JSON.stringify({ ...forged, actor: undefined }))).status).toBe(200);
    const [stored] = ((await (await cp.api('/v1/graph/events?type=target.paused&limit=1')).json()) as { events: Array<{ actor: string }> }).events;
    expect(stored!.actor).toMatch(/^token:[0-9a-f]{8}$/);
    expect((await post(JSON.stringify({ type: 'target.resumed', target: 'acme/forged', actor: stored!.actor }))).status).toBe(200);
    // Other events still name whom they like: a webhook relay, an importer.
    expect((await post(JSON.stringify({ type: 'note.added', actor: 'github:ceo' }))).status).toBe(200);
  });

  it('records the token as actor when the event names none', async () => {
    await post(JSON.stringify({ id: 'actor-1', type: 'note.added' }));
    const page = (await (await cp.api('/v1/graph/events?type=note.added&limit=1')).json()) as { events: Array<{ actor: string }> };
    expect(page.events[0]!.actor).toMatch(/^token:[0-9a-f]{8}$/);
  });
});

describe('GET /v1/graph/events', () => {
  beforeAll(async () => {
    const events = Array.from({ length: 25 }, (_, i) => ({ id: `page-${i}`, type: i % 2 ? 'page.odd' : 'page.even', target: i < 10 ? 'acme/one' : 'acme/two', data: { i } }));
    await post(JSON.stringify(events));
  });

  it('pages newest first with a cursor, without gaps or repeats', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ type: 'page.*', limit: '7' });
      if (cursor) q.set('cursor', cursor);
      const page = (await (await cp.api(`/v1/graph/events?${q}`)).json()) as { events: Array<{ seq: number; data: { i: number } }>; next_cursor: string | null };
      seen.push(...page.events.map((e) => e.data.i));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i));
  });

  it('pages oldest first', async () => {
    const page = (await (await cp.api('/v1/graph/events?type=page.odd&order=asc&limit=3')).json()) as { events: Array<{ data: { i: number } }>; next_cursor: string };
    expect(page.events.map((e) => e.data.i)).toEqual([1, 3, 5]);
    const next = (await (await cp.api(`/v1/graph/events?type=page.odd&order=asc&limit=3&cursor=${page.next_cursor}`)).json()) as { events: Array<{ data: { i: number } }> };
    expect(next.events.map((e) => e.data.i)).toEqual([7, 9, 11]);
  });

  it('filters by target, type list and time', async () => {
    const byTarget = (await (await cp.api('/v1/graph/events?target=acme/one&type=page.even&limit=100')).json()) as { events: unknown[] };
    expect(byTarget.events).toHaveLength(5);
    const list = (await (await cp.api('/v1/graph/events?type=page.even,page.odd&limit=1000')).json()) as { events: unknown[] };
    expect(list.events).toHaveLength(25);
    const future = (await (await cp.api('/v1/graph/events?since=2999-01-01T00:00:00Z')).json()) as { events: unknown[] };
    // A date alone, or a time with an offset, are ISO 8601 too.
    expect((await cp.api('/v1/graph/events?since=2999-01-01')).status).toBe(200);
    expect((await cp.api('/v1/graph/events?until=2999-01-01T00:00:00%2B02:00')).status).toBe(200);
    expect(future.events).toHaveLength(0);
  });

  it.each([
    ['limit=0', 'invalid_request'],
    ['limit=1001', 'invalid_request'],
    ['cursor=abc', 'invalid_cursor'],
    ['order=sideways', 'invalid_request'],
    ['since=yesterday', 'invalid_request'],
    ['since=Tuesday%201', 'invalid_request'],
    ['since=1', 'invalid_request'],
    ['until=foo%202020', 'invalid_request'],
    ['limit=1e2', 'invalid_request'],
    ['limit=0x10', 'invalid_request'],
  ])('%s → 400 %s', async (q, code) => {
    expect(await errorOf(await cp.api(`/v1/graph/events?${q}`))).toMatchObject({ status: 400, code });
  });

  it('accepts a read-only token and refuses none', async () => {
    expect((await cp.api('/v1/graph/events', { token: READ_TOKEN })).status).toBe(200);
    expect((await cp.api('/v1/graph/events', { token: null })).status).toBe(401);
  });
});

describe('GET /v1/events/stream (SSE)', () => {
  /** Reads SSE messages until `count` data messages arrived. */
  async function collect(res: Response, count: number, timeoutMs = 5000): Promise<Array<{ id: string; data: { id: string } }>> {
    const out: Array<{ id: string; data: { id: string } }> = [];
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) {
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined; done: true }>((r) => setTimeout(() => r({ value: undefined, done: true }), deadline - Date.now())),
      ]);
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id && data) out.push({ id, data: JSON.parse(data) });
      }
    }
    await reader.cancel();
    return out;
  }

  it('delivers a new event live, then resumes from Last-Event-ID', async () => {
    const ctrl = new AbortController();
    const res = await cp.api('/v1/events/stream?type=live.tick', { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const got = collect(res, 1);
    await post(JSON.stringify({ id: 'live-1', type: 'live.tick' }));
    const [first] = await got;
    expect(first!.data.id).toBe('live-1');

    await post(JSON.stringify([{ id: 'live-2', type: 'live.tick' }, { id: 'other', type: 'live.other' }, { id: 'live-3', type: 'live.tick' }]));
    const resumed = await cp.api('/v1/events/stream?type=live.tick', { headers: { 'last-event-id': first!.id } });
    const rest = await collect(resumed, 2);
    expect(rest.map((m) => m.data.id)).toEqual(['live-2', 'live-3']);
    ctrl.abort();
  });

  it("names where it starts before any event, so a client that saw none resumes there, not at a later head", async () => {
    const head = cp.store.health().head.seq;
    const ctrl = new AbortController();
    const res = await cp.api('/v1/events/stream?type=gap.tick', { signal: ctrl.signal });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe(`retry: 2000\nid: ${head}\n\n`);
    ctrl.abort();
    // That the client then resumes from this id, seeing what came in while it was away, is resuming
    // from a Last-Event-ID, which the tests above cover; the id line is what is new here.
  });

  it('starts a Last-Event-ID past the head (another store, a restore) at the head, skipping nothing', async () => {
    const head = cp.store.health().head.seq;
    const res = await cp.api('/v1/events/stream?type=ahead.tick', { headers: { 'last-event-id': String(head + 50) } });
    const got = collect(res, 2);
    await post(JSON.stringify([{ id: 'ahead-1', type: 'ahead.tick' }, { id: 'ahead-2', type: 'ahead.tick' }]));
    expect((await got).map((m) => m.data.id)).toEqual(['ahead-1', 'ahead-2']);
  });

  it('sends heartbeats and refuses a bad Last-Event-ID', async () => {
    expect(await errorOf(await cp.api('/v1/events/stream', { headers: { 'last-event-id': 'nope' } }))).toMatchObject({ status: 400 });
  });
});

describe("a worker's attempt token", () => {
  const assignment = { target: 'acme/worker-scope', attempt_id: 'att-w1', task: { id: 't1' }, timeout_seconds: 600 };
  const token = () => mintWorkerToken(WRITE_TOKEN, assignment, Date.now());
  const report = (events: unknown) => cp.api('/v1/events', { method: 'POST', json: events, token: token() });

  it('posts its own attempt events, recorded with the worker as actor', async () => {
    const res = await report({ id: 'att-w1:started', type: 'attempt.started', target: 'acme/worker-scope', subject: 'attempt:att-w1', data: { attempt_id: 'att-w1', task_id: 't1' } });
    expect(res.status).toBe(200);
    const [stored] = (await cp.store.read({ type: 'attempt.started', target: 'acme/worker-scope', limit: 1 })).events;
    expect(stored).toMatchObject({ id: 'att-w1:started', actor: 'worker:att-w1', subject: 'attempt:att-w1' });
  });

  describe("cannot take another event's id", () => {
    // Attempts of one cycle are `<cycle>-1`, `<cycle>-2`…: a sibling's ids are easy to guess.
    const sibling = { target: 'acme/worker-scope', attempt_id: 'att-w2', task: { id: 't2' }, timeout_seconds: 600 };
    const siblingReport = (events: unknown) => cp.api('/v1/events', { method: 'POST', json: events, token: mintWorkerToken(WRITE_TOKEN, sibling, Date.now()) });
    const own = (type: string, extra: Record<string, unknown> = {}) => ({ type, target: 'acme/worker-scope', data: { attempt_id: 'att-w1', task_id: 't1', ...extra } });

    it("a sibling attempt's: refused (403, nothing of the batch stored), and the sibling's own reports are then stored, not dropped as duplicates", async () => {
      const head = cp.store.health().head.seq;
      for (const [id, type] of [
        ['att-w2:failed', 'attempt.failed'],
        ['att-w2:succeeded', 'attempt.succeeded'],
        ['att-w2:pr.created', 'pr.created'],
      ] as const) {
        const claim = own(type, type === 'attempt.failed' ? { failure_type: 'other' } : type === 'pr.created' ? { number: 12 } : {});
        const e = await errorOf(await report([own('attempt.started'), { ...claim, id }]));
        expect(e).toMatchObject({ status: 403, code: 'forbidden' });
        expect(e.message).toMatch(new RegExp(`^events\\[1\\]: a worker token for attempt att-w1 posts ${type} as att-w1:\\S+, not as ${id}\\.$`));
      }
      expect(cp.store.health().head.seq).toBe(head);
      const res = await siblingReport({ id: 'att-w2:failed', type: 'attempt.failed', target: 'acme/worker-scope', subject: 'attempt:att-w2', data: { attempt_id: 'att-w2', task_id: 't2', failure_type: 'agent_error' } });
      expect(await res.json()).toEqual({ stored: [{ id: 'att-w2:failed', seq: head + 1 }], duplicates: [] });
    });

    it("its own attempt's, under another type or as the scheduler writes them: refused", async () => {
      const head = cp.store.health().head.seq;
      for (const [bad, why] of [
        // Taken first, the scheduler's attempt.created (or the sweep's attempt.failed) would be dropped.
        [{ ...own('attempt.started'), id: 'att-w1:created' }, /posts attempt.started as att-w1:started, not as att-w1:created/],
        [{ ...own('attempt.started'), id: 'att-w1:failed' }, /posts attempt.started as att-w1:started, not as att-w1:failed/],
        [{ ...own('attempt.failed', { failure_type: 'other' }), id: 'att-w1:selected' }, /not as att-w1:selected/],
        [{ ...own('attempt.failed', { failure_type: 'other' }), id: 'att-w1:failed-again' }, /not as att-w1:failed-again/],
        [{ ...own('attempt.failed', { failure_type: 'other' }), id: 'att-w1' }, /not as att-w1\./],
      ] as const) {
        const e = await errorOf(await report(bad));
        expect(e).toMatchObject({ status: 403, code: 'forbidden' });
        expect(e.message).toMatch(/^event: /);
        expect(e.message).toMatch(why);
      }
      expect(cp.store.health().head.seq).toBe(head);
    });

    it('without an id: stored under one the control plane gives, which no other event has', async () => {
      const once = (await (await report([own('attempt.started'), own('attempt.started')])).json()) as { stored: Array<{ id: string }>; duplicates: string[] };
      const again = (await (await report(own('attempt.started'))).json()) as { stored: Array<{ id: string }>; duplicates: string[] };
      const ids = [...once.stored, ...again.stored].map((e) => e.id);
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(3);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect([...once.duplicates, ...again.duplicates]).toEqual([]);
    });
  });

  it("posts about its attempt and the PR it reports on its own target, about nothing else", async () => {
    const head = cp.store.health().head.seq;
    const failed = { type: 'attempt.failed', target: 'acme/worker-scope', data: { attempt_id: 'att-w1', task_id: 't1', failure_type: 'timeout' } };
    const pr = { type: 'pr.created', target: 'acme/worker-scope', data: { attempt_id: 'att-w1', task_id: 't1', number: 5 } };
    for (const [bad, why] of [
      [{ ...failed, subject: 'attempt:att-w2' }, /posts attempt.failed about attempt:att-w1, not about attempt:att-w2/],
      [{ ...failed, subject: 'target:acme/worker-scope' }, /not about target:acme\/worker-scope/],
      [{ ...pr, subject: 'pr:acme/elsewhere#5' }, /posts pr.created about pr:acme\/worker-scope#5, not about pr:acme\/elsewhere#5/],
      [{ ...pr, subject: 'pr:acme/worker-scope#6' }, /not about pr:acme\/worker-scope#6/],
    ] as const) {
      const e = await errorOf(await report([{ ...pr, subject: 'pr:acme/worker-scope#5' }, bad]));
      expect(e).toMatchObject({ status: 403, code: 'forbidden' });
      expect(e.message).toMatch(/^events\[1\]/);
      expect(e.message).toMatch(why);
    }
    expect(cp.store.health().head.seq).toBe(head);
    expect((await report([{ ...pr, subject: 'pr:acme/worker-scope#5' }, { ...failed, subject: 'attempt:att-w1' }])).status).toBe(200);
  });

  it('is refused (403, nothing of the batch stored) for anything else: another attempt, target or type', async () => {
    const head = cp.store.health().head.seq;
    const own = { type: 'attempt.failed', target: 'acme/worker-scope', data: { attempt_id: 'att-w1', task_id: 't1', failure_type: 'timeout' } };
    for (const [bad, why] of [
      [{ ...own, data: { ...own.data, attempt_id: 'att-other' } }, /another attempt/],
      [{ ...own, target: 'acme/elsewhere' }, /may not post for acme\/elsewhere/],
      [{ type: 'autonomy.enabled', data: { reason: 'agent' } }, /may not post autonomy.enabled/],
      [{ ...own, actor: 'github:octocat' }, /posts as worker:att-w1, not as github:octocat/],
    ] as const) {
      const e = await errorOf(await report([own, bad]));
      expect(e).toMatchObject({ status: 403, code: 'forbidden' });
      expect(e.message).toMatch(why);
      expect(e.message).toMatch(/^events\[1\]/);
    }
    expect(cp.store.health().head.seq).toBe(head);
  });

  it('reads nothing and acts on nothing (console sign-in: test/console/console-auth.test.ts)', async () => {
    expect((await cp.api('/v1/targets', { token: token() })).status).toBe(403);
    expect((await cp.api('/v1/events/stream', { token: token() })).status).toBe(403);
    expect((await cp.api('/v1/targets/acme/worker-scope/pause', { method: 'POST', json: { reason: 'x' }, token: token() })).status).toBe(403);
  });

  it('stops working once its attempt is long over', async () => {
    const old = mintWorkerToken(WRITE_TOKEN, assignment, Date.now() - (600 + 3600) * 1000);
    expect((await cp.api('/v1/events', { method: 'POST', json: { type: 'attempt.started', target: 'acme/worker-scope', data: { attempt_id: 'att-w1' } }, token: old })).status).toBe(401);
  });
});

it('names a route for exactly the operator action types', () => {
  expect(Object.keys(OPERATOR_ROUTES).sort()).toEqual([...OPERATOR_ACTION_TYPES].sort());
});
