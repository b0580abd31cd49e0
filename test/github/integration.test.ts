import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GitHubMock } from '../helpers/github-mock.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { APP_ID, PRIVATE_KEY, deliver, events, example, post, sign, startApp, WEBHOOK_SECRET } from './harness.ts';

/** The repository of the example payloads, as a target (a PR webhook for anything else is reconciled instead). */
const registered = (c: TestControlPlane) => post(c, [{ type: 'target.registered', target: 'Codertocat/Hello-World', data: { installation_id: 1, default_branch: 'master' } }]);

let cp: TestControlPlane | null = null;
let gh: GitHubMock;

afterEach(async () => {
  await gh?.done();
  await cp?.destroy();
  cp = null;
});

describe('webhook security', () => {
  it('records a validly signed delivery', async () => {
    gh = new GitHubMock();
    cp = await startApp();
    await registered(cp);
    const res = await deliver(cp, 'pull_request', example('pull_request', 'opened'));
    expect(res.status).toBe(200);
    const observed = await events(cp, 'pr.observed');
    expect(observed).toHaveLength(1);
    expect(observed[0]).toMatchObject({ actor: 'github:Codertocat', target: 'Codertocat/Hello-World', data: { number: 2, updated_at: '2019-05-15T15:20:33Z' } });
    expect(observed[0]!.id).toMatch(/^gh:[0-9a-f-]{36}:0$/);
  });

  it.each([
    ['a tampered body', (p: unknown) => ({ body: JSON.stringify({ ...(p as object), action: 'closed' }) })],
    ['the wrong secret', () => ({ secret: 'not-the-secret' })],
    ['no signature', () => ({ signature: null })],
    ['a malformed signature', () => ({ signature: 'sha256=zz' })],
  ])('refuses %s with a 4xx and records nothing', async (_case, options) => {
    gh = new GitHubMock();
    cp = await startApp();
    const payload = example('pull_request', 'opened');
    const res = await deliver(cp, 'pull_request', payload, options(payload));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await events(cp)).toHaveLength(0);
  });

  it('records a redelivery (same X-GitHub-Delivery) once', async () => {
    gh = new GitHubMock();
    cp = await startApp();
    await registered(cp);
    const payload = example('pull_request', 'opened');
    const delivery = '72d3162e-cc78-11e3-81ab-4c9367dc0958';
    expect((await deliver(cp, 'pull_request', payload, { delivery })).status).toBe(200);
    expect((await deliver(cp, 'pull_request', payload, { delivery })).status).toBe(200);
    expect(await events(cp, 'pr.observed')).toHaveLength(1);
    expect((await deliver(cp, 'pull_request', payload)).status).toBe(200); // a new delivery is new
    expect(await events(cp, 'pr.observed')).toHaveLength(2);
  });

  it('refuses to start without WEBHOOK_SECRET, saying how to fix it', async () => {
    gh = new GitHubMock();
    await expect(startTestControlPlane({ env: { APP_ID, PRIVATE_KEY } })).rejects.toThrow(/WEBHOOK_SECRET is not set.*--insecure-dev-webhooks/s);
  });

  it('refuses to start with APP_ID but no private key', async () => {
    gh = new GitHubMock();
    await expect(startTestControlPlane({ env: { APP_ID, WEBHOOK_SECRET } })).rejects.toThrow(/PRIVATE_KEY/);
  });

  it('accepts unsigned webhooks only with --insecure-dev-webhooks', async () => {
    gh = new GitHubMock();
    cp = await startApp({ env: { WEBHOOK_SECRET: '' }, insecureDevWebhooks: true });
    await registered(cp);
    const res = await deliver(cp, 'pull_request', example('pull_request', 'opened'), { signature: null });
    expect(res.status).toBe(200);
    expect(await events(cp, 'pr.observed')).toHaveLength(1);
  });

  it('without APP_ID runs, says the App is not configured, and still serves the command list', async () => {
    gh = new GitHubMock();
    cp = await startTestControlPlane();
    const payload = example('pull_request', 'opened');
    const body = JSON.stringify(payload);
    const hook = await fetch(`${cp.url}/api/github/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': 'x', 'x-hub-signature-256': sign(body) },
      body,
    });
    expect(hook.status).toBe(501);
    expect(((await hook.json()) as { error: { message: string } }).error.message).toMatch(/GitHub App not configured.*Register the GitHub App/);
    const reconcile = await cp.api('/v1/reconcile', { method: 'POST' });
    expect(reconcile.status).toBe(501);
    const commands = await cp.api('/v1/commands');
    expect(commands.status).toBe(200);
    expect(await events(cp)).toHaveLength(0);
  });
});

describe('app.yml', () => {
  it('asks for the permissions and events the App uses, and nothing more', () => {
    gh = new GitHubMock();
    const manifest = parse(readFileSync(new URL('../../app.yml', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect(manifest.name).toBe('Leviathan');
    expect(manifest.description).toEqual(expect.any(String));
    expect(manifest.default_permissions).toEqual({ contents: 'write', pull_requests: 'write', issues: 'write', metadata: 'read' });
    // installation and installation_repositories reach every App anyway; GitHub refuses a manifest
    // that names them ("Default events unsupported"), so no App would be created at all.
    // repository: renames, transfers, deletions and default-branch changes reach the targets.
    expect(manifest.default_events).toEqual(['pull_request', 'push', 'issue_comment', 'repository']);
    // Probot's manifest flow spreads app.yml last: a webhook URL here would replace the one it generates.
    expect(manifest.hook_attributes).toBeUndefined();
  });
});
