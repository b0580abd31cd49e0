import type { BacklogTask, EffectivePolicy, TargetContract } from '../contract/types.ts';

/** Everything a worker needs to run one attempt. Serialised as JSON into the worker's task file. */
export interface WorkerAssignment {
  attempt_id: string;
  target: string; // owner/repo
  installation_id: number | null;
  default_branch: string;
  task: BacklogTask;
  policy: EffectivePolicy;
  contract?: TargetContract;
  /** Hard limit for the whole attempt; the executor enforces it too (Job activeDeadlineSeconds). */
  timeout_seconds: number;
  /**
   * The attempt's absolute deadline (ISO 8601): the executor's start of the worker plus
   * `timeout_seconds`, set by the executor as it starts it. The worker stops itself there and
   * measures every budget up to it, so the deadline holds even when nobody else is left to enforce
   * it (a local worker outliving the `tick` that started it). Absent: the worker counts
   * `timeout_seconds` from its own start.
   */
  deadline_at?: string;
}

/** A worker the executor knows about, as seen now. */
export interface WorkerRun {
  attempt_id: string;
  target: string;
  task_id: string;
  /** `running` until the process/Job ends; `succeeded`/`failed` once it has. */
  state: 'running' | 'succeeded' | 'failed';
  /** For failed runs: `timeout` (deadline exceeded) or `worker_lost` (ended without reporting). */
  failure_type?: 'timeout' | 'worker_lost';
  /** Job name or process id, for operators. */
  handle: string;
  /** The command that shows what became of the worker (`kubectl describe pod …`), when the executor has one. */
  inspect?: string;
}

/**
 * Starts workers and reports on them. Implementations: a local child process (embedded default)
 * and a Kubernetes Job. The scheduler only ever talks to this port.
 */
export interface Executor {
  readonly kind: 'local' | 'kubernetes';
  start(assignment: WorkerAssignment): Promise<{ handle: string }>;
  /** Workers started by this executor that still exist (running or recently ended). */
  list(): Promise<WorkerRun[]>;
}

/** A worker's GitHub token and, for an installation token, when GitHub expires it (ISO 8601). */
export interface WorkerGitHubToken {
  token: string;
  /** Absent for a development token, which does not expire on GitHub's hour. */
  expires_at?: string;
}

/**
 * The GitHub token for one attempt's worker: an installation token minted for the assignment's
 * repository alone, or the development GITHUB_TOKEN. The executor hands the worker this and no
 * other GitHub credential (as GITHUB_TOKEN, with GITHUB_TOKEN_EXPIRES_AT so the worker knows when
 * to ask the control plane for the next one). Throws an error with `code` `github_auth_failed`
 * when none can be had.
 */
export type GitHubTokenSource = (assignment: WorkerAssignment) => Promise<WorkerGitHubToken>;
