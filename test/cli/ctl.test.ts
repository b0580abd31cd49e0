import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ctl, SseParser } from '../../src/cli/ctl.ts';
import { envSchema, type Env } from '../../src/env.ts';
import { KubernetesClusterControls } from '../../src/kubernetes/cluster-controls.ts';
import { READ_TOKEN, WRITE_TOKEN, startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.ts';
import { freePort } from '../helpers/free-port.ts';

const T = 'acme/web';

const BIN = fileURLToPath(new URL('../../bin/leviathan.mjs', import.meta.url));

const sink = (append: (s: string) => void) =>
  new Writable({
    write(chunk: Buffer, _enc, done) {
      append(chunk.toString());
      done();
    },
  });

/** Runs `leviathan ctl …` in-process against `cp`, capturing what it prints. */
async function run(cp: TestControlPlane, argv: string[], token = WRITE_TOKEN): Promise<{ code: number; out: string; err: string }> {
  return runEnv(envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: token, LEVIATHAN_DATA_DIR: cp.dataDir }), argv);
}

async function runEnv(env: Env, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const f = follow(env, argv);
  return { code: await f.done, out: f.out(), err: f.err() };
}

/** Starts `leviathan ctl …` in-process; what it printed so far is readable while it runs, `stop()` ends a --follow. */
function follow(env: Env, argv: string[]) {
  let out = '';
  let err = '';
  const ctrl = new AbortController();
  const done = ctl(env, argv, { out: sink((s) => (out += s)), err: sink((s) => (err += s)), signal: ctrl.signal });
  return { done, out: () => out, err: () => err, stop: () => ctrl.abort() };
}

/** Polls `f` until it holds. */
async function until(f: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ctl against an embedded control plane', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane({ overrides: { cluster: null } });
    await cp.api('/v1/events', {
      method: 'POST',
      json: [
        { type: 'target.registered', target: T, data: { installation_id: 1 } },
        { type: 'backlog.synced', target: T, data: { tasks: [{ id: 'a', title: 'A', priority: 'high', ready: false, status: 'pending', dependencies: [], allowed_paths: ['docs/'] }] } },
      ],
    });
  });
  afterAll(async () => {
    await cp.destroy();
  });

  it('autonomy on|off need a reason (usage error, exit 2) and then toggle autonomy', async () => {
    const noReason = await run(cp, ['autonomy', 'on']);
    expect(noReason).toMatchObject({ code: 2, out: '' });
    expect(noReason.err).toContain('autonomy on needs --reason');

    const on = await run(cp, ['autonomy', 'on', '--reason', 'go live']);
    expect(on.code).toBe(0);
    expect(on.out).toMatch(/^Autonomy enabled \(recorded as seq \d+\)\.\nAutonomy: enabled \(source: settings\) — changed by token:\w+ at .+: go live\n/);

    const off = await run(cp, ['autonomy', 'off', '--reason', 'incident 42']);
    expect(off.code).toBe(0);
    expect(off.out).toContain('Autonomy: disabled (source: settings)');
    expect(off.out).toContain(': incident 42');

    const status = await run(cp, ['autonomy']);
    expect(status.code).toBe(0);
    expect(status.out).toContain('Autonomy: disabled');
    expect(status.out).toContain('Scheduler: not suspended (no cycle completed yet)');
    expect(status.out).toContain('Next tick: none — No scheduler loop runs in this process');

    expect((await run(cp, ['autonomy', 'maybe'])).code).toBe(2);
  });

  it("status prints the console's Targets line, paused targets named only when there are some", async () => {
    const res = await run(cp, ['status'], READ_TOKEN);
    expect(res.code).toBe(0);
    // Autonomy is off here: the one target is paused.
    expect(res.out).toContain('Targets: 0 active, 0 blocked, 1 paused\n');
  });

  it('a read-only token is refused: exit 1 with the server’s message', async () => {
    const res = await run(cp, ['autonomy', 'off', '--reason', 'x'], `read:${READ_TOKEN}`);
    expect(res).toEqual({ code: 1, out: '', err: 'forbidden: This token is read-only.\n' });
    expect((await run(cp, ['stop', '--reason', 'x'], `read:${READ_TOKEN}`)).err).toBe('forbidden: This token is read-only.\n');
  });

  it('stop, then resume with no target lifts the emergency stop; a second resume changes nothing (exit 0)', async () => {
    expect((await run(cp, ['stop'])).code).toBe(2);
    const stop = await run(cp, ['stop', '--reason', 'runaway PRs']);
    expect(stop.code).toBe(0);
    expect(stop.out).toContain('Emergency stop recorded');
    expect(stop.out).toContain('Running workers continue to completion (add --delete-jobs to stop them).');
    expect(stop.out).toMatch(/Scheduler: SUSPENDED \(emergency stop by token:\w+ at .+: runaway PRs\)/);
    expect(stop.out).toContain('Resume with: leviathan ctl resume');

    const resume = await run(cp, ['resume', '--reason', 'fixed']);
    expect(resume.code).toBe(0);
    expect(resume.out).toContain('Scheduler resumed');
    expect(resume.out).toContain('⚠ Autonomy is still disabled');

    // Already so: nothing to do is not a failure (kubectl's "unchanged" exits 0 too).
    const again = await run(cp, ['resume']);
    expect(again).toEqual({ code: 0, out: 'Nothing changed: The scheduler is not emergency-stopped.\n', err: '' });
  });

  it('resume owner/repo still resumes that target', async () => {
    expect((await run(cp, ['pause', T, '--reason', 'freeze'])).code).toBe(0);
    const res = await run(cp, ['resume', T]);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^acme\/web: \w+ — /);
    expect((await cp.api(`/v1/targets/${T}`).then((r) => r.json())) as { target: { paused: unknown } }).toMatchObject({ target: { paused: null } });
  });

  it('a pause of a paused target, a resume of a running one, a reset of a closed breaker: nothing changed, exit 0', async () => {
    expect((await run(cp, ['pause', T, '--reason', 'freeze'])).code).toBe(0);
    const head = cp.store.health().head.seq;
    const again = await run(cp, ['pause', T, '--reason', 'freeze again']);
    expect(again).toMatchObject({ code: 0, err: '' });
    expect(again.out).toMatch(/^Nothing changed: acme\/web is already paused by token:\w+ since \S+: freeze\n$/);
    expect((await run(cp, ['resume', T])).code).toBe(0);
    expect(await run(cp, ['resume', T])).toEqual({ code: 0, out: 'Nothing changed: acme/web is not paused.\n', err: '' });
    expect(await run(cp, ['reset-breaker', T])).toEqual({ code: 0, out: "Nothing changed: acme/web's circuit breaker is closed and counts no failures: there is nothing to reset.\n", err: '' });
    expect(cp.store.health().head.seq).toBe(head + 1);
  });

  it('checks owner/repo and options itself: usage, exit 2, nothing sent', async () => {
    const head = cp.store.health().head.seq;
    const noRepo = await run(cp, ['pause', 'acme', '--reason', 'x']);
    expect(noRepo).toEqual({ code: 2, out: '', err: '"acme" is not a target: expected owner/repo.\nUsage: leviathan ctl pause <owner/repo> --reason "…"\n' });
    for (const argv of [['resume', 'acme'], ['reset-breaker', 'acme/web/x'], ['trigger', 'acme', 'a'], ['diagnose', 'acme'], ['target', 'acme']]) {
      expect((await run(cp, argv)).code, argv.join(' ')).toBe(2);
    }
    const unknown = await run(cp, ['pause', T, '--reasn', 'x']);
    expect(unknown).toMatchObject({ code: 2, out: '' });
    expect(unknown.err).toContain("Unknown option '--reasn'");
    expect(unknown.err).toContain('See: leviathan ctl help');
    expect((await run(cp, ['pause', T, '--reason'])).code).toBe(2);
    expect(cp.store.health().head.seq).toBe(head);
  });

  it('with no token anywhere, says where it looked', async () => {
    const env = envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_DATA_DIR: join(cp.dataDir, 'elsewhere') });
    const res = await runEnv(env, ['status']);
    expect(res).toEqual({
      code: 1,
      out: '',
      err: `No API token: LEVIATHAN_API_TOKEN is not set and there is no token in ${join(cp.dataDir, 'elsewhere', 'api-token')}. Set LEVIATHAN_API_TOKEN (or LEVIATHAN_DATA_DIR to the data dir of \`leviathan serve\`).\n`,
    });
    // Help needs no token.
    expect((await runEnv(env, ['help'])).code).toBe(0);
  });

  it('stops quietly when the reader of its output goes away (`ctl autonomy | head -2`)', async () => {
    const env = envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: cp.dataDir });
    let writes = 0;
    const closedPipe = new Writable({
      write(_chunk, _enc, done) {
        writes += 1;
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    let err = '';
    const code = await ctl(env, ['autonomy'], { out: closedPipe, err: new Writable({ write: (c: Buffer, _e, done) => ((err += c.toString()), done()) }) });
    expect({ code, err, writes }).toEqual({ code: 0, err: '', writes: 1 });
  });

  it('as a process: a closed stdout ends it quietly, exit 0, no stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'ctl', 'autonomy'], {
      env: { PATH: process.env.PATH ?? '', LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: cp.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('diagnose prints the first blocking check with its evidence, action and command', async () => {
    const res = await run(cp, ['diagnose', T]);
    expect(res.code).toBe(0);
    const lines = res.out.split('\n');
    expect(lines[0]).toBe('acme/web is not executing: ⚠ Autonomy disabled in configuration. Enable autonomy if disabled.');
    expect(res.out).toContain('✗ autonomy         ⚠ Autonomy disabled in configuration');
    expect(res.out).toMatch(/ {4}seq \d+ \S+ autonomy\.disabled: autonomy\.disabled by token:\w+: incident 42/);
    expect(res.out).toContain('    → Enable autonomy if disabled.');
    expect(res.out).toContain('    $ leviathan ctl autonomy on --reason "…"');
    expect(res.out).toContain('✗ ready_tasks      No ready tasks in backlog.');
    expect(res.out).toContain('✓ paused           Not paused');

    expect((await run(cp, ['diagnose'])).code).toBe(2);
    const missing = await run(cp, ['diagnose', 'acme/nope']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('not_found: No target acme/nope');
  });

  it('reconcile reports the server’s refusal when the GitHub App is not configured (exit 1)', async () => {
    const res = await run(cp, ['reconcile']);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^(not_found|not_configured): /);
  });
});

describe('ctl stop --delete-jobs against Kubernetes (fake API server)', () => {
  let kube: FakeKubeApi;
  let cp: TestControlPlane;
  beforeAll(async () => {
    kube = await startFakeKubeApi();
    kube.objects.put('ConfigMap', { metadata: { name: 'leviathan-autonomy-config', namespace: 'leviathan' }, data: { autonomy_enabled: 'true' } });
    kube.objects.put('CronJob', {
      metadata: { name: 'leviathan-dev-scheduler', namespace: 'leviathan' },
      spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'tick', image: 'x:1' }] } } } } },
    });
    kube.objects.put('Job', {
      metadata: { name: 'leviathan-worker-a1', namespace: 'leviathan', labels: { app: 'leviathan-worker' } },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'worker', image: 'x:1' }] } } },
    });
    kube.setJobStatus('leviathan', 'leviathan-worker-a1', { phase: 'active' });
    cp = await startTestControlPlane({ overrides: { cluster: new KubernetesClusterControls({ kubeConfig: kube.kubeConfig, namespace: 'leviathan' }) } });
  });
  afterAll(async () => {
    await cp.destroy();
    await kube.close();
  });

  it('suspends the CronJob, deletes the running worker, and shows the CronJob state', async () => {
    const res = await run(cp, ['stop', '--delete-jobs', '--reason', 'bad agent build']);
    expect(res.code).toBe(0);
    expect(res.out).toContain('Deleted worker Jobs: leviathan-worker-a1');
    expect(res.out).toContain('CronJob: leviathan-dev-scheduler "*/5 * * * *" suspend=true');
    expect(res.out).toContain('Autonomy: enabled (source: configmap)');
    expect(kube.deletions).toEqual([{ kind: 'Job', namespace: 'leviathan', name: 'leviathan-worker-a1', propagationPolicy: 'Background' }]);

    const resume = await run(cp, ['resume']);
    expect(resume.code).toBe(0);
    expect(resume.out).toContain('suspend=false');
    expect(resume.out).toMatch(/Next tick: \d{4}-\d\d-\d\dT\d\d:\d[05]:00\.000Z/);
    expect(kube.objects.get('CronJob', 'leviathan', 'leviathan-dev-scheduler')!.spec.suspend).toBe(false);
  });
});

describe('ctl events --follow', () => {
  const envFor = (url: string) => envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: tmpdir() });

  it('says each lost connection, waits out a 502 and a dropped stream, resumes by id, and exits on a refusal with its message', async () => {
    const seen: Array<string | undefined> = [];
    const answers: Array<(res: ServerResponse) => void> = [
      (res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>502 Bad Gateway</html>'),
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const e = { seq: 8, id: 'e8', type: 'note.added', time: '2026-12-01T10:00:00.000Z', actor: 'token:x', target: null, subject: null, data: {} };
        res.end(`retry: 2000\nid: 7\n\nid: 8\nevent: note.added\ndata: ${JSON.stringify(e)}\n\n`);
      },
      (res) => res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'unauthorized', message: 'Missing or invalid bearer token.' } })),
    ];
    const server = createServer((req, res) => {
      seen.push(req.headers['last-event-id'] as string | undefined);
      answers.shift()!(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const f = follow(envFor(`http://127.0.0.1:${(server.address() as { port: number }).port}`), ['events', '--follow']);
      expect(await f.done).toBe(1);
      expect(f.out()).toMatch(/^ {5}8 2026-12-01T10:00:00.000Z note\.added/);
      expect(f.err().split('\n')).toEqual([
        'connection lost (502 Bad Gateway), retrying in 1s (last seq none)…',
        'reconnected, resuming after seq none',
        'connection lost (the server closed the stream), retrying in 1s (last seq 8)…',
        'unauthorized: Missing or invalid bearer token.',
        '',
      ]);
      expect(seen).toEqual([undefined, undefined, '8']);
    } finally {
      server.close();
    }
  });

  it('keeps retrying while nothing listens, saying so each time, until stopped', async () => {
    const f = follow(envFor(`http://127.0.0.1:${await freePort()}`), ['events', '--follow']);
    await until(() => f.err().split('\n').length > 2);
    f.stop();
    expect(await f.done).toBe(0);
    expect(f.err()).toMatch(/^connection lost \(ECONNREFUSED\), retrying in 1s \(last seq none\)…\nconnection lost \(ECONNREFUSED\), retrying in 2s \(last seq none\)…\n/);
  });

  it('across a restart of the server, prints what came in before it was back, having seen no event before', async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'leviathan-ctl-follow-'));
    let server = await startTestControlPlane({ dataDir, env: { PORT: String(port) } });
    try {
      await server.api('/v1/events', { method: 'POST', json: { type: 'note.added' } });
      const subscribed = vi.spyOn(server.store, 'subscribe');
      const f = follow(envFor(server.url), ['events', '--follow', '--type', 'restart.tick']);
      await until(() => subscribed.mock.calls.length > 0);
      await server.close();
      server = await startTestControlPlane({ dataDir, env: { PORT: String(port) } });
      // Posted at once: the follower is still waiting out its first retry.
      await server.api('/v1/events', { method: 'POST', json: { id: 'after-restart', type: 'restart.tick' } });
      await until(() => f.out().includes('restart.tick'));
      f.stop();
      expect(await f.done).toBe(0);
      // The server ends the stream by closing its socket: undici says "other side closed".
      expect(f.err()).toMatch(/^connection lost \([^)]+\), retrying in 1s \(last seq 1\)…\nreconnected, resuming after seq 1\n$/);
      expect(f.out()).toMatch(/^ {5}2 \S+ restart\.tick/);
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("keeps an id-only message's id: the stream's first one names where it starts", () => {
    const parser = new SseParser();
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(parser.push(bytes('retry: 2000\nid: 41\n\n: heartbeat\n\nid:42\ndata: {"seq"'))).toEqual([{ id: '41' }]);
    expect(parser.push(bytes(':42}\r\n\r\n'))).toEqual([{ id: '42', data: '{"seq":42}' }]);
  });
});

it('names why the control plane is unreachable, not just "fetch failed"', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const got = await runEnv(envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: tmpdir() }), ['status']);
  expect(got.code).not.toBe(0);
  expect(got.err).toContain(`Control plane unreachable at ${url}`);
  expect(got.err).toMatch(/ECONNREFUSED/);
  expect(got.err).not.toMatch(/fetch failed/);
});
