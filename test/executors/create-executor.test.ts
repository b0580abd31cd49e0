import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../src/contract/policy.ts';
import { envSchema } from '../../src/env.ts';
import { createExecutor, gitHubTokenSource, localWorkerEnv } from '../../src/executors/create-executor.ts';
import type { WorkerAssignment } from '../../src/executors/executor.ts';
import { GitHubMock } from '../helpers/github-mock.ts';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const DEV_TOKEN = 'ghp_developmentToken0123456789abcdef';

function assignment(installation_id: number | null): WorkerAssignment {
  return {
    attempt_id: 'att-1',
    target: 'acme/widgets',
    installation_id,
    default_branch: 'main',
    task: { id: 'docs-a', title: 'Docs', scope: 'docs', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'], acceptance_criteria: [], estimated_size: 'small', line: 1 },
    policy: { ...DEFAULT_POLICY, sources: {} },
    timeout_seconds: 30,
  };
}

let gh: GitHubMock;
afterEach(async () => {
  await gh.done();
});

describe('gitHubTokenSource', () => {
  it('with the App: a token minted per attempt for the target repository, even when a development token is set', async () => {
    gh = new GitHubMock()
      .on('POST', '/app/installations/7/access_tokens', 201, { token: 'ghs_first0123456789abcdefghij', expires_at: '2030-01-01T00:00:00Z' })
      .on('POST', '/app/installations/7/access_tokens', 201, { token: 'ghs_second0123456789abcdefghi', expires_at: '2030-01-01T00:00:00Z' });
    const source = (await gitHubTokenSource(envSchema.parse({ APP_ID: '123', PRIVATE_KEY: privateKey, GITHUB_TOKEN: DEV_TOKEN })))!;
    // With GitHub's expiry, which the worker gets as GITHUB_TOKEN_EXPIRES_AT.
    expect(await source(assignment(7))).toEqual({ token: 'ghs_first0123456789abcdefghij', expires_at: '2030-01-01T00:00:00Z' });
    expect(await source(assignment(7))).toEqual({ token: 'ghs_second0123456789abcdefghi', expires_at: '2030-01-01T00:00:00Z' });
  });

  it('with the App, a target of no known installation fails the start, even with a development token set', async () => {
    gh = new GitHubMock();
    for (const extra of [{ GITHUB_TOKEN: DEV_TOKEN }, {}]) {
      const source = (await gitHubTokenSource(envSchema.parse({ APP_ID: '123', PRIVATE_KEY: privateKey, ...extra })))!;
      await expect(source(assignment(null))).rejects.toMatchObject({ code: 'github_auth_failed', message: expect.stringContaining('reinstall the App') });
    }
  });

  it('APP_ID without a readable key fails every start with the fix', async () => {
    gh = new GitHubMock();
    const source = (await gitHubTokenSource(envSchema.parse({ APP_ID: '123', PRIVATE_KEY_PATH: '/nonexistent/app.pem' })))!;
    await expect(source(assignment(7))).rejects.toMatchObject({ code: 'github_auth_failed', message: expect.stringContaining('PRIVATE_KEY') });
  });

  it('without the App: the development token as it is; with nothing: no source (workers fail auth_error)', async () => {
    gh = new GitHubMock();
    expect(await (await gitHubTokenSource(envSchema.parse({ GITHUB_TOKEN: DEV_TOKEN })))!(assignment(7))).toEqual({ token: DEV_TOKEN });
    expect(await gitHubTokenSource(envSchema.parse({}))).toBeUndefined();
  });
});

describe('localWorkerEnv', () => {
  it('carries no GitHub credential: not the App\'s, not the development token (those come per attempt)', () => {
    gh = new GitHubMock();
    const env = envSchema.parse({ APP_ID: '123', PRIVATE_KEY: privateKey, PRIVATE_KEY_PATH: '/keys/app.pem', GITHUB_TOKEN: DEV_TOKEN, WEBHOOK_SECRET: 'whsec', LEVIATHAN_AGENT_COMMAND: 'agent' });
    const out = localWorkerEnv(env, { controlPlaneUrl: 'http://127.0.0.1:8000', apiToken: 'operator-token', processEnv: { PATH: '/bin', HOME: '/home/x', PRIVATE_KEY: 'from-process-env' } });
    expect(Object.keys(out).sort()).toEqual(['GITHUB_API_URL', 'HOME', 'LEVIATHAN_AGENT_COMMAND', 'LEVIATHAN_CONTROL_PLANE_URL', 'LOG_LEVEL', 'PATH']);
  });

  it('hands the agent what LEVIATHAN_AGENT_ENV names from this environment, and refuses to name Leviathan\'s own', () => {
    gh = new GitHubMock();
    const ctx = { controlPlaneUrl: 'http://127.0.0.1:8000', apiToken: 'operator-token', processEnv: { PATH: '/bin', ANTHROPIC_API_KEY: 'sk-ant-agent', OPENAI_API_KEY: 'sk-agent', OTHER: 'not named' } };
    const out = localWorkerEnv(envSchema.parse({ LEVIATHAN_AGENT_ENV: 'ANTHROPIC_API_KEY, OPENAI_API_KEY,UNSET_ONE' }), ctx);
    expect(out).toMatchObject({ ANTHROPIC_API_KEY: 'sk-ant-agent', OPENAI_API_KEY: 'sk-agent' });
    expect(out).not.toHaveProperty('OTHER');
    expect(out).not.toHaveProperty('UNSET_ONE');
    for (const name of ['PRIVATE_KEY', 'GITHUB_TOKEN', 'LEVIATHAN_API_TOKEN', 'LEVIATHAN_DATABASE_URL']) {
      expect(() => localWorkerEnv(envSchema.parse({ LEVIATHAN_AGENT_ENV: `ANTHROPIC_API_KEY,${name}` }), ctx)).toThrow(`LEVIATHAN_AGENT_ENV may not hand agents Leviathan's own variables: ${name}.`);
    }
    expect(envSchema.safeParse({ LEVIATHAN_AGENT_ENV: 'A KEY' }).success).toBe(false);
  });

  it('passes LEVIATHAN_REDACTED_VARS on when set, so the worker masks what the operator names', () => {
    gh = new GitHubMock();
    const ctx = { controlPlaneUrl: 'http://127.0.0.1:8000', apiToken: 'operator-token', processEnv: { PATH: '/bin' } };
    expect(localWorkerEnv(envSchema.parse({ LEVIATHAN_REDACTED_VARS: '*_KEY, *_TOKEN,MY_LLM_CREDS' }), ctx)).toMatchObject({ LEVIATHAN_REDACTED_VARS: '*_KEY, *_TOKEN,MY_LLM_CREDS' });
    // Unset (or empty, as Kubernetes renders it): the worker's own defaults apply.
    expect(localWorkerEnv(envSchema.parse({}), ctx)).not.toHaveProperty('LEVIATHAN_REDACTED_VARS');
    expect(localWorkerEnv(envSchema.parse({ LEVIATHAN_REDACTED_VARS: '' }), ctx)).not.toHaveProperty('LEVIATHAN_REDACTED_VARS');
    for (const bad of ['A B', '$(x)', '*_KEY,', 'A;B', 'A-B']) {
      const parsed = envSchema.safeParse({ LEVIATHAN_REDACTED_VARS: bad });
      expect(parsed.success, bad).toBe(false);
      expect(parsed.error?.issues[0]?.message).toBe('must be variable-name globs separated by commas, e.g. *_KEY,MY_CREDS');
    }
  });
});

describe('createExecutor (local)', () => {
  it("warns that local workers can read the App's key unless they run as another uid", async () => {
    gh = new GitHubMock();
    const dir = await mkdtemp(join(tmpdir(), 'leviathan-create-executor-'));
    try {
      await chmod(dir, 0o711);
      const warnings: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (l: string) => void warnings.push((JSON.parse(l) as { msg: string }).msg) });
      const ctx = { controlPlaneUrl: 'http://127.0.0.1:1', apiToken: null, processEnv: {}, logger, localWorkerCommand: { file: process.execPath, args: ['-e', ''] } };
      const app = { APP_ID: '123', PRIVATE_KEY: privateKey, LEVIATHAN_DATA_DIR: dir };
      await createExecutor(envSchema.parse(app), ctx);
      expect(warnings).toEqual([expect.stringContaining("Local workers run as this process's user: an agent could read the GitHub App's key. Set LEVIATHAN_WORKER_UID")]);
      warnings.length = 0;
      // As root (CI) the worker user is taken, its home prepared at once, and there is nothing to warn about.
      if (process.getuid?.() !== 0) throw new Error('this test needs root to switch workers to uid 65534');
      await createExecutor(envSchema.parse({ ...app, LEVIATHAN_WORKER_UID: '65534' }), ctx);
      expect(warnings).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
