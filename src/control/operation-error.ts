/** A refused operator action, with a stable code the API maps to 404/409. */
export class OperationError extends Error {
  constructor(
    readonly code: 'target_not_found' | 'task_not_found' | 'already_paused' | 'not_paused' | 'breaker_closed' | 'blocked' | 'not_configured' | 'attempt_in_flight',
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}
