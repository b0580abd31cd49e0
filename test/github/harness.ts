import { afterEach, beforeEach } from 'vitest';
import { GitHubMock } from '../helpers/github-mock.ts';
import type { Executor } from '../../src/executors/executor.ts';
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ProbotOctokit } from 'probot';
import type { StoredEvent } from '../../src/events/envelope.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

/** A throwaway App key: Probot signs its JWTs with it; nock never checks them. */
export const PRIVATE_KEY = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
}).privateKey;

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';
export const APP_ID = '424242';

/**
 * ProbotOctokit with retry and throttle off. `ProbotOctokit.defaults({ throttle: { enabled: false } })`
 * is not enough with Probot 14: Probot wraps the class with its own throttle options, which
 * replace ours, and the write limiter then spaces POSTs a second apart. Forcing the options in
 * the constructor wins, whichever wrapper calls it.
 */
export class TestOctokit extends ProbotOctokit {
  constructor(options: ConstructorParameters<typeof ProbotOctokit>[0] = {}) {
    super({ ...options, retry: { enabled: false }, throttle: { ...(options.throttle ?? {}), enabled: false } } as ConstructorParameters<typeof ProbotOctokit>[0]);
  }
}

/** Starts a control plane with the GitHub App configured; Probot's retry and throttle are off. */
export async function startApp(
  opts: { dataDir?: string; env?: Record<string, string>; reconcileOnStart?: boolean; insecureDevWebhooks?: boolean; executor?: Executor | null } = {},
): Promise<TestControlPlane> {
  return startTestControlPlane({
    env: { APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, ...opts.env },
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    // No real workers from slash-command triggers unless a test passes an executor.
    overrides: {
      executor: opts.executor ?? null,
      github: { Octokit: TestOctokit as typeof ProbotOctokit, reconcileOnStart: opts.reconcileOnStart ?? false },
      ...(opts.insecureDevWebhooks ? { insecureDevWebhooks: true } : {}),
    },
  });
}

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, unknown>> }>;

/** A real payload from @octokit/webhooks-examples (deep copy), preferring one with an installation. */
export function example(name: string, action?: string): Record<string, any> {
  const all = examples.find((e) => e.name === name)?.examples ?? [];
  const matching = all.filter((x) => action === undefined || x.action === action);
  const chosen = matching.find((x) => x.installation) ?? matching[0];
  if (!chosen) throw new Error(`no example for ${name}.${action}`);
  return structuredClone(chosen) as Record<string, any>;
}

/** A payload derived from a real example, saved under fixtures/webhooks/. */
export function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(new URL(`../../fixtures/webhooks/${name}.json`, import.meta.url), 'utf8')) as Record<string, any>;
}

export function sign(body: string, secret = WEBHOOK_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** POSTs a webhook the way GitHub does, signed unless told otherwise. */
export async function deliver(
  cp: TestControlPlane,
  name: string,
  payload: unknown,
  opts: { delivery?: string; secret?: string; signature?: string | null; body?: string } = {},
): Promise<Response> {
  const body = opts.body ?? JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': name,
    'x-github-delivery': opts.delivery ?? randomUUID(),
    'user-agent': 'GitHub-Hookshot/test',
  };
  const signature = opts.signature === undefined ? sign(JSON.stringify(payload), opts.secret) : opts.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  const res = await fetch(`${cp.url}/api/github/webhooks`, { method: 'POST', headers, body });
  await res.text();
  return res;
}

/** Every stored event, optionally of one type. */
export async function events(cp: TestControlPlane, type?: string): Promise<StoredEvent[]> {
  const page = await cp.store.read({ limit: 10_000, ...(type ? { type } : {}) });
  return page.events;
}

/** Polls until `check` returns something truthy (background work finishes after the response). */
export async function until<T>(check: () => Promise<T> | T, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET /v1/targets, as the console and `ctl status` see it. */
export async function targetsOf(cp: TestControlPlane): Promise<Array<Record<string, any>>> {
  const res = await cp.api('/v1/targets');
  if (res.status !== 200) throw new Error(`GET /v1/targets: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { targets: Array<Record<string, any>> }).targets;
}

/** Open Leviathan PR numbers of one target, from GET /v1/targets. */
export async function openPrs(cp: TestControlPlane, target: string): Promise<number[]> {
  const t = (await targetsOf(cp)).find((x) => x.id === target);
  return (t?.open_prs ?? []).map((p: { number: number }) => p.number);
}

/** Records events through the public API, as a worker would. */
export async function post(cp: TestControlPlane, events: unknown[]): Promise<void> {
  const res = await cp.api('/v1/events', { method: 'POST', json: events });
  if (res.status >= 300) throw new Error(`POST /v1/events: ${res.status} ${await res.text()}`);
}

/** Makes a payload's pull request one of ours: the worker's marker in the body and the label. */
export function asLeviathanPr<T extends Record<string, any>>(payload: T, attemptId: string, pr = payload.pull_request): T {
  pr.body = `Does the thing.\n\n---\nOpened by Leviathan.\n\nLeviathan-Attempt: ${attemptId}`;
  pr.labels = [{ id: 1, node_id: 'L1', url: '', name: 'leviathan', color: 'ededed', default: false, description: null }];
  return payload;
}

/**
 * Per test: a GitHub mock and a control plane with the App configured; afterwards every mock must
 * have been used and the control plane is destroyed. A test that restarts the control plane passes
 * `current` so the one it left running is the one destroyed.
 */
export function useApp(use: (app: { cp: TestControlPlane; gh: GitHubMock }) => void, current?: () => TestControlPlane): void {
  let app: { cp: TestControlPlane; gh: GitHubMock };
  beforeEach(async () => {
    app = { gh: new GitHubMock(), cp: await startApp() };
    use(app);
  });
  afterEach(async () => {
    await app.gh.done();
    await (current?.() ?? app.cp).destroy();
  });
}

