import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InstallationTokenError, InstallationTokenMinter, readPrivateKey } from '../../src/github/installation-token.ts';
import { GITHUB_API, GitHubMock } from '../helpers/github-mock.ts';

const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

/** The request body as the mock recorded it. */
const asJson = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

let gh: GitHubMock;
afterEach(async () => {
  await gh.done();
});

describe('InstallationTokenMinter', () => {
  const minter = () => new InstallationTokenMinter({ appId: '123', privateKey, baseUrl: GITHUB_API });

  it('asks, as the App, for a token to the one repository with only contents and pull_requests write', async () => {
    gh = new GitHubMock().on(
      'POST',
      '/app/installations/42/access_tokens',
      201,
      { token: 'ghs_minted0123456789abcdefABCDEF', expires_at: '2030-01-01T01:00:00Z', permissions: { contents: 'write', pull_requests: 'write', metadata: 'read' }, repository_selection: 'selected' },
      { reqheaders: { authorization: /^bearer ey/i }, effect: asJson },
    );
    const token = await minter().mint(42, 'acme/widgets');
    expect(token).toEqual({ token: 'ghs_minted0123456789abcdefABCDEF', expires_at: '2030-01-01T01:00:00Z' });
    expect(gh.effects.map((b) => JSON.parse(b) as unknown)).toEqual([
      { repositories: ['widgets'], permissions: { contents: 'write', pull_requests: 'write', metadata: 'read' } },
    ]);
  });

  it('mints a fresh token for every attempt, never one cached from an earlier one', async () => {
    const answer = (n: number) => ({ token: `ghs_attempt${n}token0123456789abcdef`, expires_at: '2030-01-01T01:00:00Z' });
    gh = new GitHubMock().on('POST', '/app/installations/42/access_tokens', 201, answer(1)).on('POST', '/app/installations/42/access_tokens', 201, answer(2));
    const m = minter();
    expect((await m.mint(42, 'acme/widgets')).token).toBe('ghs_attempt1token0123456789abcdef');
    expect((await m.mint(42, 'acme/widgets')).token).toBe('ghs_attempt2token0123456789abcdef');
  });

  it('fails with a github_auth_failed error that says what to check and carries no key material', async () => {
    gh = new GitHubMock().on('POST', '/app/installations/42/access_tokens', 422, { message: 'The permissions requested are not granted to this installation.' });
    const err = await minter().mint(42, 'acme/widgets').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstallationTokenError);
    expect(err).toMatchObject({ code: 'github_auth_failed' });
    expect((err as Error).message).toContain('acme/widgets (installation 42, HTTP 422)');
    expect((err as Error).message).toContain('pull_requests: write');
    expect((err as Error).message).not.toContain('PRIVATE KEY');
  });
});

describe('readPrivateKey', () => {
  let dir: string | undefined;
  afterEach(async () => {
    gh = new GitHubMock();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads PRIVATE_KEY or the file at PRIVATE_KEY_PATH, turning \\n escapes into newlines', async () => {
    expect(await readPrivateKey({ PRIVATE_KEY: '-----BEGIN-----\\nabc\\n-----END-----' })).toBe('-----BEGIN-----\nabc\n-----END-----');
    dir = await mkdtemp(join(tmpdir(), 'leviathan-key-'));
    await writeFile(join(dir, 'app.pem'), privateKey);
    expect(await readPrivateKey({ PRIVATE_KEY_PATH: join(dir, 'app.pem') })).toBe(privateKey);
    expect(await readPrivateKey({ PRIVATE_KEY_PATH: join(dir, 'missing.pem') })).toBeUndefined();
    expect(await readPrivateKey({})).toBeUndefined();
  });
});
