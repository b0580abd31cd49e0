/**
 * The container image's layout without Docker (no engine here): package.json, bin/, the compiled
 * dist/, the console build/ and production dependencies only, and no src/. bin/leviathan.mjs must
 * then run dist/ — tsx is not even installed — and `serve` must come up on the embedded store.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.ts';
import { freePort } from '../helpers/free-port.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
let app: string;

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [join(app, 'bin/leviathan.mjs'), ...args], { cwd: app, env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    proc.once('error', reject);
    proc.once('exit', (code) => resolve({ code, out, err }));
  });
}

beforeAll(async () => {
  // `npm test` builds dist/ first (build:server); without it this test cannot say anything.
  const built = await stat(join(ROOT, 'dist/cli/main.js')).catch(() => null);
  if (!built) throw new Error('dist/ is missing: run `npm run build:server` (npm test does) before this test.');
  app = await mkdtemp(join(tmpdir(), 'leviathan-image-'));
  await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
  await cp(join(ROOT, 'bin'), join(app, 'bin'), { recursive: true });
  await cp(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  await symlink(join(ROOT, 'build'), join(app, 'build'));
  await prodNodeModules(join(app, 'node_modules'));
});

/**
 * node_modules as `npm ci --omit=dev` leaves it: a link to each installed package the lockfile
 * does not mark dev-only (tsx, vite, vitest, … are absent), so nothing dev-only can be loaded.
 */
async function prodNodeModules(dir: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/') || path.indexOf('/node_modules/') !== -1 || meta.dev || meta.devOptional) continue;
    const installed = await stat(join(ROOT, path)).catch(() => null);
    if (!installed) continue; // optional, for another platform
    await mkdir(dirname(join(app, path)), { recursive: true });
    await symlink(join(ROOT, path), join(app, path));
  }
  expect(await stat(join(dir, 'tsx')).catch(() => null)).toBeNull();
}

afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});

describe('the image layout (compiled dist/, no src/)', () => {
  it('runs dist/ without the TypeScript compiler', async () => {
    const r = await run(['version'], { NODE_OPTIONS: '--trace-warnings' });
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(VERSION);
  });

  it('serves the API and the console on the embedded store', async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'leviathan-image-data-'));
    const proc = spawn(process.execPath, [join(app, 'bin/leviathan.mjs'), 'serve'], {
      cwd: app,
      env: { PATH: process.env.PATH!, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', LEVIATHAN_DATA_DIR: dataDir, LEVIATHAN_API_TOKEN: 'image-test-token-0123456789' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      const url = `http://127.0.0.1:${port}`;
      let health: Response | null = null;
      for (let i = 0; i < 300 && !health; i++) {
        health = await fetch(`${url}/health`).catch(() => null);
        if (!health) await new Promise((r) => setTimeout(r, 50));
      }
      expect(health, `serve did not come up: ${err}`).not.toBeNull();
      expect(await health!.json()).toMatchObject({ version: VERSION });
      const targets = await fetch(`${url}/v1/targets`, { headers: { authorization: 'Bearer image-test-token-0123456789' } });
      expect(targets.status).toBe(200);
      const page = await fetch(`${url}/sign-in`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    } finally {
      proc.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
