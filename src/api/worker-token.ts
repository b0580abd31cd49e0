import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Attempt-scoped API tokens for workers. A worker runs an agent nobody vouches for under its own
 * uid, so whatever the worker holds, the agent can read (`/proc/<pid>/environ`). A worker is
 * therefore never handed an operator token: the executor mints one that may only post that one
 * attempt's own events (started, succeeded, failed, PR created) for its target, until the
 * attempt's deadline has passed. The control plane checks it without any state: an HMAC keyed
 * by a digest of a write token both sides already hold, so rotating LEVIATHAN_API_TOKEN (new
 * token first, old one kept until running attempts end) keeps every minted token valid.
 */

export const WORKER_TOKEN_PREFIX = 'lvw_';

/** What a worker token allows. */
export interface WorkerScope {
  target: string;
  attempt_id: string;
  task_id: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

/** The only event types a worker token may post: what a worker reports (and reads back from its spool). */
export const WORKER_EVENT_TYPES: ReadonlySet<string> = new Set(['attempt.started', 'attempt.succeeded', 'attempt.failed', 'pr.created']);

/**
 * Beyond the attempt's own deadline: clock skew between the executor and the control plane, and
 * an assignment without a usable timeout (the Kubernetes executor then applies its 15 min default).
 */
const GRACE_SECONDS = 30 * 60;

const scopeSchema = z
  .object({ target: z.string().min(1), attempt_id: z.string().min(1), task_id: z.string().min(1), exp: z.number().int().positive() })
  .strict();

/** A token for one attempt (an executor's assignment), valid until its deadline (plus grace) from `nowMs`. */
export function mintWorkerToken(
  writeToken: string,
  a: { target: string; attempt_id: string; task: { id: string }; timeout_seconds: number },
  nowMs: number,
): string {
  const scope: WorkerScope = {
    target: a.target,
    attempt_id: a.attempt_id,
    task_id: a.task.id,
    exp: Math.ceil(nowMs / 1000) + (Number.isFinite(a.timeout_seconds) ? Math.max(0, Math.ceil(a.timeout_seconds)) : 0) + GRACE_SECONDS,
  };
  const payload = Buffer.from(JSON.stringify(scope)).toString('base64url');
  return `${WORKER_TOKEN_PREFIX}${payload}.${mac(keyOf(writeToken), payload).toString('base64url')}`;
}

/**
 * The scope of `token` if one of `writeTokens` signed it and it has not expired, else null. Every
 * key is tried (no early exit), so timing does not tell which token signed it.
 */
export function verifyWorkerToken(writeTokens: readonly string[], token: string, nowMs: number): WorkerScope | null {
  if (!token.startsWith(WORKER_TOKEN_PREFIX)) return null;
  const body = token.slice(WORKER_TOKEN_PREFIX.length);
  const dot = body.indexOf('.');
  if (dot <= 0) return null;
  const payload = body.slice(0, dot);
  const given = Buffer.from(body.slice(dot + 1), 'base64url');
  let signed = false;
  for (const t of writeTokens) {
    const expected = mac(keyOf(t), payload);
    if (given.length === expected.length && timingSafeEqual(given, expected)) signed = true;
  }
  if (!signed) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const scope = scopeSchema.safeParse(parsed);
  if (!scope.success || scope.data.exp * 1000 <= nowMs) return null;
  return scope.data;
}

/** Why an event is outside a worker's scope, or null when it is its own to report. */
export function outsideScope(scope: WorkerScope, e: { type: string; actor: string; target: string | null; data: Record<string, unknown> }): string | null {
  if (!WORKER_EVENT_TYPES.has(e.type)) return `a worker token may not post ${e.type}`;
  // The audit trail names who did what: a worker speaks only as itself.
  if (e.actor !== workerActor(scope)) return `a worker token posts as ${workerActor(scope)}, not as ${e.actor}`;
  if (e.target !== scope.target) return `a worker token for ${scope.target} may not post for ${e.target ?? 'no target'}`;
  if (e.data.attempt_id !== scope.attempt_id) return `a worker token for attempt ${scope.attempt_id} may not report another attempt`;
  if (e.data.task_id !== undefined && e.data.task_id !== scope.task_id) return `a worker token for task ${scope.task_id} may not report another task`;
  return null;
}

/** The actor of everything a worker token posts. */
export function workerActor(scope: Pick<WorkerScope, 'attempt_id'>): string {
  return `worker:${scope.attempt_id}`;
}

function keyOf(writeToken: string): Buffer {
  return createHash('sha256').update(`leviathan-worker-token\0${writeToken}`).digest();
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}
