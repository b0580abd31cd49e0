import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/executors/executor.ts';
import { READ_TOKEN, startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';
import { ensureConsoleBuild, launchChromium, watchedPage } from './helpers/browser.ts';
import { failure, post, prStory, RADIX_CONTRACT, SeedClock, seedRich, seedTarget, task } from './helpers/console-seed.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// The committed screenshots (README) are refreshed with UPDATE_SCREENSHOTS=1; ordinary runs write
// them to a temp dir so a test run never dirties the work tree.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : join(tmpdir(), 'leviathan-screenshots');
const T = 'acme/radix';

/** A worker executor that starts nothing: triggers record their attempt and stop there. */
const fakeExecutor: Executor = {
  kind: 'kubernetes',
  start: async (a) => ({ handle: `fake-${a.attempt_id}` }),
  list: async () => [],
};

describe('console (Chromium)', () => {
  let browser: Browser;
  let cp: TestControlPlane | null = null;
  let context: BrowserContext | null = null;
  let page: Page;
  /** Console errors, uncaught exceptions and 4xx/5xx answers seen by the page. */
  let problems: string[] = [];
  /** Problems a test provokes on purpose (matched by substring). */
  let expected: string[] = [];

  beforeAll(async () => {
    ensureConsoleBuild();
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    const seen = problems.filter((p) => !expected.some((x) => p.includes(x)));
    await context?.close();
    context = null;
    await cp?.destroy();
    cp = null;
    expect(seen, 'console errors or failed responses').toEqual([]);
  });

  async function start(seed: (cp: TestControlPlane, clock: SeedClock) => Promise<void>): Promise<TestControlPlane> {
    problems = [];
    expected = [];
    const clock = new SeedClock();
    cp = await startTestControlPlane({ overrides: { executor: fakeExecutor, clock } });
    await seed(cp, clock);
    ({ context, page } = await watchedPage(browser, problems));
    return cp;
  }

  async function signIn(token = WRITE_TOKEN, path = '/'): Promise<void> {
    await page.goto(`${cp!.url}${path}`);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/sign-in');
    await page.fill('#token', token);
    await Promise.all([page.waitForURL((u) => u.pathname === path), page.click('button:has-text("Sign in")')]);
    // Hydrated and connected: the live stream is open.
    await page.waitForFunction(() => document.querySelector('[data-testid="actor"]') !== null);
  }

  const dashboard = () => page.getByTestId('dashboard');

  it('sends signed-out users to sign-in and back where they were going', async () => {
    await start((cp) => seedTarget(cp, T, [task('a')]));
    await page.goto(`${cp!.url}/targets`);
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/targets');
    await page.fill('#token', 'not-a-token');
    await page.click('button:has-text("Sign in")');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That token is not valid');
    await page.fill('#token', WRITE_TOKEN);
    await Promise.all([page.waitForURL((u) => u.pathname === '/targets'), page.click('button:has-text("Sign in")')]);
    await expect.poll(() => page.locator('main').textContent()).toContain(T);
    // Pages with action forms may not be framed by another site.
    const doc = await page.reload();
    expect(doc?.headers()['x-frame-options']).toBe('DENY');
    expect(doc?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    // Signing out ends the session: the next page asks to sign in again.
    await Promise.all([page.waitForURL((u) => u.pathname === '/sign-in'), page.click('button:has-text("Sign out")')]);
    await page.goto(`${cp!.url}/tasks`);
    expect(new URL(page.url()).pathname).toBe('/sign-in');
  });

  it('shows every dashboard state in the operator document’s words, live, without reloading', async () => {
    const cp = await start((cp) => seedTarget(cp, T, [task('api-base-normalization', { ready: false }), task('docs-update', { ready: false })]));
    await signIn();
    // A marker that a reload would erase.
    await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    const text = () => dashboard().innerText();

    // The Targets line follows the operator document: "blocked" is halted by the circuit breaker,
    // "active" any target running under the ordinary guardrails (executing, idle, or at max PRs).
    const targetsLine = () => page.getByTestId('targets-line').innerText();

    // Idle
    await expect.poll(text).toContain('Status: Idle');
    expect(await targetsLine()).toBe('Targets: 1 active, 0 blocked');
    expect(await text()).toContain('Open PRs: 0/2');
    expect(await text()).toContain('Ready Tasks: 0');
    expect(await text()).toContain('No ready tasks in backlog.');
    expect(await text()).toContain('Add tasks with ready: true to resume execution.');

    // Healthy: tasks ready, one PR created
    await post(cp, [
      { type: 'backlog.synced', target: T, subject: `target:${T}`, data: { tasks: [task('api-base-normalization'), task('docs-update'), task('add-unit-tests')] } },
      ...prStory(T, 'api-base-normalization', 722),
    ]);
    await expect.poll(text, { timeout: 3000 }).toContain('Status: Healthy ✓');
    expect(await targetsLine()).toBe('Targets: 1 active, 0 blocked');
    expect(await text()).toContain('Open PRs: 1/2');
    expect(await text()).toMatch(/Last Execution: (just now|\d+ seconds? ago)/);
    expect(await text()).toContain('PR #722 created (api-base-normalization)');
    expect(await text()).toContain('Task selected (api-base-normalization)');

    // Blocked (Max PRs)
    await post(cp, prStory(T, 'docs-update', 723));
    await expect.poll(text, { timeout: 3000 }).toContain('Status: Blocked (Max PRs) ⚠');
    expect(await targetsLine()).toBe('Targets: 1 active, 0 blocked');
    expect(await text()).toContain('Open PRs: 2/2 (MAX REACHED)');
    expect(await text()).toContain('Execution blocked: Max open PRs reached.');
    expect(await text()).toContain('Merge or close PRs to resume execution.');
    expect(await text()).toContain('PR #722 (api-base-normalization)');
    expect(await page.locator(`a[href="https://github.com/${T}/pull/723"]`).count()).toBeGreaterThan(0);

    // Blocked (Circuit Breaker), with the cooldown counting down
    await post(cp, [
      { type: 'pr.merged', target: T, subject: `pr:${T}#723`, data: { number: 723 } },
      ...failure(T, 'add-unit-tests', 'att-f1', 'timeout'),
      ...failure(T, 'add-unit-tests', 'att-f2', 'path_violation'),
      {
        type: 'circuit_breaker.tripped',
        target: T,
        subject: `target:${T}`,
        data: { consecutive_failures: 2, cooldown_until: new Date(Date.now() + 30 * 60_000 + 20_000).toISOString() },
      },
    ]);
    await expect.poll(text, { timeout: 3000 }).toContain('Status: Blocked (Circuit Breaker) ⚠');
    expect(await targetsLine()).toBe('Targets: 0 active, 1 blocked');
    expect(await text()).toContain('Circuit breaker tripped after 2 consecutive failures.');
    expect(await text()).toContain('Cooldown expires in 30 minutes.');
    expect(await text()).toContain('Wait for cooldown or investigate failures');
    expect(await text()).toMatch(/✗ \d+s ago: add-unit-tests \(path violation\)/);

    // Error
    await post(cp, [{ type: 'backlog.invalid', target: T, subject: `target:${T}`, data: { file: '.leviathan/backlog.yaml', line: 7, reason: 'tasks[2].id is missing' } }]);
    await expect.poll(text, { timeout: 3000 }).toContain('Status: Error ✗');
    expect(await targetsLine()).toBe('Targets: 0 active, 0 blocked, 1 error');
    expect(await text()).toContain('.leviathan/backlog.yaml line 7: tasks[2].id is missing');
    expect(await text()).toContain('Fix .leviathan/backlog.yaml and push it to main.');
    expect(await page.getByTestId(`target-row-${T}`).innerText()).toContain('Error ✗');

    // Paused: neither active nor blocked, and named on the line
    await post(cp, [{ type: 'target.paused', target: T, subject: `target:${T}`, actor: 'github:octocat', data: { reason: 'Release freeze' } }]);
    await expect.poll(text, { timeout: 3000 }).toContain('Status: Paused');
    expect(await targetsLine()).toBe('Targets: 0 active, 0 blocked, 1 paused');
    expect(await text()).toContain('Paused by github:octocat: Release freeze.');
    expect(await text()).toContain('Resume the target to continue execution.');

    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(true);
  });

  it('says the control plane is unreachable when the stream fails', async () => {
    const running = await start(seedRich);
    await signIn();
    await expect.poll(() => dashboard().innerText()).toContain('Status: Healthy ✓');
    // The operator document's healthy view, word for word where the history allows.
    const healthy = await dashboard().innerText();
    expect(healthy).toContain('Targets: 1 active, 0 blocked, 1 paused');
    expect(healthy).toContain('Last Execution: 2 minutes ago');
    expect(healthy).toContain('✓ 2m ago: PR #722 created (api-base-normalization)');
    expect(healthy).toContain('✓ 15m ago: PR #721 merged');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
    // The browser's own reports of the refused reconnects.
    expected = ['ERR_CONNECTION_REFUSED', 'net::ERR_', '/v1/events/stream'];
    cp = null;
    await running.destroy();
    await expect.poll(() => dashboard().innerText(), { timeout: 10_000 }).toContain('Control Plane: Unreachable');
    const box = await dashboard().innerText();
    expect(box).toContain('Status: Error ✗');
    expect(box).toMatch(/Last Contact: (just now|\d+ seconds? ago)/);
    expect(box).toContain('Unable to fetch system status.');
    expect(box).toContain('Check control plane health.');
  });

  it('shows an event posted through the API on the stream within a second, filters, pauses, and links to the graph', async () => {
    const cp = await start(seedRich);
    await signIn(WRITE_TOKEN, '/stream');
    await expect.poll(() => page.getByTestId('stream-state').textContent()).toBe('Live.');
    const list = page.getByTestId('event-list');

    await post(cp, [{ type: 'pr.created', target: T, subject: `pr:${T}#900`, data: { number: 900, task_id: 'add-unit-tests' } }]);
    await list.getByText('PR #900 created (add-unit-tests)').waitFor({ timeout: 1000 });
    // Newest first.
    expect((await list.locator('li').first().innerText())).toContain('PR #900 created');
    await page.screenshot({ path: join(SCREENSHOTS, 'stream.png'), fullPage: true });

    // Pause holds new events back; resume shows them.
    await page.click('button:has-text("Pause")');
    await post(cp, [{ type: 'pr.closed', target: T, subject: `pr:${T}#900`, data: { number: 900 } }]);
    await page.getByRole('button', { name: 'Resume (1 new)' }).waitFor({ timeout: 2000 });
    expect(await list.innerText()).not.toContain('PR #900 closed');
    await page.click('button:has-text("Resume")');
    await list.getByText('PR #900 closed').waitFor({ timeout: 1000 });

    // Filter by type: only matching events arrive.
    await page.fill('input[name="type"]', 'attempt.failed');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('type') === 'attempt.failed'), page.click('button:has-text("Filter")')]);
    await expect.poll(async () => (await list.locator('li').allInnerTexts()).every((t) => t.includes('attempt.failed'))).toBe(true);
    const failures = await list.locator('li').count();
    await post(cp, [
      { type: 'pr.created', target: T, subject: `pr:${T}#901`, data: { number: 901 } },
      ...failure(T, 'docs-update', 'att-live', 'push_rejected'),
    ]);
    await list.getByText('Attempt failed: docs-update (push_rejected)').waitFor({ timeout: 1000 });
    await expect.poll(() => list.locator('li').count()).toBe(failures + 1);
    expect(await list.innerText()).not.toContain('PR #901');

    // Filter by target.
    await page.selectOption('select[name="target"]', 'acme/website');
    await page.fill('input[name="type"]', '');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('target') === 'acme/website'), page.click('button:has-text("Filter")')]);
    await expect.poll(() => list.innerText()).toContain('acme/website paused by github:octocat: Release freeze');
    expect(await list.innerText()).not.toContain('acme/radix');

    // From an event to its graph node, then along an edge.
    await page.getByRole('link', { name: 'target:acme/website' }).first().click();
    await expect.poll(() => page.getByTestId('node-label').textContent()).toBe('acme/website');
    await page.goto(`${cp.url}/graph?node=${encodeURIComponent(`pr:${T}#722`)}`);
    await page.getByTestId('neighbours').getByRole('link', { name: 'Task api-base-normalization' }).click();
    await expect.poll(() => page.getByTestId('node-label').textContent()).toBe('Task api-base-normalization');
    await page.screenshot({ path: join(SCREENSHOTS, 'graph.png'), fullPage: true });
  });

  it('pauses (with a reason) and resumes a target, and both appear in the audit view', async () => {
    const cp = await start(seedRich);
    await signIn(WRITE_TOKEN, `/targets/${T}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'target-detail.png'), fullPage: true });
    expect(await page.getByTestId('target-state').textContent()).toBe('active');
    // contract.yaml, shown as text: the name, the definition of done as a list, `<module>` as written.
    expect(await page.getByTestId('contract-name').textContent()).toBe(RADIX_CONTRACT.name);
    expect(await page.getByTestId('contract-dod').locator('li').allTextContents()).toEqual(RADIX_CONTRACT.definition_of_done);
    expect(await page.getByTestId('contract').locator('module').count()).toBe(0);

    await page.fill('input[aria-label="Pause reason"]', 'Investigating flaky CI');
    await page.click('button:has-text("Pause")');
    await expect.poll(() => page.getByTestId('action-result').textContent()).toBe(`Paused ${T}.`);
    await expect.poll(() => page.getByTestId('target-state').textContent()).toBe('paused');
    const api = (await (await cp.api(`/v1/targets/${T}`)).json()) as { target: { status: string; paused: { reason: string } } };
    expect(api.target.status).toBe('paused');
    expect(api.target.paused.reason).toBe('Investigating flaky CI');

    expect(await page.inputValue('input[aria-label="Resume reason"]')).toBe('');
    await page.fill('input[aria-label="Resume reason"]', 'Flaky CI fixed');
    await page.click('button:has-text("Resume")');
    await expect.poll(() => page.getByTestId('action-result').textContent()).toBe(`Resumed ${T}.`);
    await expect.poll(() => page.getByTestId('target-state').textContent()).toBe('active');

    await page.click('a:has-text("Audit")');
    const audit = page.getByTestId('audit');
    await expect.poll(() => audit.innerText()).toContain('Investigating flaky CI');
    const rows = await audit.locator('tbody tr').allInnerTexts();
    const actor = `token:`;
    expect(rows[0]).toContain('target.resumed');
    expect(rows[0]).toContain(actor);
    expect(rows[0]).toContain('console');
    expect(rows[0]).toContain('Flaky CI fixed');
    expect(rows[0]).not.toContain('Investigating');
    expect(rows[1]).toContain('target.paused');
    expect(rows[1]).toContain('Investigating flaky CI');
    expect(rows[1]).toContain('console');
    // The slash-command pause of the seed, with its own channel.
    expect(rows.some((r) => r.includes('github:octocat') && r.includes('Release freeze') && r.includes('slash_command'))).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'audit.png'), fullPage: true });
  });

  it('triggers a task and shows the attempt, or the reason it is blocked', async () => {
    const cp = await start(seedRich);
    await signIn(WRITE_TOKEN, `/targets/${T}`);
    await page.selectOption('select[aria-label="Task to trigger"]', 'add-unit-tests');
    await page.fill('input[aria-label="Trigger reason"]', 'Try again after the fix');
    await page.click('button:has-text("Trigger task")');
    await expect.poll(() => page.getByTestId('action-result').textContent()).toMatch(/^Triggered add-unit-tests: attempt \S+\.$/);
    const events = (await (await cp.api('/v1/graph/events?type=task.triggered')).json()) as { events: Array<{ data: { via: string; reason: string } }> };
    expect(events.events[0]?.data).toMatchObject({ via: 'console', reason: 'Try again after the fix' });

    // Now two PRs are open (max 2): the next trigger is refused with the reason.
    await post(cp, prStory(T, 'deps-update', 724, 'att-724'));
    await page.reload();
    await page.selectOption('select[aria-label="Task to trigger"]', 'ci-workflow-update');
    await page.click('button:has-text("Trigger task")');
    await expect.poll(() => page.getByTestId('action-result').textContent()).toMatch(/^Blocked: .+\(\w+\)$/);
  });

  it('lets a read-only user view but not act: the server refuses, not just the page', async () => {
    const cp = await start(seedRich);
    await signIn(READ_TOKEN, `/targets/${T}`);
    expect(await page.locator('header').innerText()).toContain('read-only');
    await page.fill('input[aria-label="Pause reason"]', 'I should not be able to');
    await page.click('button:has-text("Pause")');
    await expect.poll(() => page.getByTestId('action-result').textContent()).toContain('read-only');
    expect(await page.getByTestId('target-state').textContent()).toBe('active');

    // Straight at the API with the session cookie and a valid CSRF token: still 403.
    expected = ['403'];
    const status = await page.evaluate(async (target) => {
      const s = (await (await fetch('/auth/session')).json()) as { session: { csrf: string } };
      const r = await fetch(`/v1/targets/${target}/pause`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.session.csrf },
        body: JSON.stringify({ reason: 'direct' }),
      });
      return r.status;
    }, T);
    expect(status).toBe(403);
    const paused = (await (await cp.api('/v1/graph/events?type=target.paused')).json()) as { events: Array<{ target: string }> };
    expect(paused.events.filter((e) => e.target === T)).toEqual([]);
  });

  it('explains every ready task in the queue, shows policy sources, and renders the other views without errors', async () => {
    const cp = await start(seedRich);
    await signIn(WRITE_TOKEN, '/tasks');
    const queue = await page.getByTestId('task-queue').innerText();
    expect(queue).toContain('add-unit-tests');
    expect(queue).toContain('Ready to run at the next cycle.');
    expect(queue).toContain('PR #722 is open; waiting for it to be merged or closed.');
    expect(queue).toContain('Waiting on add-unit-tests.');
    expect(queue).not.toContain('deps-update');
    await page.screenshot({ path: join(SCREENSHOTS, 'task-queue.png'), fullPage: true });

    for (const path of ['/targets', '/graph', '/policy', '/commands']) {
      await page.goto(`${cp.url}${path}`);
      await page.locator('main h1').first().waitFor();
    }
    // The graph as of the moment the target was registered: no PRs around it yet.
    const first = (await (await cp.api(`/v1/graph/events?type=target.registered&target=${T}`)).json()) as { events: Array<{ time: string }> };
    await page.goto(`${cp.url}/graph?node=${encodeURIComponent(`target:${T}`)}&as_of=${encodeURIComponent(first.events[0]!.time)}`);
    expect(await page.locator('main').innerText()).toContain(`As of ${first.events[0]!.time}`);
    expect(await page.getByTestId('neighbours').innerText()).not.toContain('#722');
    // The slash-command help, generated from GET /v1/commands.
    await page.goto(`${cp.url}/commands`);
    const commands = await page.getByTestId('commands').innerText();
    expect(commands).toContain('/leviathan pause [reason]');
    expect(commands).toContain('write, maintain or admin');

    // The policy view says where each value comes from; proposing needs the GitHub App.
    await page.goto(`${cp.url}/policy?target=${encodeURIComponent(T)}`);
    expect(await page.locator('main').innerText()).toMatch(/max_open_prs\s+2\s+default/);
    await page.fill('input[name="reason"]', 'Allow three PRs');
    await page.fill('textarea[name="policy_yaml"]', 'max_open_prs: 3\n');
    await page.click('button:has-text("Open pull request")');
    await expect.poll(() => page.getByRole('status').textContent()).toContain('not configured');
  });
});
