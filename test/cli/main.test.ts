import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/leviathan.mjs', import.meta.url));
const run = promisify(execFile);

/** `leviathan <args>` in `cwd` with exactly `env` (and PATH), as an operator would run it. */
async function leviathan(cwd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('leviathan (the command line)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-cli-'));
    // Where Probot's manifest flow leaves the App's credentials, and where an operator keeps settings.
    await writeFile(join(dir, '.env'), 'LEVIATHAN_CONTROL_PLANE_URL=http://127.0.0.1:9\nLEVIATHAN_API_TOKEN=from-dotenv\nLEVIATHAN_TASK_JSON={"not":"an assignment"}\n');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads ./.env for the operator commands, the environment winning over it', async () => {
    expect((await leviathan(dir, ['ctl', 'status'])).out).toContain('Control plane unreachable at http://127.0.0.1:9');
    expect((await leviathan(dir, ['ctl', 'status'], { LEVIATHAN_CONTROL_PLANE_URL: 'http://127.0.0.1:7' })).out).toContain('Control plane unreachable at http://127.0.0.1:7');
  });

  it('never reads ./.env for a worker: its environment is what the executor gave it', async () => {
    const { code, out } = await leviathan(dir, ['worker']);
    expect(code).toBe(1);
    // No assignment at all, rather than the one planted in .env.
    expect(out).toContain('No assignment: set LEVIATHAN_TASK_FILE');
  });
});
