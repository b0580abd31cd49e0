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
export async function pauseTarget(deps: Deps, target: string, actor: string, reason: string, via: Channel): Promise<StoredEvent> {
  const t = known(deps, target);
  if (t.paused) {
    throw new OperationError('already_paused', `${target} is already paused by ${t.paused.by} since ${t.paused.at}: ${t.paused.reason}`);
  }
  return append(deps, newEvent({ type: 'target.paused', actor, target, subject: subjects.target(target), data: { reason, via } }));
}

/** Resumes a paused target. */
export async function resumeTarget(deps: Deps, target: string, actor: string, reason: string | undefined, via: Channel): Promise<StoredEvent> {
  const t = known(deps, target);
  if (!t.paused) throw new OperationError('not_paused', `${target} is not paused.`);
  return append(
    deps,
    newEvent({ type: 'target.resumed', actor, target, subject: subjects.target(target), data: { via, ...(reason ? { reason } : {}) } }),
  );
}

/** Closes the circuit breaker of a target before its cooldown ends. */
export async function resetBreaker(deps: Deps, target: string, actor: string, reason: string | undefined, via: Channel): Promise<StoredEvent> {
  known(deps, target);
  return append(
    deps,
    newEvent({ type: 'circuit_breaker.reset', actor, target, subject: subjects.target(target), data: { via, ...(reason ? { reason } : {}) } }),
  );
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
