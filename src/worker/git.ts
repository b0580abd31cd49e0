import { spawn } from 'node:child_process';
import type { Redactor } from './redact.ts';

/** Identity of the commits the worker makes. */
export interface GitAuthor {
  name: string;
  email: string;
}

/** The author used when none is configured. */
export const DEFAULT_AUTHOR: GitAuthor = {
  name: 'Leviathan',
  email: 'leviathan@users.noreply.github.com',
};

/** A git command that exited non-zero. `stderr` and the message are already redacted. */
export class GitCommandError extends Error {
  override readonly name = 'GitCommandError';
  readonly code = 'git_failed';

  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    /** Killed at the attempt's deadline, or because the worker is stopping. */
    readonly timedOut = false,
  ) {
    super(`git ${command} failed (exit ${exitCode ?? 'signal'}): ${lastLines(stderr, 5)}`);
  }

  /** The remote refused our credentials (or we had none it accepts). */
  get isAuthFailure(): boolean {
    return /Authentication failed|HTTP Basic: Access denied|could not read (Username|Password)|terminal prompts disabled|requested URL returned error: 40[13]|Permission to .* denied|Write access to repository not granted|invalid credentials/i.test(
      this.stderr,
    );
  }

  /** The remote refused the update itself (protected branch, hook, non-fast-forward). */
  get isPushRejection(): boolean {
    return /\[rejected\]|\[remote rejected\]|failed to push some refs|pre-receive hook declined|protected branch/i.test(
      this.stderr,
    );
  }
}

/** What every git process of one attempt shares. */
export interface GitRunnerOptions {
  /** Base environment of git processes: PATH, HOME and the like, never secrets. */
  baseEnv: Record<string, string | undefined>;
  /** Remote URL the credentials are scoped to (https). Local paths and file:// URLs need none. */
  remoteUrl: string;
  author: GitAuthor;
  redactor: Redactor;
  /** Epoch ms after which any git process is killed: the attempt's deadline (a hung clone or push must not outlive it). */
  deadline?: number;
  /** Kills the running git process and refuses new ones: the worker is stopping. */
  signal?: AbortSignal;
}

/**
 * Runs git with the worker's fixed configuration. The token reaches git only through
 * `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` in the child's environment: never in argv (visible in
 * `ps`), never in the remote URL, never in `.git/config`. Environment config outranks the
 * repository's own config, so an agent that edits `.git/config` cannot switch hooks back on.
 */
export class GitRunner {
  #token: string | null = null;

  constructor(private readonly options: GitRunnerOptions) {}

  /** Sets the token sent to the remote as an `http.<remote>.extraHeader`. */
  setToken(token: string | null): void {
    this.#token = token;
  }

  /** Environment of one git child process. */
  env(): Record<string, string> {
    const { baseEnv, author, remoteUrl } = this.options;
    const config: Array<[string, string]> = [
      // Repository hooks are the agent's code; they must not run with our credentials around.
      ['core.hooksPath', '/dev/null'],
      // An empty value clears any credential helper the machine may have configured.
      ['credential.helper', ''],
      ['advice.detachedHead', 'false'],
      ['init.defaultBranch', 'main'],
    ];
    if (this.#token && /^https?:\/\//.test(remoteUrl)) {
      const basic = Buffer.from(`x-access-token:${this.#token}`).toString('base64');
      // Scoped to the repository URL so that a redirect or a second remote never receives it.
      config.push([`http.${remoteUrl}.extraheader`, `Authorization: Basic ${basic}`]);
    }
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(baseEnv)) {
      if (v !== undefined && !k.startsWith('GIT_')) env[k] = v;
    }
    Object.assign(env, {
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '/bin/false',
      GIT_CONFIG_NOSYSTEM: '1',
      // The agent can write .git: replace refs or grafts would make the base we diff against a
      // fake while the real objects are pushed. Git must see the repository as it is.
      GIT_NO_REPLACE_OBJECTS: '1',
      GIT_GRAFT_FILE: '/dev/null',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
      // Messages are matched to classify failures (auth, rejected push); keep them in English.
      LC_ALL: 'C',
      LANG: 'C',
      GIT_CONFIG_COUNT: String(config.length),
    });
    config.forEach(([key, value], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = key;
      env[`GIT_CONFIG_VALUE_${i}`] = value;
    });
    return env;
  }

  /** Runs `git <args>` in `cwd`; resolves with stdout, throws a redacted GitCommandError on failure. */
  run(args: string[], cwd: string, input?: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const { signal } = this.options;
      const left = this.options.deadline === undefined ? Infinity : this.options.deadline - Date.now();
      if (left <= 0) return reject(new GitCommandError(args[0] ?? '', null, 'not started: the attempt deadline has passed', true));
      if (signal?.aborted) return reject(new GitCommandError(args[0] ?? '', null, 'not started: the worker is stopping', true));
      const child = spawn('git', args, { cwd, env: this.env(), stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const kill = (why: string) => {
        timedOut = true;
        child.kill('SIGKILL');
        // Helpers git started (git-remote-https) may hold the pipes open and delay 'close', so the
        // pipes are let go rather than waited on. The helpers get no signal from here: they lose
        // their git's end of the pipes, and at the latest go with the worker (its pod, or the
        // local executor's stop of its process group).
        child.stdout.destroy();
        child.stderr.destroy();
        reject(new GitCommandError(args[0] ?? '', null, why, true));
      };
      const timer = Number.isFinite(left) ? setTimeout(() => kill('killed at the attempt deadline'), left) : null;
      const onAbort = () => kill('killed: the worker is stopping');
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', (e) => reject(new GitCommandError(args[0] ?? '', null, this.options.redactor.text(e.message))));
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (timedOut) return;
        if (code === 0) return resolve(Buffer.concat(out));
        const stderr = this.options.redactor.text(Buffer.concat(err).toString('utf8'));
        reject(new GitCommandError(args[0] ?? '', code, stderr));
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });
  }
}

/** The last `n` non-empty lines of a text, for error messages. */
export function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-n)
    .join('\n');
}
