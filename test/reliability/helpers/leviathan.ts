import { randomUUID } from 'node:crypto';
import type { ProbotOctokit } from 'probot';
import type { ControlPlaneOverrides } from '../../../src/main.ts';
import { startTestControlPlane, type TestControlPlane } from '../../helpers/control-plane.ts';
import { APP_ID, PRIVATE_KEY, sign, TestOctokit, WEBHOOK_SECRET } from '../../github/harness.ts';

export { APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, sign };

/**
 * A control plane with the GitHub App configured (signed webhooks at /api/github/webhooks),
 * Probot's retry/throttle off and no reconcile on start: every GitHub call in these tests is
 * one the test asked for.
 */
export function startLeviathan(opts: { dataDir?: string; databaseUrl?: string; overrides?: ControlPlaneOverrides; env?: Record<string, string> } = {}): Promise<TestControlPlane> {
  return startTestControlPlane({
    env: { APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, ...(opts.databaseUrl ? { LEVIATHAN_DATABASE_URL: opts.databaseUrl } : {}), ...opts.env },
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    overrides: { github: { Octokit: TestOctokit as typeof ProbotOctokit, reconcileOnStart: false }, ...opts.overrides },
  });
}

/** POSTs a signed webhook delivery the way GitHub does; returns the status and body text. */
export async function deliverTo(
  url: string,
  name: string,
  payload: unknown,
  delivery: string = randomUUID(),
  signal?: AbortSignal,
): Promise<{ status: number; text: string }> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${url}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': name,
      'x-github-delivery': delivery,
      'x-hub-signature-256': sign(body),
      'user-agent': 'GitHub-Hookshot/reliability',
    },
    body,
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, text: await res.text() };
}

/** A pull_request webhook payload for `repo`#`number`, ours (Leviathan marker) or not. */
export function prPayload(
  repo: string,
  number: number,
  action: 'opened' | 'closed' | 'reopened',
  opts: { updatedAt: string; merged?: boolean; ours?: boolean; attempt?: string },
): Record<string, unknown> {
  const [owner, name] = repo.split('/');
  return {
    action,
    number,
    pull_request: {
      number,
      html_url: `https://github.com/${repo}/pull/${number}`,
      title: `PR ${number}`,
      state: action === 'closed' ? 'closed' : 'open',
      body: opts.ours ? `Opened by Leviathan.\n\nLeviathan-Attempt: ${opts.attempt ?? `att-${number}`}` : 'A human PR.',
      updated_at: opts.updatedAt,
      merged: opts.merged === true,
      merged_at: opts.merged ? opts.updatedAt : null,
      head: { ref: `leviathan/task-${number}` },
      labels: opts.ours ? [{ name: 'leviathan' }] : [],
      user: { login: 'someone' },
    },
    repository: { id: 1, name, full_name: repo, owner: { login: owner }, default_branch: 'main' },
    sender: { login: 'octocat' },
    installation: { id: 4242 },
  };
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}
