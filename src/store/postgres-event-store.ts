import { GroupCommitQueue, passGuards, sealGroup, type PendingAppend, type SealedBatch } from './group-commit.ts';
import { SubscriberSet, type Subscriber } from './subscribers.ts';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { GENESIS_HASH, type NewEvent, type StoredEvent } from '../events/envelope.ts';
import {
  StoreError,
  type AppendOptions,
  type AppendResult,
  type EventPage,
  type EventQuery,
  type EventStore,
  type StoreHealth,
  type Unsubscribe,
} from './event-store.ts';
import type { StoreLogger } from './file-event-store.ts';
import { APPEND_LOCK, LOCK_NAMESPACE, migrate } from './postgres/migrate.ts';

/** The channel every replica LISTENs on; the payload is the last committed seq (a hint only). */
export const NOTIFY_CHANNEL = 'leviathan_events';
/** `application_name` of the listening connection, so operators (and tests) can find it. */
export const LISTENER_APPLICATION_NAME = 'leviathan-listener';

export interface PostgresEventStoreOptions {
  /** Connection string (`LEVIATHAN_DATABASE_URL`). */
  url: string;
  /** Source of event times; defaults to the system clock. Times never go backwards regardless. */
  clock?: { now(): Date };
  logger?: StoreLogger;
  /** Pooled connections for appends and reads (default 10); the listener has one more of its own. */
  poolSize?: number;
  /**
   * Look for new rows this often even without a notification (default 5 s). A backstop only:
   * notifications normally arrive within milliseconds.
   */
  pollIntervalMs?: number;
  /** First wait before reconnecting a lost listener (default 250 ms), doubling up to 10 s. */
  reconnectDelayMs?: number;
}

const noopLogger: StoreLogger = { info() {}, warn() {}, error() {} };
/** Rows per query when streaming (scan, subscription backlog, live fetch). */
const PAGE_ROWS = 1000;
/** Upper bound on events in one transaction, so one burst does not build a huge statement. */
const MAX_GROUP_EVENTS = 20_000;
const MAX_RECONNECT_DELAY_MS = 10_000;

/** How long appends take the locked path after another replica's append moved the head. */
const CONTENDED_MS = 1000;
/** A group at least this large is written while the next is sealed (see commit). */
const PIPELINE_MIN_EVENTS = 256;
const COLUMNS = 'seq, id, type, time, actor, target, subject, data, prev_hash, hash';

interface EventRow {
  seq: string;
  id: string;
  type: string;
  time: string;
  actor: string;
  target: string | null;
  subject: string | null;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** Connects, applies pending migrations and starts listening for other replicas' appends. */
export async function openPostgresEventStore(opts: PostgresEventStoreOptions): Promise<PostgresEventStore> {
  const store = new PostgresEventStore(opts);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => undefined);
    const se = toStoreError(err, `cannot open the event store at ${redactUrl(opts.url)}`);
    // The operator document's line for it ("Failed System"); the ControlPlaneDown runbook greps for it.
    opts.logger?.error({ code: se.code, err: se.message }, 'Control Plane: Database connection failed');
    throw se;
  }
  return store;
}

/**
 * The scale-out event store: the same log as the file store in a PostgreSQL `events` table, shared
 * by every `serve` replica. Appends from all replicas are serialised by a transaction-level
 * advisory lock, inside which the head (seq, hash, time) is read, the events sealed onto it and
 * inserted; so the chain stays one chain and `seq` gap-free however many replicas write. Within a
 * replica, appends that arrive together share one transaction (group commit). After commit, a
 * NOTIFY tells every replica to fetch the new rows by seq for its subscribers.
 */
export class PostgresEventStore implements EventStore {
  private readonly url: string;
  private readonly clock: { now(): Date };
  private readonly logger: StoreLogger;
  private readonly pollIntervalMs: number;
  private readonly reconnectDelayMs: number;
  private readonly pool: pg.Pool;

  private closed = false;
  private closing: Promise<void> | null = null;
  /** Why the last append failed; cleared by the next good one, or when the poll finds the server writable. */
  private problem: string | null = null;
  /** Why the last look for new rows failed (the database is unreachable), cleared by the next good one. */
  private readProblem: string | null = null;

  /** Newest event this replica knows of (its own commits or fetched), for health(). */
  private head: { seq: number; hash: string; time: string | null } = { seq: 0, hash: GENESIS_HASH, time: null };
  /** Head once the groups sent with leviathan_append and not yet answered are in; null when none is. */
  private expectedHead: { seq: number; hash: string; time: string | null } | null = null;
  /** Until then appends take the locked path (another replica was appending; see commit). */
  private lockedUntilMs = 0;
  /** Events in the group sent last. */
  private sentEvents = 0;
  /** Settles once every group sent is answered (stored, refused, or through the general path). */
  private inFlight: Promise<void> = Promise.resolve();
  private lastAppendAt: string | null = null;

  private readonly appends = new GroupCommitQueue((group) => this.commit(group), MAX_GROUP_EVENTS);

  /** Highest seq handed to live subscribers; everything up to it was delivered in order. */
  private feedSeq = 0;
  private fetching: Promise<void> | null = null;
  private fetchAgain = false;
  private readonly subscribers: SubscriberSet;

  private listener: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectAttempt = 0;
  private pollTimer: NodeJS.Timeout | null = null;

  /** Use {@link openPostgresEventStore}; the constructor does no IO. */
  constructor(opts: PostgresEventStoreOptions) {
    this.url = opts.url;
    this.clock = opts.clock ?? { now: () => new Date() };
    this.logger = opts.logger ?? noopLogger;
    this.subscribers = new SubscriberSet(this.logger);
    this.pollIntervalMs = opts.pollIntervalMs ?? 5000;
    this.reconnectDelayMs = opts.reconnectDelayMs ?? 250;
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      application_name: 'leviathan',
      keepAlive: true,
    });
    // An idle pooled connection dropped by the server must not crash the process; the next
    // query simply gets a fresh connection.
    this.pool.on('error', (err) => this.logger.warn({ err: String(err) }, 'PostgreSQL pooled connection lost'));
  }

  // ---------------------------------------------------------------- open

  /** @internal Migrates, reads the head and starts the listener; called once by openPostgresEventStore. */
  async init(): Promise<void> {
    const client = await this.pool.connect();
    const unguard = guardCheckedOut(client);
    try {
      const report = await migrate(client);
      if (report.applied.length > 0) {
        this.logger.info({ applied: report.applied, version: report.version }, 'Event store schema migrated');
      }
    } finally {
      unguard();
      client.release();
    }
    const { rows } = await this.pool.query<{ seq: string; hash: string; time: string }>(
      'SELECT seq, hash, time FROM events ORDER BY seq DESC LIMIT 1',
    );
    if (rows[0]) {
      this.head = { seq: Number(rows[0].seq), hash: rows[0].hash, time: rows[0].time };
      this.lastAppendAt = rows[0].time;
    }
    this.feedSeq = this.head.seq;
    await this.connectListener();
    if (this.pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => this.poke(), this.pollIntervalMs);
      this.pollTimer.unref();
    }
    this.logger.info({ url: redactUrl(this.url), events: this.head.seq }, 'Event store opened');
  }

  // ---------------------------------------------------------------- append

  /** Durably appends a batch (all or nothing); duplicate ids are acknowledged, not stored again. */
  append(events: NewEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreError('store_closed', 'event store is closed'));
    if (events.length === 0) return Promise.resolve({ stored: [], duplicates: [] });
    return this.appends.push(events, opts.guard);
  }

  private async commit(pending: PendingAppend[]): Promise<void> {
    // Guards need the head read under the lock before they run: only the general path has that,
    // after every group in flight is settled. So do appends for a while after another replica
    // was found appending too: the one-statement call would mostly find the head moved.
    if (pending.some((p) => p.guard) || this.clock.now().getTime() < this.lockedUntilMs) {
      await this.inFlight;
      await this.commitLocked(pending);
      return;
    }
    const before = this.inFlight;
    // Sealing a group while the one before is written pays off when that one is large (batches);
    // behind a small one it only splits arrivals into more groups, each with its own commit flush.
    if (this.sentEvents < PIPELINE_MIN_EVENTS) await before;
    this.inFlight = this.commitOnHead(pending, before);
    // Two groups in flight at most: this one, and the one before, which must be settled first.
    await before;
  }

  /**
   * The common case in one round trip: seals the group onto the head this replica expects —
   * the last group it sent, while that one is still in flight — and hands it to
   * `leviathan_append` (migration 2), which writes it only if that is the head once it holds the
   * append lock and none of the ids is in the log. So the next group is sealed and sent while
   * PostgreSQL writes this one. Answers arrive in log order (after `before` is settled); a group
   * the function refused (another replica appended, a known id, or the group before it failed)
   * takes the general path.
   */
  private async commitOnHead(group: PendingAppend[], before: Promise<void>): Promise<void> {
    const head = this.expectedHead ?? this.head;
    const time = this.timeAfter(head.time);
    // Duplicates within the group are found here; against the log, the function checks.
    const prepared = await sealGroup(group, head, time, () => false, storable);
    const left = prepared.map(({ p }) => p);
    const stored = prepared.flatMap(({ result }) => result.stored);
    if (stored.length === 0) {
      await before;
      if (left.length > 0) await this.commitLocked(left);
      return;
    }
    const last = stored.at(-1)!;
    this.expectedHead = { seq: last.seq, hash: last.hash, time: last.time };
    this.sentEvents = stored.length;
    const call = this.pool
      .query<{ r: string }>('SELECT leviathan_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) AS r', [
        head.seq,
        head.hash,
        ...columns(stored),
        String(last.seq),
      ])
      .then(
        ({ rows }) => ({ answer: rows[0]!.r, err: null }),
        (err: unknown) => ({ answer: null, err }),
      );
    await before;
    const { answer, err } = await call;
    // Nothing sent after this group: the next one seals onto `head`, which the feed also moves.
    if (this.expectedHead?.seq === last.seq && this.expectedHead.hash === last.hash) this.expectedHead = null;
    if (answer === 'ok') {
      this.committed(prepared, stored);
      return;
    }
    // A head at or past the one expected was moved by another replica (below it: a group of ours
    // before this one was refused).
    if (answer !== null && answer.startsWith('stale ') && Number(answer.slice(6)) >= head.seq) {
      this.lockedUntilMs = this.clock.now().getTime() + CONTENDED_MS;
    }
    // A group sealed onto this one after it was sent is refused too, and takes this way as well.
    if (err !== null) this.fail(left, err);
    else await this.commitLocked(left);
  }

  /** The time of a new group: now, but never before the head, whichever replica's clock wrote it. */
  private timeAfter(headTime: string | null): string {
    return new Date(Math.max(this.clock.now().getTime(), headTime ? Date.parse(headTime) : 0)).toISOString();
  }

  /** After a commit: the head moves on, callers are answered, live subscribers get the events. */
  private committed(prepared: SealedBatch[], stored: StoredEvent[]): void {
    if (this.problem !== null) {
      this.problem = null;
      this.logger.info({}, 'Event store writable again');
    }
    if (stored.length > 0) {
      const last = stored.at(-1)!;
      if (last.seq > this.head.seq) this.head = { seq: last.seq, hash: last.hash, time: last.time };
      this.lastAppendAt = last.time;
    }
    for (const { p, result } of prepared) p.resolve(result);
    if (stored.length > 0) this.offer(stored);
  }

  /**
   * The general path, one transaction for a group of batches: lock, read head and known ids, run guards, seal,
   * insert, notify, commit. A batch whose guard refuses or that cannot be sealed is rejected
   * alone; a database failure rejects the group
   * (nothing of it was stored, or — if the connection died during COMMIT — all of it was, and a
   * retry with the same ids is acknowledged as duplicates).
   */
  private async commitLocked(group: PendingAppend[]): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.fail(group, err);
      return;
    }
    let broken: unknown;
    const unguard = guardCheckedOut(client);
    try {
      // Constants only, so both statements travel in one round trip (simple query protocol).
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${APPEND_LOCK})`);
      // A new statement, so its snapshot includes the commit of whoever held the lock before us.
      const ids = [...new Set(group.flatMap((p) => p.events.map((e) => e.id)))];
      const { rows } = await client.query<{ k: string; seq: string | null; v: string; time: string | null }>(
        `SELECT 'h' AS k, seq::text AS seq, hash AS v, time FROM (SELECT seq, hash, time FROM events ORDER BY seq DESC LIMIT 1) h
         UNION ALL
         SELECT 'd', NULL, id, NULL FROM events WHERE id = ANY($1::text[])`,
        [ids],
      );
      const headRow = rows.find((r) => r.k === 'h');
      // Under the lock no replica can append: a guard sees the whole log at this head.
      const admitted = await passGuards(group, headRow ? Number(headRow.seq) : 0);
      const inLog = new Set(rows.filter((r) => r.k === 'd').map((r) => r.v));
      const time = this.timeAfter(headRow?.time ?? null);
      const prepared = await sealGroup(
        admitted,
        { seq: headRow ? Number(headRow.seq) : 0, hash: headRow?.v ?? GENESIS_HASH },
        time,
        (id) => inLog.has(id),
        storable,
      );
      const stored = prepared.flatMap(({ result }) => result.stored);
      if (stored.length > 0) {
        const last = stored.at(-1)!;
        // Column arrays through unnest: one statement, one round trip for the whole group. (Not
        // json_to_recordset: it decodes nested values and so refuses a \u0000 inside `data`.)
        await client.query(
          `WITH ins AS (
             INSERT INTO events (${COLUMNS})
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::json[], $9::text[], $10::text[])
             RETURNING 1
           )
           SELECT pg_notify('${NOTIFY_CHANNEL}', $11) FROM (SELECT count(*) FROM ins) c`,
          [...columns(stored), String(last.seq)],
        );
      }
      // The notification is queued in the transaction and delivered to listeners only on commit.
      await client.query('COMMIT');
      this.committed(prepared, stored);
    } catch (err) {
      broken = err;
      await client.query('ROLLBACK').catch(() => undefined);
      this.fail(group, err);
    } finally {
      unguard();
      // A connection that failed mid-transaction is discarded rather than reused.
      client.release(broken instanceof Error && isConnectionError(broken) ? broken : undefined);
    }
  }

  /**
   * After a failed append, readiness (GET /v1/health) sends no traffic here, so no append would
   * ever clear the problem. The poll asks the server instead whether it takes writes again; the
   * next append confirms it (or sets the problem again).
   */
  private async probeWritable(): Promise<void> {
    const rows = await this.query<{ ok: boolean }>(
      "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off' AS ok",
      [],
    );
    if (rows[0]?.ok && this.problem !== null) {
      this.problem = null;
      this.logger.info({}, 'Event store writable again');
    }
  }

  private fail(group: PendingAppend[], err: unknown): void {
    const se = toStoreError(err, 'append to PostgreSQL failed');
    this.problem = se.message;
    this.logger.error({ code: se.code, err: String(err) }, 'Event append failed');
    for (const p of group) p.reject(se);
  }

  // ---------------------------------------------------------------- read

  /** A page of events by seq range and filters, straight from the indexed table. */
  async read(query: EventQuery): Promise<EventPage> {
    this.assertOpen();
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return { events: [] };
    const desc = query.order === 'desc';
    const params: unknown[] = [];
    const param = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    const where: string[] = [];
    if (query.target !== undefined) where.push(`target = ${param(query.target)}`);
    if (query.type !== undefined) where.push(`type = ${param(query.type)}`);
    if (query.types !== undefined) where.push(`type = ANY(${param(query.types)}::text[])`);
    if (query.typePrefix !== undefined) where.push(`type LIKE ${param(`${escapeLike(query.typePrefix)}%`)}`);
    if (query.subject !== undefined) where.push(`subject = ${param(query.subject)}`);
    if (query.since !== undefined) where.push(`time >= ${param(query.since)}`);
    if (query.until !== undefined) where.push(`time <= ${param(query.until)}`);
    if (query.after !== undefined) where.push(`seq > ${param(Math.floor(query.after))}`);
    if (query.before !== undefined) where.push(`seq < ${param(Math.ceil(query.before))}`);
    const sql =
      `SELECT ${COLUMNS} FROM events` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY seq ${desc ? 'DESC' : 'ASC'} LIMIT ${param(limit + 1)}`;
    const rows = await this.query<EventRow>(sql, params);
    const more = rows.length > limit;
    const events = rows.slice(0, limit).map(toEvent);
    const page: EventPage = { events };
    if (more) page.next = events.at(-1)!.seq;
    return page;
  }

  /** Streams every event with seq > fromSeq in order, a thousand rows per query. */
  async *scan(fromSeq = 0): AsyncIterable<StoredEvent> {
    let cursor = Math.max(0, Math.floor(fromSeq));
    for (;;) {
      this.assertOpen();
      const events = await this.after(cursor);
      for (const e of events) yield e;
      if (events.length < PAGE_ROWS) return;
      cursor = events.at(-1)!.seq;
    }
  }

  private async after(seq: number): Promise<StoredEvent[]> {
    const rows = await this.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT ${PAGE_ROWS}`, [seq]);
    return rows.map(toEvent);
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      if (this.closed) throw new StoreError('store_closed', 'event store is closed');
      throw toStoreError(err, 'read from PostgreSQL failed');
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('store_closed', 'event store is closed');
  }

  // ---------------------------------------------------------------- subscribe and the live feed

  /** Backlog (seq > fromSeq) then live events from every replica, in order, without gap or repeat. */
  subscribe(fromSeq: number, onEvent: (e: StoredEvent) => void): Unsubscribe {
    if (this.closed) return () => undefined;
    return this.subscribers.add(fromSeq, onEvent, (sub) => this.catchUp(sub));
  }

  private async catchUp(sub: Subscriber): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.readBacklog(sub);
        return;
      } catch (err) {
        if (!sub.active || this.closed) return;
        // A database hiccup must not leave a subscriber (the projector, an SSE client) silently
        // stopped: retry from its cursor until the backlog is read or it unsubscribes.
        const delay = Math.min(MAX_RECONNECT_DELAY_MS, this.reconnectDelayMs * 2 ** attempt);
        this.logger.warn({ err: String(err), cursor: sub.cursor, retryInMs: delay }, 'Event subscription backlog failed; retrying');
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  private async readBacklog(sub: Subscriber): Promise<void> {
    // The backlog query may see rows the feed has not fetched yet (cursor passes feedSeq):
    // the feed then skips them for this subscriber, so there is neither gap nor repeat.
    while (sub.active && sub.cursor < this.feedSeq) {
      const events = await this.after(sub.cursor);
      for (const e of events) if (!this.subscribers.offer(sub, e)) return;
    }
    // Synchronously after the last check of feedSeq: the feed delivers from feedSeq + 1 on.
    sub.live = true;
  }

  /** Own commits go straight to subscribers when they follow on; otherwise the feed fetches. */
  private offer(events: StoredEvent[]): void {
    if (events[0]!.seq === this.feedSeq + 1) this.publish(events);
    else if (events.at(-1)!.seq > this.feedSeq) this.poke();
  }

  /** Something may have been committed (a notification, a timer, a reconnect): fetch by seq. */
  private poke(): void {
    if (this.closed) return;
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    this.fetching = this.fetchNew().finally(() => {
      this.fetching = null;
    });
  }

  /**
   * Reads rows after feedSeq until none are left. The notification's payload is never trusted:
   * notifications coalesce and a replica that was not listening missed some, while seq is a
   * complete, ordered account of what was committed.
   */
  private async fetchNew(): Promise<void> {
    try {
      do {
        this.fetchAgain = false;
        for (;;) {
          if (this.closed) return;
          const events = await this.after(this.feedSeq);
          if (events.length > 0) this.publish(events);
          if (events.length < PAGE_ROWS) break;
        }
      } while (this.fetchAgain);
      if (this.readProblem !== null) {
        this.readProblem = null;
        this.logger.info({}, 'PostgreSQL reachable again');
      }
      if (this.problem !== null) await this.probeWritable();
    } catch (err) {
      // The poll timer or the next notification retries; meanwhile health() says why.
      if (this.closed) return;
      if (this.readProblem === null) this.logger.warn({ err: String(err), after: this.feedSeq }, 'Fetching new events failed');
      this.readProblem = err instanceof StoreError ? err.message : String(err);
    }
  }

  private publish(events: StoredEvent[]): void {
    const fresh = events.filter((e) => e.seq > this.feedSeq);
    if (fresh.length === 0) return;
    const last = fresh.at(-1)!;
    this.feedSeq = last.seq;
    if (last.seq > this.head.seq) {
      this.head = { seq: last.seq, hash: last.hash, time: last.time };
      this.lastAppendAt = last.time;
    }
    this.subscribers.publish(fresh);
  }

  /** A dedicated connection (LISTEN does not survive being returned to a pool). */
  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: LISTENER_APPLICATION_NAME, keepAlive: true });
    client.on('notification', () => this.poke());
    client.on('error', (err) => this.listenerLost(client, err));
    client.on('end', () => this.listenerLost(client, null));
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.reconnectAttempt = 0;
    // Whatever was committed while no one listened is fetched now, from the last delivered seq.
    this.poke();
  }

  private listenerLost(client: pg.Client, err: unknown): void {
    if (this.listener !== client) return;
    this.listener = null;
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.logger.warn({ err: err === null ? 'connection ended' : String(err) }, 'PostgreSQL listener lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, this.reconnectDelayMs * 2 ** this.reconnectAttempt);
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connectListener().then(
        () => {
          if (!this.closed) this.logger.info({}, 'PostgreSQL listener reconnected');
        },
        (err: unknown) => {
          // Once at error, in the document's words: the database is unreachable, not one connection.
          if (this.reconnectAttempt === 1) this.logger.error({ err: String(err) }, 'Control Plane: Database connection failed');
          else this.logger.warn({ err: String(err), attempt: this.reconnectAttempt }, 'PostgreSQL listener reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  // ---------------------------------------------------------------- health, close

  /** Writability (with the reason when not), head of the chain as this replica knows it, last append time. */
  health(): StoreHealth {
    const problem = this.problem ?? this.readProblem;
    const h: StoreHealth = {
      writable: !this.closed && problem === null,
      head: { seq: this.head.seq, hash: this.head.hash },
      last_append_at: this.lastAppendAt,
      kind: 'postgres',
    };
    if (problem !== null) h.problem = problem;
    else if (this.closed) h.problem = 'event store is closed';
    return h;
  }

  /** Commits pending appends, stops listening and closes every connection; later appends fail. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    await this.appends.drained();
    await this.inFlight;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.subscribers.clear();
    const listener = this.listener;
    this.listener = null;
    if (listener) await listener.end().catch(() => undefined);
    await this.fetching;
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * A checked-out pool client emits 'error' when its connection drops, besides failing the query
 * in flight; with no listener that would crash the process. The failing query reports it.
 */
function guardCheckedOut(client: PoolClient): () => void {
  const ignore = (): void => undefined;
  client.on('error', ignore);
  return () => client.removeListener('error', ignore);
}

/** The event as it will read back: data through JSON (as the table stores it), no NULs in text. */
/** The events as the column arrays of an insert through unnest, in COLUMNS order. */
function columns(stored: StoredEvent[]): unknown[][] {
  return [
    stored.map((e) => e.seq),
    stored.map((e) => e.id),
    stored.map((e) => e.type),
    stored.map((e) => e.time),
    stored.map((e) => e.actor),
    stored.map((e) => e.target),
    stored.map((e) => e.subject),
    stored.map((e) => JSON.stringify(e.data)),
    stored.map((e) => e.prev_hash),
    stored.map((e) => e.hash),
  ];
}

function storable(e: NewEvent): NewEvent {
  for (const s of [e.id, e.type, e.actor, e.target, e.subject]) {
    if (s !== null && s.includes('\u0000')) throw new TypeError(`event ${JSON.stringify(e.id)} has a NUL character in a text field`);
  }
  // A value with toJSON (a Date) would otherwise be hashed one way and read back another.
  const text = JSON.stringify(e.data);
  return { ...e, data: JSON.parse(text) as Record<string, unknown> };
}

function toEvent(r: EventRow): StoredEvent {
  return {
    seq: Number(r.seq),
    id: r.id,
    type: r.type,
    time: r.time,
    actor: r.actor,
    target: r.target,
    subject: r.subject,
    data: r.data,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The URL without its password, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

/** Errors after which the connection cannot be trusted (and the database may be unreachable). */
function isConnectionError(err: Error): boolean {
  const code = (err as { code?: string }).code ?? '';
  return (
    /^(08|57P)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code) ||
    /Connection terminated|not queryable|Client has encountered a connection error/i.test(err.message)
  );
}

/** Maps a PostgreSQL or socket error to the store's stable codes. */
export function toStoreError(err: unknown, context: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: string } | undefined)?.code;
  const detail = `${context}: ${err instanceof Error ? err.message : String(err)}${code ? ` (${code})` : ''}`;
  switch (code) {
    case '53100': // disk_full
    case '53200': // out_of_memory
      return new StoreError('store_full', `${detail} (the database server is out of space; free some, then appends resume)`);
    case '25006': // read_only_sql_transaction: a hot standby, or default_transaction_read_only
      return new StoreError('store_read_only', `${detail} (LEVIATHAN_DATABASE_URL must point at the primary)`);
    case 'XX001': // data_corrupted
    case 'XX002': // index_corrupted
      return new StoreError('store_corrupt', detail);
    default:
      return new StoreError('store_unavailable', detail);
  }
}
