import { describe, expect, it } from 'vitest';
import { agentBudgetMs, attemptDeadline, stopFailure } from '../../src/worker/attempt-deadline.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const MIN = 60_000;

describe('attemptDeadline', () => {
  it("is the executor's deadline_at, not the worker's start + timeout: a worker that started late has less time", () => {
    expect(attemptDeadline({ timeout_seconds: 900, deadline_at: '2026-12-01T10:10:00Z' }, T0)).toEqual({ at: T0 + 10 * MIN, totalMs: 900_000, source: 'assignment' });
  });

  it("never grants more than timeout_seconds from the worker's own start (another machine's clock may run ahead)", () => {
    expect(attemptDeadline({ timeout_seconds: 60, deadline_at: '2026-12-01T11:00:00Z' }, T0).at).toBe(T0 + MIN);
  });

  it("without deadline_at (an older executor's assignment): timeout_seconds from the worker's start", () => {
    expect(attemptDeadline({ timeout_seconds: 60 }, T0)).toEqual({ at: T0 + MIN, totalMs: 60_000, source: 'worker start' });
  });
});

describe('agentBudgetMs', () => {
  it("runs up to the deadline less a reserve for push and pull request, measured from the agent's start", () => {
    const d = attemptDeadline({ timeout_seconds: 900, deadline_at: '2026-12-01T10:15:00Z' }, T0);
    // 15 minutes less the 2-minute reserve, less the 3 minutes the clone took.
    expect(agentBudgetMs(d, T0 + 3 * MIN)).toBe(10 * MIN);
    // A fifth of a short attempt, at least a second.
    expect(agentBudgetMs(attemptDeadline({ timeout_seconds: 10 }, T0), T0)).toBe(8_000);
    expect(agentBudgetMs(attemptDeadline({ timeout_seconds: 2 }, T0), T0)).toBe(1_000);
    expect(agentBudgetMs(d, T0 + 14 * MIN)).toBeLessThan(0);
  });
});

describe('stopFailure', () => {
  const given = attemptDeadline({ timeout_seconds: 900, deadline_at: '2026-12-01T10:15:00Z' }, T0);

  it('the deadline passing is a timeout, naming the deadline and the step', () => {
    const e = stopFailure({ kind: 'deadline' }, given, T0 + 15 * MIN, 'run agent');
    expect([e.code, e.message]).toEqual(['timeout', 'The attempt reached its deadline (2026-12-01T10:15:00.000Z) during run agent; the worker stopped it']);
  });

  it("a SIGTERM at the deadline (the executor's own enforcement) is a timeout too", () => {
    expect(stopFailure({ kind: 'signal', signal: 'SIGTERM' }, given, T0 + 15 * MIN, 'push branch')).toMatchObject({ code: 'timeout', message: expect.stringContaining('stopped by SIGTERM') });
  });

  it('a SIGTERM before the deadline is other, worker_terminated, with the step', () => {
    const e = stopFailure({ kind: 'signal', signal: 'SIGTERM' }, given, T0 + 5 * MIN, 'run agent');
    expect(e.code).toBe('other');
    expect(e.data).toEqual({ error_kind: 'worker_terminated' });
    expect(e.message).toMatch(/^The worker was stopped by SIGTERM during run agent, before the attempt's deadline \(2026-12-01T10:15:00.000Z\)/);
  });

  it("with only an estimated deadline, a SIGTERM in its last two minutes is taken for Kubernetes' activeDeadlineSeconds", () => {
    const estimated = attemptDeadline({ timeout_seconds: 900 }, T0);
    expect(stopFailure({ kind: 'signal', signal: 'SIGTERM' }, estimated, T0 + 14 * MIN, 'run agent').code).toBe('timeout');
    expect(stopFailure({ kind: 'signal', signal: 'SIGTERM' }, estimated, T0 + 12 * MIN, 'run agent').code).toBe('other');
    // The executor's own deadline is exact: no slack.
    expect(stopFailure({ kind: 'signal', signal: 'SIGTERM' }, given, T0 + 14 * MIN, 'run agent').code).toBe('other');
  });
});
