import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OAUTH_STATE_COOKIE, SESSION_COOKIE } from '../../src/console/session.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

const T = 'acme/radix';
const ENV = {
  GITHUB_CLIENT_ID: 'Iv1.client',
  GITHUB_CLIENT_SECRET: 'client-secret',
  LEVIATHAN_SESSION_SECRET: 'oauth-test-session-secret-0123456789abcdef',
};

/** Starts the GitHub sign-in: the state (from GitHub's redirect) and the cookie that holds it. */
async function beginSignIn(cp: TestControlPlane): Promise<{ state: string; cookie: string; redirectUri: string }> {
  const res = await fetch(`${cp.url}/auth/github?next=%2Ftargets`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(location.origin + location.pathname).toBe('https://github.com/login/oauth/authorize');
  expect(location.searchParams.get('client_id')).toBe(ENV.GITHUB_CLIENT_ID);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${OAUTH_STATE_COOKIE}=`))!.split(';')[0]!;
  return { state: location.searchParams.get('state')!, cookie, redirectUri: location.searchParams.get('redirect_uri')! };
}

function callback(cp: TestControlPlane, query: Record<string, string>, cookie: string): Promise<Response> {
  return fetch(`${cp.url}/auth/github/callback?${new URLSearchParams(query)}`, { redirect: 'manual', headers: { cookie } });
}

function sessionCookie(res: Response): string | null {
  return res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`) && !c.startsWith(`${SESSION_COOKIE}=;`))?.split(';')[0] ?? null;
}

/** GitHub answering the code exchange and "who am I" for `login`. */
function githubSignsIn(login: string, userToken: string, redirectUri: string) {
  nock('https://github.com')
    .post('/login/oauth/access_token', (b: Record<string, string>) => b.code === 'the-code' && b.client_secret === ENV.GITHUB_CLIENT_SECRET && b.redirect_uri === redirectUri)
    .reply(200, { access_token: userToken, token_type: 'bearer', scope: '' });
  nock('https://api.github.com', { reqheaders: { authorization: `token ${userToken}` } })
    .get('/user')
    .reply(200, { login, id: 1, type: 'User' });
}

async function seed(cp: TestControlPlane): Promise<void> {
  const res = await cp.api('/v1/events', {
    method: 'POST',
    json: [
      { type: 'target.registered', target: T, subject: `target:${T}`, data: { installation_id: 1, default_branch: 'main' } },
      { type: 'backlog.synced', target: T, subject: `target:${T}`, data: { tasks: [] } },
    ],
  });
  expect(res.status).toBe(200);
}

describe('Sign in with GitHub', () => {
  let cp: TestControlPlane;
  beforeEach(async () => {
    cp = await startTestControlPlane({ env: ENV });
    await seed(cp);
  });
  afterEach(async () => {
    await cp.destroy();
    nock.cleanAll();
  });

  it('refuses a callback whose state does not match the one this browser started with', async () => {
    const { cookie } = await beginSignIn(cp);
    const res = await callback(cp, { code: 'the-code', state: 'forged-state' }, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/sign-in?error=oauth_state');
    expect(sessionCookie(res)).toBeNull();
    // A callback without the state cookie at all (another browser) is refused too.
    const { state } = await beginSignIn(cp);
    const other = await callback(cp, { code: 'the-code', state }, '');
    expect(other.headers.get('location')).toBe('/sign-in?error=oauth_state');
    // GitHub was never asked for a token.
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('exchanges the code, looks the user up and signs them in as github:<login>', async () => {
    const { state, cookie, redirectUri } = await beginSignIn(cp);
    githubSignsIn('octocat', 'gho_user', redirectUri);
    nock('https://api.github.com').get(`/repos/${T}`).reply(200, { full_name: T });
    const res = await callback(cp, { code: 'the-code', state }, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/targets');
    const session = sessionCookie(res)!;
    expect(session).toBeTruthy();
    const me = (await (await fetch(`${cp.url}/auth/session`, { headers: { cookie: session } })).json()) as { session: Record<string, unknown> };
    expect(me.session).toMatchObject({ kind: 'github', actor: 'github:octocat', login: 'octocat' });
    expect(JSON.stringify(me)).not.toContain('gho_user');
    expect(nock.isDone()).toBe(true);
  });

  it('refuses a user with no access to any target nor an allowed organisation', async () => {
    const { state, cookie, redirectUri } = await beginSignIn(cp);
    githubSignsIn('stranger', 'gho_stranger', redirectUri);
    nock('https://api.github.com').get(`/repos/${T}`).reply(404, { message: 'Not Found' });
    const res = await callback(cp, { code: 'the-code', state }, cookie);
    expect(res.headers.get('location')).toBe('/sign-in?error=no_access');
    expect(sessionCookie(res)).toBeNull();
  });

  it('lets in a member of an allowed organisation (LEVIATHAN_CONSOLE_ORGS) without access to a target', async () => {
    await cp.destroy();
    cp = await startTestControlPlane({ env: { ...ENV, LEVIATHAN_CONSOLE_ORGS: 'other-org, acme-ops' } });
    await seed(cp);
    const { state, cookie, redirectUri } = await beginSignIn(cp);
    githubSignsIn('oncall', 'gho_oncall', redirectUri);
    nock('https://api.github.com')
      .get(`/repos/${T}`)
      .reply(404, {})
      .get('/user/memberships/orgs/other-org')
      .reply(404, {})
      .get('/user/memberships/orgs/acme-ops')
      .reply(200, { state: 'active', role: 'member' });
    const res = await callback(cp, { code: 'the-code', state }, cookie);
    expect(res.headers.get('location')).toBe('/targets');
    expect(sessionCookie(res)).toBeTruthy();
    expect(nock.isDone()).toBe(true);
  });

  it('reports a refused code exchange as a failed sign-in', async () => {
    const { state, cookie } = await beginSignIn(cp);
    nock('https://github.com').post('/login/oauth/access_token').reply(200, { error: 'bad_verification_code' });
    const res = await callback(cp, { code: 'the-code', state }, cookie);
    expect(res.headers.get('location')).toBe('/sign-in?error=oauth_failed');
    expect(sessionCookie(res)).toBeNull();
  });

  it('acting needs write, maintain or admin on the repository: read is refused server-side, write is allowed', async () => {
    const signIn = async (login: string, token: string) => {
      const { state, cookie, redirectUri } = await beginSignIn(cp);
      githubSignsIn(login, token, redirectUri);
      nock('https://api.github.com').get(`/repos/${T}`).reply(200, { full_name: T });
      const session = sessionCookie(await callback(cp, { code: 'the-code', state }, cookie))!;
      const me = (await (await fetch(`${cp.url}/auth/session`, { headers: { cookie: session } })).json()) as { session: { csrf: string } };
      return { cookie: session, csrf: me.session.csrf };
    };
    const pause = (s: { cookie: string; csrf: string }) =>
      fetch(`${cp.url}/v1/targets/${T}/pause`, {
        method: 'POST',
        headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'from the console', via: 'console' }),
      });

    const reader = await signIn('reader', 'gho_reader');
    nock('https://api.github.com', { reqheaders: { authorization: 'token gho_reader' } })
      .get(`/repos/${T}/collaborators/reader/permission`)
      .reply(200, { permission: 'read', role_name: 'read' });
    const refused = await pause(reader);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('write, maintain or admin');
    // Cached: a second attempt does not ask GitHub again (no mock left), and is still refused.
    expect((await pause(reader)).status).toBe(403);
    let events = ((await (await cp.api('/v1/graph/events?type=target.paused')).json()) as { events: unknown[] }).events;
    expect(events).toEqual([]);

    const writer = await signIn('writer', 'gho_writer');
    nock('https://api.github.com', { reqheaders: { authorization: 'token gho_writer' } })
      .get(`/repos/${T}/collaborators/writer/permission`)
      .reply(200, { permission: 'write', role_name: 'maintain' });
    expect((await pause(writer)).status).toBe(200);
    events = ((await (await cp.api('/v1/graph/events?type=target.paused')).json()) as { events: Array<{ actor: string; data: { via: string } }> }).events;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'github:writer', data: { via: 'console' } });
    expect(nock.isDone()).toBe(true);
  });

  it('refuses to act when GitHub cannot answer the permission check (fail closed)', async () => {
    const { state, cookie, redirectUri } = await beginSignIn(cp);
    githubSignsIn('octocat', 'gho_user', redirectUri);
    nock('https://api.github.com').get(`/repos/${T}`).reply(200, {});
    const session = sessionCookie(await callback(cp, { code: 'the-code', state }, cookie))!;
    const me = (await (await fetch(`${cp.url}/auth/session`, { headers: { cookie: session } })).json()) as { session: { csrf: string } };
    nock('https://api.github.com').get(`/repos/${T}/collaborators/octocat/permission`).reply(500, { message: 'boom' });
    const res = await fetch(`${cp.url}/v1/targets/${T}/pause`, {
      method: 'POST',
      headers: { cookie: session, 'x-csrf-token': me.session.csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'r' }),
    });
    expect(res.status).toBe(403);
  });
});
