import { readFile } from 'node:fs/promises';
import type { Env } from '../env.ts';

/**
 * `leviathan worker`: runs one attempt through the worker's entry point and returns its exit
 * code. When GITHUB_SERVER_URL is configured the clone comes from
 * `<GITHUB_SERVER_URL>/<owner>/<repo>.git` (GitHub Enterprise Server, or a directory of bare
 * repositories in tests); otherwise the worker derives it from GITHUB_API_URL.
 */
export async function worker(env: Env, processEnv: Record<string, string | undefined>): Promise<number> {
  const { workerMain } = await import('../worker/main.ts');
  const remoteUrl = await cloneUrl(env, processEnv);
  const code = await workerMain(env, {
    processEnv,
    ...(processEnv.LEVIATHAN_TASK_JSON ? { taskJson: processEnv.LEVIATHAN_TASK_JSON } : {}),
    ...(remoteUrl ? { remoteUrl } : {}),
  });
  // The attempt is reported and flushed; a lingering keep-alive socket must not hold the process
  // (the executor would otherwise see it running until its deadline). Unref'd: a clean exit wins.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
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
