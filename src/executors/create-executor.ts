import type { Logger } from 'pino';
import type { Env } from '../env.ts';
import { mintWorkerToken } from '../api/worker-token.ts';
import type { Executor, WorkerAssignment } from './executor.ts';
import { LocalProcessExecutor } from './local-process.ts';

/** What the composition root knows besides Env. */
export interface ExecutorContext {
  /** Where workers post events (in `serve`, the address the server actually listens on). */
  controlPlaneUrl: string;
  /** A write token: each worker gets an attempt token signed with it (never the token itself). */
  apiToken: string | null;
  /**
   * The launching process's environment: the local executor takes only PATH, HOME, TMPDIR, LANG
   * and the proxy variables from it, so git and the agent can run; nothing else leaks to workers.
   */
  processEnv: Record<string, string | undefined>;
  logger?: Logger;
}

/** Variables of the launching process a local worker needs to run git and an agent at all. */
const SYSTEM_KEYS = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'];

/**
 * The worker environment of the local executor, passed explicitly: control plane URL, GitHub
 * credentials and URLs, the agent command, the log level, and the few system variables above
 * (the attempt token is added per start). Webhook and session secrets, the database URL, the
 * operator's API token and anything else stay here.
 */
export function localWorkerEnv(env: Env, ctx: ExecutorContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of SYSTEM_KEYS) {
    const v = ctx.processEnv[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  const set = (k: string, v: string | null | undefined) => {
    if (v !== undefined && v !== null && v !== '') out[k] = v;
  };
  set('LEVIATHAN_CONTROL_PLANE_URL', ctx.controlPlaneUrl);
  set('LEVIATHAN_AGENT_COMMAND', env.LEVIATHAN_AGENT_COMMAND);
  set('LOG_LEVEL', env.LOG_LEVEL === 'silent' ? 'info' : env.LOG_LEVEL);
  set('APP_ID', env.APP_ID);
  set('PRIVATE_KEY', env.PRIVATE_KEY);
  set('PRIVATE_KEY_PATH', env.PRIVATE_KEY_PATH);
  set('GITHUB_TOKEN', env.GITHUB_TOKEN);
  set('GITHUB_API_URL', env.GITHUB_API_URL);
  // Only when configured: the worker then clones from it (tests: a directory of bare repositories).
  set('GITHUB_SERVER_URL', ctx.processEnv.GITHUB_SERVER_URL ? env.GITHUB_SERVER_URL : undefined);
  return out;
}

/**
 * Builds the executor chosen by LEVIATHAN_EXECUTOR: a local child process (embedded default) or
 * a Kubernetes Job (in-cluster config, else the kubeconfig). Throws when the Kubernetes executor
 * lacks LEVIATHAN_WORKER_IMAGE. The Kubernetes client is imported only for that executor: it is
 * ~110 MB of RSS that the embedded mode never needs.
 */
export async function createExecutor(env: Env, ctx: ExecutorContext): Promise<Executor> {
  const signing = ctx.apiToken;
  const workerToken = signing ? (a: WorkerAssignment) => mintWorkerToken(signing, a, Date.now()) : undefined;
  switch (env.LEVIATHAN_EXECUTOR) {
    case 'local':
      return new LocalProcessExecutor({
        dataDir: env.LEVIATHAN_DATA_DIR,
        env: localWorkerEnv(env, ctx),
        ...(workerToken ? { workerToken } : {}),
        ...(ctx.logger ? { logger: ctx.logger } : {}),
      });
    case 'kubernetes': {
      if (!env.LEVIATHAN_WORKER_IMAGE) {
        throw new Error('LEVIATHAN_EXECUTOR=kubernetes needs LEVIATHAN_WORKER_IMAGE (the image of this release, pinned by tag or digest).');
      }
      const [{ KubeConfig }, { KubernetesJobExecutor }] = await Promise.all([import('@kubernetes/client-node'), import('./kubernetes-job.ts')]);
      const kubeConfig = new KubeConfig();
      // In a pod this is the service account (in-cluster); elsewhere $KUBECONFIG or ~/.kube/config.
      kubeConfig.loadFromDefault();
      return new KubernetesJobExecutor({
        kubeConfig,
        namespace: env.LEVIATHAN_NAMESPACE,
        image: env.LEVIATHAN_WORKER_IMAGE,
        controlPlaneUrl: ctx.controlPlaneUrl,
        ...(workerToken ? { workerToken } : {}),
        ...(env.LEVIATHAN_AGENT_COMMAND ? { agentCommand: env.LEVIATHAN_AGENT_COMMAND } : {}),
        ...(ctx.logger ? { logger: ctx.logger } : {}),
      });
    }
    default: {
      const never: never = env.LEVIATHAN_EXECUTOR;
      throw new Error(`unknown executor ${String(never)}`);
    }
  }
}
