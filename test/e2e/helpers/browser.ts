import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

/** Newest modification time under a directory (the console's sources). */
function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

/**
 * The console must be built from the current sources — web/app and the src/ modules it bundles —
 * so build it once when build/ is missing or older than they are.
 */
export function ensureConsoleBuild(): void {
  const entry = join(ROOT, 'build', 'server', 'index.js');
  const sources = Math.max(newest(join(ROOT, 'web', 'app')), newest(join(ROOT, 'src')), statSync(join(ROOT, 'vite.config.ts')).mtimeMs);
  if (existsSync(entry) && statSync(entry).mtimeMs >= sources) return;
  try {
    execFileSync('npx', ['remix', 'vite:build'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  } catch (err) {
    const out = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`The console build failed; run \`npm run build:web\` to see why.\n${out.stderr?.toString() ?? ''}${out.stdout?.toString() ?? ''}`);
  }
  if (!existsSync(entry)) throw new Error('build/server/index.js is missing after the build: run `npm run build:web`.');
}

/** Debian's Chromium, headless, with the flags this machine needs; fails loudly when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests drive Debian's Chromium. Install it with \`apt-get install chromium\`.`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * A fresh context and page that report into `problems` every console error, uncaught exception
 * and 4xx/5xx answer the page sees, so a test can fail on what a user would have hit.
 */
export async function watchedPage(browser: Browser, problems: string[]): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Fail fast and say where, rather than hitting the test's own timeout.
  context.setDefaultTimeout(5000);
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return { context, page };
}
