/**
 * `leviathan worker` as a real process, stopped the ways a worker is stopped in production: a
 * SIGTERM (the executor at the deadline, `kubectl delete pod`, an eviction) and its own deadline
 * with nobody else left to enforce it (a local worker whose `tick` has exited).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerAssignment } from '../../src/executors/executor.ts';
import { AGENTS, alive, API_TOKEN, assignment, FAKE_TOKEN, FakeControlPlane, seedBareRepository } from '../worker/harness.ts';

const BIN = fileURLToPath(new URL('../../bin/leviathan.mjs', import.meta.url));

describe('leviathan worker, stopped', () => {
  let dir: string;
  let cp: FakeControlPlane;
  let child: ChildProcess | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-cli-worker-'));
    cp = await new FakeControlPlane().start();
    await seedBareRepository(join(dir, 'git', 'acme', 'widgets.git'), join(dir, 'seed'));
  });
  afterEach(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts the worker on `a` with an agent that never finishes (it records its pids). */
  function start(a: WorkerAssignment): { exited: Promise<number | null> } {
    child = spawn(process.execPath, [BIN, 'worker'], {
      cwd: dir,
      stdio: 'ignore',
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        LEVIATHAN_TASK_JSON: JSON.stringify(a),
        LEVIATHAN_CONTROL_PLANE_URL: cp.url,
        LEVIATHAN_API_TOKEN: API_TOKEN,
        GITHUB_TOKEN: FAKE_TOKEN,
        GITHUB_SERVER_URL: `file://${join(dir, 'git')}`,
        LEVIATHAN_AGENT_COMMAND: join(AGENTS, 'sleeps-forever.sh'),
        LEVIATHAN_WORK_DIR: join(dir, 'work'),
        LEVIATHAN_TEST_OUT: dir,
      },
    });
    const c = child;
    return { exited: new Promise((resolve) => c.once('exit', (code) => resolve(code))) };
  }

  async function agentPids(ms = 15_000): Promise<number[]> {
    const end = Date.now() + ms;
    for (;;) {
      const text = await readFile(join(dir, 'pids'), 'utf8').catch(() => '');
      if (text.trim().split('\n').length === 2) return text.trim().split('\n').map(Number);
      if (Date.now() > end) throw new Error('the agent never started');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("SIGTERM: kills the agent's own process group, reports other worker_terminated at its step, removes the workspace, exits 143", async () => {
    const { exited } = start(assignment({ timeout_seconds: 600 }));
    const pids = await agentPids();
    const stoppedAt = Date.now();
    child!.kill('SIGTERM');
    expect(await exited).toBe(143);
    // Within the local executor's 10 s between its SIGTERM and SIGKILL.
    expect(Date.now() - stoppedAt).toBeLessThan(9_000);
    for (const pid of pids) expect(alive(pid), `agent pid ${pid}`).toBe(false);
    expect(cp.stored.find((e) => e.type === 'attempt.failed')?.data).toMatchObject({
      failure_type: 'other',
      error_kind: 'worker_terminated',
      step: 'run agent',
    });
    expect(existsSync(join(dir, 'work', 'att-1'))).toBe(false);
    expect(cp.bodies.join('')).not.toContain(FAKE_TOKEN);
  });

  it('its deadline_at passing, with nobody else to enforce it: stops the agent, reports timeout, exits on its own', async () => {
    const startedAt = Date.now();
    // 10 s planned, but the executor started it (its deadline_at) 2 s before: the worker holds to
    // that deadline, less the reserve kept for the push (2 s), whenever it got going itself.
    const { exited } = start(assignment({ timeout_seconds: 10, deadline_at: new Date(startedAt + 8_000).toISOString() }));
    const pids = await agentPids();
    expect(await exited).toBe(1);
    expect(Date.now() - startedAt).toBeLessThan(9_000);
    for (const pid of pids) expect(alive(pid), `agent pid ${pid}`).toBe(false);
    expect(cp.stored.find((e) => e.type === 'attempt.failed')?.data).toMatchObject({ failure_type: 'timeout', step: 'run agent' });
    expect(existsSync(join(dir, 'work', 'att-1'))).toBe(false);
  });
});
