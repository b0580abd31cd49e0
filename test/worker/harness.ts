/**
 * Test doubles for the worker: a bare git repository as origin, a real HTTP control plane on
 * loopback that stores events like the real one (idempotent ids), and an assignment builder.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nock from 'nock';
import { afterEach, beforeEach, expect } from 'vitest';
import type { NewEvent } from '../../src/events/envelope.ts';
import type { WorkerAssignment } from '../../src/executors/executor.ts';

/** A GitHub installation token look-alike (`ghs_` + 36 characters); the same string crashes.sh prints. */
export const FAKE_TOKEN = 'ghs_FAKEfakeFAKEfake0123456789abcdefghij';
/** The control plane API token. */
export const API_TOKEN = 'lev-api-token-0123456789-secret';

export const AGENTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/agents');
/**
 * An agent command deaf to SIGTERM, so only the SIGKILL after the grace ends it: the shell the
 * worker runs the command in ignores it too (were it to die of it, the worker would SIGKILL the
 * group at once), and so does test/worker/fixtures/ignores-term.sh, which records its pids.
 */
export const IGNORES_TERM_AGENT = `trap '' TERM; '${path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ignores-term.sh')}'`;

/**
 * The environment of a real worker (`leviathan worker`) as `tick` and `serve` start it, in `dir`:
 * origin under `<dir>/git` (see seedBareRepository), work dir `<dir>/work`, reporting to `cpUrl`,
 * running `agent` (a shell command), which records what it wants the test to see in `dir`.
 */
export function realWorkerEnv(dir: string, cpUrl: string, agent: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    LEVIATHAN_CONTROL_PLANE_URL: cpUrl,
    LEVIATHAN_API_TOKEN: API_TOKEN,
    GITHUB_TOKEN: FAKE_TOKEN,
    GITHUB_SERVER_URL: `file://${path.join(dir, 'git')}`,
    LEVIATHAN_AGENT_COMMAND: agent,
    LEVIATHAN_WORK_DIR: path.join(dir, 'work'),
    LEVIATHAN_TEST_OUT: dir,
  };
}

/** The agent's pid and its child's, once sleeps-forever.sh (or ignores-term.sh) has written them to `<outDir>/pids`. */
export async function agentPids(outDir: string, ms = 15_000): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const text = await readFile(path.join(outDir, 'pids'), 'utf8').catch(() => '');
    if (text.trim().split('\n').length === 2) return text.trim().split('\n').map(Number);
    if (Date.now() > end) throw new Error('the agent never started');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Seed',
  GIT_AUTHOR_EMAIL: 'seed@example.com',
  GIT_COMMITTER_NAME: 'Seed',
  GIT_COMMITTER_EMAIL: 'seed@example.com',
};

/** Runs git synchronously for test setup and inspection. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Creates a bare repository at `bare` whose `main` holds a small fixed tree (docs/, src/, a file
 * long enough to be detected as a rename), seeded through a scratch clone at `seedDir`.
 */
export async function seedBareRepository(bare: string, seedDir: string): Promise<void> {
  await mkdir(path.dirname(bare), { recursive: true });
  git(path.dirname(bare), 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  git(path.dirname(bare), 'init', '--quiet', '--initial-branch=main', seedDir);
  const files: Record<string, string> = {
    'README.md': '# Widgets\n',
    'docs/guide.md': '# Guide\n',
    'docs/obsolete.md': 'old stuff\n',
    'docs/old-name.md': 'a page with a long enough body to be detected as a rename\n'.repeat(5),
    'docs/build.sh': 'echo build\n',
    'src/index.ts': 'export const x = 1;\n',
  };
  for (const [p, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(seedDir, p)), { recursive: true });
    await writeFile(path.join(seedDir, p), content);
  }
  git(seedDir, 'add', '-A');
  git(seedDir, 'commit', '--quiet', '-m', 'seed');
  git(seedDir, 'push', '--quiet', bare, 'main');
}

/** A temp dir holding a seeded bare origin (`origin.git`), a work dir and an agent output dir. */
export async function makeOrigin(): Promise<{ root: string; bare: string; remoteUrl: string; workDir: string; outDir: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'leviathan-worker-test-'));
  const bare = path.join(root, 'origin.git');
  await seedBareRepository(bare, path.join(root, 'seed'));
  const workDir = path.join(root, 'work');
  const outDir = path.join(root, 'out');
  await mkdir(workDir);
  await mkdir(outDir);
  return { root, bare, remoteUrl: `file://${bare}`, workDir, outDir };
}

/** An assignment for a docs task on acme/widgets. */
export function assignment(over: Partial<WorkerAssignment> = {}): WorkerAssignment {
  return {
    attempt_id: 'att-1',
    target: 'acme/widgets',
    installation_id: 42,
    default_branch: 'main',
    timeout_seconds: 60,
    task: {
      id: 'docs-guide',
      title: 'Improve the guide',
      scope: 'docs',
      priority: 'high',
      ready: true,
      status: 'pending',
      dependencies: [],
      allowed_paths: ['docs/'],
      acceptance_criteria: ['Guide has a new paragraph', 'A new page exists'],
      estimated_size: 'small',
      description: 'Make the guide more helpful.',
      line: 3,
    },
    policy: {
      max_open_prs: 2,
      circuit_breaker: { consecutive_failures: 2, cooldown_minutes: 60 },
      attempt_timeout_minutes: 15,
      max_attempts_per_task: 2,
      max_concurrent_attempts: 1,
      max_tasks_per_day: null,
      allowed_paths: { docs: ['docs/**'] },
      forbidden_paths: ['docs/private/**'],
      max_files_per_task: { docs: 6 },
      sources: {},
    },
    ...over,
  };
}

/**
 * `POST /v1/events` on loopback. Stores each id once (duplicates acknowledged), answers 503 while
 * `failNext` > 0, and records every raw request body for the redaction checks.
 */
export class FakeControlPlane {
  readonly stored: NewEvent[] = [];
  readonly bodies: string[] = [];
  readonly authHeaders: Array<string | undefined> = [];
  /** Bearer tokens it takes; anything else is 401. */
  readonly tokens = new Set([API_TOKEN]);
  failNext = 0;
  /** Answers of `POST /v1/attempts/:id/github-token`, in order; 404 once none is left. */
  readonly tokenAnswers: Array<{ status: number; body: unknown }> = [];
  /** The attempt ids of those requests, in order. */
  readonly tokenRequests: string[] = [];
  #server: http.Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts listening; on `port` when given (to come back on the port the worker already knows). */
  async start(port = 0): Promise<this> {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.bodies.push(body);
        this.authHeaders.push(req.headers.authorization);
        res.setHeader('content-type', 'application/json');
        const tokenRoute = req.method === 'POST' ? /^\/v1\/attempts\/([^/]+)\/github-token$/.exec(req.url ?? '') : null;
        if (tokenRoute) {
          this.tokenRequests.push(decodeURIComponent(tokenRoute[1]!));
          if (![...this.tokens].some((t) => req.headers.authorization === `Bearer ${t}`)) {
            res.statusCode = 401;
            return res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'bad token' } }));
          }
          const answer = this.tokenAnswers.shift() ?? { status: 404, body: { error: { code: 'not_found', message: 'no token answer queued' } } };
          res.statusCode = answer.status;
          return res.end(JSON.stringify(answer.body));
        }
        if (req.method !== 'POST' || req.url !== '/v1/events') {
          res.statusCode = 404;
          return res.end(JSON.stringify({ error: { code: 'not_found', message: 'no route' } }));
        }
        if (![...this.tokens].some((t) => req.headers.authorization === `Bearer ${t}`)) {
          res.statusCode = 401;
          return res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'bad token' } }));
        }
        if (this.failNext > 0) {
          this.failNext--;
          res.statusCode = 503;
          return res.end(JSON.stringify({ error: { code: 'unavailable', message: 'try later' } }));
        }
        const events = JSON.parse(body) as NewEvent[];
        const stored: Array<{ id: string; seq: number }> = [];
        const duplicates: string[] = [];
        for (const e of events) {
          if (this.stored.some((s) => s.id === e.id)) duplicates.push(e.id);
          else {
            this.stored.push(e);
            stored.push({ id: e.id, seq: this.stored.length });
          }
        }
        res.end(JSON.stringify({ stored, duplicates }));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The attempt's milestones: every type stored but the step reports (see steps()). */
  types(): string[] {
    return this.stored.filter((e) => e.type !== 'attempt.step').map((e) => e.type);
  }

  /** The steps the worker reported starting, in order. */
  steps(): string[] {
    return this.stored.filter((e) => e.type === 'attempt.step').map((e) => String(e.data.step));
  }
}

/** Collects pino output. */
export function captureLogs(): { lines: string[]; stream: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(line) } };
}

/** True while a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * Smart-HTTP git server on loopback (`git http-backend` as CGI) that requires
 * `Authorization: Basic base64(x-access-token:<token>)`, so the tests see the token travel the
 * way it does to GitHub, and nowhere else. `token` may name one for fetches and another for
 * pushes (`git-receive-pack`), to see which token each step used.
 */
export class FakeGitHttpServer {
  readonly authHeaders: Array<string | undefined> = [];
  #server: http.Server | undefined;
  port = 0;

  constructor(
    private readonly projectRoot: string,
    private readonly token: string | { fetch: string; push: string },
  ) {}

  /** URL of a repository under the project root, e.g. `origin.git`. */
  url(repo: string): string {
    return `http://127.0.0.1:${this.port}/${repo}`;
  }

  async start(): Promise<this> {
    const basic = (token: string) => `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
    const tokens = typeof this.token === 'string' ? { fetch: this.token, push: this.token } : this.token;
    this.#server = http.createServer((req, res) => {
      this.authHeaders.push(req.headers.authorization);
      const expected = basic((req.url ?? '').includes('git-receive-pack') ? tokens.push : tokens.fetch);
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' });
        return res.end('Authentication required');
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const child = spawn('git', ['http-backend'], {
        env: {
          PATH: process.env.PATH,
          GIT_PROJECT_ROOT: this.projectRoot,
          GIT_HTTP_EXPORT_ALL: '1',
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          PATH_INFO: url.pathname,
          QUERY_STRING: url.search.slice(1),
          REQUEST_METHOD: req.method ?? 'GET',
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
          GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
          REMOTE_USER: 'x-access-token',
          REMOTE_ADDR: '127.0.0.1',
        },
      });
      req.pipe(child.stdin);
      let buf = Buffer.alloc(0);
      let headersDone = false;
      child.stdout.on('data', (c: Buffer) => {
        if (headersDone) return void res.write(c);
        buf = Buffer.concat([buf, c]);
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        headersDone = true;
        let status = 200;
        for (const line of buf.subarray(0, end).toString('utf8').split('\r\n')) {
          const i = line.indexOf(':');
          const k = line.slice(0, i).trim();
          const v = line.slice(i + 1).trim();
          if (k.toLowerCase() === 'status') status = parseInt(v, 10);
          else res.setHeader(k, v);
        }
        res.writeHead(status);
        res.write(buf.subarray(end + 4));
      });
      child.on('close', () => res.end());
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** What every worker test starts with: a seeded origin, a fake control plane, captured logs. */
export interface WorkerFixture {
  origin: Awaited<ReturnType<typeof makeOrigin>>;
  cp: FakeControlPlane;
  logs: ReturnType<typeof captureLogs>;
}

/**
 * Registers the per-test setup and teardown and hands each test's fixture to `use`. Teardown
 * fails the test on any GitHub mock it set up but did not use.
 */
export function useWorkerFixture(use: (f: WorkerFixture) => void): void {
  let current: WorkerFixture;
  beforeEach(async () => {
    current = { origin: await makeOrigin(), cp: await new FakeControlPlane().start(), logs: captureLogs() };
    use(current);
  });
  afterEach(async () => {
    const unused = nock.pendingMocks();
    nock.cleanAll();
    await current.cp.stop();
    await rm(current.origin.root, { recursive: true, force: true });
    expect(unused).toEqual([]);
  });
}

