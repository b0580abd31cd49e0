import type { Logger } from 'pino';
import type { Env } from '../env.ts';
import { mintWorkerToken } from '../api/worker-token.ts';
import { InstallationTokenError, InstallationTokenMinter, readPrivateKey } from '../github/installation-token.ts';
import type { Executor, GitHubTokenSource, WorkerAssignment } from './executor.ts';
import { LocalProcessExecutor } from './local-process.ts';
import { SECRET_ENV } from '../worker/secret-env.ts';

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
  /** The program local workers run; default `node bin/leviathan.mjs worker` of this installation. */
  localWorkerCommand?: { file: string; args: string[] };
}

/** Variables of the launching process a local worker needs to run git and an agent at all. */
const SYSTEM_KEYS = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'];

/**
 * The worker environment of the local executor, passed explicitly: control plane URL, GitHub
 * URLs, the agent command, the redacted-variable globs, the log level, and the few system
 * variables above (the attempt token and the repository's GitHub token are added per start). The
 * App's credentials, webhook and session secrets, the database URL, the operator's API token and
 * anything else stay here.
 */
export function localWorkerEnv(env: Env, ctx: ExecutorContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...SYSTEM_KEYS, ...agentEnvNames(env)]) {
    const v = ctx.processEnv[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  const set = (k: string, v: string | null | undefined) => {
    if (v !== undefined && v !== null && v !== '') out[k] = v;
  };
  set('LEVIATHAN_CONTROL_PLANE_URL', ctx.controlPlaneUrl);
  set('LEVIATHAN_AGENT_COMMAND', env.LEVIATHAN_AGENT_COMMAND);
  set('LEVIATHAN_REDACTED_VARS', env.LEVIATHAN_REDACTED_VARS);
  set('LOG_LEVEL', env.LOG_LEVEL === 'silent' ? 'info' : env.LOG_LEVEL);
  const github = workerGitHub(env, ctx);
  set('GITHUB_API_URL', github.apiUrl);
  set('GITHUB_SERVER_URL', github.serverUrl);
  return out;
}

/**
 * LEVIATHAN_AGENT_ENV: what the operator hands local agents from this process's environment.
 * Leviathan's own secrets and settings are refused by name, so a typo cannot give an agent the
 * App's key or the operator's token (the worker would drop them before the agent anyway).
 */
function agentEnvNames(env: Env): string[] {
  const names = (env.LEVIATHAN_AGENT_ENV ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  const refused = names.filter((n) => SECRET_ENV.test(n) || n.startsWith('LEVIATHAN_'));
  if (refused.length > 0) throw new Error(`LEVIATHAN_AGENT_ENV may not hand agents Leviathan's own variables: ${refused.join(', ')}.`);
  return names;
}

/**
 * Where every worker reaches GitHub, as the control plane does: the API URL, and the server URL
 * only when configured — the worker then clones from it (Enterprise Server; tests: a directory of
 * bare repositories); otherwise it derives the clone URL from the API URL.
 */
function workerGitHub(env: Env, ctx: ExecutorContext): { apiUrl: string; serverUrl?: string } {
  return { apiUrl: env.GITHUB_API_URL, ...(ctx.processEnv.GITHUB_SERVER_URL ? { serverUrl: env.GITHUB_SERVER_URL } : {}) };
}

/**
 * Where workers' GitHub tokens come from. With the App's credentials: an installation token per
 * attempt, minted here for the target repository only (its installation is known from the
 * installation webhooks); a target without a known installation fails the start, even with
 * GITHUB_TOKEN set: that may be a personal token to every repository its owner can reach, which
 * no agent should hold where the App runs. Without the App: GITHUB_TOKEN as it is
 * (development). Neither: undefined, and each worker
 * fails at its first GitHub call with `auth_error`. APP_ID without a readable key fails every
 * start with the fix, rather than starting workers that cannot push.
 */
export async function gitHubTokenSource(env: Env): Promise<GitHubTokenSource | undefined> {
  const devToken = env.GITHUB_TOKEN;
  if (env.APP_ID) {
    const key = await readPrivateKey(env);
    if (!key) {
      const message = `APP_ID=${env.APP_ID} is set but neither PRIVATE_KEY nor a readable PRIVATE_KEY_PATH is: workers cannot be given a GitHub token`;
      return async () => {
        throw new InstallationTokenError(message);
      };
    }
    const minter = new InstallationTokenMinter({ appId: env.APP_ID, privateKey: key, baseUrl: env.GITHUB_API_URL });
    return async (a) => {
      if (a.installation_id !== null) return minter.mint(a.installation_id, a.target);
      throw new InstallationTokenError(`No GitHub App installation is known for ${a.target}; reinstall the App on the repository.`);
    };
  }
  return devToken ? async () => ({ token: devToken }) : undefined;
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
  const githubToken = await gitHubTokenSource(env);
  switch (env.LEVIATHAN_EXECUTOR) {
    case 'local': {
      const workerUser = env.LEVIATHAN_WORKER_UID !== undefined ? { uid: env.LEVIATHAN_WORKER_UID, gid: env.LEVIATHAN_WORKER_GID ?? env.LEVIATHAN_WORKER_UID } : undefined;
      const executor = new LocalProcessExecutor({
        dataDir: env.LEVIATHAN_DATA_DIR,
        env: localWorkerEnv(env, ctx),
        ...(workerToken ? { workerToken } : {}),
        ...(githubToken ? { githubToken } : {}),
        ...(workerUser ? { workerUser } : {}),
        ...(ctx.localWorkerCommand ? { command: ctx.localWorkerCommand } : {}),
        ...(ctx.logger ? { logger: ctx.logger } : {}),
      });
      await executor.preflight();
      if (!workerUser && env.APP_ID) {
        ctx.logger?.warn(
          { executor: 'local' },
          "Local workers run as this process's user: an agent could read the GitHub App's key. Set LEVIATHAN_WORKER_UID (serve and tick as root), or use the Kubernetes executor where agents are not trusted.",
        );
      }
      return executor;
    }
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
        ...(githubToken ? { githubToken } : {}),
        ...(env.LEVIATHAN_AGENT_COMMAND ? { agentCommand: env.LEVIATHAN_AGENT_COMMAND } : {}),
        ...(env.LEVIATHAN_REDACTED_VARS ? { redactedVars: env.LEVIATHAN_REDACTED_VARS } : {}),
        github: workerGitHub(env, ctx),
        ...(ctx.logger ? { logger: ctx.logger } : {}),
      });
    }
    default: {
      const never: never = env.LEVIATHAN_EXECUTOR;
      throw new Error(`unknown executor ${String(never)}`);
    }
  }
}
