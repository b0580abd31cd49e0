import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mintWorkerToken, workerEventId } from '../../src/api/worker-token.ts';
import { newEvent } from '../../src/events/envelope.ts';
import { ControlPlaneTokenRefresher, HttpEventSink } from '../../src/worker/control-plane-client.ts';
import { CredentialsError } from '../../src/worker/credentials.ts';
import { Redactor } from '../../src/worker/redact.ts';
import { API_TOKEN, captureLogs, FAKE_TOKEN, FakeControlPlane } from './harness.ts';

let dir: string;
let cp: FakeControlPlane;
let logs: ReturnType<typeof captureLogs>;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'leviathan-sink-test-'));
  cp = await new FakeControlPlane().start();
  logs = captureLogs();
});

afterEach(async () => {
  await cp.stop();
  await rm(dir, { recursive: true, force: true });
});

const ev = (id: string, data: Record<string, unknown> = {}) =>
  newEvent({ id, type: 'attempt.started', actor: 'worker:a', target: 'acme/widgets', subject: 'attempt:a', data });
/** An event as a worker reports it: its attempt's one id for the type (what a spool may hand back). */
const report = (attempt: string, type: 'attempt.started' | 'attempt.failed') =>
  newEvent({ id: workerEventId(attempt, type), type, actor: `worker:${attempt}`, target: 'acme/widgets', subject: `attempt:${attempt}`, data: { attempt_id: attempt } });

function sink(over: Partial<ConstructorParameters<typeof HttpEventSink>[0]> = {}) {
  return new HttpEventSink({
    url: cp.url,
    token: API_TOKEN,
    spoolDir: path.join(dir, 'spool'),
    attemptId: 'a',
    logger: pino({ level: 'debug' }, logs.stream),
    redactor: new Redactor([FAKE_TOKEN]),
    sleep: async () => undefined,
    ...over,
  });
}

describe('HttpEventSink', () => {
  it('posts a JSON array with the bearer token; duplicates count as delivered', async () => {
    const s = sink();
    await s.post(ev('a:1'));
    await s.post(ev('a:1'));
    expect(await s.flush(Date.now() + 1000)).toEqual({ pending: 0, refused: 0 });
    expect(cp.stored.map((e) => e.id)).toEqual(['a:1']);
    expect(JSON.parse(cp.bodies[0]!)).toEqual([ev('a:1')]);
    expect(cp.authHeaders[0]).toBe(`Bearer ${API_TOKEN}`);
  });

  it('redacts secrets in event data before anything leaves the process or reaches the spool', async () => {
    cp.failNext = 1;
    const s = sink();
    await s.post(ev('a:1', { message: `failed with ${FAKE_TOKEN}` }));
    const spool = await readFile(path.join(dir, 'spool', 'a.ndjson'), 'utf8');
    expect(spool).toContain('failed with ***');
    await s.flush(Date.now() + 1000);
    expect(cp.stored[0]?.data).toEqual({ message: 'failed with ***' });
    expect(cp.bodies.join('')).not.toContain(FAKE_TOKEN);
  });

  it('keeps events in order while the control plane answers 5xx and 429, and delivers them once it recovers', async () => {
    cp.failNext = 3;
    const s = sink();
    await s.post(ev('a:1'));
    await s.post(ev('a:2'));
    expect(s.pending).toBe(2);
    await s.post(ev('a:3'));
    expect(await s.flush(Date.now() + 1000)).toEqual({ pending: 0, refused: 0 });
    expect(cp.stored.map((e) => e.id)).toEqual(['a:1', 'a:2', 'a:3']);
    expect(await readdir(path.join(dir, 'spool'))).toEqual([]);
  });

  it('backs off exponentially with jitter up to the deadline, then reports what is left', async () => {
    await cp.stop();
    const delays: number[] = [];
    let now = 0;
    const s = sink({
      now: () => now,
      random: () => 0.5,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      sleep: async (ms) => {
        delays.push(ms);
        now += ms;
      },
    });
    await s.post(ev('a:1'));
    expect(await s.flush(3000)).toEqual({ pending: 1, refused: 0 });
    expect(delays.slice(0, 5)).toEqual([50, 100, 200, 400, 500]);
    expect(delays.reduce((x, y) => x + y, 0)).toBe(3000);
    expect(logs.lines.join('')).toContain('Control plane unreachable; events kept in the spool');
  });

  it('does not retry a 4xx the control plane will never accept', async () => {
    const s = sink({ token: 'wrong-token-123' });
    await s.post(ev('a:1'));
    expect(await s.flush(Date.now() + 1000)).toEqual({ pending: 0, refused: 1 });
    expect(cp.bodies).toHaveLength(1);
    expect(logs.lines.join('')).toContain('Control plane refused events; not retried');
    expect(logs.lines.join('')).not.toContain('wrong-token-123');
  });

  it('the next run delivers events an earlier run left in the spool, before its own', async () => {
    await mkdir(path.join(dir, 'spool'), { recursive: true });
    const step = newEvent({ id: workerEventId('old', 'attempt.step', 'run agent'), type: 'attempt.step', actor: 'worker:old', target: 'acme/widgets', subject: 'attempt:old', data: { attempt_id: 'old', step: 'run agent' } });
    const lines = [report('old', 'attempt.started'), step, report('old', 'attempt.failed')].map((e) => JSON.stringify(e)).join('\n');
    await writeFile(path.join(dir, 'spool', 'old.ndjson'), `${lines}\n`);
    const s = sink();
    await s.post(ev('a:1'));
    await s.flush(Date.now() + 1000);
    expect(cp.stored.map((e) => e.id)).toEqual(['old:started', 'old:step:run-agent', 'old:failed', 'a:1']);
    expect(await readdir(path.join(dir, 'spool'))).toEqual([]);
  });

  it("delivers an earlier attempt's spooled events with that attempt's token, its own with its own; the spool is 0600", async () => {
    cp.tokens.add('attempt-token-old').add('attempt-token-new');
    const earlier = sink({ token: 'attempt-token-old', attemptId: 'old', url: 'http://127.0.0.1:1', requestTimeoutMs: 200 });
    await earlier.post(report('old', 'attempt.started'));
    expect(await earlier.flush(Date.now() + 50)).toMatchObject({ pending: 1 });
    expect((await stat(path.join(dir, 'spool', 'old.ndjson'))).mode & 0o777).toBe(0o600);
    const s = sink({ token: 'attempt-token-new', attemptId: 'new' });
    await s.post(ev('new:1'));
    await s.flush(Date.now() + 1000);
    expect(cp.stored.map((e) => e.id)).toEqual(['old:started', 'new:1']);
    expect(cp.authHeaders).toEqual(['Bearer attempt-token-old', 'Bearer attempt-token-new']);
  });

  it('reads back only what a worker reports: an operator action or a foreign id planted in the spool is dropped', async () => {
    await mkdir(path.join(dir, 'spool'), { recursive: true });
    const planted = newEvent({ id: 'evil:1', type: 'scheduler.emergency_resumed', actor: 'worker:a', data: {} });
    const disguised = newEvent({ id: 'evil:2', type: 'attempt.failed', actor: 'token:abc', data: { attempt_id: 'x', failure_type: 'timeout' } });
    // A sibling attempt's :failed id under this attempt's report: the control plane would refuse the whole batch.
    const squatter = newEvent({ id: 'sibling:failed', type: 'attempt.started', actor: 'worker:old', data: { attempt_id: 'old' } });
    const lines = [planted, disguised, squatter, report('old', 'attempt.started')].map((e) => JSON.stringify(e)).join('\n');
    await writeFile(path.join(dir, 'spool', 'planted.ndjson'), `${lines}\n`);
    const s = sink();
    await s.post(ev('a:1'));
    await s.flush(Date.now() + 1000);
    expect(cp.stored.map((e) => e.id)).toEqual(['old:started', 'a:1']);
  });
  it("drops a planted line the control plane would refuse under its token: another worker's actor, target or subject", async () => {
    const token = mintWorkerToken('write-token', { target: 'acme/widgets', attempt_id: 'old', task: { id: 't1' }, timeout_seconds: 60 }, Date.now());
    cp.tokens.add(token);
    await mkdir(path.join(dir, 'spool'), { recursive: true });
    const own = report('old', 'attempt.started');
    const otherActor = { ...report('old', 'attempt.failed'), actor: 'worker:sibling' };
    const otherTarget = { ...report('old', 'attempt.failed'), target: 'acme/other' };
    const otherSubject = { ...report('old', 'attempt.failed'), subject: 'attempt:sibling' };
    // Consistent in itself, but for another attempt than the token it goes out with.
    const otherAttempt = report('sibling', 'attempt.failed');
    const lines = [own, otherActor, otherTarget, otherSubject, otherAttempt].map((event) => JSON.stringify({ token, event })).join('\n');
    await writeFile(path.join(dir, 'spool', 'old.ndjson'), `${lines}\n`);
    // Without a token beside it, the scope is the one the line names: its actor must still be its attempt's worker.
    await writeFile(path.join(dir, 'spool', 'bare.ndjson'), `${JSON.stringify({ ...report('bare', 'attempt.failed'), actor: 'worker:old' })}\n`);
    const s = sink();
    await s.post(ev('a:1'));
    expect(await s.flush(Date.now() + 1000)).toEqual({ pending: 0, refused: 0 });
    expect(cp.stored.map((e) => e.id)).toEqual(['old:started', 'a:1']);
    expect(cp.authHeaders).toEqual([`Bearer ${token}`, `Bearer ${API_TOKEN}`]);
  });
});

describe('ControlPlaneTokenRefresher', () => {
  const TOKEN = 'ghs_refreshedREFRESHEDrefreshed0123456789';
  const delays: number[] = [];
  const refresher = (over: Partial<ConstructorParameters<typeof ControlPlaneTokenRefresher>[0]> = {}) =>
    new ControlPlaneTokenRefresher({ url: `${cp.url}/`, token: API_TOKEN, attemptId: 'att 1', sleep: async (ms) => void delays.push(ms), ...over });
  beforeEach(() => {
    delays.length = 0;
  });

  it('POSTs to its own attempt with the attempt token and returns the token with its expiry', async () => {
    cp.tokenAnswers.push({ status: 200, body: { token: TOKEN, expires_at: '2026-11-28T12:00:00.000Z' } });
    expect(await refresher().refresh()).toEqual({ kind: 'refreshed', token: TOKEN, expires_at: '2026-11-28T12:00:00.000Z' });
    expect(cp.tokenRequests).toEqual(['att 1']);
    expect(cp.authHeaders).toEqual([`Bearer ${API_TOKEN}`]);
  });

  it('HTTP 501 not_configured: unavailable (no App: the worker keeps its development token), asked once', async () => {
    cp.tokenAnswers.push({ status: 501, body: { error: { code: 'not_configured', message: 'no tokens here' } } });
    expect(await refresher().refresh()).toEqual({ kind: 'unavailable', code: 'not_configured', message: 'no tokens here' });
    expect(cp.tokenRequests).toHaveLength(1);
  });

  it('HTTP 409 github_installation_unknown: a failure, asked once (with the App every worker holds an installation token, which will expire)', async () => {
    cp.tokenAnswers.push({ status: 409, body: { error: { code: 'github_installation_unknown', message: 'No GitHub App installation is known for acme/widgets' } } });
    const err = await refresher().refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toContain('answered HTTP 409 (github_installation_unknown: No GitHub App installation is known for acme/widgets)');
    expect(cp.tokenRequests).toHaveLength(1);
  });

  it('a 5xx is tried again with backoff; once every try failed, a CredentialsError naming the endpoint and the last status', async () => {
    const failed = { status: 502, body: { error: { code: 'github_auth_failed', message: 'Could not mint a GitHub token for acme/widgets (installation 42, HTTP 401)' } } };
    cp.tokenAnswers.push(failed, failed, failed);
    const err = await refresher().refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toBe(
      `Could not refresh the GitHub token: POST ${cp.url}/v1/attempts/att%201/github-token answered HTTP 502 (github_auth_failed: Could not mint a GitHub token for acme/widgets (installation 42, HTTP 401))`,
    );
    expect((err as Error).message).not.toContain(API_TOKEN);
    expect(delays).toEqual([1000, 2000]);
  });

  it('a 5xx then a token: the token', async () => {
    cp.tokenAnswers.push({ status: 503, body: { error: { code: 'store_unavailable', message: 'busy' } } }, { status: 200, body: { token: TOKEN, expires_at: '2026-11-28T12:00:00Z' } });
    expect(await refresher().refresh()).toMatchObject({ kind: 'refreshed', token: TOKEN });
    expect(delays).toEqual([1000]);
  });

  it('a refusal (409 attempt_ended, 401) is not tried again', async () => {
    cp.tokenAnswers.push({ status: 409, body: { error: { code: 'attempt_ended', message: 'Attempt att 1 has failed' } } });
    await expect(refresher().refresh()).rejects.toThrow(/github-token answered HTTP 409 \(attempt_ended: Attempt att 1 has failed\)$/);
    cp.tokens.clear();
    const err = await refresher().refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toMatch(/github-token answered HTTP 401 \(unauthorized: bad token\)$/);
    expect(cp.tokenRequests).toHaveLength(2);
    expect(delays).toEqual([]);
  });

  it('a 200 without a token, or no control plane at all: CredentialsError', async () => {
    cp.tokenAnswers.push({ status: 200, body: { nothing: true } });
    await expect(refresher().refresh()).rejects.toThrow(/answered HTTP 200 without a token/);
    const down = refresher({ url: 'http://127.0.0.1:1', requestTimeoutMs: 500 });
    await expect(down.refresh()).rejects.toThrow(/^Could not refresh the GitHub token: POST http:\/\/127\.0\.0\.1:1\/v1\/attempts\/att%201\/github-token failed: /);
    expect(delays).toEqual([1000, 2000]);
  });
});
