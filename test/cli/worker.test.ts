/**
 * `leviathan worker` as a real process, stopped the ways a worker is stopped in production: a
 * SIGTERM (the executor at the deadline, `kubectl delete pod`, an eviction) and its own deadline
 * with nobody else left to enforce it (a local worker whose `tick` has exited).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerAssignment } from '../../src/executors/executor.ts';
import { AGENTS, agentPids, alive, assignment, FAKE_TOKEN, FakeControlPlane, IGNORES_TERM_AGENT, realWorkerEnv, seedBareRepository } from '../worker/harness.ts';

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

  /** Starts the worker on `a` with `agent` (by default one that never finishes; both record their pids). */
  function start(a: WorkerAssignment, agent = join(AGENTS, 'sleeps-forever.sh')): { exited: Promise<number | null> } {
    child = spawn(process.execPath, [BIN, 'worker'], {
      cwd: dir,
      stdio: 'ignore',
      env: { ...realWorkerEnv(dir, cp.url, agent), LEVIATHAN_TASK_JSON: JSON.stringify(a) },
    });
    const c = child;
    return { exited: new Promise((resolve) => c.once('exit', (code) => resolve(code))) };
  }

  it("SIGTERM: kills the agent's own process group, reports other worker_terminated at its step, removes the workspace, exits 143", async () => {
    const { exited } = start(assignment({ timeout_seconds: 600 }));
    const pids = await agentPids(dir);
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

  it('its deadline_at passing, with nobody else to enforce it: stops the agent, reports timeout at the deadline, exits on its own', async () => {
    const startedAt = Date.now();
    // 10 s planned, but the executor started it (its deadline_at) 2 s before. The agent's own
    // budget ends 2 s (the reserve) before the deadline, but this agent shrugs off that SIGTERM
    // and its grace (5 s) outlasts the deadline: the deadline is what stops it.
    const { exited } = start(assignment({ timeout_seconds: 10, deadline_at: new Date(startedAt + 8_000).toISOString() }), IGNORES_TERM_AGENT);
    const pids = await agentPids(dir);
    expect(await exited).toBe(1);
    const took = Date.now() - startedAt;
    expect(took).toBeGreaterThanOrEqual(8_000);
    expect(took).toBeLessThan(14_000);
    for (const pid of pids) expect(alive(pid), `agent pid ${pid}`).toBe(false);
    expect(cp.stored.find((e) => e.type === 'attempt.failed')?.data).toMatchObject({
      failure_type: 'timeout',
      step: 'run agent',
      message: expect.stringMatching(/^The attempt reached its deadline \(.+\) during run agent; the worker stopped it$/),
    });
    expect(existsSync(join(dir, 'work', 'att-1'))).toBe(false);
  });
});
