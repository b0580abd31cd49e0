import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { envSchema } from '../../src/env.ts';
import { gitHubTokenSource, localWorkerEnv } from '../../src/executors/create-executor.ts';
import type { WorkerAssignment } from '../../src/executors/executor.ts';
import { expiredWorkerFiles, LocalExecutorError, LocalProcessExecutor, WORKER_FILES_RETENTION_MS, workerUserProblem } from '../../src/executors/local-process.ts';
import { InstallationTokenError } from '../../src/github/installation-token.ts';
import { DEFAULT_POLICY } from '../../src/contract/policy.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { agentPids, alive, FakeControlPlane, IGNORES_TERM_AGENT, realWorkerEnv, seedBareRepository } from '../worker/harness.ts';

function assignment(over: Partial<WorkerAssignment> = {}): WorkerAssignment {
  return {
    attempt_id: 'att-1',
    target: 'acme/widgets',
    installation_id: 1,
    default_branch: 'main',
    task: {
      id: 'docs-a',
      title: 'Docs',
      scope: 'docs',
      priority: 'high',
      ready: true,
      status: 'pending',
      dependencies: [],
      allowed_paths: ['docs/'],
      acceptance_criteria: [],
      estimated_size: 'small',
      line: 1,
    },
    policy: { ...DEFAULT_POLICY, sources: {} },
    timeout_seconds: 30,
    ...over,
  };
}

/** A node script as the worker command. */
const node = (script: string) => ({ file: process.execPath, args: ['-e', script] });

async function until<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('LocalProcessExecutor', () => {
  let dir: string;
  let out: string;
  const executors: LocalProcessExecutor[] = [];
  const make = (opts: Partial<ConstructorParameters<typeof LocalProcessExecutor>[0]>) => {
    const e = new LocalProcessExecutor({ dataDir: dir, env: { PATH: process.env.PATH ?? '', OUT: out }, ...opts });
    executors.push(e);
    return e;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-local-exec-'));
    out = join(dir, 'out.json');
  });
  afterEach(async () => {
    for (const e of executors.splice(0)) await e.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts a detached worker with only the given environment and the assignment in a 0600 task file', async () => {
    process.env.LEVIATHAN_LEAK_CHECK = 'must-not-leak';
    try {
      const executor = make({
        env: { PATH: process.env.PATH ?? '', OUT: out, LEVIATHAN_CONTROL_PLANE_URL: 'http://127.0.0.1:1' },
        workerToken: (a) => `attempt-token-for-${a.attempt_id}`,
        command: node(`
          const fs = require('fs');
          const file = process.env.LEVIATHAN_TASK_FILE;
          fs.writeFileSync(process.env.OUT, JSON.stringify({
            env: process.env, mode: fs.statSync(file).mode & 0o777, task: JSON.parse(fs.readFileSync(file, 'utf8')),
            pgid: require('child_process').execSync('ps -o pgid= -p ' + process.pid).toString().trim(), pid: process.pid,
          }));`),
      });
      const startedAt = Date.now();
      const { handle } = await executor.start(assignment());
      expect(handle).toMatch(/^pid:\d+$/);
      const runs = await until(async () => {
        const r = await executor.list();
        return r[0]?.state === 'succeeded' ? r : undefined;
      });
      expect(runs).toEqual([{ attempt_id: 'att-1', target: 'acme/widgets', task_id: 'docs-a', state: 'succeeded', handle }]);
      const seen = JSON.parse(await readFile(out, 'utf8')) as { env: Record<string, string>; mode: number; task: WorkerAssignment; pgid: string; pid: number };
      expect(seen.mode).toBe(0o600);
      expect(seen.task.attempt_id).toBe('att-1');
      // The deadline travels with the assignment: the worker enforces it even once this process is gone.
      expect(Date.parse(seen.task.deadline_at!) - startedAt).toBeGreaterThanOrEqual(30_000);
      expect(Date.parse(seen.task.deadline_at!) - Date.now()).toBeLessThanOrEqual(30_000);
      expect(seen.env.LEVIATHAN_TASK_FILE).toBe(join(dir, 'workers', 'att-1.json'));
      expect(seen.env.LEVIATHAN_CONTROL_PLANE_URL).toBe('http://127.0.0.1:1');
      expect(seen.env.LEVIATHAN_API_TOKEN).toBe('attempt-token-for-att-1');
      expect(seen.env.LEVIATHAN_LEAK_CHECK).toBeUndefined();
      // Its own process group, so the deadline can take everything it started.
      expect(Number(seen.pgid)).toBe(seen.pid);
    } finally {
      delete process.env.LEVIATHAN_LEAK_CHECK;
    }
  });

  it('hands the worker the repository token minted for it, and none of the App credentials', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const keyFile = join(dir, 'app.pem');
    await writeFile(keyFile, privateKey);
    const minted = 'ghs_mintedForAcmeWidgetsOnly0123456789';
    const gh = new GitHubMock().on('POST', '/app/installations/1/access_tokens', 201, { token: minted, expires_at: '2030-01-01T00:00:00Z' }, { effect: (b) => (typeof b === 'string' ? b : JSON.stringify(b)) });
    // The control plane's environment, App credentials and a development token included: as `serve` or `tick` has it.
    const env = envSchema.parse({ APP_ID: '123', PRIVATE_KEY: privateKey, PRIVATE_KEY_PATH: keyFile, GITHUB_TOKEN: 'ghp_developmentTokenNotForWorkers0123', WEBHOOK_SECRET: 'whsec' });
    const base = localWorkerEnv(env, { controlPlaneUrl: 'http://127.0.0.1:1', apiToken: null, processEnv: { PATH: process.env.PATH } });
    const executor = make({
      env: { ...base, OUT: out },
      githubToken: (await gitHubTokenSource(env))!,
      command: node(`require('fs').writeFileSync(process.env.OUT, JSON.stringify(process.env));`),
    });
    await executor.start(assignment());
    await until(async () => ((await executor.list())[0]?.state === 'succeeded' ? true : undefined));
    await gh.done();

    const seen = JSON.parse(await readFile(out, 'utf8')) as Record<string, string>;
    expect(seen.GITHUB_TOKEN).toBe(minted);
    expect(seen.GITHUB_TOKEN_EXPIRES_AT).toBe('2030-01-01T00:00:00Z');
    for (const name of ['APP_ID', 'PRIVATE_KEY', 'PRIVATE_KEY_PATH', 'WEBHOOK_SECRET']) expect(seen, name).not.toHaveProperty(name);
    const values = Object.values(seen).join('\n');
    expect(values).not.toContain(privateKey.split('\n')[1]);
    expect(values).not.toContain('ghp_developmentTokenNotForWorkers0123');
    expect(JSON.parse(gh.effects[0]!)).toEqual({ repositories: ['widgets'], permissions: { contents: 'write', pull_requests: 'write', metadata: 'read' } });
  });

  it('starts nothing when no GitHub token can be had, and says why', async () => {
    const executor = make({
      command: node(`require('fs').writeFileSync(process.env.OUT, 'started');`),
      githubToken: async () => {
        throw new InstallationTokenError('Could not mint a GitHub token for acme/widgets (installation 1, HTTP 404)');
      },
    });
    await expect(executor.start(assignment())).rejects.toMatchObject({ code: 'github_auth_failed', message: expect.stringContaining('HTTP 404') });
    expect(await executor.list()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it("a real worker at its deadline: its agent's own process group goes too, and the attempt is reported timeout at its step", async () => {
    const cp = await new FakeControlPlane().start();
    try {
      await seedBareRepository(join(dir, 'git', 'acme', 'widgets.git'), join(dir, 'seed'));
      // The worker of this installation, as `tick` and `serve` start it. Its agent (detached by the
      // worker, its own process group, with a child of its own) shrugs off the SIGTERM at the end
      // of its own budget, and its grace (5 s) outlasts the deadline: the deadline is what stops it.
      const executor = make({ killGraceMs: 10_000, env: realWorkerEnv(dir, cp.url, IGNORES_TERM_AGENT) });
      await executor.start(assignment({ timeout_seconds: 8 }));
      const pids = await agentPids(dir);
      const run = await until(async () => {
        const r = (await executor.list())[0];
        return r?.state === 'failed' ? r : undefined;
      }, 20_000);
      expect(run.state).toBe('failed');
      await until(async () => (pids.every((p) => !alive(p)) ? true : undefined), 3000);
      // Whichever saw the deadline first (the worker's own timer or the executor's SIGTERM), it is the deadline that ended it.
      expect(cp.stored.find((e) => e.type === 'attempt.failed')?.data).toMatchObject({
        failure_type: 'timeout',
        step: 'run agent',
        message: expect.stringMatching(/deadline \(.+\) during run agent/),
      });
      expect(existsSync(join(dir, 'work', 'att-1'))).toBe(false);
    } finally {
      await cp.stop();
    }
  });

  it('a worker that ignores SIGTERM goes at the hard kill, with its whole process group', async () => {
    const executor = make({
      killGraceMs: 300,
      command: node(`
        const { spawn } = require('child_process');
        const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
        require('fs').writeFileSync(process.env.OUT, JSON.stringify([process.pid, child.pid]));
        process.on('SIGTERM', () => {});
        setInterval(() => {}, 1000);`),
    });
    await executor.start(assignment({ timeout_seconds: 1 }));
    const pids = await until(async () => {
      try {
        return JSON.parse(await readFile(out, 'utf8')) as number[];
      } catch {
        return undefined;
      }
    });
    expect((await executor.list())[0]?.state).toBe('running');
    const run = await until(async () => {
      const r = (await executor.list())[0];
      return r?.state === 'failed' ? r : undefined;
    });
    expect(run.failure_type).toBe('timeout');
    await until(async () => (pids.every((p) => !alive(p)) ? true : undefined), 3000);
  });

  it('removes worker logs and task files older than the retention as the next worker starts, and nothing else', async () => {
    const workers = join(dir, 'workers');
    await mkdir(join(workers, 'home'), { recursive: true });
    const old = new Date(Date.now() - WORKER_FILES_RETENTION_MS - 60_000);
    for (const f of ['old.log', 'old.json', 'notes.txt']) {
      await writeFile(join(workers, f), 'x');
      await utimes(join(workers, f), old, old);
    }
    await utimes(join(workers, 'home'), old, old);
    await writeFile(join(workers, 'recent.log'), 'x');
    const executor = make({ command: node('') });
    await executor.start(assignment());
    await until(async () => ((await executor.list())[0]?.state === 'succeeded' ? true : undefined));
    // In the background, off the start path.
    await until(async () => ((await readdir(workers)).includes('old.log') ? undefined : true));
    expect((await readdir(workers)).sort()).toEqual(['att-1.log', 'home', 'notes.txt', 'recent.log']);
    // Once an hour at most: a file expiring now waits for the next round.
    await writeFile(join(workers, 'older.log'), 'x');
    await utimes(join(workers, 'older.log'), old, old);
    await executor.start(assignment({ attempt_id: 'att-2' }));
    await until(async () => ((await executor.list()).find((r) => r.attempt_id === 'att-2')?.state === 'succeeded' ? true : undefined));
    await executor.stopAll();
    expect(await readdir(workers)).toContain('older.log');
  });

  it('lists a worker that exits non-zero as failed worker_lost', async () => {
    const executor = make({ command: node('process.exit(3)') });
    await executor.start(assignment());
    const run = await until(async () => {
      const r = (await executor.list())[0];
      return r && r.state !== 'running' ? r : undefined;
    });
    expect(run).toMatchObject({ state: 'failed', failure_type: 'worker_lost' });
  });

  it('forgets ended runs after the retention period', async () => {
    let now = 1_000;
    const executor = make({ command: node(''), retainEndedMs: 60_000, now: () => now });
    await executor.start(assignment());
    await until(async () => ((await executor.list())[0]?.state === 'succeeded' ? true : undefined));
    now += 61_000;
    expect(await executor.list()).toEqual([]);
  });

  it('refuses with executor_failed when the program cannot be started', async () => {
    const executor = make({ command: { file: join(dir, 'no-such-program'), args: [] } });
    const err = await executor.start(assignment()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalExecutorError);
    expect((err as LocalExecutorError).code).toBe('executor_failed');
    expect(await executor.list()).toEqual([]);
  });
});

describe('expiredWorkerFiles', () => {
  it('picks regular .log and .json files past the retention, by modification time', () => {
    const now = 100 * 86_400_000;
    const day = 86_400_000;
    expect(
      expiredWorkerFiles(
        [
          { name: 'a.log', isFile: true, mtimeMs: now - 15 * day },
          { name: 'a.json', isFile: true, mtimeMs: now - 15 * day },
          { name: 'b.log', isFile: true, mtimeMs: now - 13 * day },
          { name: 'home', isFile: false, mtimeMs: 0 },
          { name: 'link.log', isFile: false, mtimeMs: 0 },
          { name: 'notes.txt', isFile: true, mtimeMs: 0 },
        ],
        now,
        14 * day,
      ),
    ).toEqual(['a.log', 'a.json']);
  });
});

describe('LocalProcessExecutor with a worker user (LEVIATHAN_WORKER_UID)', () => {
  const NOBODY = { uid: 65534, gid: 65534 };
  let dir: string;
  const executors: LocalProcessExecutor[] = [];
  const make = (opts: Partial<ConstructorParameters<typeof LocalProcessExecutor>[0]>) => {
    const e = new LocalProcessExecutor({ dataDir: join(dir, 'data'), env: { PATH: process.env.PATH ?? '', HOME: '/root', TMPDIR: tmpdir() }, workerUser: NOBODY, ...opts });
    executors.push(e);
    return e;
  };

  beforeAll(() => {
    // Switching a child to another uid takes root; CI runs as root. Not a skip: a loud failure.
    if (process.getuid?.() !== 0) throw new Error(`these tests start workers as uid ${NOBODY.uid} and need root (running as uid ${process.getuid?.()})`);
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-local-uid-'));
  });
  afterEach(async () => {
    for (const e of executors.splice(0)) await e.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the worker as that user in a home of its own, with its task file and nothing of the control plane within reach', async () => {
    await chmod(dir, 0o711);
    const keyFile = join(dir, 'app.pem');
    await writeFile(keyFile, 'the App key', { mode: 0o600 });
    const executor = make({
      env: { PATH: process.env.PATH ?? '', HOME: '/root', TMPDIR: tmpdir(), KEY: keyFile, PARENT: String(process.pid) },
      command: node(`
        const fs = require('fs'), os = require('os'), path = require('path');
        const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
        const task = process.env.LEVIATHAN_TASK_FILE;
        const seen = {
          uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
          home: process.env.HOME, tmp: os.tmpdir(), cwd: process.cwd(),
          task: JSON.parse(fs.readFileSync(task, 'utf8')).attempt_id, taskOwner: fs.statSync(task).uid,
          key: attempt(() => fs.readFileSync(process.env.KEY)),
          environ: attempt(() => fs.readFileSync('/proc/' + process.env.PARENT + '/environ')),
          listWorkers: attempt(() => fs.readdirSync(path.dirname(task))),
          writeHome: attempt(() => fs.mkdirSync(path.join(os.tmpdir(), 'leviathan-worker'), { recursive: true })),
        };
        fs.writeFileSync(path.join(process.env.HOME, 'seen.json'), JSON.stringify(seen));`),
    });
    await executor.start(assignment());
    await until(async () => ((await executor.list())[0]?.state === 'succeeded' ? true : undefined));

    const home = join(dir, 'data', 'workers', 'home');
    expect(JSON.parse(await readFile(join(home, 'seen.json'), 'utf8'))).toEqual({
      uid: 65534,
      gid: 65534,
      groups: [65534],
      home,
      tmp: home,
      cwd: home,
      task: 'att-1',
      taskOwner: 65534,
      key: 'EACCES',
      environ: 'EACCES',
      listWorkers: 'EACCES',
      writeHome: 'ok',
    });
    const workers = await stat(join(dir, 'data', 'workers'));
    expect([workers.uid, workers.mode & 0o777]).toEqual([0, 0o711]);
    const homeStat = await stat(home);
    expect([homeStat.uid, homeStat.gid, homeStat.mode & 0o777]).toEqual([65534, 65534, 0o700]);
    // The log is the control plane's (the worker writes it through the descriptor it was given).
    const log = await stat(join(dir, 'data', 'workers', 'att-1.log'));
    expect([log.uid, log.mode & 0o777]).toEqual([0, 0o600]);
  });

  it('refuses at preflight, and starts nothing, when that user cannot reach the data dir', async () => {
    // mkdtemp's own 0700 stands in the way.
    const executor = make({ command: node('') });
    await expect(executor.preflight()).rejects.toThrow(`Workers run as uid 65534, which cannot reach ${join(dir, 'data', 'workers')}: ${dir} (mode 0700, uid 0) is not searchable by it`);
    await expect(executor.start(assignment())).rejects.toBeInstanceOf(LocalExecutorError);
    expect(await executor.list()).toEqual([]);
    expect(await readdir(join(dir, 'data', 'workers'))).toEqual([]);
  });

  it("refuses a home that is not the worker user's own", async () => {
    await chmod(dir, 0o711);
    await mkdir(join(dir, 'data', 'workers', 'home'), { recursive: true });
    const executor = make({ command: node('') });
    await expect(executor.preflight()).rejects.toThrow(`${join(dir, 'data', 'workers', 'home')} must be a directory owned by uid 65534 (LEVIATHAN_WORKER_UID); it is owned by uid 0`);
  });

  it('is refused for uid 0, and without root for any uid but its own', () => {
    expect(workerUserProblem({ uid: 0, gid: 0 }, 0)).toMatch(/must not be 0/);
    expect(workerUserProblem({ uid: 65534, gid: 65534 }, 1000)).toBe('LEVIATHAN_WORKER_UID=65534 needs serve and tick to run as root (to switch each worker to that uid); they run as uid 1000.');
    expect(workerUserProblem({ uid: 1000, gid: 1000 }, 1000)).toBeNull();
    expect(workerUserProblem({ uid: 65534, gid: 65534 }, 0)).toBeNull();
  });
});
