import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import type { Env } from '../env.ts';
import type { WorkerAssignment } from '../executors/executor.ts';
import { WORKER_TOKEN_PREFIX } from '../api/worker-token.ts';
import { attemptDeadline } from './attempt-deadline.ts';
import { cappedLog, WORKER_LOG_MAX_BYTES } from './capped-log.ts';
import { ControlPlaneTokenRefresher, HttpEventSink } from './control-plane-client.ts';
import { CredentialsError, refreshingToken, staticToken, type Credentials } from './credentials.ts';
import { OctokitPullRequests } from './github-pull-requests.ts';
import { Redactor, redactedVarGlobs } from './redact.ts';
import { runWorker, type WorkerResult } from './run-worker.ts';

/** What `leviathan worker` needs besides the parsed Env. */
export interface WorkerMainOptions {
  /** The process environment: the agent's environment is derived from it (secrets removed). */
  processEnv: Record<string, string | undefined>;
  /** The assignment as JSON, when `LEVIATHAN_TASK_FILE` is not set (env `LEVIATHAN_TASK_JSON`). */
  taskJson?: string;
  /** Base directory for clones and the event spool. Default: LEVIATHAN_WORK_DIR, else `<tmpdir>/leviathan-worker`. */
  workDir?: string;
  /** Repository URL override (tests: a local bare repository). Default: derived from GITHUB_API_URL. */
  remoteUrl?: string;
  /** Where log lines go (already redacted). Default: stdout. */
  logStream?: { write(line: string): unknown };
  /** Bytes of log written at most (default WORKER_LOG_MAX_BYTES), then one line saying it was truncated. */
  logMaxBytes?: number;
  /**
   * Aborted, with a WorkerStop as its reason, when the worker must stop (the CLI's SIGTERM and
   * SIGINT): the agent's group is killed, the attempt reported failed, its workspace removed.
   */
  stop?: AbortSignal;
  /** Test hooks passed to the ports. */
  githubRetry?: boolean;
  eventRetry?: { baseDelayMs?: number; maxDelayMs?: number };
  timings?: { agentTimeoutMs?: number; killGraceMs?: number; flushTimeoutMs?: number };
  /** The clock of the GitHub token's refresh, and the delay between its tries (tests). */
  tokenRefresh?: { now?: () => number; baseDelayMs?: number };
}

// The assignment comes from a file or variable written by the executor: validated like any edge.
const assignmentSchema = z
  .object({
    attempt_id: z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/),
    target: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
    installation_id: z.number().int().nullable(),
    default_branch: z.string().min(1),
    task: z
      .object({
        id: z.string().min(1).regex(/^[A-Za-z0-9_.\-/]+$/, 'must be usable in a branch name'),
        title: z.string().min(1),
        scope: z.string(),
        allowed_paths: z.array(z.string()).min(1),
        acceptance_criteria: z.array(z.string()),
      })
      .passthrough(),
    policy: z
      .object({
        forbidden_paths: z.array(z.string()),
        max_files_per_task: z.record(z.number()),
        allowed_paths: z.record(z.array(z.string())).optional(),
      })
      .passthrough(),
    contract: z.unknown().optional(),
    timeout_seconds: z.number().positive(),
    deadline_at: z.string().datetime({ offset: true }).optional(),
  })
  .passthrough();

// Variables git needs to reach GitHub; nothing else from the process environment reaches git.
const GIT_ENV_KEYS = ['PATH', 'HOME', 'TMPDIR', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'];

/**
 * `leviathan worker`: builds the real ports from the environment, runs one attempt and returns
 * the exit code (0 succeeded, 1 failed or could not start).
 */
export async function workerMain(env: Env, options: WorkerMainOptions): Promise<number> {
  const apiTokens = (env.LEVIATHAN_API_TOKEN ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const redactor = new Redactor([
    env.GITHUB_TOKEN,
    env.PRIVATE_KEY,
    env.WEBHOOK_SECRET,
    env.GITHUB_CLIENT_SECRET,
    env.LEVIATHAN_SESSION_SECRET,
    ...apiTokens,
    ...apiTokens.map((t) => t.replace(/^read:/, '')),
  ]);
  const out = cappedLog(options.logStream ?? process.stdout, options.logMaxBytes ?? WORKER_LOG_MAX_BYTES);
  // Every serialised log line passes the redactor, whatever code wrote it.
  const logger: Logger = pino(
    { level: env.LOG_LEVEL, base: { component: 'worker' } },
    { write: (line: string) => out.write(redactor.text(line)) },
  );

  let assignment: WorkerAssignment;
  try {
    assignment = await readAssignment(env, options.taskJson);
  } catch (e) {
    const cause = e instanceof AssignmentMissing ? 'no assignment' : 'invalid assignment';
    logger.error({ error: redactor.text(e instanceof Error ? e.message : String(e)) }, `Worker: Failed to read assignment (${cause})`);
    return 1;
  }

  // Taken as soon as the assignment is known: every budget below is measured up to it.
  const deadline = attemptDeadline(assignment, Date.now());
  const workDir = options.workDir ?? env.LEVIATHAN_WORK_DIR ?? path.join(os.tmpdir(), 'leviathan-worker');
  const writeToken = apiTokens.find((t) => !t.startsWith('read:'));
  const credentials = buildCredentials(env, {
    attemptId: assignment.attempt_id,
    attemptToken: apiTokens.find((t) => t.startsWith(WORKER_TOKEN_PREFIX)),
    logger,
    redactor,
    ...(options.tokenRefresh ? { tokenRefresh: options.tokenRefresh } : {}),
  });
  const result: WorkerResult = await runWorker({
    assignment,
    controlPlane: new HttpEventSink({
      url: env.LEVIATHAN_CONTROL_PLANE_URL,
      ...(writeToken ? { token: writeToken } : {}),
      spoolDir: path.join(workDir, 'spool'),
      attemptId: assignment.attempt_id,
      logger,
      redactor,
      ...options.eventRetry,
    }),
    github: new OctokitPullRequests({
      credentials,
      baseUrl: env.GITHUB_API_URL,
      retry: options.githubRetry ?? true,
      throttle: options.githubRetry ?? true,
      deadline: deadline.at,
      ...(options.stop ? { signal: options.stop } : {}),
    }),
    credentials,
    remoteUrl: options.remoteUrl ?? repositoryUrl(env.GITHUB_API_URL, assignment.target),
    agentCommand: env.LEVIATHAN_AGENT_COMMAND ?? '',
    agentEnv: options.processEnv,
    redactedVars: redactedVarGlobs(env.LEVIATHAN_REDACTED_VARS),
    gitEnv: Object.fromEntries(GIT_ENV_KEYS.map((k) => [k, options.processEnv[k]])),
    workDir,
    clock: { now: Date.now },
    logger,
    redactor,
    deadline,
    ...(options.stop ? { stop: options.stop } : {}),
    ...(options.timings ? { timings: options.timings } : {}),
  });
  logger.info({ outcome: result.outcome, failure_type: result.failure_type, message: result.message }, 'Worker: Finished');
  return result.outcome === 'succeeded' ? 0 : 1;
}

/** Neither LEVIATHAN_TASK_FILE nor LEVIATHAN_TASK_JSON given. */
class AssignmentMissing extends Error {}

async function readAssignment(env: Env, taskJson: string | undefined): Promise<WorkerAssignment> {
  let text: string;
  if (env.LEVIATHAN_TASK_FILE) text = await readFile(env.LEVIATHAN_TASK_FILE, 'utf8');
  else if (taskJson) text = taskJson;
  else throw new AssignmentMissing('No assignment: set LEVIATHAN_TASK_FILE (or LEVIATHAN_TASK_JSON)');
  const parsed = assignmentSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(`Assignment invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as unknown as WorkerAssignment;
}

/**
 * GITHUB_TOKEN: the installation token the executor minted for this repository alone, or a
 * development token. The worker never holds the App's credentials (the agent could read them).
 * With an attempt token, the worker asks the control plane for a fresh one before GitHub's hour
 * is up (see refreshingToken); without one (development, a plain GITHUB_TOKEN) it keeps the
 * token it was given. Without any token, a failure at first use.
 */
function buildCredentials(
  env: Env,
  ctx: { attemptId: string; attemptToken: string | undefined; logger: Logger; redactor: Redactor; tokenRefresh?: WorkerMainOptions['tokenRefresh'] },
): Credentials {
  if (env.GITHUB_TOKEN && ctx.attemptToken) {
    return refreshingToken({
      initial: env.GITHUB_TOKEN,
      ...(env.GITHUB_TOKEN_EXPIRES_AT ? { initialExpiresAt: env.GITHUB_TOKEN_EXPIRES_AT } : {}),
      refresher: new ControlPlaneTokenRefresher({
        url: env.LEVIATHAN_CONTROL_PLANE_URL,
        token: ctx.attemptToken,
        attemptId: ctx.attemptId,
        ...(ctx.tokenRefresh?.baseDelayMs !== undefined ? { baseDelayMs: ctx.tokenRefresh.baseDelayMs } : {}),
      }),
      now: ctx.tokenRefresh?.now ?? Date.now,
      logger: ctx.logger,
      onToken: (token) => ctx.redactor.add(token),
    });
  }
  if (env.GITHUB_TOKEN) return staticToken(env.GITHUB_TOKEN);
  return {
    token: async () => {
      throw new CredentialsError(
        'No GitHub token for the worker: the executor passes one when the scheduler has the App credentials (set APP_ID and PRIVATE_KEY there, ' +
          'with the App installed on the target), or set GITHUB_TOKEN for development',
      );
    },
  };
}

/**
 * The clone URL of `owner/repo`, without credentials: github.com for the public API, the
 * server's host for GitHub Enterprise Server (`https://host/api/v3`).
 */
export function repositoryUrl(apiUrl: string, target: string): string {
  const u = new URL(apiUrl);
  const host = u.hostname === 'api.github.com' ? 'github.com' : u.host;
  return `${u.protocol}//${host}/${target}.git`;
}
