/**
 * Hostile input, measured: property-based and fuzzed requests against a real control plane
 * (POST /v1/events, the signed webhook path, query parameters, path parameters, SSE resume ids)
 * and hostile YAML for the target-repo files. Every answer must be a clean 4xx with a JSON
 * `{error:{code,message}}` body (or a 2xx for input that happens to be valid), never a 5xx; a
 * refused request must leave the head seq unchanged; the server must stay healthy and its chain
 * must verify at the end. YAML must come back as a result (`backlog_invalid` etc.), never throw.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseBacklog } from '../../src/contract/backlog.ts';
import { parseContract } from '../../src/contract/contract-file.ts';
import { parseAutonomyConfig, parsePolicy } from '../../src/contract/policy.ts';
import { verifyChain } from '../../src/store/verify.ts';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { record } from './helpers/figures.ts';
import { sign, startLeviathan } from './helpers/leviathan.ts';

let cp: TestControlPlane;

beforeAll(async () => {
  cp = await startLeviathan();
  // Something to read and a registered target, so queries and webhooks meet real state.
  const res = await cp.api('/v1/events', { method: 'POST', json: [{ type: 'target.registered', target: 'acme/app', data: { installation_id: 1 } }] });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await cp?.destroy();
});

/** What every HTTP case found, for the figures table and the final assertions. */
const tally = { cases: 0, accepted: 0, refused: 0, serverErrors: [] as string[], badBodies: [] as string[], halfWrites: [] as string[] };
const byStatus = new Map<number, number>();

/** Every violation fails the run. */
function violation(list: string[], _v: { what: string; path: string; status: number }, sample: string): void {
  list.push(sample);
}

/**
 * Sends one request and checks the answer. A refused request (4xx) must not move the head; an
 * accepted one may. Violations are collected, not thrown, so one run reports all of them.
 */
async function probe(what: string, path: string, init: RequestInit = {}, opts: { stream?: boolean } = {}): Promise<number> {
  const head = cp.store.health().head.seq;
  const controller = new AbortController();
  const res = await fetch(`${cp.url}${path}`, { ...init, signal: controller.signal });
  tally.cases++;
  byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
  if (opts.stream && res.status === 200) {
    controller.abort();
    tally.accepted++;
    return res.status;
  }
  const text = await res.text();
  const sample = `${what}: ${res.status} ${text.slice(0, 200)} ← ${path.slice(0, 120)}`;
  const v = { what, path: path.split('?')[0]!, status: res.status };
  if (res.status >= 500) violation(tally.serverErrors, v, sample);
  if (res.status >= 400) {
    tally.refused++;
    let body: { error?: { code?: unknown; message?: unknown } } | null;
    try {
      body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } } | null;
    } catch {
      body = null;
    }
    if (res.status < 500 && (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string')) violation(tally.badBodies, v, sample);
    if (cp.store.health().head.seq !== head) tally.halfWrites.push(sample);
  } else {
    tally.accepted++;
  }
  return res.status;
}

const auth = { authorization: 'Bearer test-write-token-0123456789' };
const postEvents = (what: string, body: string, contentType: string | null = 'application/json') =>
  probe(what, '/v1/events', { method: 'POST', headers: { ...auth, ...(contentType ? { 'content-type': contentType } : {}) }, body });

// ------------------------------------------------------------------ generators

/** Strings that stress validators: unicode, control characters, separators, long runs. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', '../..', '%00', '%', '%zz', '%E0%A4%A', '\uD800', 'a/b/c', '../../etc/passwd', '${jndi:x}', '<script>', '🐙', 'a'.repeat(5000)),
  fc.string({ unit: fc.constantFrom('/', '.', '%', '#', '?', '&', '=', '\\', 'a', '0', '-'), maxLength: 30 }),
);

const eventLike = fc.record(
  {
    id: fc.oneof(nasty, fc.integer(), fc.constant(null), fc.uuid()),
    type: fc.oneof(nasty, fc.constantFrom('attempt.failed', 'pr.created', 'task.skipped', 'target.registered', 'x.y', 'Attempt.Failed', 'a..b', 'target.paused')),
    actor: fc.oneof(nasty, fc.integer(), fc.constant(null)),
    target: fc.oneof(nasty, fc.constantFrom('acme/app', 'acme/../etc', 'a/b/c', null), fc.integer()),
    subject: fc.oneof(nasty, fc.constant(null), fc.array(fc.string())),
    data: fc.oneof(fc.jsonValue(), fc.object(), fc.constant(null), fc.dictionary(fc.string(), fc.jsonValue())),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

/** JSON nested `depth` levels deep, as arrays or objects. */
const deep = (depth: number, kind: 'array' | 'object') =>
  kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

// ------------------------------------------------------------------ HTTP cases

describe('hostile input never gets a 5xx, a crash or a half-stored event', () => {
  it('POST /v1/events: arbitrary JSON, event-shaped garbage, raw bytes, mixed batches', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (v) => {
        await postEvents('json value', JSON.stringify(v));
      }),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(eventLike, fc.array(eventLike, { maxLength: 5 })), async (v) => {
        await postEvents('event-shaped', JSON.stringify(v));
      }),
      { numRuns: 2000 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'))),
        fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain', 'application/json; charset=utf-16', null, 'multipart/form-data; boundary=x'),
        async (body, type) => {
          await postEvents('raw body', body, type);
        },
      ),
      { numRuns: 1000 },
    );
    // All or nothing: one bad event anywhere in an otherwise valid batch stores none of it.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.nat(), eventLike, async (n, at, bad) => {
        const good = Array.from({ length: n }, () => ({ id: `ok-${randomUUID()}`, type: 'attempt.started', target: 'acme/app', data: { attempt_id: 'a1' } }));
        const status = await postEvents('mixed batch', JSON.stringify([...good.slice(0, at % n), { ...bad, type: 'Not A Type' }, ...good.slice(at % n)]));
        expect(status).toBe(422);
      }),
      { numRuns: 500 },
    );
    // NDJSON with one bad line in the middle.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.string({ maxLength: 50 }), async (n, junk) => {
        const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `nd-${randomUUID()}`, type: 'attempt.started', target: 'acme/app', data: { attempt_id: `a${i}` } }));
        lines.splice(Math.floor(n / 2), 0, `{${junk}`);
        await postEvents('ndjson with a bad line', lines.join('\n'), 'application/x-ndjson');
      }),
      { numRuns: 300 },
    );
  });

  it('POST /v1/events: huge, deep and many', { timeout: 60_000 }, async () => {
    const cases: Array<[string, string, string?]> = [
      ['11 MB body', JSON.stringify({ type: 'x.y', data: { pad: 'x'.repeat(11 * 1024 * 1024) } })],
      ['data just over 64 KiB', JSON.stringify({ type: 'x.y', data: { pad: 'x'.repeat(64 * 1024) } })],
      ['10,001 events', JSON.stringify(Array.from({ length: 10_001 }, () => ({ type: 'x.y' })))],
      ['100,000-deep array body', deep(100_000, 'array')],
      ['100,000-deep object body', deep(100_000, 'object')],
      ['20,000-deep data', `{"type":"x.y","data":${deep(20_000, 'object')}}`],
      ['5,000-deep data', `{"type":"x.y","data":${deep(5_000, 'object')}}`],
      ['2,000-deep data', `{"type":"x.y","data":{"a":${deep(2_000, 'array')}}}`],
      ['__proto__ keys', '{"type":"x.y","__proto__":{"polluted":true},"data":{"__proto__":{"x":1},"constructor":{"prototype":{"y":2}}}}'],
      ['1,000,000 blank NDJSON lines', '\n'.repeat(1_000_000), 'application/x-ndjson'],
      ['lone surrogates', '{"type":"x.y","id":"\\ud800","data":{"s":"\\udfff"}}'],
      ['NUL in id', '{"type":"x.y","id":"a\\u0000b"}'],
    ];
    for (const [what, body, type] of cases) await postEvents(what, body, type ?? 'application/json');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('the webhook path: unsigned, badly signed and validly signed garbage', { timeout: 120_000 }, async () => {
    const names = fc.constantFrom('pull_request', 'push', 'issue_comment', 'installation', 'installation_repositories', 'ping', 'check_run', 'nonsense', '');
    // Without a valid signature nothing is looked at: always a 4xx, nothing stored.
    await fc.assert(
      fc.asyncProperty(names, fc.jsonValue(), fc.option(nasty), fc.option(fc.uuid()), async (name, payload, sig, delivery) => {
        const body = JSON.stringify(payload);
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': name };
        if (delivery) headers['x-github-delivery'] = delivery;
        if (sig !== null) headers['x-hub-signature-256'] = /^[\x20-\x7e]*$/.test(sig) ? sig : 'sha256=00';
        const status = await probe('unsigned webhook', '/api/github/webhooks', { method: 'POST', headers, body });
        expect(status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 800 },
    );
    // Signed with the right secret but malformed: only someone holding the secret can send it,
    // and it still must not take the server down or store half a delivery.
    const prish = fc.record(
      {
        action: fc.oneof(fc.constantFrom('opened', 'closed', 'reopened', 'created', 'added'), nasty),
        number: fc.oneof(fc.integer(), nasty),
        pull_request: fc.oneof(fc.constant(null), fc.jsonValue(), fc.record({ number: fc.oneof(fc.integer(), nasty), body: fc.oneof(nasty, fc.constant(null)), updated_at: nasty }, { requiredKeys: [] })),
        repository: fc.oneof(fc.constant(null), fc.record({ full_name: fc.oneof(nasty, fc.constant('acme/app')), name: nasty }, { requiredKeys: [] })),
        sender: fc.oneof(fc.constant(null), fc.record({ login: nasty }, { requiredKeys: [] })),
        installation: fc.oneof(fc.constant(null), fc.record({ id: fc.oneof(fc.integer(), nasty) }, { requiredKeys: [] })),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(names, fc.oneof(prish, fc.jsonValue()), async (name, payload) => {
        const body = JSON.stringify(payload);
        await probe(`signed ${name}`, '/api/github/webhooks', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': name, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': sign(body) },
          body,
        });
      }),
      { numRuns: 700 },
    );
  });

  it('query parameters, path parameters and SSE resume ids', { timeout: 120_000 }, async () => {
    const params = fc.dictionary(fc.constantFrom('limit', 'cursor', 'order', 'since', 'until', 'type', 'target', 'subject', 'as_of', 'last_event_id', 'x'), nasty, { maxKeys: 5 });
    const h = { headers: auth };
    await fc.assert(
      fc.asyncProperty(params, fc.constantFrom('/v1/graph/events', '/v1/graph/nodes', '/v1/targets', '/v1/status', '/v1/autonomy/status', '/v1/commands'), async (p, path) => {
        await probe('query', `${path}?${new URLSearchParams(p)}`, h);
      }),
      { numRuns: 2000 },
    );
    // Raw (unencoded) query strings and path segments, including broken percent-encoding.
    const raw = fc.string({ unit: fc.constantFrom('%', 'E', '0', 'A', 'z', '/', '.', '=', '&', '?', 'a', '#', '+'), maxLength: 24 });
    await fc.assert(
      fc.asyncProperty(raw, raw, fc.constantFrom('/v1/targets/', '/v1/graph/nodes/', '/v1/targets/acme/', '/v1/graph/events?', '/v1/targets/acme/app/diagnosis?x=', '/v1/graph/nodes?cursor='), async (a, b, prefix) => {
        await probe('raw path', `${prefix}${a}${prefix.endsWith('/') ? `/${b}` : b}`, h);
      }),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(nasty, fc.nat().map(String), fc.constantFrom('-1', '1e3', '999999999999999999999', '0x10', ' 5')), fc.boolean(), async (id, asHeader) => {
        // Lone surrogates cannot be percent-encoded; the server would only ever see U+FFFD for them.
        const encoded = encodeURIComponent((id as string & { toWellFormed(): string }).toWellFormed());
        const safe = /^[\x20-\x7e]*$/.test(id) ? id : encoded;
        const path = asHeader ? '/v1/events/stream' : `/v1/events/stream?last_event_id=${encoded}`;
        await probe('sse resume', path, { headers: { ...auth, ...(asHeader ? { 'last-event-id': safe } : {}) } }, { stream: true });
      }),
      { numRuns: 500 },
    );
  });

  it('afterwards the server is healthy and the chain verifies', async () => {
    const health = await fetch(`${cp.url}/v1/health`);
    expect(health.status).toBe(200);
    const chain = await verifyChain(cp.store.scan());
    record('hostile HTTP input', {
      'HTTP cases sent': tally.cases,
      'answered 2xx (valid by chance, or a stream)': tally.accepted,
      'answered 4xx': tally.refused,
      'status codes seen': [...byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' '),
      '5xx answers': [tally.serverErrors.length, '0'],
      '4xx without {error:{code,message}}': [tally.badBodies.length, '0'],
      'refused requests that moved the head': [tally.halfWrites.length, '0'],
      'healthy after (GET /v1/health)': [health.status, '200'],
      'chain verifies after': [chain.ok ? `yes (${chain.count} events)` : 'NO', 'yes'],
    });
    expect(chain.ok).toBe(true);
    expect(tally.serverErrors.slice(0, 10)).toEqual([]);
    expect(tally.badBodies.slice(0, 10)).toEqual([]);
    expect(tally.halfWrites.slice(0, 10)).toEqual([]);
  });
});

// ------------------------------------------------------------------ YAML

/** An alias bomb: `levels` anchors, each a list of `width` aliases of the one before. */
function aliasBomb(levels: number, width: number): string {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(', ')}]`);
  lines.push(`tasks: *a${levels}`);
  return `${lines.join('\n')}\n`;
}

/** YAML nested `depth` levels deep, in block or flow style. */
function deepYaml(depth: number, flow: boolean): string {
  if (flow) return `tasks: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
  return `${Array.from({ length: depth }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n')} 1\n`;
}

const task = fc.record(
  {
    id: fc.oneof(fc.constantFrom('t1', 't2', 'docs-1'), nasty, fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 })),
    task_id: fc.oneof(fc.constantFrom('t1', 't3'), fc.integer()),
    title: fc.oneof(nasty, fc.integer(), fc.jsonValue()),
    priority: fc.oneof(fc.constantFrom('high', 'medium', 'low', 'urgent'), fc.integer(), fc.constant(null)),
    ready: fc.oneof(fc.boolean(), fc.constantFrom('yes', 'true', 1, null)),
    status: fc.oneof(fc.constantFrom('pending', 'in_progress', 'completed', 'blocked', 'failed', 'done'), fc.constant(null), fc.integer()),
    dependencies: fc.oneof(fc.array(fc.constantFrom('t1', 't2', 'nope'), { maxLength: 3 }), nasty, fc.integer()),
    allowed_paths: fc.oneof(fc.array(fc.constantFrom('docs/', 'src/a.ts', '../x', '/etc/passwd', '', 'docs/**'), { maxLength: 3 }), nasty, fc.constant(null)),
    acceptance_criteria: fc.oneof(fc.array(nasty, { maxLength: 3 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

const backlogText = fc.oneof(
  // Structured but wrong in every way the contract names: types, duplicates, non-list tasks.
  fc.oneof(fc.array(task, { maxLength: 6 }), fc.record({ tasks: fc.oneof(fc.array(task, { maxLength: 6 }), fc.jsonValue()), max_open_prs: fc.oneof(fc.integer(), nasty), version: fc.jsonValue() }, { requiredKeys: [] })).map((v) => stringify(v)),
  fc.jsonValue().map((v) => stringify(v)),
  // Plain junk and YAML-looking junk.
  fc.string({ maxLength: 400 }),
  fc.string({ unit: fc.constantFrom('&', '*', ':', '-', '[', ']', '{', '}', '!', '|', '>', '<<', ' ', '\n', 'a', '#', "'", '"', '%YAML 1.2\n', '---\n', '? '), maxLength: 80 }),
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2, max: 12 })).map(([l, w]) => aliasBomb(l, w)),
  fc.tuple(fc.integer({ min: 10, max: 1000 }), fc.boolean()).map(([d, f]) => deepYaml(d, f)),
);

describe('hostile YAML is reported, never thrown', () => {
  // Bounded by its 4000 runs; the timeout is only a backstop. A shared machine can make the whole
  // run several times slower (slowness is judged against this run's own baseline, not the clock).
  it('backlog, policy, contract and autonomy config parsers', { timeout: 300_000 }, async () => {
    const counts = { cases: 0, backlogInvalid: 0, backlogOk: 0, threw: [] as string[], slow: 0, maxMs: 0 };
    // What "slow" means is measured on this machine, in this run: an honest backlog as large as
    // a file may be (just under the 1 MiB cap) through the same four parsers. A hostile document
    // may cost about as much (the caps keep every parse linear in the capped size); only one
    // costing several times more — a blow-up the caps failed to stop — counts. 5 s is the floor.
    const largeHonest = `tasks:\n${Array.from({ length: 3200 }, (_, i) => `  - id: task-${i}\n    title: ${'An honest task with a long enough title '.repeat(5)}\n    allowed_paths: [docs/, src/module-${i}/]\n    acceptance_criteria: [tests pass]\n`).join('')}`;
    expect(Buffer.byteLength(largeHonest)).toBeLessThan(1024 * 1024);
    const honestStarted = performance.now();
    expect(parseBacklog(largeHonest).ok).toBe(true);
    parsePolicy(largeHonest);
    parseContract(largeHonest);
    parseAutonomyConfig(largeHonest);
    const honestMs = performance.now() - honestStarted;
    const slowMs = Math.max(5000, 3 * honestMs);
    const check = (text: string) => {
      counts.cases++;
      const started = performance.now();
      try {
        const b = parseBacklog(text);
        if (b.ok) counts.backlogOk++;
        else if (b.error.code === 'backlog_invalid' && typeof b.error.reason === 'string') counts.backlogInvalid++;
        else counts.threw.push(`unexpected backlog result ${JSON.stringify(b).slice(0, 100)}`);
        const p = parsePolicy(text);
        if (!p.ok && p.error.code !== 'policy_invalid') counts.threw.push('policy result without policy_invalid');
        parseContract(text);
        parseAutonomyConfig(text);
      } catch (err) {
        counts.threw.push(`${(err as Error).message.slice(0, 100)} ← ${text.slice(0, 60)}`);
      }
      const ms = performance.now() - started;
      counts.maxMs = Math.max(counts.maxMs, ms);
      if (ms > slowMs) counts.slow++;
    };
    // The yaml package warns through process.emitWarning on complex mapping keys (`? [a]: 1`),
    // which hostile files are full of: counted here instead of flooding stderr.
    const emitWarning = process.emitWarning;
    let warnings = 0;
    process.emitWarning = (() => void warnings++) as typeof process.emitWarning;
    try {
      fc.assert(fc.property(backlogText, (t) => check(t)), { numRuns: 4000 });
    } finally {
      process.emitWarning = emitWarning;
    }
    // Duplicate ids must be refused, with the line of the second one.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 5 }), (before, between) => {
        const t = (id: string) => `  - id: ${id}\n    allowed_paths: [docs/]\n`;
        const text = `tasks:\n${Array.from({ length: before }, (_, i) => t(`a${i}`)).join('')}${t('dup')}${Array.from({ length: between }, (_, i) => t(`b${i}`)).join('')}${t('dup')}`;
        counts.cases++;
        const r = parseBacklog(text);
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.error.code).toBe('backlog_invalid');
          expect(r.error.line).toBe(2 + 2 * (before + 1 + between));
          counts.backlogInvalid++;
        }
      }),
      { numRuns: 200 },
    );
    // Fixed worst cases: 2 MB, a billion-laughs bomb, 100,000 levels of nesting.
    for (const text of ['tasks:\n' + '  - id: x\n    allowed_paths: [a/]\n'.repeat(60_000), aliasBomb(9, 10), deepYaml(100_000, true), deepYaml(1000, false), `tasks: ${'['.repeat(100_000)}`]) check(text);
    // The parser still works on an honest file afterwards (a stack overflow in a parser can
    // leave the process in a state where later parses fail).
    const honest = parseBacklog('tasks:\n  - id: t1\n    ready: true\n    allowed_paths: [docs/]\n');
    expect(honest.ok).toBe(true);
    record('hostile YAML', {
      'YAML documents parsed (x4 parsers)': counts.cases,
      'reported backlog_invalid': counts.backlogInvalid,
      'accepted as a valid backlog': counts.backlogOk,
      'exceptions thrown': [counts.threw.length, '0'],
      'slowest document (all four parsers)': `${Math.round(counts.maxMs)} ms`,
      'an honest 1 MiB backlog (all four parsers), the baseline': `${Math.round(honestMs)} ms`,
      [`documents slower than ${(slowMs / 1000).toFixed(1)} s (3× the baseline, at least 5 s)`]: [counts.slow, '0'],
      'process warnings from the yaml package (complex keys)': warnings,
    });
    expect(counts.threw.slice(0, 10)).toEqual([]);
    expect(counts.slow).toBe(0);
    record('hostile input (total)', { 'cases run (HTTP + YAML)': [tally.cases + counts.cases, '≥ 10,000'] });
    expect(tally.cases + counts.cases).toBeGreaterThanOrEqual(10_000);
  });
});
