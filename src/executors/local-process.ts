import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, lstat, mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Executor, GitHubTokenSource, WorkerAssignment, WorkerRun } from './executor.ts';

/** The `leviathan` entry point next to this source tree. */
export const LEVIATHAN_BIN = fileURLToPath(new URL('../../bin/leviathan.mjs', import.meta.url));

/**
 * How long a worker's log (`<attempt>.log`) and a task file its worker never had removed stay in
 * `<dataDir>/workers/`: two weeks, time to look into a failed attempt after a holiday. Each log is
 * capped by its worker (WORKER_LOG_MAX_BYTES), so the directory is bounded by what two weeks of
 * attempts write.
 */
export const WORKER_FILES_RETENTION_MS = 14 * 24 * 60 * 60 * 1000;
/** Worker files are pruned at most this often per executor (they are kept for days). */
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * The names among `<dataDir>/workers/` entries that are expired worker files: regular `.log` and
 * `.json` files last modified more than `retentionMs` before `now`. Nothing else there (the worker
 * user's home, a symlink) is ever chosen.
 */
export function expiredWorkerFiles(entries: ReadonlyArray<{ name: string; isFile: boolean; mtimeMs: number }>, now: number, retentionMs: number): string[] {
  return entries.filter((e) => e.isFile && /\.(log|json)$/.test(e.name) && now - e.mtimeMs > retentionMs).map((e) => e.name);
}

/** A local worker could not be started. `code` is the scheduler's reason code. */
export class LocalExecutorError extends Error {
  override readonly name = 'LocalExecutorError';
  readonly code = 'executor_failed';
}

/** The user local workers run as (LEVIATHAN_WORKER_UID / LEVIATHAN_WORKER_GID). */
export interface WorkerUser {
  uid: number;
  gid: number;
}

/**
 * Why this process cannot run workers as `user`, or null. Switching to another uid takes root;
 * running them as root would give them more than this process has, not less.
 */
export function workerUserProblem(user: WorkerUser, currentUid: number): string | null {
  if (user.uid === 0) return 'LEVIATHAN_WORKER_UID must not be 0: workers would run as root.';
  if (currentUid !== 0 && user.uid !== currentUid) {
    return `LEVIATHAN_WORKER_UID=${user.uid} needs serve and tick to run as root (to switch each worker to that uid); they run as uid ${currentUid}.`;
  }
  return null;
}

/** Constructor options of {@link LocalProcessExecutor}; nothing is read from the environment. */
export interface LocalProcessExecutorOptions {
  /** Task files and worker logs go to `<dataDir>/workers/` (mode 0700, 0711 with a worker user; files 0600). */
  dataDir: string;
  /**
   * The worker's environment. Nothing of this process's environment is inherited: the caller
   * passes exactly what the worker needs (PATH and HOME, control plane URL, GitHub URLs, agent
   * command); the two tokens below are added per attempt.
   */
  env: Record<string, string>;
  /** The attempt's own API token (`LEVIATHAN_API_TOKEN` of that worker only; see worker-token.ts). */
  workerToken?: (assignment: WorkerAssignment) => string;
  /**
   * The worker's GitHub token (`GITHUB_TOKEN` of that worker only): the repository's installation
   * token, never the App's credentials. Its failure fails the start with the source's own error.
   */
  githubToken?: GitHubTokenSource;
  /**
   * Run workers (and so their agents) as this uid and gid rather than this process's own: they
   * can then read neither the control plane's secrets (the App's key, the data dir's 0600 files)
   * nor its environment. HOME, TMPDIR and the working directory become `<dataDir>/workers/home`,
   * owned by that user; the task file is handed over to it. Needs this process to run as root.
   */
  workerUser?: WorkerUser;
  /** The program to run; default `node bin/leviathan.mjs worker`. */
  command?: { file: string; args: string[] };
  /** After the deadline: SIGTERM to the process group, then SIGKILL after this long. */
  killGraceMs?: number;
  /** How long ended runs stay in list(). */
  retainEndedMs?: number;
  /**
   * Worker logs and task files in `<dataDir>/workers/` older than this (by modification time) are
   * deleted in the background as workers start, at most once an hour; default {@link WORKER_FILES_RETENTION_MS}.
   */
  workerFilesRetentionMs?: number;
  logger?: Logger;
  now?: () => number;
}

interface Run {
  info: WorkerRun;
  child: ChildProcess;
  pid: number;
  taskFile: string;
  timedOut: boolean;
  endedAt: number | null;
  timers: NodeJS.Timeout[];
  exited: Promise<void>;
}

/**
 * Runs each attempt as a detached child process `leviathan worker` in its own process group, the
 * embedded default. The assignment goes into a task file (`LEVIATHAN_TASK_FILE`, mode 0600) with
 * its absolute deadline (`deadline_at`: now + `timeout_seconds`), which the worker enforces itself:
 * it stops its agent's own process group, reports `timeout` and exits. While this process lives it
 * also sends SIGTERM to the worker's group at the deadline (which the worker answers the same
 * way), then SIGKILL after `killGraceMs`. A run killed at its deadline is listed as failed `timeout`; one that ended
 * otherwise without reporting shows as failed `worker_lost` (the scheduler only records that when
 * the attempt is still in flight).
 *
 * Children are unref'd: `leviathan tick` may exit while its workers run on; what this executor
 * knows lives in this process only, so a later process declares a vanished worker lost after its
 * deadline (see lostWorkerEvents).
 */
export class LocalProcessExecutor implements Executor {
  readonly kind = 'local' as const;
  private readonly runs = new Map<string, Run>();
  private readonly opts: LocalProcessExecutorOptions;

  /** Home directory preparations, one at a time (two starts must not both create it). */
  private preparing: Promise<unknown> = Promise.resolve();
  /** When worker files were last pruned (see pruneWorkerFiles), and that pruning. */
  private prunedAt: number | null = null;
  private pruning: Promise<void> = Promise.resolve();

  constructor(opts: LocalProcessExecutorOptions) {
    this.opts = opts;
    const problem = opts.workerUser ? workerUserProblem(opts.workerUser, process.getuid?.() ?? 0) : null;
    if (problem) throw new LocalExecutorError(problem);
  }

  /**
   * Checks that workers can be started as configured (with a worker user: that it can reach its
   * home and the program), so a misconfiguration stops `serve` at boot rather than every attempt.
   */
  async preflight(): Promise<void> {
    if (this.opts.workerUser) await this.workerHome(this.opts.workerUser);
  }

  /** Starts the worker; starting an attempt that is already running returns the same handle. */
  async start(assignment: WorkerAssignment): Promise<{ handle: string }> {
    const existing = this.runs.get(assignment.attempt_id);
    if (existing && existing.info.state === 'running') return { handle: existing.info.handle };

    // Before anything is written: a token that cannot be had is the start's failure, as it is.
    const githubToken = this.opts.githubToken ? await this.opts.githubToken(assignment) : undefined;
    const dir = join(this.opts.dataDir, 'workers');
    const name = assignment.attempt_id.replace(/[^A-Za-z0-9_.-]/g, '_');
    const taskFile = join(dir, `${name}.json`);
    const user = this.opts.workerUser;
    // Off the start path: a start waits for no directory listing.
    this.pruneWorkerFiles(dir);
    // The deadline travels with the assignment: the worker enforces it itself, since this process
    // (a `tick`) may be gone long before it.
    const deadlineAt = new Date(this.now() + Math.max(1, assignment.timeout_seconds) * 1000).toISOString();
    let child: ChildProcess;
    try {
      const home = user ? await this.workerHome(user) : null;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // Written by root into its own directory, then handed over: nothing the worker user can
      // plant (a symlink) is ever followed.
      await writeFile(taskFile, JSON.stringify({ ...assignment, deadline_at: deadlineAt }), { mode: 0o600 });
      await chmod(taskFile, 0o600);
      if (user) await chown(taskFile, user.uid, user.gid);
      const log = await open(join(dir, `${name}.log`), 'a', 0o600);
      try {
        const command = this.opts.command ?? { file: process.execPath, args: [LEVIATHAN_BIN, 'worker'] };
        child = spawn(command.file, command.args, {
          cwd: home ?? dir,
          detached: true,
          stdio: ['ignore', log.fd, log.fd],
          // libuv drops the supplementary groups too (setgroups) before setgid and setuid.
          ...(user ? { uid: user.uid, gid: user.gid } : {}),
          env: {
            ...this.opts.env,
            ...(home ? { HOME: home, TMPDIR: home } : {}),
            ...(this.opts.workerToken ? { LEVIATHAN_API_TOKEN: this.opts.workerToken(assignment) } : {}),
            ...(githubToken !== undefined ? { GITHUB_TOKEN: githubToken.token } : {}),
            ...(githubToken?.expires_at !== undefined ? { GITHUB_TOKEN_EXPIRES_AT: githubToken.expires_at } : {}),
            LEVIATHAN_TASK_FILE: taskFile,
          },
        });
        await Promise.race([once(child, 'spawn'), once(child, 'error').then(([err]) => Promise.reject(err as Error))]);
      } finally {
        await log.close();
      }
    } catch (err) {
      await rm(taskFile, { force: true }).catch(() => undefined);
      throw new LocalExecutorError(`Could not start the local worker for attempt ${assignment.attempt_id}: ${(err as Error).message}`);
    }
    const pid = child.pid!;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.unref();
    const run: Run = {
      info: { attempt_id: assignment.attempt_id, target: assignment.target, task_id: assignment.task.id, state: 'running', handle: `pid:${pid}` },
      child,
      pid,
      taskFile,
      timedOut: false,
      endedAt: null,
      timers: [],
      exited,
    };
    this.runs.set(assignment.attempt_id, run);

    const deadline = setTimeout(() => {
      run.timedOut = true;
      this.opts.logger?.warn({ attempt_id: assignment.attempt_id, pid }, 'Executor: Worker deadline reached, stopping its process group');
      killGroup(pid, 'SIGTERM');
      const hard = setTimeout(() => killGroup(pid, 'SIGKILL'), this.opts.killGraceMs ?? 10_000);
      hard.unref();
      run.timers.push(hard);
    }, Math.max(1, assignment.timeout_seconds) * 1000);
    deadline.unref();
    run.timers.push(deadline);

    child.once('exit', (code, signal) => {
      for (const t of run.timers) clearTimeout(t);
      // Whatever the worker left behind in its group (an agent's background job) goes with it.
      killGroup(pid, 'SIGKILL');
      run.endedAt = this.now();
      run.info =
        code === 0 && !run.timedOut
          ? { ...run.info, state: 'succeeded' }
          : { ...run.info, state: 'failed', failure_type: run.timedOut ? 'timeout' : 'worker_lost' };
      this.opts.logger?.info({ attempt_id: assignment.attempt_id, pid, code, signal, state: run.info.state }, 'Executor: Worker exited');
      void rm(taskFile, { force: true }).catch(() => undefined);
    });
    this.opts.logger?.info({ attempt_id: assignment.attempt_id, target: assignment.target, pid }, 'Executor: Worker process started');
    return { handle: run.info.handle };
  }

  /**
   * Deletes expired worker logs and task files (see expiredWorkerFiles) in the background, at most
   * once an hour per executor. Best effort: a start never waits or fails for it, and a failure is
   * only logged.
   */
  private pruneWorkerFiles(dir: string): void {
    const now = this.now();
    if (this.prunedAt !== null && now - this.prunedAt < PRUNE_INTERVAL_MS) return;
    this.prunedAt = now;
    const retention = this.opts.workerFilesRetentionMs ?? WORKER_FILES_RETENTION_MS;
    this.pruning = (async () => {
      const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      });
      const entries = await Promise.all(
        names.map(async (n) => {
          const st = await lstat(join(dir, n)).catch(() => null);
          return { name: n, isFile: st?.isFile() ?? false, mtimeMs: st?.mtimeMs ?? Infinity };
        }),
      );
      const expired = expiredWorkerFiles(entries, this.now(), retention);
      await Promise.all(expired.map((n) => rm(join(dir, n), { force: true })));
      if (expired.length > 0) this.opts.logger?.info({ removed: expired.length, retention_days: retention / 86_400_000 }, 'Executor: Removed expired worker logs');
    })().catch((err: unknown) => {
      this.opts.logger?.warn({ error: (err as Error).message }, 'Executor: Could not remove expired worker logs');
    });
  }

  /**
   * `<dataDir>/workers/home`, the worker user's HOME, TMPDIR and working directory (clones and
   * the event spool live there, shared by its workers as they would share /tmp): created and
   * handed over once, then only checked. `workers/` itself stays root's, searchable but not
   * listable (0711), so the worker user reaches its home and its own task file and nothing else.
   */
  private workerHome(user: WorkerUser): Promise<string> {
    const dir = join(this.opts.dataDir, 'workers');
    const home = join(dir, 'home');
    const prepared = this.preparing.then(async () => {
      await mkdir(dir, { recursive: true, mode: 0o711 });
      await chmod(dir, 0o711);
      const blocked = await unsearchableFor(user, dir);
      if (blocked) throw new LocalExecutorError(`Workers run as uid ${user.uid}, which cannot reach ${dir}: ${blocked}. Make it searchable (chmod o+x) or move LEVIATHAN_DATA_DIR.`);
      if (!this.opts.command) {
        const blockedBin = await unsearchableFor(user, dirname(LEVIATHAN_BIN));
        if (blockedBin) throw new LocalExecutorError(`Workers run as uid ${user.uid}, which cannot reach the worker program ${LEVIATHAN_BIN}: ${blockedBin}.`);
      }
      try {
        await mkdir(home, { mode: 0o700 });
        await chown(home, user.uid, user.gid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const st = await lstat(home);
      if (!st.isDirectory() || st.uid !== user.uid) {
        throw new LocalExecutorError(`${home} must be a directory owned by uid ${user.uid} (LEVIATHAN_WORKER_UID); it is ${st.isDirectory() ? `owned by uid ${st.uid}` : 'not a directory'}. Remove it and it is created again.`);
      }
      return home;
    });
    this.preparing = prepared.catch(() => undefined);
    return prepared;
  }

  /** Running workers and those that ended within `retainEndedMs` (default one hour). */
  async list(): Promise<WorkerRun[]> {
    const keep = this.opts.retainEndedMs ?? 60 * 60 * 1000;
    const now = this.now();
    const out: WorkerRun[] = [];
    for (const [id, run] of this.runs) {
      if (run.endedAt !== null && now - run.endedAt > keep) {
        this.runs.delete(id);
        continue;
      }
      out.push({ ...run.info });
    }
    return out;
  }

  /** Stops every running worker (tests, and a control plane that must not leave children behind). */
  async stopAll(): Promise<void> {
    const running = [...this.runs.values()].filter((r) => r.endedAt === null);
    for (const r of running) killGroup(r.pid, 'SIGKILL');
    await Promise.all([...running.map((r) => r.exited), this.pruning]);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

/**
 * The first directory from `/` down to `dir` that `user` may not search (mode and owner, as the
 * kernel decides for a process with no supplementary groups), or null when it reaches `dir`.
 */
async function unsearchableFor(user: WorkerUser, dir: string): Promise<string | null> {
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) {
    const st = await stat(d);
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return `${d} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, uid ${st.uid}) is not searchable by it`;
  }
  return null;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
