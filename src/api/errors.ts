import { AutonomyRefusal } from '../control/autonomy-controls.ts';
import { OperationError } from '../control/operation-error.ts';

/** Every error code the API answers with, mapped to its HTTP status in one place. */
export const ERROR_STATUS = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_cursor: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_event: 422,
  validation_failed: 422,
  rate_limited: 429,
  internal: 500,
  upstream_failed: 502,
  not_configured: 501,
  /** A worker asked for a GitHub token for a target whose App installation is not known (any more). */
  github_installation_unknown: 409,
  /** GitHub refused to mint a worker's token (credentials, installation, permissions). */
  github_auth_failed: 502,
  /** A worker asked for a GitHub token for an attempt that has already ended. */
  attempt_ended: 409,
  store_unavailable: 503,
  store_read_only: 503,
  store_full: 507,
  store_corrupt: 500,
  store_closed: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error the client caused or can act on; `message` is shown to them as is. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Maps anything thrown to a status and the `{ error: { code, message } }` body. Never leaks internals. */
export function toErrorBody(err: unknown): { status: number; body: { error: { code: string; message: string } & Record<string, unknown> } } {
  if (err instanceof ApiError) {
    return { status: err.status, body: { error: { code: err.code, message: err.message, ...(err.details ?? {}) } } };
  }
  if (err instanceof OperationError) {
    const status = OPERATION_STATUS[err.code];
    return { status, body: { error: { code: err.code, message: err.message, ...(err.details ?? {}) } } };
  }
  if (err instanceof AutonomyRefusal) {
    // The global controls refused and recorded nothing (managed_by_file, already_stopped).
    return { status: 409, body: { error: { code: err.code, message: err.message, ...err.details } } };
  }
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code in ERROR_STATUS && code.startsWith('store_')) {
    return { status: ERROR_STATUS[code as ErrorCode], body: { error: { code, message: (err as Error).message } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'Internal error; see the control plane logs.' } } };
}

const OPERATION_STATUS: Record<OperationError['code'], number> = {
  target_not_found: 404,
  task_not_found: 404,
  already_paused: 409,
  not_paused: 409,
  breaker_closed: 409,
  blocked: 409,
  attempt_in_flight: 409,
  not_configured: 501,
};
