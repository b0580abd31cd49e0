import { generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { appInstallationToken, CredentialsError, normalisePrivateKey, staticToken } from '../../src/worker/credentials.ts';
import { FAKE_TOKEN } from './harness.ts';

const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

afterEach(() => nock.cleanAll());

describe('appInstallationToken', () => {
  it('mints one installation token scoped to the target repository, with the App JWT', async () => {
    let body: unknown;
    nock('https://api.github.com')
      .matchHeader('authorization', /^bearer ey/i)
      .post('/app/installations/42/access_tokens', (b: unknown) => {
        body = b;
        return true;
      })
      .reply(201, { token: FAKE_TOKEN, expires_at: '2030-01-01T00:00:00Z', permissions: {}, repository_selection: 'selected' });
    const creds = appInstallationToken({ appId: '123', privateKey, installationId: 42, target: 'acme/widgets' });
    expect(await creds.token()).toBe(FAKE_TOKEN);
    expect(await creds.token()).toBe(FAKE_TOKEN);
    expect(body).toMatchObject({ repositories: ['widgets'] });
    expect(nock.isDone()).toBe(true);
  });

  it('fails with an actionable auth error that carries no key material', async () => {
    nock('https://api.github.com').post('/app/installations/42/access_tokens').reply(404, { message: 'Not Found' });
    const creds = appInstallationToken({ appId: '123', privateKey, installationId: 42, target: 'acme/widgets' });
    const err = await creds.token().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toContain('installed on the repository');
    expect((err as Error).message).not.toContain('PRIVATE KEY');
  });
});

describe('staticToken and normalisePrivateKey', () => {
  it('returns the development token and turns \\n escapes into newlines', async () => {
    expect(await staticToken('t0ken-value').token()).toBe('t0ken-value');
    expect(normalisePrivateKey('-----BEGIN-----\\nabc\\n-----END-----')).toBe('-----BEGIN-----\nabc\n-----END-----');
  });
});
