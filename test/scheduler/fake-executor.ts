import type { Executor, WorkerAssignment, WorkerRun } from '../../src/executors/executor.ts';

/** An Executor that records what it was asked to start; runs and failures are set by the test. */
export class FakeExecutor implements Executor {
  readonly kind = 'local' as const;
  readonly started: WorkerAssignment[] = [];
  runs: WorkerRun[] = [];
  /** Every start fails with this message, or this error as it is. */
  failWith: string | Error | null = null;
  listFails = false;

  async start(a: WorkerAssignment): Promise<{ handle: string }> {
    if (this.failWith) throw typeof this.failWith === 'string' ? new Error(this.failWith) : this.failWith;
    this.started.push(a);
    const handle = `fake-${this.started.length}`;
    this.runs.push({ attempt_id: a.attempt_id, target: a.target, task_id: a.task.id, state: 'running', handle });
    return { handle };
  }

  async list(): Promise<WorkerRun[]> {
    if (this.listFails) throw new Error('list failed');
    return this.runs.map((r) => ({ ...r }));
  }
}
