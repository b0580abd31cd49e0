import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nock from 'nock';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerAssignment } from '../../src/executors/executor.ts';
import { ControlPlaneTokenRefresher, HttpEventSink, type EventSink } from '../../src/worker/control-plane-client.ts';
import { refreshingToken, staticToken, type Credentials } from '../../src/worker/credentials.ts';
import { OctokitPullRequests } from '../../src/worker/github-pull-requests.ts';
import { Redactor } from '../../src/worker/redact.ts';
import { STOP_GRACE_MS } from '../../src/worker/agent.ts';
import { runWorker, type WorkerDeps, type WorkerResult } from '../../src/worker/run-worker.ts';
import { outsideScope } from '../../src/api/worker-token.ts';
import {
  AGENTS,
  agentPids as harnessAgentPids,
  alive,
  API_TOKEN,
  assignment,
  captureLogs,
  FakeControlPlane,
  FAKE_TOKEN,
  FakeGitHttpServer,
  git,
  IGNORES_TERM_AGENT,
  makeOrigin,
  useWorkerFixture,
} from './harness.ts';

type Origin = Awaited<ReturnType<typeof makeOrigin>>;

let origin: Origin;
let cp: FakeControlPlane;
let logs: ReturnType<typeof captureLogs>;

useWorkerFixture((f) => ({ origin, cp, logs } = f));

function deps(agent: string, over: Partial<WorkerDeps> & { a?: WorkerAssignment; sink?: EventSink } = {}): WorkerDeps {
  const a = over.a ?? assignment();
  const redactor = new Redactor([API_TOKEN]);
  const logger = pino({ level: 'debug' }, logs.stream);
  const credentials = staticToken(FAKE_TOKEN);
  return {
    assignment: a,
    controlPlane:
      over.sink ??
      new HttpEventSink({
        url: cp.url,
        token: API_TOKEN,
        spoolDir: path.join(origin.workDir, 'spool'),
        attemptId: a.attempt_id,
        logger,
        redactor,
        baseDelayMs: 5,
        maxDelayMs: 20,
      }),
    github: new OctokitPullRequests({ credentials, retry: false, throttle: false }),
    credentials,
    remoteUrl: origin.remoteUrl,
    agentCommand: path.join(AGENTS, agent),
    agentEnv: {
      PATH: process.env.PATH,
      HOME: origin.root,
      LEVIATHAN_TEST_OUT: origin.outDir,
      // None of these may reach the agent.
      GITHUB_TOKEN: FAKE_TOKEN,
      LEVIATHAN_API_TOKEN: API_TOKEN,
      SOMETHING_INNOCENT: `prefix-${FAKE_TOKEN}`,
    },
    gitEnv: { PATH: process.env.PATH, HOME: origin.root },
    workDir: origin.workDir,
    clock: { now: Date.now },
    logger,
    redactor,
    keepWorkspace: true,
    ...over,
  };
}

/** The GitHub API as a good run uses it; returns what the PR request carried. */
function githubAcceptsPullRequest(number = 7) {
  const seen: { pr?: Record<string, unknown> } = {};
  const scope = nock('https://api.github.com')
    .matchHeader('authorization', `token ${FAKE_TOKEN}`)
    .post('/repos/acme/widgets/pulls', (body: Record<string, unknown>) => {
      seen.pr = body;
      return true;
    })
    .reply(201, { number, html_url: `https://github.com/acme/widgets/pull/${number}` })
    .post(`/repos/acme/widgets/issues/${number}/labels`, { labels: ['leviathan'] })
    .reply(200, [{ name: 'leviathan' }]);
  return { scope, seen };
}

function pushedBranches(): string {
  return git(origin.bare, 'branch', '--list', 'leviathan/*').trim();
}

/** Everything the worker wrote must be free of the token and the API token. */
async function expectNoSecrets(result: WorkerResult): Promise<void> {
  const places: Array<[string, string]> = [
    ['events', cp.bodies.join('\n')],
    ['logs', logs.lines.join('')],
    ['result', JSON.stringify(result)],
    ['origin config', await readFile(path.join(origin.bare, 'config'), 'utf8')],
  ];
  const wsConfig = path.join(origin.workDir, 'att-1', 'repo', '.git', 'config');
  if (existsSync(wsConfig)) places.push(['workspace config', await readFile(wsConfig, 'utf8')]);
  const basic = Buffer.from(`x-access-token:${FAKE_TOKEN}`).toString('base64');
  for (const [where, text] of places) {
    expect(text, where).not.toContain(FAKE_TOKEN);
    expect(text, where).not.toContain(basic);
    expect(text, where).not.toContain(API_TOKEN);
  }
}

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** The worker's log lines at info and above (the agent's output is at debug). */
function workerLines(): LogLine[] {
  return logs.lines.map((l) => JSON.parse(l) as LogLine).filter((l) => l.level >= 30 && l.msg.startsWith('Worker: '));
}

/** The one error line a failed attempt logs, `Worker: Failed to <step> (<cause>)`; attempt.failed names the same step. */
function failureLine(): LogLine {
  const errors = workerLines().filter((l) => l.level >= 50);
  expect(errors.map((l) => l.msg)).toHaveLength(1);
  expect(workerLines().filter((l) => l.level === 40)).toEqual([]);
  expect(failedEvent().data).toMatchObject({ step: errors[0]!.step, failure_type: errors[0]!.failure_type });
  return errors[0]!;
}

function failedEvent() {
  const failed = cp.stored.find((e) => e.type === 'attempt.failed');
  expect(failed).toBeDefined();
  return failed!;
}

describe('runWorker end to end', () => {
  it('good change: pushes the branch with the trailer, opens a labelled PR, reports started → pr.created → succeeded', async () => {
    const { scope, seen } = githubAcceptsPullRequest();
    const result = await runWorker(deps('good-change.sh'));

    expect(result.message).toBe('Opened pull request #7: https://github.com/acme/widgets/pull/7');
    expect(result).toMatchObject({ outcome: 'succeeded', pr_number: 7 });
    expect(scope.isDone()).toBe(true);

    // The branch is on origin, one commit on top of main, with the trailer and the fixed author.
    expect(pushedBranches()).toBe('leviathan/docs-guide');
    const log = git(origin.bare, 'log', '--format=%an <%ae>%n%B', '-1', 'leviathan/docs-guide');
    expect(log).toContain('Leviathan <leviathan@users.noreply.github.com>');
    expect(log).toContain('Improve the guide');
    expect(log).toContain('- Guide has a new paragraph');
    expect(log).toMatch(/^Leviathan-Attempt: att-1$/m);
    expect(git(origin.bare, 'rev-parse', 'leviathan/docs-guide~1')).toBe(git(origin.bare, 'rev-parse', 'main'));

    // Adds, edits, deletes, renames, mode changes and an in-repo symlink all made it.
    const status = git(origin.bare, 'diff', '--name-status', '-M', 'main', 'leviathan/docs-guide');
    expect(status).toMatch(/^A\tdocs\/new\.md$/m);
    expect(status).toMatch(/^M\tdocs\/guide\.md$/m);
    expect(status).toMatch(/^D\tdocs\/obsolete\.md$/m);
    expect(status).toMatch(/^R\d+\tdocs\/old-name\.md\tdocs\/new-name\.md$/m);
    expect(git(origin.bare, 'ls-tree', 'leviathan/docs-guide', 'docs/build.sh')).toMatch(/^100755 /);
    expect(git(origin.bare, 'ls-tree', 'leviathan/docs-guide', 'docs/guide-link.md')).toMatch(/^120000 /);

    // The pull request: base, head, marker line, acceptance criteria as a checklist.
    expect(seen.pr).toMatchObject({ title: 'Improve the guide', head: 'leviathan/docs-guide', base: 'main' });
    const body = String(seen.pr?.body);
    expect(body).toMatch(/^Leviathan-Attempt: att-1$/m);
    expect(body).toContain('- [ ] Guide has a new paragraph');
    expect(body).toContain('- [ ] A new page exists');
    expect(body).toContain('Make the guide more helpful.');
    expect(body).toContain('docs');

    expect(cp.types()).toEqual(['attempt.started', 'pr.created', 'attempt.succeeded']);
    // Each step's start is reported once, so the console can say what a running attempt is doing.
    expect(cp.steps()).toEqual(['clone repository', 'run agent', 'check the change', 'commit the change', 'push branch', 'open pull request', 'label pull request']);
    expect(cp.stored.find((e) => e.type === 'attempt.step')).toMatchObject({
      id: 'att-1:step:clone-repository',
      actor: 'worker:att-1',
      subject: 'attempt:att-1',
      data: { attempt_id: 'att-1', task_id: 'docs-guide', step: 'clone repository' },
    });
    const [startedEv, prEv, succeededEv] = cp.stored.filter((e) => e.type !== 'attempt.step');
    expect(startedEv).toMatchObject({
      id: 'att-1:started',
      actor: 'worker:att-1',
      target: 'acme/widgets',
      subject: 'attempt:att-1',
      data: { attempt_id: 'att-1', task_id: 'docs-guide' },
    });
    expect(prEv).toMatchObject({
      subject: 'pr:acme/widgets#7',
      data: {
        number: 7,
        url: 'https://github.com/acme/widgets/pull/7',
        branch: 'leviathan/docs-guide',
        attempt_id: 'att-1',
        task_id: 'docs-guide',
        head_sha: git(origin.bare, 'rev-parse', 'leviathan/docs-guide').trim(),
      },
    });
    expect(succeededEv?.data).toMatchObject({ pr_number: 7, attempt_id: 'att-1' });
    expect(typeof succeededEv?.data.duration_seconds).toBe('number');
    expect(cp.authHeaders.every((h) => h === `Bearer ${API_TOKEN}`)).toBe(true);

    // The operator document's lines, word for word, with the structured fields beside them.
    const lines = workerLines();
    expect(lines.map((l) => l.msg)).toEqual([
      'Worker: Cloning repository acme/widgets',
      'Worker: Executing task docs-guide',
      'Worker: Diff accepted',
      'Worker: Pushed branch',
      'Worker: Created PR #7',
    ]);
    expect(lines.every((l) => l.level === 30 && l.attempt_id === 'att-1' && l.task_id === 'docs-guide')).toBe(true);
    expect(lines[0]).toMatchObject({ target: 'acme/widgets', branch: 'main' });
    expect(typeof lines[1]?.timeout_ms).toBe('number');
    expect(lines[4]).toMatchObject({ pr_number: 7, url: 'https://github.com/acme/widgets/pull/7' });

    // The agent got the task on stdin and in LEVIATHAN_TASK_FILE (outside the clone), and no secret.
    const stdin = JSON.parse(await readFile(path.join(origin.outDir, 'stdin.json'), 'utf8'));
    expect(stdin).toMatchObject({ attempt_id: 'att-1', task: { id: 'docs-guide' }, max_files: 6 });
    expect(await readFile(path.join(origin.outDir, 'task-file.json'), 'utf8')).toBe(JSON.stringify(stdin, null, 2));
    const agentEnv = await readFile(path.join(origin.outDir, 'agent-env.txt'), 'utf8');
    expect(agentEnv).not.toContain(FAKE_TOKEN);
    expect(agentEnv).not.toContain(API_TOKEN);
    expect(agentEnv).not.toMatch(/^GIT_CONFIG/m);
    expect(agentEnv).toMatch(/^LEVIATHAN_TASK_FILE=/m);
    expect(agentEnv).toContain('LEVIATHAN_TEST_OUT=');
    await expectNoSecrets(result);
  });

  it('a retry of the same task replaces the branch and reuses the existing PR', async () => {
    git(origin.bare, 'branch', 'leviathan/docs-guide', 'main');
    nock('https://api.github.com')
      .post('/repos/acme/widgets/pulls')
      .reply(422, { message: 'Validation Failed', errors: [{ message: 'A pull request already exists for acme:leviathan/docs-guide.' }] })
      .get('/repos/acme/widgets/pulls')
      .query({ head: 'acme:leviathan/docs-guide', state: 'open', per_page: '1' })
      .reply(200, [{ number: 3, html_url: 'https://github.com/acme/widgets/pull/3' }])
      .post('/repos/acme/widgets/issues/3/labels')
      .reply(200, []);
    const result = await runWorker(deps('good-change.sh'));
    expect(result).toMatchObject({ outcome: 'succeeded', pr_number: 3 });
    expect(nock.isDone()).toBe(true);
    expect(workerLines().map((l) => l.msg)).toContain('Worker: Updated existing PR #3');
    expect(workerLines().map((l) => l.msg)).not.toContain('Worker: Created PR #3');
    expect(git(origin.bare, 'log', '-1', '--format=%B', 'leviathan/docs-guide')).toContain('Leviathan-Attempt: att-1');
  });

  it.each([
    ['a good change', 'good-change.sh', ['attempt.started', 'pr.created', 'attempt.succeeded']],
    ['a failure', 'no-change.sh', ['attempt.started', 'attempt.failed']],
  ])("%s: reports only what the attempt's own token admits (its ids, actor and subjects)", async (_name, agent, types) => {
    if (agent === 'good-change.sh') githubAcceptsPullRequest();
    const a = assignment();
    await runWorker(deps(agent, { a }));
    expect(cp.types()).toEqual(types);
    const scope = { target: a.target, attempt_id: a.attempt_id, task_id: a.task.id, exp: Number.MAX_SAFE_INTEGER };
    for (const e of cp.stored) expect(outsideScope(scope, e), e.id).toBeNull();
  });

  it('no change: attempt.failed no_changes, nothing pushed', async () => {
    const result = await runWorker(deps('no-change.sh'));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'no_changes' });
    expect(cp.types()).toEqual(['attempt.started', 'attempt.failed']);
    expect(failedEvent().data).toMatchObject({ failure_type: 'no_changes', attempt_id: 'att-1', task_id: 'docs-guide' });
    expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to check the change (no changes)', step: 'check the change', failure_type: 'no_changes' });
    expect(pushedBranches()).toBe('');
    await expectNoSecrets(result);
  });

  it('an attempt id of `..` cannot make the worker delete outside its work dir', async () => {
    const result = await runWorker(deps('no-change.sh', { a: assignment({ attempt_id: '..' }), keepWorkspace: false }));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'no_changes' });
    expect(existsSync(origin.bare)).toBe(true);
    expect(existsSync(origin.workDir)).toBe(true);
  });

  const refusals: Array<[string, string, Array<{ path: string; reason: string }>, Partial<WorkerAssignment>?]> = [
    ['outside-allowed.sh', 'a path outside allowed_paths', [{ path: 'src/hack.ts', reason: 'outside_allowed' }]],
    ['dotdot-escape.sh', 'a `..` escape', [{ path: '../escaped.txt', reason: 'dotdot' }]],
    [
      'symlink-escape.sh',
      'symlinks out of the repository',
      [
        { path: 'docs/hostname.md', reason: 'symlink_escape' },
        { path: 'docs/passwd.md', reason: 'symlink_escape' },
      ],
    ],
    ['forbidden-path.sh', 'a forbidden path inside the allowed directory', [{ path: 'docs/deploy.pem', reason: 'forbidden' }]],
    ['too-many-files.sh', 'more files than max_files_per_task', [{ path: 'docs/page-7.md', reason: 'too_many_files' }]],
    ['sneaky-commit.sh', 'a change the agent committed itself', [{ path: 'src/hack.ts', reason: 'outside_allowed' }]],
    ['replace-ref-escape.sh', 'a change hidden behind git replace', [{ path: 'src/hack.ts', reason: 'outside_allowed' }]],
  ];

  it.each(refusals)('%s: refuses %s with path_violation, nothing pushed', async (agent, _what, expected) => {
    const result = await runWorker(deps(agent));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'path_violation' });
    expect(cp.types()).toEqual(['attempt.started', 'attempt.failed']);
    const data = failedEvent().data as { failure_type: string; violations: Array<{ path: string; reason: string }> };
    expect(data.failure_type).toBe('path_violation');
    const got = data.violations.map((v) => ({ path: v.path, reason: v.reason })).sort((x, y) => x.path.localeCompare(y.path));
    expect(got).toEqual(expected);
    for (const v of expected) expect(result.message).toContain(v.path);
    expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to check the change (path violation)', failure_type: 'path_violation' });
    expect(pushedBranches()).toBe('');
    await expectNoSecrets(result);
  });

  it("policy.yaml's allowed_paths for the task's scope bound the change too; a scope it does not list is bounded by the task alone", async () => {
    const agentCommand = `printf 'draft' > docs/draft.md; printf 'more' >> docs/guide.md`;
    const base = assignment();
    const only = (byScope: Record<string, string[]>) => assignment({ policy: { ...base.policy, allowed_paths: byScope } });
    const refused = await runWorker(deps('', { agentCommand, a: only({ docs: ['docs/guide.md'] }) }));
    expect(refused).toMatchObject({ outcome: 'failed', failure_type: 'path_violation' });
    expect((failedEvent().data as { violations: unknown[] }).violations).toEqual([{ path: 'docs/draft.md', reason: 'outside_scope' }]);
    expect(pushedBranches()).toBe('');

    githubAcceptsPullRequest();
    expect(await runWorker(deps('', { agentCommand, a: only({ tests: ['test/**'] }) }))).toMatchObject({ outcome: 'succeeded' });
  });

  it('timeout: kills the agent process group and reports timeout', async () => {
    const started = Date.now();
    const result = await runWorker(deps('sleeps-forever.sh', { timings: { agentTimeoutMs: 1_000, killGraceMs: 300 } }));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'timeout' });
    expect(Date.now() - started).toBeLessThan(10_000);
    const pids = await harnessAgentPids(origin.outDir);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(failedEvent().data).toMatchObject({ failure_type: 'timeout' });
    expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to run agent (timeout)', step: 'run agent', failure_type: 'timeout' });
    expect(pushedBranches()).toBe('');
    await expectNoSecrets(result);
  });

  it('timeout derived from timeout_seconds when no override is given', async () => {
    const result = await runWorker(deps('sleeps-forever.sh', { a: assignment({ timeout_seconds: 2 }), timings: { killGraceMs: 300 } }));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'timeout' });
  });

  describe('the deadline and stops', () => {
    const agentPids = () => harnessAgentPids(origin.outDir);
    const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

    it("deadline_at passes while the agent runs: its group is killed, timeout at run agent, the workspace removed", async () => {
      const started = Date.now();
      // The agent's own budget would run far longer: the attempt's deadline ends it.
      const result = await runWorker(
        deps('sleeps-forever.sh', { a: assignment({ deadline_at: inSeconds(3) }), keepWorkspace: false, timings: { agentTimeoutMs: 120_000, killGraceMs: 300 } }),
      );
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'timeout' });
      expect(result.message).toMatch(/^The attempt reached its deadline \(.+\) during run agent; the worker stopped it$/);
      for (const pid of await agentPids()) expect(alive(pid), `pid ${pid}`).toBe(false);
      expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to run agent (timeout)', step: 'run agent' });
      expect(existsSync(path.join(origin.workDir, 'att-1'))).toBe(false);
      expect(pushedBranches()).toBe('');
    });

    it("the agent's budget is measured up to deadline_at, not from the worker's start", async () => {
      const started = Date.now();
      // 30 s planned (6 s reserved after the agent) but only 8 s left: the agent gets about 2.
      const result = await runWorker(deps('sleeps-forever.sh', { a: assignment({ timeout_seconds: 30, deadline_at: inSeconds(8) }), timings: { killGraceMs: 300 } }));
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'timeout', message: expect.stringContaining('The agent did not finish within') });
      expect(Date.now() - started).toBeLessThan(6_000);
    });

    it('stopped (SIGTERM) while the agent runs: its group is killed, other worker_terminated at run agent, the workspace removed', async () => {
      const stop = new AbortController();
      // An agent deaf to SIGTERM: only the SIGKILL after the grace ends it.
      const run = runWorker(
        deps('', { agentCommand: IGNORES_TERM_AGENT, stop: stop.signal, keepWorkspace: false, timings: { agentTimeoutMs: 120_000, killGraceMs: 10_000 } }),
      );
      const pids = await agentPids();
      const stoppedAt = Date.now();
      stop.abort({ kind: 'signal', signal: 'SIGTERM' });
      const result = await run;
      // The agent's grace is short when the worker itself is stopping (STOP_GRACE_MS), whatever killGraceMs says.
      const took = Date.now() - stoppedAt;
      expect(took).toBeGreaterThanOrEqual(STOP_GRACE_MS - 100);
      expect(took).toBeLessThan(5_000);
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'other' });
      for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
      expect(failedEvent().data).toMatchObject({ failure_type: 'other', error_kind: 'worker_terminated', step: 'run agent', message: expect.stringContaining('stopped by SIGTERM during run agent') });
      expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to run agent (worker terminated)' });
      expect(existsSync(path.join(origin.workDir, 'att-1'))).toBe(false);
      await expectNoSecrets(result);
    });

    it('a GitHub rate limit that resets after the deadline fails the step at once, as a GitHub error, not auth_error', async () => {
      nock('https://api.github.com')
        .post('/repos/acme/widgets/pulls')
        .reply(403, { message: 'API rate limit exceeded for installation ID 42.' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 3600) });
      const credentials = staticToken(FAKE_TOKEN);
      const a = assignment({ deadline_at: inSeconds(60) });
      const github = new OctokitPullRequests({ credentials, retry: false, throttle: true, deadline: Date.parse(a.deadline_at!) });
      const started = Date.now();
      const result = await runWorker(deps('good-change.sh', { a, github, credentials }));
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'other' });
      expect(failedEvent().data).toMatchObject({ step: 'open pull request', error_kind: 'github_error', message: expect.stringContaining("after the attempt's deadline") });
      expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to open pull request (GitHub API error)' });
    });
  });

  it('agent crash: agent_error with the redacted tail of stderr', async () => {
    const result = await runWorker(deps('crashes.sh'));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'agent_error' });
    expect(result.message).toContain('exited with code 3');
    expect(result.message).toContain('fatal: agent blew up');
    expect(result.message).toContain('***');
    const data = failedEvent().data as { message: string; stderr_tail: string };
    expect(data.message).toContain('fatal: agent blew up (token ***)');
    expect(data.stderr_tail).toContain('x-access-token:***');
    // The agent's output is in the log line by line, redacted.
    expect(logs.lines.join('')).toContain('fatal: agent blew up (token ***)');
    const failure = failureLine();
    expect(failure).toMatchObject({ msg: 'Worker: Failed to run agent (agent error)', step: 'run agent', failure_type: 'agent_error', attempt_id: 'att-1', task_id: 'docs-guide' });
    expect(failure.message).toContain('exited with code 3');
    expect(typeof failure.duration_seconds).toBe('number');
    expect(pushedBranches()).toBe('');
    await expectNoSecrets(result);
  });

  it('no credentials: auth_error before anything is cloned', async () => {
    const result = await runWorker(
      deps('good-change.sh', {
        credentials: {
          token: async () => {
            throw new Error('Could not mint an installation token');
          },
        },
      }),
    );
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'auth_error' });
    expect(existsSync(path.join(origin.outDir, 'stdin.json'))).toBe(false);
    expect(workerLines().map((l) => l.msg)).toEqual(['Worker: Cloning repository acme/widgets', 'Worker: Failed to clone repository (auth error)']);
  });

  it('a clone that fails otherwise: Failed to clone repository (workspace error), the agent never runs', async () => {
    const result = await runWorker(deps('good-change.sh', { remoteUrl: `file://${path.join(origin.root, 'missing.git')}` }));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'other' });
    expect(failedEvent().data).toMatchObject({ failure_type: 'other', error_kind: 'workspace_error' });
    expect(failureLine()).toMatchObject({
      msg: 'Worker: Failed to clone repository (workspace error)',
      step: 'clone repository',
      failure_type: 'other',
      error_kind: 'workspace_error',
    });
    expect(workerLines().map((l) => l.msg)).not.toContain('Worker: Executing task docs-guide');
    expect(existsSync(path.join(origin.outDir, 'stdin.json'))).toBe(false);
  });

  it('no agent configured: Failed to run agent (agent error), nothing cloned', async () => {
    const result = await runWorker(deps('', { agentCommand: ' ' }));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'agent_error' });
    expect(workerLines().map((l) => l.msg)).toEqual(['Worker: Failed to run agent (agent error)']);
  });

  it('no fresh token once the first one is about to expire: auth_error naming the endpoint and status, nothing pushed', async () => {
    const failed = { status: 502, body: { error: { code: 'github_auth_failed', message: 'Could not mint a GitHub token for acme/widgets (installation 42, HTTP 401)' } } };
    cp.tokenAnswers.push(failed, failed, failed);
    const clock = { now: Date.now() };
    const refreshing = refreshingToken({
      initial: FAKE_TOKEN,
      refresher: new ControlPlaneTokenRefresher({ url: cp.url, token: API_TOKEN, attemptId: 'att-1', baseDelayMs: 1 }),
      now: () => clock.now,
    });
    // The agent works for 56 minutes: the executor's token has less than 5 left.
    const credentials: Credentials = {
      token: async () => {
        const token = await refreshing.token();
        clock.now += 56 * 60_000;
        return token;
      },
    };
    const result = await runWorker(deps('good-change.sh', { credentials }));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'auth_error' });
    expect(result.message).toBe(
      `Could not refresh the GitHub token: POST ${cp.url}/v1/attempts/att-1/github-token answered HTTP 502 (github_auth_failed: Could not mint a GitHub token for acme/widgets (installation 42, HTTP 401))`,
    );
    expect(failedEvent().data).toMatchObject({ failure_type: 'auth_error', message: result.message });
    expect(cp.tokenRequests).toEqual(['att-1', 'att-1', 'att-1']);
    expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to push branch (auth error)', step: 'push branch' });
    expect(pushedBranches()).toBe('');
    await expectNoSecrets(result);
  });

  it('GitHub refuses the token when opening the PR: auth_error', async () => {
    nock('https://api.github.com').post('/repos/acme/widgets/pulls').reply(401, { message: 'Bad credentials' });
    const result = await runWorker(deps('good-change.sh'));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'auth_error' });
    expect(nock.isDone()).toBe(true);
    expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to open pull request (auth error)', step: 'open pull request' });
    await expectNoSecrets(result);
  });

  it('GitHub failing otherwise: other, with error_kind github_error', async () => {
    nock('https://api.github.com').post('/repos/acme/widgets/pulls').reply(500, { message: 'Server Error' });
    const result = await runWorker(deps('good-change.sh'));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'other' });
    expect(failedEvent().data).toMatchObject({ failure_type: 'other', error_kind: 'github_error' });
    expect(result.message).toContain('HTTP 500');
    expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to open pull request (GitHub API error)', error_kind: 'github_error' });
    expect(workerLines().map((l) => l.msg)).not.toContain('Worker: Created PR #7');
  });

  it('an agent that floods stderr: the failure message stays within what the control plane accepts', async () => {
    const result = await runWorker(
      deps('', { agentCommand: `yes 'a long line of agent noise ${FAKE_TOKEN}' | head -c 200000 >&2; echo 'the last words' >&2; exit 1` }),
    );
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'agent_error' });
    const data = failedEvent().data as { message: string; stderr_tail: string };
    expect(data.message.length).toBeLessThanOrEqual(4000);
    expect(data.message).toContain('the last words');
    expect(data.stderr_tail.length).toBeLessThanOrEqual(4000);
    await expectNoSecrets(result);
  });

  describe("the agent's own credentials", () => {
    const KEY = 'sk-test-0123456789abcdefXYZ';
    const withKey = (over: Record<string, string>) => ({ ...deps('leaks-key.sh').agentEnv, ANTHROPIC_API_KEY: KEY, ...over });

    it('reach the agent, but not its printed output in the events or the log', async () => {
      const result = await runWorker(deps('leaks-key.sh', { agentEnv: withKey({ LEAK_EXIT: '3' }) }));
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'agent_error' });
      const data = failedEvent().data as { message: string; stderr_tail: string };
      expect(data.stderr_tail).toContain('request failed for key=***');
      expect(logs.lines.join('')).toContain('using key ***');
      for (const text of [cp.bodies.join('\n'), logs.lines.join(''), JSON.stringify(result)]) expect(text).not.toContain(KEY);
    });

    it('written into the change: nothing is pushed, and the failure names the variable and the file, never the value', async () => {
      const result = await runWorker(deps('leaks-key.sh', { agentEnv: withKey({ LEAK_INTO_FILE: '1' }) }));
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'other' });
      expect(result.message).toBe('The change contains the value of ANTHROPIC_API_KEY in docs/settings.md; nothing was pushed.');
      expect(failedEvent().data).toMatchObject({ error_kind: 'secret_in_change', files: ['docs/settings.md'], files_total: 1, secrets: ['the value of ANTHROPIC_API_KEY'] });
      expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to check the change (secret in change)', error_kind: 'secret_in_change' });
      expect(pushedBranches()).toBe('');
      for (const text of [cp.bodies.join('\n'), logs.lines.join(''), JSON.stringify(result)]) expect(text).not.toContain(KEY);
    });

    it('LEVIATHAN_REDACTED_VARS replaces the default names', async () => {
      const creds = 'hunter2-but-longer';
      const a = deps('leaks-key.sh', { agentEnv: withKey({ LEAK_VAR: 'MY_LLM_CREDS', MY_LLM_CREDS: creds, LEAK_INTO_FILE: '1' }), redactedVars: ['my_llm_*'] });
      const result = await runWorker(a);
      expect(result.message).toBe('The change contains the value of MY_LLM_CREDS in docs/settings.md; nothing was pushed.');
      expect(logs.lines.join('')).not.toContain(creds);
      // Not named any more, so not masked: the list replaces the defaults, as Buildkite's redacted-vars does.
      expect(a.redactor!.known.map((k) => k.label)).not.toContain('the value of ANTHROPIC_API_KEY');
    });

    it('a change that mentions the variable by name, or holds a short value named like a key, goes through', async () => {
      githubAcceptsPullRequest();
      const result = await runWorker(
        deps('', { agentCommand: `printf 'Set ANTHROPIC_API_KEY first; sort by created_at.\\n' >> docs/guide.md`, agentEnv: withKey({ SORT_KEY: 'created_at' }) }),
      );
      expect(result).toMatchObject({ outcome: 'succeeded' });
    });
  });

  it('origin rejects the push: push_rejected', async () => {
    const hook = path.join(origin.bare, 'hooks', 'pre-receive');
    await import('node:fs/promises').then((fs) => fs.writeFile(hook, '#!/bin/sh\necho "protected" >&2\nexit 1\n', { mode: 0o755 }));
    const result = await runWorker(deps('good-change.sh'));
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'push_rejected' });
    expect(failedEvent().data).toMatchObject({ failure_type: 'push_rejected', step: 'push branch', message: expect.stringContaining('failed to push some refs') });
    expect(failedEvent().data).not.toHaveProperty('error_kind');
    expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to push branch (push rejected)', step: 'push branch', failure_type: 'push_rejected' });
    expect(pushedBranches()).toBe('');
    await expectNoSecrets(result);
  });

  it('control plane down, then back: every event delivered exactly once, in order', async () => {
    const port = cp.port;
    await cp.stop();
    githubAcceptsPullRequest();
    const d = deps('good-change.sh');
    const logger = pino({ level: 'debug' }, logs.stream);
    let sleeps = 0;
    d.controlPlane = new HttpEventSink({
      url: `http://127.0.0.1:${port}`,
      token: API_TOKEN,
      spoolDir: path.join(origin.workDir, 'spool'),
      attemptId: 'att-1',
      logger,
      redactor: d.redactor!,
      // The control plane comes back during the second back-off of the final flush, first answering 503.
      sleep: async () => {
        sleeps++;
        if (sleeps === 2) {
          await cp.start(port);
          cp.failNext = 1;
        }
      },
    });
    const result = await runWorker(d);
    expect(result).toMatchObject({ outcome: 'succeeded', pr_number: 7 });
    expect(cp.types()).toEqual(['attempt.started', 'pr.created', 'attempt.succeeded']);
    expect(new Set(cp.stored.map((e) => e.id)).size).toBe(cp.stored.length);
    expect(cp.stored).toHaveLength(3 + 7);
    expect(existsSync(path.join(origin.workDir, 'spool', 'att-1.ndjson'))).toBe(false);
    expect(logs.lines.join('')).toContain('Control plane unreachable, events buffered');
    await expectNoSecrets(result);
  });

  it('control plane refusing the events (wrong API token): the run fails rather than pretend it reported', async () => {
    githubAcceptsPullRequest();
    const d = deps('good-change.sh');
    d.controlPlane = new HttpEventSink({
      url: cp.url,
      token: 'not-the-api-token',
      spoolDir: path.join(origin.workDir, 'spool'),
      attemptId: 'att-1',
      logger: pino({ level: 'debug' }, logs.stream),
      redactor: d.redactor!,
    });
    const result = await runWorker(d);
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'control_plane_unreachable', pr_number: 7 });
    expect(result.message).toContain('10 event(s) were refused by the control plane');
    expect(cp.stored).toEqual([]);
  });

  it('control plane never back: control_plane_unreachable, events left in the spool', async () => {
    await cp.stop();
    githubAcceptsPullRequest();
    const d = deps('good-change.sh', { timings: { flushTimeoutMs: 200 } });
    const result = await runWorker(d);
    expect(result).toMatchObject({ outcome: 'failed', failure_type: 'control_plane_unreachable', pr_number: 7 });
    const spool = await readFile(path.join(origin.workDir, 'spool', 'att-1.ndjson'), 'utf8');
    expect(spool.trim().split('\n').map((l) => JSON.parse(l).event.type).filter((t: string) => t !== 'attempt.step')).toEqual(['attempt.started', 'pr.created', 'attempt.succeeded']);
    expect(spool).not.toContain(FAKE_TOKEN);
  });

  describe('over smart HTTP, as with GitHub', () => {
    let server: FakeGitHttpServer | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('sends the token only as an HTTP header: not in the remote URL, .git/config, argv or logs', async () => {
      server = await new FakeGitHttpServer(origin.root, FAKE_TOKEN).start();
      githubAcceptsPullRequest();
      // A git wrapper first on the worker's PATH records every argv git receives.
      const bin = path.join(origin.root, 'bin');
      await mkdir(bin);
      const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
      await writeFile(
        path.join(bin, 'git'),
        `#!/bin/sh\nprintf '%s\\n' "$*" >> "${origin.outDir}/git-argv.txt"\nexec ${realGit} "$@"\n`,
        { mode: 0o755 },
      );
      const result = await runWorker(
        deps('good-change.sh', { remoteUrl: server.url('origin.git'), gitEnv: { PATH: `${bin}:${process.env.PATH}`, HOME: origin.root } }),
      );
      const argv = await readFile(path.join(origin.outDir, 'git-argv.txt'), 'utf8');
      expect(argv).toContain('clone --depth 1 --branch main');
      expect(argv).toContain('push --no-verify --force');
      expect(argv).not.toContain(FAKE_TOKEN);
      expect(argv).not.toContain(Buffer.from(`x-access-token:${FAKE_TOKEN}`).toString('base64'));
      expect(result).toMatchObject({ outcome: 'succeeded', pr_number: 7 });
      expect(pushedBranches()).toBe('leviathan/docs-guide');
      const basic = `Basic ${Buffer.from(`x-access-token:${FAKE_TOKEN}`).toString('base64')}`;
      expect(server.authHeaders.filter((h) => h === basic).length).toBeGreaterThan(1);
      const wsConfig = await readFile(path.join(origin.workDir, 'att-1', 'repo', '.git', 'config'), 'utf8');
      expect(wsConfig).toContain(`url = ${server.url('origin.git')}`);
      expect(wsConfig).not.toMatch(/extraheader|Authorization/i);
      await expectNoSecrets(result);
    });

    it("an agent that outlives the first token's 45 minutes: the push and the PR use a token refreshed from the control plane", async () => {
      const REFRESHED = 'ghs_REFRESHEDrefreshedREFRESHED012345678';
      server = await new FakeGitHttpServer(origin.root, { fetch: FAKE_TOKEN, push: REFRESHED }).start();
      const clock = { now: Date.now() };
      cp.tokenAnswers.push({ status: 200, body: { token: REFRESHED, expires_at: new Date(clock.now + 110 * 60_000).toISOString() } });
      const pr = nock('https://api.github.com')
        .matchHeader('authorization', `token ${REFRESHED}`)
        .post('/repos/acme/widgets/pulls')
        .reply(201, { number: 8, html_url: 'https://github.com/acme/widgets/pull/8' })
        .post('/repos/acme/widgets/issues/8/labels')
        .reply(200, []);
      const refreshing = refreshingToken({
        initial: FAKE_TOKEN,
        refresher: new ControlPlaneTokenRefresher({ url: cp.url, token: API_TOKEN, attemptId: 'att-1' }),
        now: () => clock.now,
      });
      // The clone takes the executor's token; then the agent works for 50 minutes.
      const credentials: Credentials = {
        token: async () => {
          const token = await refreshing.token();
          if (token === FAKE_TOKEN) clock.now += 50 * 60_000;
          return token;
        },
      };
      const result = await runWorker(
        deps('good-change.sh', { remoteUrl: server.url('origin.git'), credentials, github: new OctokitPullRequests({ credentials, retry: false, throttle: false }) }),
      );
      expect(result).toMatchObject({ outcome: 'succeeded', pr_number: 8 });
      expect(pr.isDone()).toBe(true);
      expect(cp.tokenRequests).toEqual(['att-1']);
      expect(pushedBranches()).toBe('leviathan/docs-guide');
      const basic = (t: string) => `Basic ${Buffer.from(`x-access-token:${t}`).toString('base64')}`;
      expect(new Set(server.authHeaders.filter(Boolean))).toEqual(new Set([basic(FAKE_TOKEN), basic(REFRESHED)]));
      await expectNoSecrets(result);
      const written = cp.bodies.join('\n') + logs.lines.join('') + JSON.stringify(result);
      expect(written).not.toContain(REFRESHED);
      expect(written).not.toContain(Buffer.from(`x-access-token:${REFRESHED}`).toString('base64'));
    });

    it('a push that never reaches the remote (network down): other, a workspace error, not push_rejected', async () => {
      server = await new FakeGitHttpServer(origin.root, FAKE_TOKEN).start();
      const remote = server;
      let tokens = 0;
      // The second token is the push's: the remote goes away just before it.
      const credentials: Credentials = {
        token: async () => {
          if (++tokens === 2) await remote.stop();
          return FAKE_TOKEN;
        },
      };
      const result = await runWorker(deps('good-change.sh', { remoteUrl: remote.url('origin.git'), credentials }));
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'other' });
      expect(failedEvent().data).toMatchObject({
        failure_type: 'other',
        error_kind: 'workspace_error',
        step: 'push branch',
        message: expect.stringMatching(/^git push failed .*Failed to connect/s),
      });
      expect(failureLine()).toMatchObject({ msg: 'Worker: Failed to push branch (workspace error)', step: 'push branch', failure_type: 'other', error_kind: 'workspace_error' });
      expect(pushedBranches()).toBe('');
      await expectNoSecrets(result);
    });

    it('a token the server refuses: auth_error, and the error text carries no token', async () => {
      server = await new FakeGitHttpServer(origin.root, 'ghs_SomeOtherTokenTheServerWants000000000').start();
      const result = await runWorker(deps('good-change.sh', { remoteUrl: server.url('origin.git') }));
      expect(result).toMatchObject({ outcome: 'failed', failure_type: 'auth_error' });
      expect(failedEvent().data).toMatchObject({ failure_type: 'auth_error' });
      expect(existsSync(path.join(origin.outDir, 'stdin.json'))).toBe(false);
      // As the operator document has it, one error line: `[ERROR] Worker: Failed to clone repository (auth error)`.
      const failure = failureLine();
      expect(failure).toMatchObject({
        level: 50,
        msg: 'Worker: Failed to clone repository (auth error)',
        step: 'clone repository',
        failure_type: 'auth_error',
        attempt_id: 'att-1',
        task_id: 'docs-guide',
      });
      expect(workerLines().map((l) => l.msg)).toEqual(['Worker: Cloning repository acme/widgets', 'Worker: Failed to clone repository (auth error)']);
      await expectNoSecrets(result);
    });
  });
});
