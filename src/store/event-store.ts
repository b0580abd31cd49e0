import type { NewEvent, StoredEvent } from '../events/envelope.ts';

/** Filters shared by the store, `GET /v1/graph/events` and the SSE stream. */
export interface EventFilter {
  target?: string;
  type?: string;
  /** Matches any of these types (the audit view asks for every operator action type at once). */
  types?: string[];
  /** Matches types starting with this prefix, e.g. `attempt.` */
  typePrefix?: string;
  subject?: string;
  /** Inclusive ISO time bounds. */
  since?: string;
  until?: string;
}

export interface EventQuery extends EventFilter {
  /** oldest-first (`asc`, the default) or newest-first (`desc`). */
  order?: 'asc' | 'desc';
  /** Exclusive position to continue from: seq > after for asc, seq < before for desc. */
  after?: number;
  before?: number;
  limit: number;
}

export interface EventPage {
  events: StoredEvent[];
  /** Seq to pass as `after` (asc) or `before` (desc) for the next page; absent on the last page. */
  next?: number;
}

export interface AppendResult {
  /** Events newly stored, in order, with their seq. */
  stored: StoredEvent[];
  /** Ids that were already in the log: acknowledged, not stored again. */
  duplicates: string[];
}

export interface StoreHealth {
  writable: boolean;
  /** Why the store refuses appends, when it does (read-only disk, disk full, …). */
  problem?: string;
  head: { seq: number; hash: string };
  last_append_at: string | null;
  kind: 'file' | 'postgres' | 'memory';
}

export type Unsubscribe = () => void;

/**
 * The append-only, hash-chained event log. An append resolves only once its events are durable;
 * a batch is all-or-nothing. Duplicate ids (within the log or within the batch) are acknowledged
 * and stored once.
 */
export interface EventStore {
  append(events: NewEvent[], opts?: AppendOptions): Promise<AppendResult>;
  read(query: EventQuery): Promise<EventPage>;
  /** Events with seq > `fromSeq`, first the backlog then live, in order, until unsubscribed. */
  subscribe(fromSeq: number, onEvent: (e: StoredEvent) => void): Unsubscribe;
  /** Reads every event in order; used for replay and `ctl verify`. */
  scan(fromSeq?: number): AsyncIterable<StoredEvent>;
  health(): StoreHealth;
  close(): Promise<void>;
}

export interface AppendOptions {
  /**
   * Runs where appends are serialised — for PostgreSQL inside the transaction, under the lock
   * every replica appends under — with the seq of the log's head at that moment, before the batch
   * is sealed. Throwing refuses this batch alone (with that error) and stores nothing of it. What
   * it checks against is therefore the whole log, from every process, not a snapshot.
   */
  guard?: (head: number) => Promise<void>;
}

/** Error raised by stores with a stable code, mapped to HTTP in api/ only. */
export class StoreError extends Error {
  constructor(
    readonly code: 'store_unavailable' | 'store_read_only' | 'store_full' | 'store_corrupt' | 'store_closed',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Does an event match a filter? Shared by every store and the live stream. */
export function matchesFilter(e: StoredEvent, f: EventFilter): boolean {
  if (f.target !== undefined && e.target !== f.target) return false;
  if (f.type !== undefined && e.type !== f.type) return false;
  if (f.types !== undefined && !f.types.includes(e.type)) return false;
  if (f.typePrefix !== undefined && !e.type.startsWith(f.typePrefix)) return false;
  if (f.subject !== undefined && e.subject !== f.subject) return false;
  if (f.since !== undefined && e.time < f.since) return false;
  if (f.until !== undefined && e.time > f.until) return false;
  return true;
}
