import { describe, expect, it } from 'vitest';
import { DEFAULT_AUTHOR, GitCommandError, GitRunner } from '../../src/worker/git.ts';
import { Redactor } from '../../src/worker/redact.ts';
import { FAKE_TOKEN } from './harness.ts';

function runner(remoteUrl: string) {
  return new GitRunner({
    baseEnv: { PATH: '/usr/bin', HOME: '/tmp', GIT_DIR: '/elsewhere', GIT_CONFIG_COUNT: '9' },
    remoteUrl,
    author: DEFAULT_AUTHOR,
    redactor: new Redactor(),
  });
}

describe('GitRunner.env', () => {
  it('passes the token only as a header config scoped to the https remote', () => {
    const g = runner('https://github.com/acme/widgets.git');
    g.setToken(FAKE_TOKEN);
    const env = g.env();
    const basic = Buffer.from(`x-access-token:${FAKE_TOKEN}`).toString('base64');
    const pairs = Array.from({ length: Number(env.GIT_CONFIG_COUNT) }, (_, i) => [env[`GIT_CONFIG_KEY_${i}`], env[`GIT_CONFIG_VALUE_${i}`]]);
    expect(pairs).toContainEqual(['http.https://github.com/acme/widgets.git.extraheader', `Authorization: Basic ${basic}`]);
    expect(pairs).toContainEqual(['core.hooksPath', '/dev/null']);
    expect(Object.values(env).filter((v) => v.includes(FAKE_TOKEN))).toEqual([]);
    expect(env).toMatchObject({ GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Leviathan' });
    // Inherited git variables are dropped: they could point git at another repository.
    expect(env.GIT_DIR).toBeUndefined();
  });

  it('sends no header to a local remote', () => {
    const g = runner('file:///tmp/origin.git');
    g.setToken(FAKE_TOKEN);
    expect(JSON.stringify(g.env())).not.toContain('extraheader');
  });
});

describe('GitCommandError', () => {
  it('classifies authentication failures and rejected pushes', () => {
    expect(new GitCommandError('clone', 128, "fatal: Authentication failed for 'https://github.com/o/r.git/'").isAuthFailure).toBe(true);
    expect(new GitCommandError('push', 128, 'remote: Permission to o/r.git denied to bot.\nfatal: unable to access: The requested URL returned error: 403').isAuthFailure).toBe(true);
    expect(new GitCommandError('push', 1, ' ! [remote rejected] HEAD -> leviathan/x (pre-receive hook declined)').isPushRejection).toBe(true);
    expect(new GitCommandError('clone', 128, 'fatal: repository not found').isAuthFailure).toBe(false);
  });
});

describe('GitRunner deadline', () => {
  it('kills a git process still running at the attempt deadline', async () => {
    const { createServer } = await import('node:net');
    // Accepts connections and never answers: a hung remote.
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const g = new GitRunner({ baseEnv: { PATH: '/usr/bin', HOME: '/tmp' }, remoteUrl: `http://127.0.0.1:${port}/r.git`, author: DEFAULT_AUTHOR, redactor: new Redactor(), deadline: Date.now() + 500 });
      const started = Date.now();
      const err = await g.run(['ls-remote', `http://127.0.0.1:${port}/r.git`], '/tmp').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitCommandError);
      expect((err as GitCommandError).timedOut).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
      // Past the deadline nothing starts at all.
      await expect(g.run(['--version'], '/tmp')).rejects.toMatchObject({ timedOut: true });
    } finally {
      server.close();
    }
  });
});
