import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorkerWatch } from '../../src/scheduler/worker-watch.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { FakeExecutor } from './fake-executor.ts';
import { eventsOf, post, seedEvents, TARGET, taskSummary } from './seed.ts';

describe('the control plane watch over local workers', () => {
  let cp: TestControlPlane;
  beforeEach(async () => {
    cp = await startTestControlPlane({ overrides: { executor: null } });
  });
  afterEach(async () => {
    await cp.destroy();
  });

  it('records a worker that ended without reporting, once', async () => {
    const executor = new FakeExecutor();
    await post(cp, [
      ...seedEvents([taskSummary('docs-a')]),
      { type: 'task.selected', target: TARGET, data: { task_id: 'docs-a', attempt_id: 'att-1' } },
      { type: 'attempt.created', target: TARGET, data: { task_id: 'docs-a', attempt_id: 'att-1' } },
      { type: 'attempt.started', target: TARGET, actor: 'worker:att-1', data: { task_id: 'docs-a', attempt_id: 'att-1' } },
    ]);
    const watch = startWorkerWatch({ executor, store: cp.store, projector: cp.projector, clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), intervalMs: 60_000 });
    try {
      executor.runs = [{ attempt_id: 'att-1', target: TARGET, task_id: 'docs-a', state: 'running', handle: 'pid:1' }];
      expect(await watch.check()).toBe(0);
      executor.runs = [{ attempt_id: 'att-1', target: TARGET, task_id: 'docs-a', state: 'failed', failure_type: 'worker_lost', handle: 'pid:1' }];
      expect(await watch.check()).toBe(1);
      expect(await watch.check()).toBe(0);
      expect((await eventsOf(cp, 'attempt.failed')).map((e) => e.data.failure_type)).toEqual(['worker_lost']);
      const res = await cp.api(`/v1/targets/${TARGET}`);
      const { target } = (await res.json()) as { target: { tasks: Array<{ id: string; state: string; last_failure: { failure_type: string } | null }> } };
      expect(target.tasks[0]).toMatchObject({ id: 'docs-a', state: 'ready', last_failure: { failure_type: 'worker_lost' } });
    } finally {
      watch.stop();
    }
  });
});
