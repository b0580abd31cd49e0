import { newEvent, type StoredEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import { OperationError } from './operation-error.ts';

/** How an operator reached us; recorded with every action for the audit view. */
export type Channel = 'api' | 'console' | 'slash_command' | 'ctl';

interface Deps {
  store: EventStore;
  projector: Projector;
}

/** Pauses a target: the scheduler skips it (paused_by_operator) until resumed. */
export function pauseTarget(deps: Deps, target: string, actor: string, reason: string, via: Channel): Promise<StoredEvent> {
  return oneAtATime(deps, target, async () => {
    const t = await current(deps, target);
    if (t.paused) {
      throw new OperationError('already_paused', `${target} is already paused by ${t.paused.by} since ${t.paused.at}: ${t.paused.reason}`);
    }
    return append(deps, newEvent({ type: 'target.paused', actor, target, subject: subjects.target(target), data: { reason, via } }));
  });
}

/** Resumes a paused target. */
export function resumeTarget(deps: Deps, target: string, actor: string, reason: string | undefined, via: Channel): Promise<StoredEvent> {
  return oneAtATime(deps, target, async () => {
    const t = await current(deps, target);
    if (!t.paused) throw new OperationError('not_paused', `${target} is not paused.`);
    return append(
      deps,
      newEvent({ type: 'target.resumed', actor, target, subject: subjects.target(target), data: { via, ...(reason ? { reason } : {}) } }),
    );
  });
}

/**
 * Closes the circuit breaker of a target before its cooldown ends, and forgets the failures it
 * counted. A breaker that is closed and counts none has nothing to reset: refused like a pause
 * of a paused target, so the audit log holds only resets that changed something.
 */
export function resetBreaker(deps: Deps, target: string, actor: string, reason: string | undefined, via: Channel): Promise<StoredEvent> {
  return oneAtATime(deps, target, async () => {
    const t = await current(deps, target);
    if (!t.breaker.open && t.breaker.consecutive_failures === 0) {
      throw new OperationError('breaker_closed', `${target}'s circuit breaker is closed and counts no failures: there is nothing to reset.`);
    }
    return append(
      deps,
      newEvent({ type: 'circuit_breaker.reset', actor, target, subject: subjects.target(target), data: { via, ...(reason ? { reason } : {}) } }),
    );
  });
}

const queues = new WeakMap<EventStore, Map<string, Promise<unknown>>>();

/**
 * Check-then-append, one action per target at a time in this process: five concurrent pauses are
 * one 200 and four 409s, not five events overwriting each other's reason.
 */
function oneAtATime<T>(deps: Deps, target: string, f: () => Promise<T>): Promise<T> {
  let byTarget = queues.get(deps.store);
  if (!byTarget) queues.set(deps.store, (byTarget = new Map()));
  const next = (byTarget.get(target) ?? Promise.resolve()).then(f, f);
  const settled = next.catch(() => undefined);
  byTarget.set(target, settled);
  void settled.then(() => {
    if (byTarget.get(target) === settled) byTarget.delete(target);
  });
  return next;
}

/** The target as of everything the log holds (another replica may have acted a moment ago). */
async function current(deps: Deps, target: string) {
  await deps.projector.waitFor(deps.store.health().head.seq);
  return known(deps, target);
}

function known(deps: Deps, target: string) {
  const t = deps.projector.state.targets[target];
  if (!t || t.lifecycle === 'removed') throw new OperationError('target_not_found', `No target ${target}. Is the GitHub App installed on it?`);
  return t;
}

/** Appends one event and waits until the projection shows it, so the caller reads its own write. */
export async function append(deps: Deps, e: ReturnType<typeof newEvent>): Promise<StoredEvent> {
  const { stored } = await deps.store.append([e]);
  const event = stored[0];
  if (!event) throw new Error(`event ${e.id} was a duplicate`);
  await deps.projector.waitFor(event.seq);
  return event;
}
