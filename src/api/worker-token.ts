import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { subjects } from '../events/types.ts';

/**
 * Attempt-scoped API tokens for workers. A worker runs an agent nobody vouches for under its own
 * uid, so whatever the worker holds, the agent can read (`/proc/<pid>/environ`). A worker is
 * therefore never handed an operator token: the executor mints one that may only post that one
 * attempt's own events (started, step, succeeded, failed, PR created), under their own ids, for its
 * target, until the attempt's deadline has passed. The control plane checks it without any
 * state: an HMAC keyed by a digest of a write token both sides already hold, so rotating
 * LEVIATHAN_API_TOKEN (new token first, old one kept until running attempts end) keeps every
 * minted token valid.
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

/**
 * The only event types a worker token may post (what a worker reports, and reads back from its
 * spool), each with the one id it has: `<attempt id>:<suffix>`.
 */
const WORKER_EVENT_ID_SUFFIXES = {
  'attempt.started': 'started',
  'attempt.step': 'step',
  'attempt.succeeded': 'succeeded',
  'attempt.failed': 'failed',
  'pr.created': 'pr.created',
} as const;

export type WorkerEventType = keyof typeof WORKER_EVENT_ID_SUFFIXES;

/**
 * The id of an attempt's event of `type`. Stores keep the first event of an id and acknowledge
 * later ones as duplicates, and the scheduler and the lost-worker sweep write ids of the same
 * shape (`:created`, `:failed`), so these are the only ids a worker token may give: one of
 * another attempt's, or one of its own under another type, would have the real event dropped.
 */
export function workerEventId(attemptId: string, type: WorkerEventType, step?: string): string {
  // One id per step (`<attempt>:step:run-agent`): a step reported again is stored once.
  if (type === 'attempt.step') return `${attemptId}:step:${stepSlug(step ?? '')}`;
  return `${attemptId}:${WORKER_EVENT_ID_SUFFIXES[type]}`;
}

function stepSlug(step: string): string {
  return step.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'unnamed';
}

function isWorkerEventType(type: string): type is WorkerEventType {
  return Object.hasOwn(WORKER_EVENT_ID_SUFFIXES, type);
}

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
  const scope = parseScope(payload);
  return scope && scope.exp * 1000 > nowMs ? scope : null;
}

/**
 * The scope `token` claims, read without checking its signature or expiry: for a worker sorting its
 * own spool (which token goes with which event), never to grant anything. The control plane
 * decides with {@link verifyWorkerToken}.
 */
export function claimedWorkerScope(token: string): WorkerScope | null {
  if (!token.startsWith(WORKER_TOKEN_PREFIX)) return null;
  const body = token.slice(WORKER_TOKEN_PREFIX.length);
  const dot = body.indexOf('.');
  if (dot <= 0) return null;
  return parseScope(body.slice(0, dot));
}

function parseScope(payload: string): WorkerScope | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const scope = scopeSchema.safeParse(parsed);
  return scope.success ? scope.data : null;
}

/**
 * Why an event is outside a worker's scope, or null when it is its own to report. `id` is the id
 * as the client sent it, undefined when the control plane names the event (a fresh UUID, which
 * cannot take another event's place); `subject` null or undefined when none was given.
 */
export function outsideScope(
  scope: WorkerScope,
  e: { id?: string | undefined; type: string; actor: string; target: string | null; subject?: string | null | undefined; data: Record<string, unknown> },
): string | null {
  if (!isWorkerEventType(e.type)) return `a worker token may not post ${e.type}`;
  // The audit trail names who did what: a worker speaks only as itself.
  if (e.actor !== workerActor(scope)) return `a worker token posts as ${workerActor(scope)}, not as ${e.actor}`;
  if (e.target !== scope.target) return `a worker token for ${scope.target} may not post for ${e.target ?? 'no target'}`;
  if (e.data.attempt_id !== scope.attempt_id) return `a worker token for attempt ${scope.attempt_id} may not report another attempt`;
  if (e.data.task_id !== undefined && e.data.task_id !== scope.task_id) return `a worker token for task ${scope.task_id} may not report another task`;
  const id = workerEventId(scope.attempt_id, e.type, typeof e.data.step === 'string' ? e.data.step : undefined);
  if (e.id !== undefined && e.id !== id) return `a worker token for attempt ${scope.attempt_id} posts ${e.type} as ${id}, not as ${e.id}`;
  // The graph attaches an event to its subject's node: a worker's are its attempt, and the PR it reports.
  const subject = e.type !== 'pr.created' ? subjects.attempt(scope.attempt_id) : typeof e.data.number === 'number' ? subjects.pr(scope.target, e.data.number) : null;
  if (e.subject != null && e.subject !== subject) {
    return `a worker token for attempt ${scope.attempt_id} posts ${e.type} about ${subject ?? 'no subject'}, not about ${e.subject}`;
  }
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
