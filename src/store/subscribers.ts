import type { StoredEvent } from '../events/envelope.ts';
import type { Unsubscribe } from './event-store.ts';

/** One subscription: where it is, and whether it has caught up with the live feed. */
export interface Subscriber {
  cursor: number;
  live: boolean;
  active: boolean;
  onEvent: (e: StoredEvent) => void;
}

/**
 * The subscriptions of a store, shared by the file and PostgreSQL stores: each store reads a
 * subscriber's backlog its own way (`catchUp`), then marks it live; from then on `publish` hands
 * it every new event once, in order, and one failing subscriber never stops the others.
 */
export class SubscriberSet {
  private readonly subs = new Set<Subscriber>();

  constructor(private readonly logger: { warn(obj: object, msg: string): void }) {}

  /** Adds a subscription from `fromSeq` and starts its catch-up; returns how to end it. */
  add(fromSeq: number, onEvent: (e: StoredEvent) => void, catchUp: (sub: Subscriber) => Promise<void>): Unsubscribe {
    const sub: Subscriber = { cursor: Math.max(0, Math.floor(fromSeq)), live: false, active: true, onEvent };
    this.subs.add(sub);
    void catchUp(sub);
    return () => this.remove(sub);
  }

  remove(sub: Subscriber): void {
    sub.active = false;
    this.subs.delete(sub);
  }

  /** Delivers events (ascending seq) to every live subscriber that has not seen them yet. */
  publish(events: readonly StoredEvent[]): void {
    for (const sub of this.subs) {
      if (!sub.live) continue;
      for (const e of events) if (!this.offer(sub, e)) break;
    }
  }

  /** Delivers one backlog or live event; false once the subscription has ended. */
  offer(sub: Subscriber, e: StoredEvent): boolean {
    if (!sub.active) return false;
    if (e.seq <= sub.cursor) return true;
    sub.cursor = e.seq;
    try {
      sub.onEvent(e);
    } catch (err) {
      // One faulty subscriber must not stop the log or the others.
      this.logger.warn({ err: String(err), seq: e.seq }, 'Event subscriber threw');
    }
    return true;
  }

  clear(): void {
    for (const sub of this.subs) sub.active = false;
    this.subs.clear();
  }
}
