/**
 * Several `leviathan serve` processes on one PostgreSQL database, as in the Kubernetes postgres
 * overlay: concurrent ingest through both keeps one valid chain, an event posted to one replica
 * reaches the other's live stream, and a replica killed mid-ingest loses nothing it acknowledged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/events/envelope.ts';
import { openPostgresEventStore } from '../../src/store/postgres-event-store.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { expectValidChain } from './event-store-contract.ts';
import { freePort } from '../helpers/free-port.ts';
import { seedEvents, taskSummary } from '../scheduler/seed.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'replica-test-token-0123456789';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

interface Replica {
  url: string;
  proc: ChildProcess;
  stderr: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

const running = new Set<Replica>();
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all([...running].map((r) => r.kill()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});


/** Starts `node bin/leviathan.mjs serve` on the database and waits for /health. */
async function startReplica(databaseUrl: string): Promise<Replica> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'leviathan-replica-'));
  dirs.push(dataDir);
  // A clean environment: nothing of the developer's GitHub App or tokens leaks into the replica.
  const proc = spawn(process.execPath, [join(ROOT, 'bin/leviathan.mjs'), 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      LEVIATHAN_DATA_DIR: dataDir,
      LEVIATHAN_API_TOKEN: TOKEN,
      LEVIATHAN_DATABASE_URL: databaseUrl,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const replica: Replica = {
    url: `http://127.0.0.1:${port}`,
    proc,
    stderr: () => err,
    async stop() {
      running.delete(replica);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    async kill() {
      running.delete(replica);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
  running.add(replica);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`replica exited with ${proc.exitCode}: ${err}`);
    try {
      if ((await fetch(`${replica.url}/health`)).ok) return replica;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`replica did not come up: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Ack {
  stored: { id: string; seq: number }[];
  duplicates: string[];
}

async function post(replica: Replica, body: unknown): Promise<Ack> {
  const res = await fetch(`${replica.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST /v1/events: ${res.status} ${await res.text()}`);
  return (await res.json()) as Ack;
}

// A type the server has no schema for: stored and shown as is, so only the store is exercised.
const event = (id: string, i: number) => ({ id, type: 'replica.tested', target: `acme/repo${i % 3}`, subject: `attempt:${i % 17}`, data: { i } });

async function everyEvent(databaseUrl: string): Promise<StoredEvent[]> {
  const store = await openPostgresEventStore({ url: databaseUrl, pollIntervalMs: 0 });
  try {
    const out: StoredEvent[] = [];
    for await (const e of store.scan()) out.push(e);
    return out;
  } finally {
    await store.close();
  }
}

/** Reads an SSE stream until `match` appears in it; resolves with the ms it took from `t0()`. */
function openStream(replica: Replica): Promise<{ waitFor: (text: string) => Promise<number>; close: () => void }> {
  const ac = new AbortController();
  return fetch(`${replica.url}/v1/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ac.signal }).then((res) => {
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const waiters: { text: string; resolve: (at: number) => void }[] = [];
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          text += value;
          for (const w of waiters.splice(0)) {
            if (text.includes(w.text)) w.resolve(performance.now());
            else waiters.push(w);
          }
        }
      } catch {
        // aborted
      }
    })();
    return {
      waitFor: (t: string) => (text.includes(t) ? Promise.resolve(performance.now()) : new Promise<number>((resolve) => waiters.push({ text: t, resolve }))),
      close: () => ac.abort(),
    };
  });
}

describe('serve replicas on one PostgreSQL database', () => {
  it('concurrent ingest through two replicas keeps one valid, gap-free chain', { timeout: 120_000 }, async () => {
    const db = await server.createDatabase('replicas_ingest');
    const [a, b] = await Promise.all([startReplica(db), startReplica(db)]);
    const requests: Promise<Ack>[] = [];
    for (const [name, r] of [['a', a!], ['b', b!]] as const) {
      for (let i = 0; i < 200; i++) requests.push(post(r, event(`${name}-single-${i}`, i)));
      for (let k = 0; k < 5; k++) requests.push(post(r, Array.from({ length: 50 }, (_, i) => event(`${name}-batch-${k}-${i}`, i))));
      // The same delivery sent to both replicas (a redelivered webhook): stored once.
      requests.push(post(r, event('shared-delivery', 0)));
    }
    const acks = await Promise.all(requests);
    const all = await everyEvent(db);
    expect(all).toHaveLength(2 * (200 + 250) + 1);
    expectValidChain(all);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(acks.flatMap((x) => x.duplicates)).toEqual(['shared-delivery']);
    const bySeq = new Map(all.map((e) => [e.seq, e.id]));
    for (const s of acks.flatMap((x) => x.stored)) expect(bySeq.get(s.seq)).toBe(s.id);
    // Both replicas' projections followed the whole log, whoever wrote each event.
    for (const r of [a!, b!]) {
      const res = await fetch(`${r.url}/v1/graph/events?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(((await res.json()) as { events: StoredEvent[] }).events[0]!.seq).toBe(all.length);
    }
  });

  it('a task selected through both replicas at once is selected once: the check runs under the append lock', { timeout: 120_000 }, async () => {
    const db = await server.createDatabase('replicas_selection');
    const [a, b] = await Promise.all([startReplica(db), startReplica(db)]);
    const target = 'acme/widgets';
    await post(a!, seedEvents([taskSummary('t1')], { target }));
    const select = (r: Replica, attempt: string) =>
      fetch(`${r.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'task.selected', target, data: { task_id: 't1', attempt_id: attempt } }),
      });
    for (let round = 0; round < 5; round++) {
      // Each replica's own selections are serialised anyway; the race is between the replicas.
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => select(i % 2 === 0 ? a! : b!, `r${round}-${i}`)));
      const statuses = answers.map((res) => res.status).sort();
      expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
      const winner = answers.findIndex((res) => res.status === 200);
      // End the attempt through the other replica, so the next round starts from a free task.
      await post(winner % 2 === 0 ? b! : a!, { type: 'attempt.failed', target, data: { attempt_id: `r${round}-${winner}`, task_id: 't1', failure_type: 'timeout' } });
    }
    const selected = (await everyEvent(db)).filter((e) => e.type === 'task.selected');
    expect(selected).toHaveLength(5);
  });

  it('an event posted to one replica reaches the live stream of the other within a second', { timeout: 60_000 }, async () => {
    const db = await server.createDatabase('replicas_stream');
    const [a, b] = await Promise.all([startReplica(db), startReplica(db)]);
    const stream = await openStream(b!);
    try {
      // The stream starts at the head; give the subscription a moment to be live.
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 5; i++) {
        const id = `cross-replica-${i}`;
        const t0 = performance.now();
        const seen = stream.waitFor(`"id":"${id}"`);
        await post(a!, event(id, i));
        const latency = (await seen) - t0;
        expect(latency).toBeLessThan(1000);
      }
    } finally {
      stream.close();
    }
  });

  it('a replica SIGKILLed mid-ingest loses nothing it acknowledged; the other keeps going', { timeout: 120_000 }, async () => {
    const db = await server.createDatabase('replicas_crash');
    let victim = await startReplica(db);
    const survivor = await startReplica(db);
    const acked = new Set<string>();

    for (let trial = 0; trial < 3; trial++) {
      let stop = false;
      let n = 0;
      // Clients keep posting singles and batches (and now and then a retry of an acknowledged
      // id) to both replicas; only answers actually received count as acknowledged.
      const client = async (target: Replica, w: number) => {
        while (!stop) {
          const size = Math.random() < 0.5 ? 1 : 2 + Math.floor(Math.random() * 30);
          const batch = Array.from({ length: size }, () => event(`t${trial}-w${w}-${n++}`, n));
          if (acked.size > 0 && Math.random() < 0.1) batch.push(event([...acked][Math.floor(Math.random() * acked.size)]!, 0));
          try {
            const ack = await post(target, batch);
            for (const s of ack.stored) acked.add(s.id);
            for (const d of ack.duplicates) acked.add(d);
          } catch (err) {
            if (target === victim) return; // killed: the in-flight request was not acknowledged
            throw new Error(`the surviving replica failed a request: ${String(err)}`);
          }
        }
      };
      // Awaited as one promise from the start, so an early failure is reported, not unhandled.
      const clients = Promise.all([
        ...Array.from({ length: 6 }, (_, w) => client(victim, w)),
        ...Array.from({ length: 2 }, (_, w) => client(survivor, 100 + w)),
      ]);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 500));
      await victim.kill();
      // The survivor is not blocked by whatever the victim held (its transaction and lock die with it).
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await clients;
      victim = await startReplica(db);
    }

    expect(acked.size).toBeGreaterThan(100);
    const all = await everyEvent(db);
    expectValidChain(all);
    const ids = new Set(all.map((e) => e.id));
    expect(ids.size).toBe(all.length);
    expect([...acked].filter((id) => !ids.has(id))).toEqual([]);
    // The restarted replica serves the whole log and continues the chain.
    const after = await post(victim, event('after-restart', 0));
    expect(after.stored[0]!.seq).toBe(all.length + 1);
    expectValidChain(await everyEvent(db));
    await survivor.stop();
    await victim.stop();
    expect(survivor.stderr()).not.toMatch(/"level":(50|60)/);
  });
});
