import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { effectivePolicy, parsePolicy } from '../../src/contract/policy.ts';
import type { EffectivePolicy } from '../../src/contract/types.ts';
import { startApp } from '../github/harness.ts';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { WRITE_TOKEN } from '../helpers/control-plane.ts';
import { GitHubMock } from '../helpers/github-mock.ts';
import { ensureConsoleBuild, launchChromium, watchedPage } from './helpers/browser.ts';
import { post, task } from './helpers/console-seed.ts';

const T = 'acme/radix';
const FILE = `/repos/${T}/contents/.leviathan%2Fpolicy.yaml`;
const BLOB = 'a'.repeat(40);
const HEAD = 'c'.repeat(40);
/** What the last sync read from policy.yaml: per-scope file limits included. */
const SYNCED = { max_open_prs: 2, allowed_paths: { docs: ['docs/**'] }, max_files_per_task: { docs: 5, core: 12 } };
/** The owner's file: comments, an unknown key, key order of their own. */
const OWNED = [
  '# Owned by the platform team; ask #platform before raising limits.',
  'max_open_prs: 2 # two reviewers',
  'code_style: strict   # read by another tool',
  'allowed_paths:',
  '  docs: ["docs/**"]',
  'scope_constraints:',
  '  docs: { max_files_per_task: 5 }',
  '  core:',
  '    max_files_per_task: 12 # big refactors need a human',
  '',
].join('\n');

/** The contents API's JSON answer for a file (the form that carries the blob sha). */
const contents = (text: string, sha = BLOB) => ({ type: 'file', encoding: 'base64', sha, content: Buffer.from(text, 'utf8').toString('base64') });
const decoded = (b: unknown) => Buffer.from((b as { content: string }).content, 'base64').toString('utf8');

describe('policy editor (Chromium)', () => {
  let browser: Browser;
  let cp: TestControlPlane | null = null;
  let gh: GitHubMock | null = null;
  let context: BrowserContext | null = null;
  let page: Page;
  let problems: string[] = [];

  beforeAll(async () => {
    ensureConsoleBuild();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await context?.close();
    context = null;
    try {
      // Every GitHub mock used, no request without one: a write nobody mocked fails here.
      await gh?.done();
    } finally {
      gh = null;
      await cp?.destroy();
      cp = null;
    }
    expect(problems, 'console errors or failed responses').toEqual([]);
  });

  /** A control plane with the GitHub App, one target on installation 42 synced with {@link SYNCED}, signed in on /policy. */
  async function open(): Promise<{ cp: TestControlPlane; gh: GitHubMock }> {
    problems = [];
    gh = new GitHubMock();
    cp = await startApp();
    await post(cp, [
      { type: 'target.registered', target: T, subject: `target:${T}`, data: { installation_id: 42, default_branch: 'trunk' } },
      { type: 'backlog.synced', target: T, subject: `target:${T}`, data: { tasks: [task('a')], etag: 'e1', policy_file: SYNCED } },
    ]);
    ({ context, page } = await watchedPage(browser, problems));
    return { cp, gh };
  }

  async function signIn(path: string): Promise<void> {
    await page.goto(`${cp!.url}${path}`);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/sign-in');
    await page.fill('#token', WRITE_TOKEN);
    await Promise.all([page.waitForURL((u) => u.pathname === path), page.click('button:has-text("Sign in")')]);
    await page.waitForFunction(() => document.querySelector('[data-testid="actor"]') !== null);
  }

  const editor = () => page.locator('textarea[name="policy_yaml"]');
  const status = () => page.getByRole('status').textContent();
  async function submit(text: string, reason: string): Promise<void> {
    await editor().fill(text);
    await page.fill('input[name="reason"]', reason);
    await page.click('button:has-text("Open pull request")');
  }

  it("edits the file's own text: comments and unknown keys kept, invalid text refused before GitHub", async () => {
    const { gh } = await open();
    const edited = OWNED.replace('max_open_prs: 2 # two reviewers', 'max_open_prs: 3 # three reviewers');
    gh.installationToken(42)
      // The first page load, and the reload after each action.
      .on('GET', FILE, 200, contents(OWNED), { query: { ref: 'trunk' } })
      .on('GET', FILE, 200, contents(OWNED), { query: { ref: 'trunk' } })
      .on('GET', FILE, 200, contents(OWNED), { query: { ref: 'trunk' } })
      // The valid proposal: compared on the head commit, then a branch from that commit.
      .on('GET', `/repos/${T}/git/ref/heads%2Ftrunk`, 200, { object: { sha: HEAD } })
      .on('GET', FILE, 200, contents(OWNED), { query: { ref: HEAD } })
      .on('POST', `/repos/${T}/git/refs`, 201, {}, { effect: (b) => `branch from ${(b as { sha: string }).sha}` })
      .on('GET', FILE, 200, contents(OWNED), { query: true })
      .on('PUT', FILE, 200, {}, { effect: (b) => `put ${(b as { sha: string }).sha}:${decoded(b)}` })
      .on('POST', `/repos/${T}/pulls`, 201, { number: 41, html_url: `https://github.com/${T}/pull/41` }, { effect: 'pull' });
    await signIn('/policy');

    // The owner's text, byte for byte: not a rendering of the effective values.
    expect(await editor().inputValue()).toBe(OWNED);
    expect(await page.getByTestId('policy-editor-source').innerText()).toContain('comments included');
    // The table spells the per-scope limit the way the parser reads it.
    expect(await page.locator('main').innerText()).toContain('scope_constraints.<scope>.max_files_per_task');

    // Invalid: refused with the parser's line and reason; nothing reaches GitHub (no mock would answer).
    await submit(OWNED.replace('max_files_per_task: 12', 'max_files_per_task: lots'), 'Break it');
    await expect.poll(status).toContain('Nothing was sent to GitHub');
    expect(await status()).toMatch(/policy\.yaml line 9: scope_constraints\.core\.max_files_per_task must be a whole number/);
    expect(gh.effects).toEqual([]);

    // Valid, posted natively (as before hydration or without JavaScript), where the browser sends
    // CRLF line breaks: the PR still carries exactly the edited text, with the file's own LF.
    await editor().fill(edited);
    await page.fill('input[name="reason"]', 'Three reviewers now');
    await Promise.all([
      page.waitForEvent('load'),
      editor().evaluate((t) => (t as HTMLTextAreaElement).form!.submit()),
    ]);
    await expect.poll(status).toContain('Opened PR #41');
    expect(gh.effects).toEqual([`branch from ${HEAD}`, `put ${BLOB}:${edited}`, 'pull']);
  });

  it('offers a starter only when there is no file, and that starter proposes the same effective policy', async () => {
    const { cp, gh } = await open();
    let proposed = '';
    gh.installationToken(42)
      .on('GET', FILE, 404, { message: 'Not Found' }, { query: { ref: 'trunk' } })
      .on('GET', FILE, 404, { message: 'Not Found' }, { query: { ref: 'trunk' } })
      .on('GET', `/repos/${T}/git/ref/heads%2Ftrunk`, 200, { object: { sha: HEAD } })
      // base_sha null: the file must still be missing on the head commit.
      .on('GET', FILE, 404, { message: 'Not Found' }, { query: { ref: HEAD } })
      .on('POST', `/repos/${T}/git/refs`, 201, {})
      .on('GET', FILE, 404, { message: 'Not Found' }, { query: true })
      .on('PUT', FILE, 201, {}, { effect: (b) => ((proposed = decoded(b)), `put ${(b as { sha?: string }).sha ?? 'new file'}`) })
      .on('POST', `/repos/${T}/pulls`, 201, { number: 42, html_url: `https://github.com/${T}/pull/42` }, { effect: 'pull' });
    await signIn('/policy');

    expect(await page.getByTestId('policy-editor-source').innerText()).toContain('has no .leviathan/policy.yaml on trunk');
    const starter = await editor().inputValue();
    const parsed = parsePolicy(starter);
    expect(parsed.ok).toBe(true);
    const { targets } = (await (await cp.api('/v1/targets')).json()) as { targets: Array<{ id: string; policy: EffectivePolicy }> };
    const shown = targets.find((t) => t.id === T)!.policy;
    expect(shown.max_files_per_task).toEqual({ docs: 5, core: 12 });
    expect(effectivePolicy({ policyFile: parsed.ok ? parsed.policy : {} })).toEqual(shown);

    // Proposed unchanged, it is the same text, and the same policy once merged.
    await page.fill('input[name="reason"]', 'Restore the policy file');
    await page.click('button:has-text("Open pull request")');
    await expect.poll(status).toContain('Opened PR #42');
    expect(gh.effects).toEqual(['put new file', 'pull']);
    expect(proposed).toBe(starter);
  });
});
