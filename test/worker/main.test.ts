import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/env.ts';
import { repositoryUrl, workerMain, type WorkerMainOptions } from '../../src/worker/main.ts';
import { AGENTS, API_TOKEN, assignment, captureLogs, FakeControlPlane, FAKE_TOKEN, git, makeOrigin, useWorkerFixture } from './harness.ts';

type Origin = Awaited<ReturnType<typeof makeOrigin>>;
let origin: Origin;
let cp: FakeControlPlane;
let logs: ReturnType<typeof captureLogs>;

useWorkerFixture((f) => ({ origin, cp, logs } = f));

function main(agent: string, vars: Record<string, string> = {}, taskJson = JSON.stringify(assignment()), extra: Partial<WorkerMainOptions> = {}) {
  const processEnv: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: origin.root,
    LEVIATHAN_TEST_OUT: origin.outDir,
    GITHUB_TOKEN: FAKE_TOKEN,
    LEVIATHAN_API_TOKEN: `read:reader-token-000,${API_TOKEN}`,
    LEVIATHAN_CONTROL_PLANE_URL: cp.url,
    LEVIATHAN_AGENT_COMMAND: path.join(AGENTS, agent),
    LOG_LEVEL: 'debug',
    ...vars,
  };
  return workerMain(loadEnv(processEnv as NodeJS.ProcessEnv), {
    processEnv,
    taskJson,
    // LEVIATHAN_WORK_DIR, when a test sets it, is the worker's own choice.
    ...(vars.LEVIATHAN_WORK_DIR ? {} : { workDir: origin.workDir }),
    remoteUrl: origin.remoteUrl,
    logStream: logs.stream,
    githubRetry: false,
    eventRetry: { baseDelayMs: 5, maxDelayMs: 10 },
    ...extra,
  });
}

describe('workerMain', () => {
  it('exit 0 after a good change, with GITHUB_TOKEN used for the API and hidden from agent and logs', async () => {
    expectPullRequestWith(FAKE_TOKEN);
    expect(await main('good-change.sh')).toBe(0);
    expect(nock.isDone()).toBe(true);
    expect(cp.types()).toEqual(['attempt.started', 'pr.created', 'attempt.succeeded']);
    // The write token, not the read-only one, authenticates the events.
    expect(new Set(cp.authHeaders)).toEqual(new Set([`Bearer ${API_TOKEN}`]));
    expect(git(origin.bare, 'branch', '--list', 'leviathan/*').trim()).toBe('leviathan/docs-guide');
    const agentEnv = await readFile(path.join(origin.outDir, 'agent-env.txt'), 'utf8');
    expect(agentEnv).not.toMatch(/^(GITHUB_TOKEN|LEVIATHAN_API_TOKEN)=/m);
    const written = logs.lines.join('') + cp.bodies.join('') + agentEnv;
    for (const secret of [FAKE_TOKEN, API_TOKEN, 'reader-token-000']) expect(written).not.toContain(secret);
    expect(logs.lines.join('')).toContain('Worker: Finished');
  });

  /** GitHub expects the PR (and its label) to be opened with exactly this token. */
  const expectPullRequestWith = (token: string) =>
    nock('https://api.github.com')
      .matchHeader('authorization', `token ${token}`)
      .post('/repos/acme/widgets/pulls')
      .reply(201, { number: 9, html_url: 'https://github.com/acme/widgets/pull/9' })
      .post('/repos/acme/widgets/issues/9/labels')
      .reply(200, []);

  describe('with an attempt token (as every executor starts workers)', () => {
    const MIN = 60_000;
    const ATTEMPT_TOKEN = 'lvw_eyJhdHRlbXB0X2lkIjoiYXR0LTEifQ.c2lnbmF0dXJlLW9mLWF0dC0x';
    const REFRESHED = 'ghs_mainREFRESHEDrefreshed0123456789abcd';
    /** The worker's clock: 50 minutes on once the agent has run (it wrote stdin.json). */
    const start = Date.now();
    const clock = () => start + (existsSync(path.join(origin.outDir, 'stdin.json')) ? 50 * MIN : 0);

    it('an agent past the first 45 minutes: asks the control plane for a fresh GitHub token and opens the PR with it', async () => {
      cp.tokens.add(ATTEMPT_TOKEN);
      cp.tokenAnswers.push({ status: 200, body: { token: REFRESHED, expires_at: new Date(start + 110 * MIN).toISOString() } });
      expectPullRequestWith(REFRESHED);
      expect(await main('good-change.sh', { LEVIATHAN_API_TOKEN: ATTEMPT_TOKEN }, undefined, { tokenRefresh: { now: clock } })).toBe(0);
      expect(cp.tokenRequests).toEqual(['att-1']);
      expect(new Set(cp.authHeaders)).toEqual(new Set([`Bearer ${ATTEMPT_TOKEN}`]));
      expect(logs.lines.join('')).toContain('Worker: GitHub token refreshed');
      const written = logs.lines.join('') + cp.bodies.join('');
      for (const secret of [FAKE_TOKEN, REFRESHED, ATTEMPT_TOKEN]) expect(written).not.toContain(secret);
    });

    it('a token whose expiry the executor gave (GITHUB_TOKEN_EXPIRES_AT) is renewed 10 minutes before it, not 45 minutes after the start', async () => {
      cp.tokens.add(ATTEMPT_TOKEN);
      cp.tokenAnswers.push({ status: 200, body: { token: REFRESHED, expires_at: new Date(start + 110 * MIN).toISOString() } });
      expectPullRequestWith(REFRESHED);
      // Minted long before the worker started (a pod that waited for its node): 25 minutes left at
      // the start, 5 at the push 20 minutes later, well before the 45 minutes assumed without an expiry.
      const expires = new Date(start + 25 * MIN).toISOString();
      const now = () => start + (existsSync(path.join(origin.outDir, 'stdin.json')) ? 20 * MIN : 0);
      expect(await main('good-change.sh', { LEVIATHAN_API_TOKEN: ATTEMPT_TOKEN, GITHUB_TOKEN_EXPIRES_AT: expires }, undefined, { tokenRefresh: { now } })).toBe(0);
      expect(cp.tokenRequests).toEqual(['att-1']);
    });

    it('a control plane without the GitHub App (501 not_configured): keeps the development GITHUB_TOKEN', async () => {
      cp.tokens.add(ATTEMPT_TOKEN);
      cp.tokenAnswers.push({ status: 501, body: { error: { code: 'not_configured', message: 'no App here' } } });
      expectPullRequestWith(FAKE_TOKEN);
      expect(await main('good-change.sh', { LEVIATHAN_API_TOKEN: ATTEMPT_TOKEN }, undefined, { tokenRefresh: { now: clock } })).toBe(0);
      expect(cp.tokenRequests).toEqual(['att-1']);
    });
  });

  it('without an attempt token (development): GITHUB_TOKEN throughout, the control plane never asked for one', async () => {
    expectPullRequestWith(FAKE_TOKEN);
    expect(await main('good-change.sh', {}, undefined, { tokenRefresh: { now: () => Date.now() + 5 * 60 * 60_000 } })).toBe(0);
    expect(cp.tokenRequests).toEqual([]);
  });

  it('exit 1 and an attempt.failed event when the attempt fails', async () => {
    expect(await main('no-change.sh')).toBe(1);
    expect(cp.stored.at(-1)?.data).toMatchObject({ failure_type: 'no_changes' });
  });

  it('auth_error when there are no GitHub credentials at all', async () => {
    expect(await main('good-change.sh', { GITHUB_TOKEN: '' })).toBe(1);
    expect(cp.stored.at(-1)?.data).toMatchObject({ failure_type: 'auth_error' });
    expect(String(cp.stored.at(-1)?.data.message)).toContain('set APP_ID and PRIVATE_KEY');
  });

  it('never mints a token of its own: given only the App credentials, it fails auth_error without calling GitHub', async () => {
    // The worker it replaced would have minted an installation token from these ("Could not mint …").
    expect(await main('good-change.sh', { GITHUB_TOKEN: '', APP_ID: '123', PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----' })).toBe(1);
    expect(cp.stored.at(-1)?.data).toMatchObject({ failure_type: 'auth_error', message: expect.stringContaining('No GitHub token for the worker') });
  });

  it('agent_error when no agent command is configured', async () => {
    expect(await main('good-change.sh', { LEVIATHAN_AGENT_COMMAND: '' })).toBe(1);
    expect(cp.stored.at(-1)?.data).toMatchObject({ failure_type: 'agent_error', message: 'No agent configured: set LEVIATHAN_AGENT_COMMAND' });
  });

  it('exit 1 without events when the assignment is invalid', async () => {
    expect(await main('good-change.sh', {}, JSON.stringify({ ...assignment(), target: 'not a repo' }))).toBe(1);
    expect(cp.bodies).toEqual([]);
    expect(logs.lines.join('')).toContain('Worker: Failed to read assignment (invalid assignment)');
    expect(logs.lines.join('')).toContain('target');
  });

  it("masks the agent's credentials named by LEVIATHAN_REDACTED_VARS in every log line, and pushes none of them", async () => {
    const creds = 'my-llm-creds-0123456789';
    expect(await main('leaks-key.sh', { LEAK_VAR: 'MY_LLM_CREDS', MY_LLM_CREDS: creds, LEAK_INTO_FILE: '1', LEVIATHAN_REDACTED_VARS: 'MY_LLM_*' })).toBe(1);
    expect(cp.stored.find((e) => e.type === 'attempt.failed')?.data).toMatchObject({ failure_type: 'other', error_kind: 'secret_in_change' });
    expect(logs.lines.join('')).toContain('using key ***');
    expect(logs.lines.join('') + cp.bodies.join('')).not.toContain(creds);
    expect(git(origin.bare, 'branch', '--list', 'leviathan/*').trim()).toBe('');
  });

  it('clones under LEVIATHAN_WORK_DIR when set (the Job mounts its workspace volume there)', async () => {
    expectPullRequestWith(FAKE_TOKEN);
    const workDir = path.join(origin.root, 'mounted-workspace');
    expect(await main('good-change.sh', { LEVIATHAN_WORK_DIR: workDir })).toBe(0);
    expect((await readFile(path.join(origin.outDir, 'cwd.txt'), 'utf8')).startsWith(`${workDir}/`)).toBe(true);
  });

  it('caps its log: past logMaxBytes one line says it was truncated, and nothing follows', async () => {
    const flood = `i=0; while [ $i -lt 3000 ]; do echo "agent output line $i"; i=$((i+1)); done; exit 1`;
    expect(await main('', { LEVIATHAN_AGENT_COMMAND: flood }, undefined, { logMaxBytes: 64 * 1024 })).toBe(1);
    const text = logs.lines.join('');
    expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024 + 1024);
    expect(JSON.parse(logs.lines.at(-1)!)).toMatchObject({ level: 40, msg: expect.stringContaining('Worker: Log truncated at 65536 bytes') });
    // The outcome still reaches the control plane.
    expect(cp.stored.at(-1)?.data).toMatchObject({ failure_type: 'agent_error' });
  });

  it('reads the assignment from LEVIATHAN_TASK_FILE when set', async () => {
    const file = path.join(origin.root, 'assignment.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, JSON.stringify(assignment({ attempt_id: 'from-file' }))));
    expect(await main('no-change.sh', { LEVIATHAN_TASK_FILE: file }, '')).toBe(1);
    expect(cp.stored[0]?.id).toBe('from-file:started');
  });
});

describe('repositoryUrl', () => {
  it('maps the API URL to the clone URL, without credentials', () => {
    expect(repositoryUrl('https://api.github.com', 'acme/widgets')).toBe('https://github.com/acme/widgets.git');
    expect(repositoryUrl('https://ghe.example.com/api/v3', 'acme/widgets')).toBe('https://ghe.example.com/acme/widgets.git');
  });
});
