/**
 * Secrets, measured: one full loop (signed webhooks in → tick → a real `leviathan worker` child
 * → clone, agent, push, pull request on a fake GitHub → events → PR merged by a signed webhook)
 * with every secret configured, then a search of everything the run left behind — control-plane
 * logs, the worker's log, every stored event, every file under the run's directories (including
 * the workspace's .git/config as the agent saw it), and the bodies of every API answer — for
 * each secret, its base64 form and the git basic-auth form of the tokens. The executor mints the
 * worker's installation token from the fake GitHub as the App, so that token is searched for too.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tick } from '../../src/cli/tick.ts';
import { envSchema } from '../../src/env.ts';
import { WORKER_TOKEN_PREFIX } from '../../src/api/worker-token.ts';
import { createExecutor } from '../../src/executors/create-executor.ts';
import type { LocalProcessExecutor } from '../../src/executors/local-process.ts';
import { READ_TOKEN, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.ts';
import { record } from './helpers/figures.ts';
import { APP_ID, deliverTo, PRIVATE_KEY, prPayload, startLeviathan, WEBHOOK_SECRET } from './helpers/leviathan.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const AGENT = join(ROOT, 'fixtures/agents/good-change.sh');
const TARGET = 'acme/widgets';
const GITHUB_TOKEN = 'ghs_secretsRELIABILITYtoken0123456789abcdef';
/** What the fake GitHub mints for the App: the only GitHub credential the worker may hold. */
const INSTALLATION_TOKEN = 'ghs_installationRELIABILITYminted0123456789';
const SESSION_SECRET = 'session-secret-for-the-reliability-run-0123456789';

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'Seed', GIT_AUTHOR_EMAIL: 's@example.com', GIT_COMMITTER_NAME: 'Seed', GIT_COMMITTER_EMAIL: 's@example.com' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Every form a secret could leak in: as is, base64 (plain and URL-safe), and for GitHub tokens git's basic-auth header form. */
function forms(name: string, secret: string, githubToken = false): Array<[string, string]> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const out: Array<[string, string]> = [
    [name, secret],
    [`${name} (base64)`, b64(secret)],
    [`${name} (base64url)`, Buffer.from(secret).toString('base64url')],
  ];
  if (githubToken) out.push([`${name} (x-access-token basic auth)`, b64(`x-access-token:${secret}`)]);
  return out;
}

/** The private key leaks if any line of its base64 body shows up, not only the whole PEM. */
function keyForms(pem: string): Array<[string, string]> {
  const lines = pem.split('\n').filter((l) => l && !l.startsWith('-----'));
  return [
    ['PRIVATE_KEY (a body line)', lines[3]!],
    ['PRIVATE_KEY (last body line)', lines.at(-2)!],
    ['PRIVATE_KEY (escaped \\n form)', pem.slice(0, 60).replace(/\n/g, '\\n')],
    ['PRIVATE_KEY (base64 of the PEM)', Buffer.from(pem).toString('base64').slice(100, 160)],
  ];
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

describe('no secret anywhere after a full loop', () => {
  let root: string;
  let cp: TestControlPlane;
  let github: FakeGitHub;
  let executor: LocalProcessExecutor | undefined;
  const logLines: string[] = [];
  const answers: Array<[string, string]> = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'leviathan-secrets-'));
    // Only the minted token is accepted: GITHUB_TOKEN (configured below too) must not be what the worker uses.
    github = await startFakeGitHub({ token: INSTALLATION_TOKEN, app: { id: APP_ID, privateKey: PRIVATE_KEY, installationToken: INSTALLATION_TOKEN } });
    cp = await startLeviathan({
      env: { LEVIATHAN_SESSION_SECRET: SESSION_SECRET, LOG_LEVEL: 'debug' },
      overrides: { executor: null, logger: pino({ level: 'debug' }, { write: (l: string) => void logLines.push(l) }) },
    });
  });
  afterAll(async () => {
    await executor?.stopAll();
    await cp?.destroy();
    await github?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** GETs a path and keeps the body for the search. */
  const keep = async (path: string, token: string | null = WRITE_TOKEN) => {
    const res = await cp.api(path, { token });
    const text = await res.text();
    answers.push([`GET ${path} (${res.status})`, text]);
    return text;
  };

  it('the loop runs, and none of its secrets appear in logs, events, files or answers', { timeout: 150_000 }, async () => {
    // The repository the worker clones.
    const bare = join(root, 'git', `${TARGET}.git`);
    const seed = join(root, 'seed');
    await mkdir(dirname(bare), { recursive: true });
    git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
    git(root, 'init', '--quiet', '--initial-branch=main', seed);
    for (const [p, c] of Object.entries({ 'README.md': '# W\n', 'docs/guide.md': '# G\n', 'docs/obsolete.md': 'x\n', 'docs/old-name.md': 'a long enough body to be a rename\n'.repeat(5), 'docs/build.sh': 'echo\n' })) {
      await mkdir(dirname(join(seed, p)), { recursive: true });
      await writeFile(join(seed, p), c);
    }
    git(seed, 'add', '-A');
    git(seed, 'commit', '--quiet', '-m', 'seed');
    git(seed, 'push', '--quiet', bare, 'main');

    const post = async (body: unknown[]) => expect((await cp.api('/v1/events', { method: 'POST', json: body })).status).toBe(200);
    await post([
      { type: 'target.registered', target: TARGET, data: { installation_id: 1, default_branch: 'main' } },
      { type: 'backlog.synced', target: TARGET, data: { etag: '"s"', tasks: [{ id: 'docs-guide', title: 'Guide', priority: 'high', ready: true, status: 'pending', dependencies: [], allowed_paths: ['docs/'], scope: 'docs' }] } },
      { type: 'autonomy.enabled', data: { reason: 'secrets run' } },
    ]);

    // What the agent sees: its environment and the workspace's .git/config, copied out before the workspace is removed.
    const capture = join(root, 'capture');
    await mkdir(capture);
    const env = envSchema.parse({
      LEVIATHAN_CONTROL_PLANE_URL: cp.url,
      LEVIATHAN_API_TOKEN: WRITE_TOKEN,
      LEVIATHAN_DATA_DIR: join(root, 'data'),
      LEVIATHAN_AGENT_COMMAND: `LEVIATHAN_TEST_OUT=${capture} sh ${AGENT} && cp .git/config ${capture}/workspace-git-config`,
      GITHUB_API_URL: github.url,
      GITHUB_SERVER_URL: `file://${join(root, 'git')}`,
      GITHUB_TOKEN,
      WEBHOOK_SECRET,
      APP_ID,
      PRIVATE_KEY,
      LOG_LEVEL: 'debug',
    });
    // As `serve` builds it: each worker gets its attempt's own token (searched for below, too).
    executor = (await createExecutor(env, { controlPlaneUrl: cp.url, apiToken: WRITE_TOKEN, processEnv: { PATH: process.env.PATH, HOME: root, TMPDIR: root, GITHUB_SERVER_URL: env.GITHUB_SERVER_URL } })) as LocalProcessExecutor;
    const tickLog: string[] = [];
    expect(await tick(env, { executor, refresher: null, logger: pino({ level: 'debug' }, { write: (l: string) => void tickLog.push(l) }) })).toBe(0);

    const deadline = Date.now() + 100_000;
    let ended: string | undefined;
    while (!ended && Date.now() < deadline) {
      const e = (await cp.store.read({ typePrefix: 'attempt.', limit: 100 })).events.find((x) => x.type === 'attempt.succeeded' || x.type === 'attempt.failed');
      ended = e?.type;
      if (!ended) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ended, JSON.stringify((await cp.store.read({ type: 'attempt.failed', limit: 5 })).events.map((e) => e.data))).toBe('attempt.succeeded');
    // The worker worked with a token for this one repository, minted by the executor as the App.
    expect(github.calls.filter((c) => c.includes('token_minted') || c.includes('pr_opened') || c.startsWith('unauthorized'))).toEqual([
      'installation 1:token_minted(widgets; contents=write,pull_requests=write,metadata=read)',
      `${TARGET}#1:pr_opened(leviathan/docs-guide -> main)`,
    ]);
    // The PR is merged on GitHub: a signed webhook, as GitHub would send it.
    const merged = await deliverTo(cp.url, 'pull_request', prPayload(TARGET, 1, 'closed', { updatedAt: new Date().toISOString(), merged: true, ours: true }));
    expect(merged.status).toBe(200);
    for (let i = 0; i < 50 && (await executor.list())[0]?.state === 'running'; i++) await new Promise((r) => setTimeout(r, 100));

    // Answers: every read endpoint, and the error paths that echo input.
    for (const p of ['/v1/targets', `/v1/targets/${TARGET}`, `/v1/targets/${TARGET}/diagnosis`, '/v1/graph/events?limit=1000', '/v1/graph/nodes?limit=1000', '/v1/status', '/v1/autonomy/status', '/v1/health', '/health', '/metrics', '/v1/commands']) await keep(p);
    await keep('/v1/targets', READ_TOKEN);
    await keep('/v1/targets', `${WRITE_TOKEN}x`);
    const badHook = await fetch(`${cp.url}/api/github/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, body: '{}' });
    answers.push(['bad webhook', await badHook.text()]);

    // Everything the run wrote: control-plane data dir, the worker's data dir and log, the capture, the events.
    const files = [...(await filesUnder(cp.dataDir)), ...(await filesUnder(join(root, 'data'))), ...(await filesUnder(capture)), ...(await filesUnder(join(root, 'leviathan-worker')))];
    expect(files.some((f) => f.endsWith('workspace-git-config'))).toBe(true);
    const haystacks: Array<[string, string]> = [
      ['control-plane log', logLines.join('')],
      ['tick log', tickLog.join('')],
      ['events (as served)', JSON.stringify((await cp.store.read({ limit: 10_000 })).events)],
      ...answers,
    ];
    for (const f of files) {
      // The generated API token and session secret legitimately live in their own files.
      if (/\/(api-token|session-secret)$/.test(f)) continue;
      if ((await stat(f)).size > 20 << 20) continue;
      haystacks.push([`file ${f.slice(root.length)}`, (await readFile(f)).toString('latin1')]);
    }
    const secrets = [
      ...forms('GITHUB_TOKEN', GITHUB_TOKEN, true),
      ...forms('installation token (the worker\'s)', INSTALLATION_TOKEN, true),
      ...forms('LEVIATHAN_API_TOKEN (write)', WRITE_TOKEN),
      ...forms('LEVIATHAN_API_TOKEN (read)', READ_TOKEN),
      ...forms('WEBHOOK_SECRET', WEBHOOK_SECRET),
      ...forms('LEVIATHAN_SESSION_SECRET', SESSION_SECRET),
      ...keyForms(PRIVATE_KEY),
      // Any worker's attempt token, whatever its value.
      ['attempt token', WORKER_TOKEN_PREFIX] as const,
    ];
    const leaks: string[] = [];
    for (const [where, text] of haystacks) for (const [name, s] of secrets) if (text.includes(s)) leaks.push(`${name} in ${where}: …${text.slice(Math.max(0, text.indexOf(s) - 300), text.indexOf(s) + 80)}…`);
    const bytes = haystacks.reduce((n, [, t]) => n + t.length, 0);
    record('secrets', {
      'full loop': `${ended}; PR #1 opened on the fake GitHub, merged by a signed webhook`,
      'secret forms searched for': secrets.length,
      'places searched (logs, events, files incl. workspace .git/config, API answers)': `${haystacks.length} (${Math.round(bytes / 1024)} KiB)`,
      'log lines captured (debug level)': logLines.length + tickLog.length,
      'leaks found': [leaks.length, '0'],
    });
    expect(leaks).toEqual([]);
  });
});
