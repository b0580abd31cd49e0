import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  CredentialsError,
  refreshingToken,
  staticToken,
  type TokenRefresh,
  type TokenRefresher,
} from '../../src/worker/credentials.ts';
import { captureLogs } from './harness.ts';

const MIN = 60_000;
const START = Date.parse('2026-11-28T10:00:00Z');
const INITIAL = 'ghs_initialINITIALinitial0123456789abcdef';
const freshToken = (n: number) => `ghs_fresh${n}FRESHfresh0123456789abcdef00`;
const fresh = (n: number, expiresAt: number): TokenRefresh => ({ kind: 'refreshed', token: freshToken(n), expires_at: new Date(expiresAt).toISOString() });

/** A refresher answering from a queue (an Error is thrown), counting the calls. */
function fakeRefresher(...answers: Array<TokenRefresh | Error>): TokenRefresher & { calls: number } {
  const r = {
    calls: 0,
    async refresh(): Promise<TokenRefresh> {
      r.calls++;
      const next = answers.shift();
      if (!next) throw new Error('unexpected refresh');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return r;
}

/** refreshingToken on a fake clock starting at START. */
function setup(...answers: Array<TokenRefresh | Error>) {
  return setupWith({}, ...answers);
}

function setupWith(opts: { initialExpiresAt?: string }, ...answers: Array<TokenRefresh | Error>) {
  const clock = { now: START };
  const refresher = fakeRefresher(...answers);
  const learnt: string[] = [];
  const logs = captureLogs();
  const credentials = refreshingToken({
    initial: INITIAL,
    ...opts,
    refresher,
    now: () => clock.now,
    logger: pino({ level: 'debug' }, logs.stream),
    onToken: (t) => learnt.push(t),
  });
  return { clock, refresher, credentials, learnt, logs };
}

describe('staticToken', () => {
  it('returns the token it was given (the executor-minted repository token, or a development token)', async () => {
    expect(await staticToken('t0ken-value').token()).toBe('t0ken-value');
  });
});

describe('refreshingToken', () => {
  it('uses GITHUB_TOKEN for the first 45 minutes without asking the control plane', async () => {
    const { clock, refresher, credentials } = setup();
    expect(await credentials.token()).toBe(INITIAL);
    clock.now = START + 45 * MIN - 1;
    expect(await credentials.token()).toBe(INITIAL);
    expect(refresher.calls).toBe(0);
  });

  it('with the expiry the executor gave (GITHUB_TOKEN_EXPIRES_AT) keeps GITHUB_TOKEN until 10 minutes before it, however late the worker started', async () => {
    // A pod that waited 40 minutes for its node: the token has 20 minutes left when the worker starts.
    const expiry = START + 20 * MIN;
    const { clock, refresher, credentials } = setupWith({ initialExpiresAt: new Date(expiry).toISOString() }, fresh(1, expiry + 60 * MIN));
    clock.now = expiry - 10 * MIN - 1;
    expect(await credentials.token()).toBe(INITIAL);
    expect(refresher.calls).toBe(0);
    clock.now = expiry - 10 * MIN;
    expect(await credentials.token()).toBe(freshToken(1));
    expect(refresher.calls).toBe(1);
  });

  it('past 45 minutes asks the control plane once, then uses the fresh token until 10 minutes before it expires', async () => {
    const firstExpiry = START + 105 * MIN;
    const { clock, refresher, credentials, learnt, logs } = setup(fresh(1, firstExpiry), fresh(2, firstExpiry + 60 * MIN));
    clock.now = START + 45 * MIN;
    expect(await credentials.token()).toBe(freshToken(1));
    clock.now = firstExpiry - 10 * MIN - 1;
    expect(await credentials.token()).toBe(freshToken(1));
    expect(refresher.calls).toBe(1);
    clock.now = firstExpiry - 10 * MIN;
    expect(await credentials.token()).toBe(freshToken(2));
    expect(refresher.calls).toBe(2);
    // Every new token is handed to the redactor before use; none reaches the log.
    expect(learnt).toEqual([freshToken(1), freshToken(2)]);
    expect(logs.lines.join('')).toContain('Worker: GitHub token refreshed');
    for (const t of [INITIAL, ...learnt]) expect(logs.lines.join('')).not.toContain(t);
  });

  it('concurrent callers share one refresh', async () => {
    const { clock, refresher, credentials } = setup(fresh(1, START + 110 * MIN));
    clock.now = START + 50 * MIN;
    const tokens = await Promise.all([credentials.token(), credentials.token(), credentials.token()]);
    expect(new Set(tokens)).toEqual(new Set([freshToken(1)]));
    expect(refresher.calls).toBe(1);
  });

  it('a failed refresh while the held token has 5+ minutes left: keeps using it and tries again at the next use', async () => {
    const { clock, refresher, credentials, logs } = setup(new CredentialsError('control plane down'), fresh(1, START + 115 * MIN));
    clock.now = START + 50 * MIN;
    expect(await credentials.token()).toBe(INITIAL);
    expect(logs.lines.join('')).toContain('Could not refresh the GitHub token; using the current one meanwhile');
    clock.now = START + 54 * MIN;
    expect(await credentials.token()).toBe(freshToken(1));
    expect(refresher.calls).toBe(2);
  });

  it('a failed refresh once the held token is about to expire: a CredentialsError (the worker reports auth_error)', async () => {
    const message = 'Could not refresh the GitHub token: POST http://cp/v1/attempts/att-1/github-token answered HTTP 502 (github_auth_failed: no)';
    const { clock, credentials } = setup(new CredentialsError(message), new Error('socket hang up'));
    clock.now = START + 55 * MIN + 1;
    const err = await credentials.token().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toBe(message);
    // Not a CredentialsError from the port: wrapped into one, the message kept.
    const again = await credentials.token().catch((e: unknown) => e);
    expect(again).toBeInstanceOf(CredentialsError);
    expect((again as Error).message).toBe('socket hang up');
  });

  it('the control plane mints no tokens (no App): keeps GITHUB_TOKEN and stops asking', async () => {
    const { clock, refresher, credentials, logs } = setup({ kind: 'unavailable', code: 'not_configured', message: 'no App' });
    clock.now = START + 46 * MIN;
    expect(await credentials.token()).toBe(INITIAL);
    clock.now = START + 300 * MIN;
    expect(await credentials.token()).toBe(INITIAL);
    expect(refresher.calls).toBe(1);
    expect(logs.lines.join('')).toContain('not_configured');
  });

  it('no token any more after the control plane has handed one out (restarted without the App): a failure like any other', async () => {
    const firstExpiry = START + 105 * MIN;
    const gone: TokenRefresh = { kind: 'unavailable', code: 'not_configured', message: 'no GitHub App credentials' };
    const { clock, refresher, credentials } = setup(fresh(1, firstExpiry), gone, gone);
    clock.now = START + 45 * MIN;
    expect(await credentials.token()).toBe(freshToken(1));
    clock.now = firstExpiry - 10 * MIN;
    expect(await credentials.token()).toBe(freshToken(1));
    clock.now = firstExpiry - 4 * MIN;
    await expect(credentials.token()).rejects.toThrow(
      new CredentialsError('Could not refresh the GitHub token: the control plane answered not_configured: no GitHub App credentials'),
    );
    expect(refresher.calls).toBe(3);
  });
});
