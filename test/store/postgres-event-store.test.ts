import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEvent, type StoredEvent } from '../../src/events/envelope.ts';
import { LISTENER_APPLICATION_NAME, openPostgresEventStore, type PostgresEventStore } from '../../src/store/postgres-event-store.ts';
import { MIGRATIONS } from '../../src/store/postgres/migrations.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { describeEventStoreContract, expectValidChain, sampleEvents } from './event-store-contract.ts';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

let n = 0;
const freshDatabase = () => server.createDatabase(`store_${++n}`);

describeEventStoreContract('postgres', async () => {
  const url = await freshDatabase();
  return {
    store: await openPostgresEventStore({ url }),
    reopen: () => openPostgresEventStore({ url }),
    cleanup: async () => undefined,
  };
});

async function collect(store: PostgresEventStore): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of store.scan()) out.push(e);
  return out;
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Resolves when `pred` holds, polling every 10 ms; rejects after `ms`. */
async function eventually(pred: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('PostgresEventStore', () => {
  it('migrates once, even when several replicas start on an empty database at the same time', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresEventStore({ url })));
    const rows = await sql<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await Promise.all(stores.map((s) => s.close()));
  });

  it('refuses a database migrated by a newer build', async () => {
    const url = await freshDatabase();
    await (await openPostgresEventStore({ url })).close();
    await sql(url, "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')");
    await expect(openPostgresEventStore({ url })).rejects.toMatchObject({ code: 'store_unavailable', message: expect.stringMatching(/version 999/) });
  });

  it("fails with store_unavailable and no password in the message when the server is unreachable, logging the operator document's line", async () => {
    const logged: Array<[string, unknown, string]> = [];
    const at = (level: string) => (obj: unknown, msg: string) => void logged.push([level, obj, msg]);
    const logger = { info: at('info'), warn: at('warn'), error: at('error') };
    const err = await openPostgresEventStore({ url: 'postgres://u:hunter2@127.0.0.1:1/nope', logger }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'store_unavailable' });
    expect(String((err as Error).message)).not.toContain('hunter2');
    expect(logged.filter(([level]) => level === 'error').map(([, , msg]) => msg)).toEqual(['Control Plane: Database connection failed']);
    expect(JSON.stringify(logged)).not.toContain('hunter2');
  });

  it('the events table refuses UPDATE, DELETE and TRUNCATE', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url });
    await store.append(sampleEvents(3));
    await expect(sql(url, "UPDATE events SET actor = 'mallory' WHERE seq = 1")).rejects.toThrow(/append-only/);
    await expect(sql(url, 'DELETE FROM events WHERE seq = 3')).rejects.toThrow(/append-only/);
    await expect(sql(url, 'TRUNCATE events')).rejects.toThrow(/append-only/);
    expect(await collect(store)).toHaveLength(3);
    await store.close();
  });

  it('rejects a second row with an existing seq or id at the database level', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url });
    const { stored } = await store.append(sampleEvents(1));
    const e = stored[0]!;
    const insert = `INSERT INTO events (seq, id, type, time, actor, target, subject, data, prev_hash, hash) VALUES ($1, $2, 'x.y', $3, 'a', NULL, NULL, '{}', 'p', 'h')`;
    await expect(sql(url, insert, [1, 'other', e.time])).rejects.toThrow(/duplicate key/);
    await expect(sql(url, insert, [2, e.id, e.time])).rejects.toThrow(/duplicate key/);
    await store.close();
  });

  it('keeps one valid chain when several stores (replicas) append concurrently', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 3 }, () => openPostgresEventStore({ url })));
    await Promise.all(
      stores.flatMap((s, r) => [
        ...sampleEvents(60, `r${r}`).map((e) => s.append([e])),
        s.append(sampleEvents(40, `r${r}-batch`)),
        // The same ids sent to every replica: stored once, acknowledged by the others.
        s.append(sampleEvents(5, 'shared')),
      ]),
    );
    const all = await collect(stores[0]!);
    expect(all).toHaveLength(3 * 100 + 5);
    expectValidChain(all);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('never goes back in time relative to the head, even when a replica clock lags', async () => {
    const url = await freshDatabase();
    const ahead = await openPostgresEventStore({ url, clock: { now: () => new Date('2030-01-01T00:00:00.000Z') } });
    const behind = await openPostgresEventStore({ url, clock: { now: () => new Date('2020-01-01T00:00:00.000Z') } });
    await ahead.append(sampleEvents(1, 'a'));
    const { stored } = await behind.append(sampleEvents(1, 'b'));
    expect(stored[0]!.time).toBe('2030-01-01T00:00:00.000Z');
    await ahead.close();
    await behind.close();
  });

  it('delivers events appended by another replica to subscribers, in order, and keeps health().head current', async () => {
    const url = await freshDatabase();
    const a = await openPostgresEventStore({ url });
    const b = await openPostgresEventStore({ url });
    await a.append(sampleEvents(5, 'before'));
    const seen: number[] = [];
    const unsubscribe = b.subscribe(0, (e) => seen.push(e.seq));
    await Promise.all([...sampleEvents(30, 'x').map((e) => a.append([e])), ...sampleEvents(30, 'y').map((e) => b.append([e]))]);
    await eventually(() => seen.length === 65, 2000);
    expect(seen).toEqual(Array.from({ length: 65 }, (_, i) => i + 1));
    await eventually(() => a.health().head.seq === 65 && b.health().head.seq === 65, 2000);
    expect(a.health().head).toEqual(b.health().head);
    unsubscribe();
    await a.close();
    await b.close();
  });

  it('reconnects a dropped listener and catches up from the last delivered seq', async () => {
    const url = await freshDatabase();
    // No backstop poll: only the reconnect can bring the missed events.
    const follower = await openPostgresEventStore({ url, pollIntervalMs: 0, reconnectDelayMs: 50 });
    const writer = await openPostgresEventStore({ url });
    const seen: string[] = [];
    follower.subscribe(0, (e) => seen.push(e.id));
    await writer.append(sampleEvents(2, 'one'));
    await eventually(() => seen.length === 2);

    const dbName = new URL(url).pathname.slice(1);
    const killed = await sql<{ ok: boolean }>(
      server.url,
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
      [LISTENER_APPLICATION_NAME, dbName],
    );
    expect(killed.length).toBe(2); // one listener per store
    // Committed while the follower has no listener: no notification will ever reach it.
    await writer.append(sampleEvents(3, 'two'));
    await eventually(() => seen.length === 5);
    expect(seen).toEqual(['one-0', 'one-1', 'two-0', 'two-1', 'two-2']);
    // And live again after the reconnect.
    await writer.append(sampleEvents(1, 'three'));
    await eventually(() => seen.length === 6);
    await follower.close();
    await writer.close();
  });

  it('reports a failed append as store_unavailable and is ready again, without traffic, when the database is back', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url, pollIntervalMs: 50 });
    await store.append(sampleEvents(1, 'a'));
    const dbName = new URL(url).pathname.slice(1);
    // Refuse new connections and cut the pooled ones: the next append cannot reach the database.
    await sql(server.url, `ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS false`);
    await sql(server.url, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
    await expect(store.append(sampleEvents(1, 'b'))).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(store.health()).toMatchObject({ writable: false, kind: 'postgres', problem: expect.stringMatching(/append to PostgreSQL failed/) });
    await sql(server.url, `ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`);
    // Readiness (GET /v1/health) routes no appends to a replica that is not writable, so the
    // store must notice by itself that the database is back.
    await eventually(() => store.health().writable);
    const retry = await store.append(sampleEvents(1, 'b'));
    expect(retry.stored.map((e) => e.seq)).toEqual([2]);
    expect(store.health().writable).toBe(true);
    expectValidChain(await collect(store));
    await store.close();
  });

  it('a subscription whose backlog read fails retries until the database is back, instead of going quiet', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url, reconnectDelayMs: 20, pollIntervalMs: 50 });
    await store.append(sampleEvents(5, 'early'));
    const dbName = new URL(url).pathname.slice(1);
    await sql(server.url, `ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS false`);
    await sql(server.url, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName]);
    const seen: string[] = [];
    const unsubscribe = store.subscribe(0, (e) => seen.push(e.id));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
    await sql(server.url, `ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`);
    await eventually(() => seen.length === 5);
    await store.append(sampleEvents(1, 'late'));
    await eventually(() => seen.length === 6);
    expect(seen).toEqual([...sampleEvents(5, 'early'), ...sampleEvents(1, 'late')].map((e) => e.id));
    unsubscribe();
    await store.close();
  });

  it('stores data exactly as JSON reads it back (key order, unicode, NUL in strings), with a valid hash', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url });
    const data = { z: 1, a: { y: [1, 2.5, null, 'é\u0000😀'], b: true }, big: 1e21, neg: -0.000001 };
    const { stored } = await store.append([newEvent({ type: 'x.y', actor: 't', data })]);
    const all = await collect(store);
    expect(all).toEqual(stored);
    expectValidChain(all);
    await expect(store.append([newEvent({ type: 'x.y', actor: 'bad\u0000actor' })])).rejects.toThrow(/NUL/);
    await store.close();
  });

  it('uses the indexes for target, subject and type-prefix pages', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url });
    await store.append(sampleEvents(5000));
    await store.append(Array.from({ length: 20 }, () => newEvent({ type: 'pr.created', actor: 't', target: 'rare/repo', subject: 'pr:rare/repo#1' })));
    await sql(url, 'ANALYZE events');
    const plan = async (where: string) =>
      (await sql<{ 'QUERY PLAN': string }>(url, `EXPLAIN SELECT * FROM events WHERE ${where} ORDER BY seq DESC LIMIT 101`))
        .map((r) => r['QUERY PLAN'])
        .join('\n');
    expect(await plan("target = 'rare/repo'")).toMatch(/events_target_seq/);
    expect(await plan("subject = 'pr:rare/repo#1'")).toMatch(/events_subject_seq/);
    expect(await plan("type LIKE 'task.%'")).not.toMatch(/Seq Scan/);
    await store.close();
  });
});

/** Counts the statements every pg client sends: one-statement appends and locked transactions. */
/** Calls queued on an advisory lock (the append lock, while a test holds it). */
async function lockWaiters(url: string): Promise<number> {
  const rows = await sql<{ n: string }>(url, "SELECT count(*)::text AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
  return Number(rows[0]!.n);
}

function spyStatements() {
  const texts: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0];
    texts.push(typeof q === 'string' ? q : ((q as { text?: string } | undefined)?.text ?? ''));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return {
    /** What was sent since the last call. */
    statements: () => {
      const seen = texts.splice(0);
      return { fast: seen.filter((t) => t.includes('leviathan_append')).length, general: seen.filter((t) => t.startsWith('BEGIN')).length };
    },
    restore: () => {
      pg.Client.prototype.query = original;
    },
  };
}

describe('PostgresEventStore: one-round-trip append (leviathan_append)', () => {
  const call = (url: string, expect: { seq: number; hash: string }, e: StoredEvent) =>
    sql<{ r: string }>(url, 'SELECT leviathan_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) AS r', [
      expect.seq,
      expect.hash,
      [e.seq],
      [e.id],
      [e.type],
      [e.time],
      [e.actor],
      [e.target],
      [e.subject],
      [JSON.stringify(e.data)],
      [e.prev_hash],
      [e.hash],
      String(e.seq),
    ]).then((rows) => rows[0]!.r);

  it('writes only onto the expected head and only new ids; otherwise it says why and writes nothing', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url });
    const [first] = (await store.append(sampleEvents(1, 'a'))).stored;
    await store.close();
    // A well-formed next event, as a replica would seal it.
    const next: StoredEvent = { ...first!, seq: 2, id: 'b-0', prev_hash: first!.hash, hash: 'f'.repeat(64) };
    expect(await call(url, { seq: 1, hash: 'e'.repeat(64) }, next)).toBe('stale 1');
    expect(await call(url, { seq: 0, hash: first!.prev_hash }, next)).toBe('stale 1');
    expect(await call(url, { seq: 1, hash: first!.hash }, { ...next, id: first!.id })).toBe('duplicate');
    expect(await sql(url, 'SELECT seq FROM events')).toHaveLength(1);
    expect(await call(url, { seq: 1, hash: first!.hash }, next)).toBe('ok');
    expect((await sql<{ id: string }>(url, 'SELECT id FROM events ORDER BY seq')).map((r) => r.id)).toEqual([first!.id, 'b-0']);
  });

  it('takes one statement for a plain append, and the general path when the head moved or an id is known', async () => {
    const url = await freshDatabase();
    let now = Date.parse('2026-11-28T00:00:00.000Z');
    const clock = { now: () => new Date(now) };
    const a = await openPostgresEventStore({ url, clock });
    const b = await openPostgresEventStore({ url, clock });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const waiting = () => lockWaiters(url);
    const { statements, restore } = spyStatements();
    try {
      await a.append(sampleEvents(3, 'plain'));
      expect(statements()).toEqual({ fast: 1, general: 0 });
      // Both replicas seal onto the same head (3) and call while the lock is held elsewhere; a
      // queued first, so b finds the head moved past it ('stale 4') and goes the general way.
      await eventually(() => b.health().head.seq === 3);
      await holder.query('SELECT pg_advisory_lock(1281717865, 2)');
      const x = a.append(sampleEvents(1, 'x'));
      await eventually(async () => (await waiting()) === 1);
      const y = b.append(sampleEvents(1, 'y'));
      await eventually(async () => (await waiting()) === 2);
      await holder.query('SELECT pg_advisory_unlock(1281717865, 2)');
      expect((await x).stored[0]!.seq).toBe(4);
      expect((await y).stored[0]!.seq).toBe(5);
      expect(statements()).toEqual({ fast: 2, general: 1 });
      // Another replica is appending: b takes the locked path for a while, then tries again.
      await b.append(sampleEvents(1, 'z'));
      expect(statements()).toEqual({ fast: 0, general: 1 });
      now += 2000;
      await b.append(sampleEvents(1, 'w'));
      expect(statements()).toEqual({ fast: 1, general: 0 });
      // An id already in the log ('duplicate'): the general path acknowledges it.
      await eventually(() => a.health().head.seq === 7);
      expect(await a.append(sampleEvents(1, 'plain'))).toEqual({ stored: [], duplicates: ['plain-0'] });
      expect(statements()).toEqual({ fast: 1, general: 1 });
    } finally {
      restore();
      await holder.end();
    }
    const all = await collect(a);
    expect(all.map((e) => e.id)).toEqual(['plain-0', 'plain-1', 'plain-2', 'x-0', 'y-0', 'z-0', 'w-0']);
    expectValidChain(all);
    await a.close();
    await b.close();
  });

  it('sends the next group while a large one before is in flight; when that one is refused, the next takes the general path too', async () => {
    const url = await freshDatabase();
    const store = await openPostgresEventStore({ url });
    await store.append(sampleEvents(1, 'known'));
    // Hold the append lock from outside, so the calls queue in the database.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const waiting = () => lockWaiters(url);
    const { statements, restore } = spyStatements();
    try {
      await holder.query('SELECT pg_advisory_lock(1281717865, 2)');
      // The first group (large enough to be written while the next is sealed) carries a known id:
      // the function refuses it ('duplicate'). The second was sealed onto it and sent before that
      // answer: it finds the head below the one it expected ('stale').
      const first = store.append([...sampleEvents(300, 'a'), ...sampleEvents(1, 'known')]);
      // Queued on the lock before the next is sent: a small call sent later can reach the lock
      // first (the large one's parameters take longer to bind), which is a different case.
      await eventually(async () => (await waiting()) === 1);
      const second = store.append(sampleEvents(2, 'b'));
      await eventually(async () => (await waiting()) === 2);
      expect(statements()).toEqual({ fast: 2, general: 0 });
      await holder.query('SELECT pg_advisory_unlock(1281717865, 2)');
      expect(await first).toMatchObject({ duplicates: ['known-0'] });
      expect((await second).stored.map((e) => e.id)).toEqual(['b-0', 'b-1']);
      expect(statements()).toEqual({ fast: 0, general: 2 });
      // And with nothing refused, both calls are answered as they are.
      await holder.query('SELECT pg_advisory_lock(1281717865, 2)');
      const c = store.append(sampleEvents(300, 'c'));
      await eventually(async () => (await waiting()) === 1);
      const d = store.append(sampleEvents(1, 'd'));
      await eventually(async () => (await waiting()) === 2);
      await holder.query('SELECT pg_advisory_unlock(1281717865, 2)');
      await Promise.all([c, d]);
      expect(statements()).toEqual({ fast: 2, general: 0 });
    } finally {
      restore();
      await holder.end();
    }
    const all = await collect(store);
    expect(all.map((e) => e.id)).toEqual(['known-0', ...sampleEvents(300, 'a').map((e) => e.id), 'b-0', 'b-1', ...sampleEvents(300, 'c').map((e) => e.id), 'd-0']);
    expectValidChain(all);
    await store.close();
  });
});
