import type { Logger } from 'pino';
import type { AppendOptions, AppendResult, EventPage, EventQuery, EventStore, StoreHealth, Unsubscribe } from './event-store.ts';
import type { NewEvent, StoredEvent } from '../events/envelope.ts';

/**
 * The store, logging at info every event it stores: the operator document's `Control Plane:
 * Event received: <type>`, whoever appended it — a worker over HTTP, the scheduler or a manual
 * trigger in-process, a webhook, an operator's action. Duplicates are acknowledged, not logged:
 * they were received before. Nothing is built when info is off (a 1000-event batch would build
 * 1000 records).
 */
export class AppendLog implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly logger: Logger,
  ) {}

  async append(events: NewEvent[], opts?: AppendOptions): Promise<AppendResult> {
    const result = await this.inner.append(events, opts);
    if (this.logger.isLevelEnabled('info')) {
      for (const e of result.stored) this.logger.info({ seq: e.seq, id: e.id, target: e.target, actor: e.actor }, `Control Plane: Event received: ${e.type}`);
    }
    return result;
  }

  read(query: EventQuery): Promise<EventPage> {
    return this.inner.read(query);
  }

  subscribe(fromSeq: number, onEvent: (e: StoredEvent) => void): Unsubscribe {
    return this.inner.subscribe(fromSeq, onEvent);
  }

  scan(fromSeq?: number): AsyncIterable<StoredEvent> {
    return this.inner.scan(fromSeq);
  }

  health(): StoreHealth {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
