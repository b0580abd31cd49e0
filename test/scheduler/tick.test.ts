import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tick } from '../../src/cli/tick.ts';
import { envSchema } from '../../src/env.ts';
import { newEvent } from '../../src/events/envelope.ts';
import type { GitHubRateLimit } from '../../src/events/types.ts';
import { InstallationTokenError } from '../../src/github/installation-token.ts';
import { recordRateLimit, resetRateLimit } from '../../src/metrics/registry.ts';
import { BacklogReadError, type BacklogRefresher } from '../../src/scheduler/backlog-refresh.ts';
import { startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';
import { FakeExecutor } from './fake-executor.ts';
import { eventsOf, post, seedEvents, TARGET, taskSummary } from './seed.ts';
import { freePort } from '../helpers/free-port.ts';
import { parseExposition, valueOf } from '../metrics/exposition.ts';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

const INFO = 30;
const WARN = 40;
const ERROR = 50;

describe('leviathan tick against a real control plane', () => {
  let cp: TestControlPlane;
  let executor: FakeExecutor;
  let lines: LogLine[];
  let dir: string;

  beforeEach(async () => {
    cp = await startTestControlPlane({ overrides: { executor: null } });
    executor = new FakeExecutor();
    lines = [];
    dir = await mkdtemp(join(tmpdir(), 'leviathan-tick-'));
  });
  afterEach(async () => {
    resetRateLimit();
    await cp.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const runTick = (
    env: Record<string, string> = {},
    opts: { refresher?: BacklogRefresher | null; rateLimit?: () => GitHubRateLimit | null; cycleId?: string } = {},
  ) => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    return tick(
      envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: dir, ...env }),
      { logger, executor, refresher: opts.refresher ?? null, newCycleId: () => opts.cycleId ?? 'cycle-1', ...(opts.rateLimit ? { rateLimit: opts.rateLimit } : {}) },
    );
  };
  const messages = (minLevel = INFO) => lines.filter((l) => l.level >= minLevel).map((l) => l.msg);
  const targetStatus = async () => {
    const res = await cp.api(`/v1/targets/${TARGET}`);
    return ((await res.json()) as { target: { status: string; reason: string; headline: string } }).target;
  };

  it('selects a ready task, starts its worker, records the cycle and exits 0', async () => {
    await post(cp, seedEvents([taskSummary('docs-a', { priority: 'high' }), taskSummary('docs-b')]));

    expect(await runTick()).toBe(0);

    expect(messages()).toEqual(['Scheduler: Selected task docs-a', 'Scheduler: Worker started', 'Scheduler: Exiting cleanly (executed)']);
    expect(executor.started.map((a) => [a.attempt_id, a.target, a.task.id])).toEqual([['cycle-1-1', TARGET, 'docs-a']]);
    expect((await eventsOf(cp, 'scheduler.cycle_started'))[0]?.data).toMatchObject({ cycle_id: 'cycle-1' });
    expect((await eventsOf(cp, 'task.selected'))[0]).toMatchObject({ actor: 'scheduler', target: TARGET, data: { task_id: 'docs-a', attempt_id: 'cycle-1-1' } });
    expect((await eventsOf(cp, 'attempt.created'))[0]?.data).toMatchObject({ attempt_id: 'cycle-1-1', task_id: 'docs-a', executor: 'local', handle: 'fake-1' });
    expect((await eventsOf(cp, 'scheduler.cycle_completed'))[0]?.data).toEqual({ cycle_id: 'cycle-1', outcomes: { [TARGET]: 'executed:task_selected' } });
    expect(await targetStatus()).toMatchObject({ status: 'active', reason: 'attempt_in_flight' });
  });

  it('is idle with no ready tasks: the operator document\'s lines, exit 0', async () => {
    await post(cp, seedEvents([taskSummary('docs-a', { ready: false })]));

    expect(await runTick()).toBe(0);

    expect(messages()).toEqual(['Scheduler: No ready tasks found in backlog', 'Scheduler: Exiting cleanly (idle)']);
    expect(executor.started).toEqual([]);
    expect((await eventsOf(cp, 'task.skipped'))[0]?.data).toMatchObject({ outcome: 'idle', reason: 'no_ready_tasks' });
  });

  it('is blocked at max open PRs: warns word for word, skips selection, exit 0', async () => {
    await post(cp, [
      ...seedEvents([taskSummary('docs-a'), taskSummary('x'), taskSummary('y')]),
      { type: 'pr.created', target: TARGET, data: { number: 721, task_id: 'x' } },
      { type: 'pr.created', target: TARGET, data: { number: 722, task_id: 'y' } },
    ]);

    expect(await runTick()).toBe(0);

    expect(lines.filter((l) => l.level >= INFO).map((l) => [l.level, l.msg])).toEqual([
      [WARN, 'Scheduler: Max open PRs reached (2/2)'],
      [WARN, 'Scheduler: Skipping task selection'],
      [INFO, 'Scheduler: Exiting cleanly (blocked)'],
    ]);
    expect(executor.started).toEqual([]);
    expect(await targetStatus()).toMatchObject({ status: 'blocked', reason: 'max_open_prs' });
  });

  it('does nothing when the autonomy config says false (and records what it read)', async () => {
    const config = join(dir, 'autonomy.yaml');
    await writeFile(config, 'autonomy_enabled: false\nmax_open_prs: 3\n');
    await post(cp, seedEvents([taskSummary('docs-a')]));

    expect(await runTick({ LEVIATHAN_AUTONOMY_CONFIG: config })).toBe(0);

    expect(lines.filter((l) => l.level >= INFO).map((l) => [l.level, l.msg])).toEqual([
      [WARN, '⚠ Autonomy disabled in configuration'],
      [INFO, 'Scheduler: Exiting cleanly (idle)'],
    ]);
    expect(executor.started).toEqual([]);
    expect((await eventsOf(cp, 'scheduler.cycle_started'))[0]?.data).toMatchObject({ autonomy_enabled: false, global_defaults: { max_open_prs: 3 } });
    expect(await targetStatus()).toMatchObject({ status: 'paused', reason: 'autonomy_disabled' });
  });

  it('treats a missing autonomy config as off, whatever the control plane says', async () => {
    await post(cp, seedEvents([taskSummary('docs-a')]));
    expect(await runTick({ LEVIATHAN_AUTONOMY_CONFIG: join(dir, 'missing.yaml') })).toBe(0);
    expect(messages()).toContain('⚠ Autonomy disabled in configuration');
    expect(executor.started).toEqual([]);
  });

  it('runs when the mounted config enables autonomy', async () => {
    const config = join(dir, 'cm');
    await writeFile(config, 'autonomy_enabled: "true"\n');
    await post(cp, seedEvents([taskSummary('docs-a')], { autonomy: false }));
    expect(await runTick({ LEVIATHAN_AUTONOMY_CONFIG: config })).toBe(0);
    expect(executor.started).toHaveLength(1);
  });

  it('exits 1 when the control plane is unreachable', async () => {
    const port = await freePort();
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    const code = await tick(envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: `http://127.0.0.1:${port}`, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: dir }), {
      logger,
      executor,
      refresher: null,
    });
    expect(code).toBe(1);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[ERROR, 'Scheduler: Control plane unreachable']]);
  });

  it('exits 1 when the control plane refuses the token', async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    const code = await tick(envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: 'wrong-token', LEVIATHAN_DATA_DIR: dir }), { logger, executor, refresher: null });
    expect(code).toBe(1);
    expect(String(lines[0]?.error)).toMatch(/401 unauthorized/);
  });

  it('records executor_failed when the executor refuses the worker, and still exits 0', async () => {
    executor.failWith = 'Kubernetes API unreachable';
    await post(cp, seedEvents([taskSummary('docs-a')]));

    expect(await runTick()).toBe(0);

    // The document's line names a category; what the executor said is in `error`.
    expect(lines.filter((l) => l.level >= ERROR).map((l) => [l.msg, l.error])).toEqual([['Scheduler: Failed to submit job (executor error)', 'Kubernetes API unreachable']]);
    expect((await eventsOf(cp, 'attempt.failed'))[0]?.data).toMatchObject({ attempt_id: 'cycle-1-1', failure_type: 'executor_failed' });
    expect((await eventsOf(cp, 'scheduler.cycle_completed'))[0]?.data).toMatchObject({ outcomes: { [TARGET]: 'error:executor_failed' } });
    expect(await targetStatus()).toMatchObject({ status: 'error', reason: 'executor_failed' });
    expect(messages().at(-1)).toBe('Scheduler: Exiting cleanly (blocked)');
  });

  it('a worker that cannot be given a GitHub token is a credentials problem: auth_error, error github_auth_failed', async () => {
    executor.failWith = new InstallationTokenError('Could not mint a GitHub token for acme/widgets (installation 7, HTTP 404): check APP_ID');
    await post(cp, seedEvents([taskSummary('docs-a')]));

    expect(await runTick()).toBe(0);

    expect((await eventsOf(cp, 'attempt.failed'))[0]?.data).toMatchObject({ attempt_id: 'cycle-1-1', failure_type: 'auth_error', message: expect.stringContaining('HTTP 404') });
    expect((await eventsOf(cp, 'scheduler.cycle_completed'))[0]?.data).toMatchObject({ outcomes: { [TARGET]: 'error:github_auth_failed' } });
    expect(await targetStatus()).toMatchObject({ status: 'error', reason: 'github_auth_failed' });
  });

  it.each<[string, string | Error, string]>([
    ['the Kubernetes API is down', 'Kubernetes API unreachable', 'executor_failed'],
    ['no GitHub token can be minted', new InstallationTokenError('Could not mint a GitHub token for acme/widgets (HTTP 500)'), 'github_auth_failed'],
  ])('while %s, ticks use up no tries and trip no breaker; the first tick after it starts the task', async (_name, failure, reason) => {
    await post(cp, seedEvents([taskSummary('docs-a', { priority: 'high' }), taskSummary('docs-b')]));
    // Twice the default max_attempts_per_task and breaker threshold (2).
    executor.failWith = failure;
    for (const cycle of ['c1', 'c2', 'c3', 'c4']) {
      expect(await runTick({}, { cycleId: cycle })).toBe(0);
      expect(await targetStatus()).toMatchObject({ status: 'error', reason });
    }
    expect((await eventsOf(cp, 'attempt.failed')).map((e) => [e.data.attempt_id, e.data.phase])).toEqual(['c1', 'c2', 'c3', 'c4'].map((c) => [`${c}-1`, 'start']));
    expect(await eventsOf(cp, 'circuit_breaker.tripped')).toEqual([]);
    const res = await cp.api(`/v1/targets/${TARGET}`);
    const { target } = (await res.json()) as { target: { breaker: { consecutive_failures: number }; tasks: Array<{ id: string; state: string; attempts: number }> } };
    expect(target.breaker.consecutive_failures).toBe(0);
    expect(target.tasks.map((t) => [t.id, t.state, t.attempts])).toEqual([
      ['docs-a', 'ready', 0],
      ['docs-b', 'ready', 0],
    ]);

    executor.failWith = null;
    expect(await runTick({}, { cycleId: 'c5' })).toBe(0);
    expect(executor.started.map((a) => [a.attempt_id, a.task.id])).toEqual([['c5-1', 'docs-a']]);
    expect(await targetStatus()).toMatchObject({ status: 'active', reason: 'attempt_in_flight' });
  });

  it('records a worker that ended without reporting before deciding', async () => {
    await post(cp, [
      ...seedEvents([taskSummary('docs-a'), taskSummary('docs-b')]),
      { type: 'task.selected', target: TARGET, data: { task_id: 'docs-a', attempt_id: 'old-1' } },
      { type: 'attempt.created', target: TARGET, data: { task_id: 'docs-a', attempt_id: 'old-1', handle: 'pid:1' } },
      { type: 'attempt.started', target: TARGET, actor: 'worker:old-1', data: { task_id: 'docs-a', attempt_id: 'old-1' } },
    ]);
    executor.runs = [{ attempt_id: 'old-1', target: TARGET, task_id: 'docs-a', state: 'failed', failure_type: 'timeout', handle: 'pid:1' }];

    expect(await runTick()).toBe(0);

    const failed = await eventsOf(cp, 'attempt.failed');
    expect(failed.map((e) => [e.id, e.data.failure_type])).toEqual([['old-1:failed', 'timeout']]);
    // The slot is free again, so this cycle starts the next task.
    expect(executor.started.map((a) => a.task.id)).toEqual(['docs-a']);
  });

  describe("the tick's GitHub rate limit", () => {
    const metric = async (name: string) => valueOf(parseExposition(await (await fetch(`${cp.url}/metrics`)).text()), name);

    it("reports the process's last reading in cycle_completed, and /metrics shows it once the process is gone", async () => {
      // A window that has not reset yet: a reset reading shows as full again.
      const reset = Math.floor(Date.now() / 1000) + 3600;
      await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1 } }, { type: 'autonomy.enabled', data: {} }]);
      // The backlog read answers with rate-limit headers, as the Octokit plugin records them.
      const refresher: BacklogRefresher = {
        refresh: async (t) => {
          recordRateLimit({ remaining: 1234, limit: 5000, reset });
          return newEvent({ type: 'backlog.synced', actor: 'scheduler', target: t.id, data: { tasks: [taskSummary('fresh')], etag: '"e2"' } });
        },
      };
      expect(await runTick({}, { refresher })).toBe(0);

      expect((await eventsOf(cp, 'scheduler.cycle_completed'))[0]?.data).toEqual({
        cycle_id: 'cycle-1',
        outcomes: { [TARGET]: 'executed:task_selected' },
        github_rate_limit: { remaining: 1234, limit: 5000, reset },
      });
      // The tick's process ends: the control plane's scrape has only the log's reading.
      resetRateLimit();
      expect(await metric('leviathan_github_rate_limit_remaining')).toBe(1234);
      expect(await metric('leviathan_github_rate_limit_limit')).toBe(5000);
      expect(await metric('leviathan_github_rate_limit_reset_timestamp_seconds')).toBe(reset);
    });

    it('omits it when the process has no reading', async () => {
      await post(cp, seedEvents([taskSummary('docs-a', { ready: false })]));
      expect(await runTick({}, { rateLimit: () => null })).toBe(0);
      expect((await eventsOf(cp, 'scheduler.cycle_completed'))[0]?.data).toEqual({ cycle_id: 'cycle-1', outcomes: { [TARGET]: 'idle:no_ready_tasks' } });
      expect(await metric('leviathan_github_rate_limit_remaining')).toBeUndefined();
    });

    it('omits a malformed reading rather than lose the cycle\'s event', async () => {
      await post(cp, seedEvents([taskSummary('docs-a', { ready: false })]));
      expect(await runTick({}, { rateLimit: () => ({ remaining: -3, limit: 5000, reset: null }) })).toBe(0);
      expect((await eventsOf(cp, 'scheduler.cycle_completed'))[0]?.data).toEqual({ cycle_id: 'cycle-1', outcomes: { [TARGET]: 'idle:no_ready_tasks' } });
      expect(messages()).toContain('Scheduler: Exiting cleanly (idle)');
    });
  });

  describe('backlog cache', () => {
    it('asks GitHub only when the cache is stale, and records what it read', async () => {
      await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1 } }, { type: 'autonomy.enabled', data: {} }]);
      const asked: string[] = [];
      const refresher: BacklogRefresher = {
        refresh: async (t) => {
          asked.push(t.id);
          return newEvent({ type: 'backlog.synced', actor: 'scheduler', target: t.id, data: { tasks: [taskSummary('fresh')], etag: '"e2"' } });
        },
      };
      expect(await runTick({}, { refresher })).toBe(0);
      expect(asked).toEqual([TARGET]);
      expect(executor.started.map((a) => a.task.id)).toEqual(['fresh']);

      // Now the cache is fresh: no second request.
      expect(await runTick({}, { refresher })).toBe(0);
      expect(asked).toEqual([TARGET]);
    });

    it('fails closed when GitHub cannot be read', async () => {
      await post(cp, [{ type: 'target.registered', target: TARGET, data: { installation_id: 1 } }, { type: 'autonomy.enabled', data: {} }]);
      const refresher: BacklogRefresher = {
        refresh: async () => {
          throw new BacklogReadError('github_auth_failed', 'GitHub refused to read acme/widgets (HTTP 401).');
        },
      };
      expect(await runTick({}, { refresher })).toBe(0);
      expect(lines.filter((l) => l.level >= ERROR).map((l) => l.msg)).toEqual(['Scheduler: Cannot execute (github_auth_failed)']);
      expect(executor.started).toEqual([]);
      expect(await targetStatus()).toMatchObject({ status: 'error', reason: 'github_auth_failed' });
    });
  });
});

