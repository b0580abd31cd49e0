import type { FailureType } from '../events/types.ts';

/**
 * The `failure_type` values a worker reports (a subset of the event vocabulary's FAILURE_TYPES;
 * `worker_lost` and `executor_failed` are the executor's). What none of the named types
 * describes — GitHub refusing something other than auth, a clone or commit failing — is `other`,
 * with `error_kind` in the event data saying which.
 */
export type WorkerFailureType = Extract<
  FailureType,
  'timeout' | 'path_violation' | 'agent_error' | 'auth_error' | 'push_rejected' | 'no_changes' | 'control_plane_unreachable' | 'other'
>;

/**
 * Finer cause of an `other` failure, carried as `error_kind` in the event data.
 * `worker_terminated`: the worker was stopped by a signal before the attempt's deadline.
 */
export type WorkerErrorKind = 'github_error' | 'workspace_error' | 'secret_in_change' | 'worker_terminated';

/** A failure of one worker step; `code` becomes the event's `failure_type`. Messages are redacted before use. */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';

  constructor(
    readonly code: WorkerFailureType,
    message: string,
    /** Extra event data, e.g. the list of path violations or the `error_kind`. */
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
