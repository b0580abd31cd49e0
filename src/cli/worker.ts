import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import type { Env } from '../env.ts';
import type { WorkerStop } from '../worker/attempt-deadline.ts';

/**
 * After SIGTERM or SIGINT, the longest the worker takes to stop its agent, report and clean up
 * before it exits regardless: within the local executor's 10 s between its SIGTERM and SIGKILL
 * (Kubernetes gives 30 s).
 */
export const STOP_EXIT_MS = 8_000;

/**
 * `leviathan worker`: runs one attempt through the worker's entry point and returns its exit
 * code. When GITHUB_SERVER_URL is configured the clone comes from
 * `<GITHUB_SERVER_URL>/<owner>/<repo>.git` (GitHub Enterprise Server, or a directory of bare
 * repositories in tests); otherwise the worker derives it from GITHUB_API_URL.
 *
 * SIGTERM (the executor at the deadline, `kubectl delete pod`, an eviction) and SIGINT stop the
 * attempt: the agent's process group is killed, the attempt reported failed with its step, the
 * workspace removed, and the exit code is 128 + the signal's number. The agent runs in a process
 * group of its own, so nothing else would stop it with the worker.
 */
export async function worker(env: Env, processEnv: Record<string, string | undefined>): Promise<number> {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    stop.abort({ kind: 'signal', signal } satisfies WorkerStop);
    // Whatever the cleanup waits on, the process goes (the agent's group with it: see runAgent).
    setTimeout(() => process.exit(signalExitCode(signal)), STOP_EXIT_MS).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { workerMain } = await import('../worker/main.ts');
  const remoteUrl = await cloneUrl(env, processEnv);
  let code = await workerMain(env, {
    processEnv,
    stop: stop.signal,
    ...(processEnv.LEVIATHAN_TASK_JSON ? { taskJson: processEnv.LEVIATHAN_TASK_JSON } : {}),
    ...(remoteUrl ? { remoteUrl } : {}),
  });
  const reason = stop.signal.reason as WorkerStop | undefined;
  if (reason?.kind === 'signal') code = signalExitCode(reason.signal);
  // The attempt is reported and flushed; a lingering keep-alive socket must not hold the process
  // (the executor would otherwise see it running until its deadline). Unref'd: a clean exit wins.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}

/** 128 + the signal's number, as a shell reports a process a signal ended. */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 15);
}

async function cloneUrl(env: Env, processEnv: Record<string, string | undefined>): Promise<string | undefined> {
  if (!processEnv.GITHUB_SERVER_URL) return undefined;
  try {
    const text = env.LEVIATHAN_TASK_FILE ? await readFile(env.LEVIATHAN_TASK_FILE, 'utf8') : (processEnv.LEVIATHAN_TASK_JSON ?? '');
    const target = (JSON.parse(text) as { target?: unknown }).target;
    if (typeof target !== 'string' || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(target)) return undefined;
    return `${env.GITHUB_SERVER_URL.replace(/\/+$/, '')}/${target}.git`;
  } catch {
    // The worker reads the assignment itself and reports what is wrong with it.
    return undefined;
  }
}
