import type { NewEvent } from '../events/envelope.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import type { UnidentifiedEvent } from './pull-requests.ts';

/**
 * Id of the n-th event a webhook delivery produced. GitHub redelivers with the same
 * `X-GitHub-Delivery`, so a redelivery produces the same ids and the store keeps one copy.
 */
export function deliveryEventId(delivery: string, n: number | string): string {
  return `gh:${delivery}:${n}`;
}

/** Appends events and waits until the projection shows them; returns how many were new. */
export async function record(deps: { store: EventStore; projector: Projector }, events: NewEvent[]): Promise<{ stored: number; duplicates: number }> {
  if (events.length === 0) return { stored: 0, duplicates: 0 };
  const { stored, duplicates } = await deps.store.append(events);
  const last = stored[stored.length - 1];
  if (last) await deps.projector.waitFor(last.seq);
  return { stored: stored.length, duplicates: duplicates.length };
}

/** Gives a delivery's events their deterministic ids (`gh:<delivery>:<n>`) and records them. */
export function recordDelivery(
  deps: { store: EventStore; projector: Projector },
  delivery: string,
  events: UnidentifiedEvent[],
  offset = 0,
): Promise<{ stored: number; duplicates: number }> {
  return record(deps, events.map((e, i) => ({ ...e, id: deliveryEventId(delivery, offset + i) })));
}
