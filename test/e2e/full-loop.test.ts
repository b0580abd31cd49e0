/**
 * The whole loop on one machine: events in → `tick` (in-process, real LocalProcessExecutor) →
 * `leviathan worker` as a detached child process → clone from a bare repository
 * (GITHUB_SERVER_URL=file://…) → agent script → push → pull request on the fake GitHub server →
 * attempt and PR events → `pr.merged` (as the webhook would post it) → task completed, no open PRs.
 * Once with workers as this process's user, once as another uid (LEVIATHAN_WORKER_UID; root).
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tick } from '../../src/cli/tick.ts';
import { envSchema } from '../../src/env.ts';
import { createExecutor, localWorkerEnv } from '../../src/executors/create-executor.ts';
import type { LocalProcessExecutor } from '../../src/executors/local-process.ts';
import type { StoredEvent } from '../../src/events/envelope.ts';
import { startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.ts';
import { git, seedBareRepository } from '../worker/harness.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NOBODY = { uid: 65534, gid: 65534 };
const TARGET = 'acme/widgets';
const GITHUB_TOKEN = 'ghs_e2eFAKEtoken0123456789abcdefghijklmn';

/** A bare repository at `<root>/git/acme/widgets.git`, as `<GITHUB_SERVER_URL>/<owner>/<repo>.git`. */
async function seedRepository(root: string): Promise<string> {
  const bare = join(root, 'git', `${TARGET}.git`);
  await seedBareRepository(bare, join(root, 'seed'));
  return bare;
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms: number, onTimeout: () => Promise<string>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${await onTimeout()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * What a worker user must be able to read, hard-linked (copied across file systems) under `dir`:
 * the checkout itself may sit below a directory only root can search (a 0700 mktemp, /root).
 */
async function runtimeCopy(dir: string): Promise<string> {
  const copy = join(dir, 'runtime');
  await mkdir(copy, { mode: 0o755 });
  const parts = ['bin', 'src', 'node_modules', 'fixtures', 'package.json', 'tsconfig.json'].map((p) => join(ROOT, p));
  try {
    execFileSync('cp', ['-al', ...parts, copy]);
  } catch {
    execFileSync('cp', ['-a', ...parts, copy]);
  }
  return copy;
}

describe.each([
  { workers: "as the control plane's user", workerUser: null },
  { workers: 'as another uid (LEVIATHAN_WORKER_UID)', workerUser: NOBODY },
])('full loop on one machine, workers $workers', ({ workerUser }) => {
  let root: string;
  let cp: TestControlPlane;
  let github: FakeGitHub;
  let executor: LocalProcessExecutor;
  let bare: string;
  /** The installation workers run from. */
  let runtime = ROOT;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'leviathan-e2e-'));
    bare = await seedRepository(root);
    if (workerUser) {
      // Switching a worker to another uid takes root; CI runs as root. Not a skip: a loud failure.
      if (process.getuid?.() !== 0) throw new Error(`workers as uid ${workerUser.uid} need root (running as uid ${process.getuid?.()})`);
      await chmod(root, 0o711);
      runtime = await runtimeCopy(root);
      // The "GitHub" side of the clone: the worker user pushes to it, like any remote it may write.
      execFileSync('chown', ['-R', `${workerUser.uid}:${workerUser.gid}`, join(root, 'git')]);
    }
    github = await startFakeGitHub({ token: GITHUB_TOKEN });
    cp = await startTestControlPlane({ overrides: { executor: null } });
  });
  afterAll(async () => {
    await executor?.stopAll();
    await cp?.destroy();
    await github?.close();
    await rm(root, { recursive: true, force: true });
  });

  const events = async (type?: string): Promise<StoredEvent[]> => (await cp.store.read({ ...(type ? { type } : {}), limit: 1000 })).events;
  const post = async (body: unknown[]) => {
    const res = await cp.api('/v1/events', { method: 'POST', json: body });
    expect(res.status).toBeLessThan(300);
  };

  it('selects, runs the worker, opens the PR, and completes the task when the PR is merged', { timeout: 120_000 }, async () => {
    // Given: a registered target with one ready docs task, and autonomy on.
    await post([
      { type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'main' } },
      {
        type: 'backlog.synced',
        target: TARGET,
        data: {
          etag: '"seed"',
          tasks: [
            { id: 'docs-guide', title: 'Improve the guide', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'], scope: 'docs' },
            { id: 'after-guide', title: 'Follow-up', priority: 'medium', ready: true, status: 'pending', dependencies: ['docs-guide'], allowed_paths: ['src/'], scope: 'core' },
          ],
        },
      },
      { type: 'autonomy.enabled', data: { reason: 'e2e' } },
    ]);

    // The executor as `serve`/`tick` would build it, with the worker's environment passed explicitly.
    const env = envSchema.parse({
      LEVIATHAN_CONTROL_PLANE_URL: cp.url,
      LEVIATHAN_API_TOKEN: WRITE_TOKEN,
      LEVIATHAN_DATA_DIR: join(root, 'data'),
      LEVIATHAN_AGENT_COMMAND: `sh ${join(runtime, 'fixtures/agents/good-change.sh')}`,
      ...(workerUser ? { LEVIATHAN_WORKER_UID: String(workerUser.uid) } : {}),
      GITHUB_API_URL: github.url,
      GITHUB_SERVER_URL: `file://${join(root, 'git')}`,
      GITHUB_TOKEN,
      WEBHOOK_SECRET: 'must-not-reach-the-worker',
      LOG_LEVEL: 'info',
    });
    const processEnv = { PATH: process.env.PATH, HOME: root, TMPDIR: root, GITHUB_SERVER_URL: env.GITHUB_SERVER_URL };
    const workerEnv = localWorkerEnv(env, { controlPlaneUrl: cp.url, apiToken: WRITE_TOKEN, processEnv });
    expect(Object.keys(workerEnv).sort()).toEqual(
      ['GITHUB_API_URL', 'GITHUB_SERVER_URL', 'HOME', 'LEVIATHAN_AGENT_COMMAND', 'LEVIATHAN_CONTROL_PLANE_URL', 'LOG_LEVEL', 'PATH', 'TMPDIR'].sort(),
    );
    // Each worker gets its attempt's own API token and its GitHub token (here the development one), added at start; never the operator's.
    const localWorkerCommand = { file: process.execPath, args: [join(runtime, 'bin/leviathan.mjs'), 'worker'] };
    executor = (await createExecutor(env, { controlPlaneUrl: cp.url, apiToken: WRITE_TOKEN, processEnv, localWorkerCommand })) as LocalProcessExecutor;

    // When: one tick runs.
    const logs: string[] = [];
    const code = await tick(env, { executor, refresher: null, logger: pino({ level: 'info' }, { write: (l: string) => void logs.push((JSON.parse(l) as { msg: string }).msg) }) });
    expect(code).toBe(0);
    expect(logs).toContain('Scheduler: Selected task docs-guide');
    const [created] = await events('attempt.created');
    expect(created?.data).toMatchObject({ task_id: 'docs-guide', executor: 'local', handle: expect.stringMatching(/^pid:\d+$/) });
    const attemptId = created!.data.attempt_id as string;

    // Then: the worker reports to the end.
    const workerLog = async () => {
      const log = await readFile(join(env.LEVIATHAN_DATA_DIR, 'workers', `${attemptId}.log`), 'utf8').catch(() => '(no worker log)');
      return `worker log:\n${log}\nevents: ${(await events()).map((e) => e.type).join(', ')}\nGitHub calls: ${github.calls.join(', ')}`;
    };
    const end = await waitFor(
      'the attempt to end',
      async () => (await events()).find((e) => (e.type === 'attempt.succeeded' || e.type === 'attempt.failed') && e.data.attempt_id === attemptId),
      90_000,
      workerLog,
    );
    expect(end.type, await workerLog()).toBe('attempt.succeeded');
    const mine = (await events()).filter((e) => e.data.attempt_id === attemptId);
    expect(mine.filter((e) => e.type !== 'attempt.step').map((e) => e.type)).toEqual(['task.selected', 'attempt.created', 'attempt.started', 'pr.created', 'attempt.succeeded']);
    // Every step reached the control plane through the real worker's attempt token.
    expect(mine.filter((e) => e.type === 'attempt.step').map((e) => e.data.step)).toEqual([
      'clone repository',
      'run agent',
      'check the change',
      'commit the change',
      'push branch',
      'open pull request',
      'label pull request',
    ]);
    const [pr] = await events('pr.created');
    expect(pr).toMatchObject({ target: TARGET, data: { number: 1, task_id: 'docs-guide', attempt_id: attemptId, branch: 'leviathan/docs-guide' } });

    // The PR request reached GitHub, labelled, and the branch is in the repository.
    expect(github.calls).toEqual([`${TARGET}#1:pr_opened(leviathan/docs-guide -> main)`, `${TARGET}#1:labeled(leviathan)`]);
    expect(github.pulls[0]?.body).toContain(`Leviathan-Attempt: ${attemptId}`);
    expect(git(bare, '-c', 'safe.directory=*', 'ls-tree', '-r', '--name-only', 'leviathan/docs-guide')).toContain('docs/new.md');
    if (workerUser) {
      // The worker cloned and spooled in its own home, as its own user.
      const home = join(env.LEVIATHAN_DATA_DIR, 'workers', 'home');
      expect((await stat(join(home, 'leviathan-worker'))).uid).toBe(workerUser.uid);
    }

    // The executor saw the process end cleanly; nothing secret reached the worker's log.
    await waitFor('the worker process to exit', async () => ((await executor.list())[0]?.state === 'succeeded' ? true : undefined), 10_000, workerLog);
    const log = await readFile(join(env.LEVIATHAN_DATA_DIR, 'workers', `${attemptId}.log`), 'utf8');
    expect(log).not.toContain(GITHUB_TOKEN);
    expect(log).not.toContain(WRITE_TOKEN);

    let target = await targetView();
    expect(target.open_prs.map((p) => p.number)).toEqual([1]);

    // When: the PR is merged (posted like the webhook handler would).
    await post([{ type: 'pr.merged', target: TARGET, subject: `pr:${TARGET}#1`, data: { number: 1 } }]);

    // Then: the task is completed, no open PRs, and the follow-up is now ready.
    target = await targetView();
    expect(target.open_prs).toEqual([]);
    expect(target.tasks.find((t) => t.id === 'docs-guide')?.state).toBe('completed');
    expect(target.tasks.find((t) => t.id === 'after-guide')?.state).toBe('ready');
  });

  async function targetView() {
    const res = await cp.api('/v1/targets');
    const { targets } = (await res.json()) as { targets: Array<{ id: string; open_prs: Array<{ number: number }>; tasks: Array<{ id: string; state: string }> }> };
    return targets.find((t) => t.id === TARGET)!;
  }
});
