import { spawn } from 'node:child_process';

/** How an agent run ended. `stderrTail` is raw: redact before use. */
export type AgentOutcome =
  | { kind: 'exited'; exitCode: number; stderrTail: string }
  | { kind: 'signalled'; signal: string; stderrTail: string }
  | { kind: 'timeout'; stderrTail: string }
  /** Stopped through `signal`: the worker itself is being stopped. */
  | { kind: 'stopped'; stderrTail: string };

/** One agent run: what to start, where, with what, for how long. */
export interface AgentRun {
  /** Shell command line, run through `/bin/sh -c`. */
  command: string;
  cwd: string;
  /** The complete environment of the agent, already scrubbed of secrets. */
  env: Record<string, string>;
  /** Task JSON, written to the agent's stdin. */
  input: string;
  timeoutMs: number;
  /** Time between SIGTERM and SIGKILL of the process group. */
  killGraceMs?: number;
  /**
   * Stops the agent's whole group (SIGTERM, then SIGKILL after at most STOP_GRACE_MS): the worker
   * is being stopped (a signal, or the attempt's deadline) and has only seconds left itself.
   */
  signal?: AbortSignal;
  /** Called with each chunk of agent output, for logging. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
}

const TAIL_BYTES = 16 * 1024;
/** Longest grace between SIGTERM and SIGKILL when the worker itself is stopping. */
export const STOP_GRACE_MS = 2_000;

/**
 * Runs the agent in its own process group so that a timeout kills everything it started
 * (SIGTERM, then SIGKILL after a grace period), not only the shell.
 *
 * Its own group also means that nothing kills it along with the worker's: the executor's stop,
 * a terminal's Ctrl-C and the like reach the worker alone. So the group is killed when `signal`
 * aborts, and SIGKILLed, synchronously, whenever this process exits while the agent runs
 * (process.exit, an uncaught error): an agent must never outlive its worker with its keys.
 */
export function runAgent(run: AgentRun): Promise<AgentOutcome> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', run.command], {
      cwd: run.cwd,
      env: run.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let ended: 'timeout' | 'stopped' | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const onProcessExit = () => killGroup('SIGKILL');
    process.once('exit', onProcessExit);
    const stop = (why: 'timeout' | 'stopped', graceMs: number) => {
      if (ended) return;
      ended = why;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), graceMs);
    };
    const onAbort = () => stop('stopped', Math.min(run.killGraceMs ?? 5_000, STOP_GRACE_MS));

    child.stdout.on('data', (c: Buffer) => run.onOutput?.('stdout', c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      const s = c.toString('utf8');
      stderr += s;
      if (stderr.length > TAIL_BYTES) {
        // Cut at a line start: a line cut in half could hold half a secret that no longer
        // looks like one to the redactor.
        const cut = stderr.slice(-TAIL_BYTES);
        const nl = cut.indexOf('\n');
        stderr = nl === -1 ? '' : cut.slice(nl + 1);
      }
      run.onOutput?.('stderr', s);
    });
    // An agent that never reads stdin closes it early; that is not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(run.input);

    const timer = setTimeout(() => stop('timeout', run.killGraceMs ?? 5_000), run.timeoutMs);
    if (run.signal?.aborted) onAbort();
    else run.signal?.addEventListener('abort', onAbort, { once: true });

    let settled = false;
    const finish = (outcome: AgentOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      process.removeListener('exit', onProcessExit);
      resolve(outcome);
    };
    child.on('error', (e) => finish({ kind: 'exited', exitCode: 127, stderrTail: `${stderr}\n${e.message}` }));
    child.on('exit', (code, signal) => {
      // Whatever the shell left behind in its group goes with it.
      killGroup('SIGKILL');
      if (killTimer) clearTimeout(killTimer);
      const outcome = (): AgentOutcome => {
        if (ended) return { kind: ended, stderrTail: stderr };
        if (signal) return { kind: 'signalled', signal, stderrTail: stderr };
        return { kind: 'exited', exitCode: code ?? 1, stderrTail: stderr };
      };
      // Wait for the last output, but not forever: a process that escaped the group may hold the pipes.
      const drain = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(outcome());
      }, 500);
      child.once('close', () => {
        clearTimeout(drain);
        finish(outcome());
      });
    });
  });
}
