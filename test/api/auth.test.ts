import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureGeneratedToken, requireScope, TokenAuth } from '../../src/api/auth.ts';
import { mintWorkerToken } from '../../src/api/worker-token.ts';

describe('TokenAuth', () => {
  const auth = new TokenAuth('alpha-secret, read:beta-secret');

  it.each([
    ['Bearer alpha-secret', true, true],
    ['bearer alpha-secret', true, true],
    ['Bearer beta-secret', true, false],
    ['Bearer read:beta-secret', false, false],
    ['Bearer nope', false, false],
    ['Basic alpha-secret', false, false],
    ['', false, false],
  ])('%j → known %s, write %s', (header, known, write) => {
    const p = auth.authenticate(header || undefined);
    expect(p !== null).toBe(known);
    if (p) expect(p.canWrite).toBe(write);
  });

  it('names principals by a digest, never by the token itself', () => {
    const p = auth.authenticate('Bearer alpha-secret')!;
    expect(p.actor).toMatch(/^token:[0-9a-f]{8}$/);
    expect(p.actor).not.toContain('alpha');
  });

  it("accepts a worker's attempt token signed by a write token (not by a read token), as a worker of that attempt only", () => {
    const assignment = { target: 'acme/widgets', attempt_id: 'att-9', task: { id: 't1' }, timeout_seconds: 60 };
    const p = auth.authenticate(`Bearer ${mintWorkerToken('alpha-secret', assignment, Date.now())}`)!;
    expect(p).toMatchObject({ actor: 'worker:att-9', worker: { target: 'acme/widgets', attempt_id: 'att-9' } });
    expect(auth.authenticate(`Bearer ${mintWorkerToken('beta-secret', assignment, Date.now())}`)).toBeNull();
    // Every other route asks requireScope, which a worker never passes.
    expect(() => requireScope(p, 'read')).toThrow(/worker token may only post its own attempt/);
    expect(() => requireScope(p, 'write')).toThrow(/worker token may only post its own attempt/);
  });

  it('refuses an empty token list', () => {
    expect(() => new TokenAuth(' , ')).toThrow(/no token/);
  });

  it('reads the read: prefix in any case, and refuses one with no token after it', () => {
    const upper = new TokenAuth('w-secret, READ:r-secret');
    expect(upper.authenticate('Bearer r-secret')?.canWrite).toBe(false);
    expect(upper.authenticate('Bearer READ:r-secret')).toBeNull();
    expect(() => new TokenAuth('w-secret, read:')).toThrow(/"read:" entry without a token/);
  });
});

describe('ensureGeneratedToken', () => {
  it('creates a 0600 token once and reuses it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-token-'));
    try {
      const first = await ensureGeneratedToken(dir);
      expect(first.created).toBe(true);
      expect((await stat(first.path)).mode & 0o777).toBe(0o600);
      const second = await ensureGeneratedToken(dir);
      expect(second).toMatchObject({ created: false, token: first.token });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replaces an empty token file (a crash between create and write) and puts a reused one back to 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-token-'));
    try {
      await writeFile(join(dir, 'api-token'), '');
      const made = await ensureGeneratedToken(dir);
      expect(made.created).toBe(true);
      expect(made.token).toMatch(/^lvt_/);
      expect(await readdir(dir)).toEqual(['api-token']);
      await chmod(made.path, 0o644);
      expect(await ensureGeneratedToken(dir)).toMatchObject({ created: false, token: made.token });
      expect((await stat(made.path)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives two starts at once on a fresh data dir one token, created by one of them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lv-token-'));
    try {
      const both = await Promise.all([ensureGeneratedToken(dir), ensureGeneratedToken(dir), ensureGeneratedToken(dir)]);
      const onDisk = (await readFile(join(dir, 'api-token'), 'utf8')).trim();
      expect(both.map((b) => b.token)).toEqual([onDisk, onDisk, onDisk]);
      expect(both.filter((b) => b.created)).toHaveLength(1);
      expect(await readdir(dir)).toEqual(['api-token']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
