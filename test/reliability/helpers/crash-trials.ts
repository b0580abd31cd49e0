/**
 * Crash safety, measured: a real control plane in a child process takes sustained mixed ingest
 * (single events, batches, retried ids and signed PR webhooks) from eight concurrent clients
 * and is SIGKILLed at a random moment. After every kill: every acknowledged event is there once,
 * seqs are gap-free, the chain verifies, and the projection served after the restart equals one
 * rebuilt from scratch (projection.ndjson deleted, log replayed through evolve).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { expect } from 'vitest';
import type { StoredEvent } from '../../../src/events/envelope.ts';
import { Projector } from '../../../src/projections/projector.ts';
import { verifyChain, verifyLogFile } from '../../../src/store/verify.ts';
import { WRITE_TOKEN, type TestControlPlane } from '../../helpers/control-plane.ts';
import { record } from './figures.ts';
import { deliverTo, prPayload, startLeviathan } from './leviathan.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const child = join(root, 'test/reliability/helpers/server-child.ts');
const REPOS = ['acme/alpha', 'acme/beta', 'acme/gamma'];

/** Starts the server child; resolves with its URL once it listens. */
function spawnServer(dataDir: string, databaseUrl?: string): Promise<{ proc: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dataDir, ...(databaseUrl ? [databaseUrl] : [])], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server child did not start: ${err}`));
    }, 30_000);
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /listening (\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]! });
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server child exited (${code}) before listening: ${err}`));
    });
  });
}

interface Load {
  acked: Set<string>;
  requests: number;
  byKind: Record<'single' | 'batch' | 'webhook' | 'retry', number>;
}

/**
 * Eight clients loop until the server dies. An id counts as acknowledged only when its request
 * got a 200: for a batch every stored and duplicate id, for a webhook the delivery's event id.
 */
async function drive(url: string, load: Load, trial: number, until: { dead: boolean }): Promise<void> {
  const acked = [...load.acked];
  let prNumber = trial * 10_000;
  const post = async (body: unknown): Promise<string[] | null> => {
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST /v1/events answered ${res.status}: ${text}`);
    const r = JSON.parse(text) as { stored: Array<{ id: string }>; duplicates: string[] };
    return [...r.stored.map((s) => s.id), ...r.duplicates];
  };
  const event = (i: number) => {
    const repo = REPOS[i % REPOS.length]!;
    const kind = i % 4;
    return {
      id: `c-${randomUUID()}`,
      type: kind === 0 ? 'target.registered' : kind === 1 ? 'task.skipped' : kind === 2 ? 'target.paused' : 'target.resumed',
      target: repo,
      data: kind === 0 ? { installation_id: 4242 } : kind === 1 ? { task_id: `t${i % 7}`, outcome: 'idle', reason: 'no_ready_tasks' } : { reason: `trial ${trial}` },
    };
  };
  const client = async (c: number): Promise<void> => {
    for (let i = c; !until.dead; i += 8) {
      const roll = Math.random();
      try {
        let ids: string[] | null;
        if (roll < 0.35) {
          load.byKind.single++;
          ids = await post(event(i));
        } else if (roll < 0.6) {
          load.byKind.batch++;
          ids = await post(Array.from({ length: 2 + (i % 14) }, (_, k) => event(i + k)));
        } else if (roll < 0.9) {
          load.byKind.webhook++;
          const delivery = randomUUID();
          const n = ++prNumber;
          const action = n % 3 === 2 ? 'closed' : 'opened';
          const payload = prPayload(REPOS[n % REPOS.length]!, n, action, { updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 50_000)).toISOString(), ours: n % 2 === 0 });
          const res = await deliverTo(url, 'pull_request', payload, delivery);
          if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.text}`);
          ids = [`gh:${delivery}:0`];
        } else {
          load.byKind.retry++;
          const id = acked.length ? acked[Math.floor(Math.random() * acked.length)]! : `c-${randomUUID()}`;
          ids = await post({ id, type: 'task.skipped', target: REPOS[0], data: { task_id: 'retry', outcome: 'idle', reason: 'no_ready_tasks' } });
        }
        load.requests++;
        for (const id of ids ?? []) {
          load.acked.add(id);
          if (acked.length < 5000) acked.push(id);
        }
      } catch (err) {
        // Refused connections and resets are the kill; any answer other than 200 is a failure.
        if (until.dead || /fetch failed|ECONNRESET|ECONNREFUSED|socket/i.test(String((err as Error).cause ?? err))) return;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
}

async function json(cp: TestControlPlane, path: string): Promise<unknown> {
  const res = await cp.api(path);
  expect(res.status).toBe(200);
  return res.json();
}

/** Every node, following the cursor. */
async function allNodes(cp: TestControlPlane): Promise<unknown[]> {
  const out: unknown[] = [];
  let cursor: string | null = null;
  do {
    const page = (await json(cp, `/v1/graph/nodes?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)) as { nodes: unknown[]; next_cursor: string | null };
    out.push(...page.nodes);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

interface TrialResult {
  acked: number;
  lost: number;
  stored: number;
  duplicatesStored: number;
  requests: number;
  byKind: Load['byKind'];
  chainOk: boolean;
  projectionsEqual: boolean;
}

/** Waits until no other session is connected to `databaseUrl`'s database (at most 15 s). */
async function backendsGone(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      if (rows[0]!.n === 0) return;
      if (Date.now() > deadline) throw new Error(`${rows[0]!.n} sessions of the killed server still connected after 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await client.end();
  }
}

async function trial(n: number, dataDir: string, acked: Set<string>, databaseUrl?: string): Promise<TrialResult> {
  const load: Load = { acked, requests: 0, byKind: { single: 0, batch: 0, webhook: 0, retry: 0 } };
  const { proc, url } = await spawnServer(dataDir, databaseUrl);
  const until = { dead: false };
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const killer = setTimeout(() => {
    until.dead = true;
    proc.kill('SIGKILL');
  }, 250 + Math.random() * 750);
  try {
    await drive(url, load, n, until);
  } finally {
    clearTimeout(killer);
    until.dead = true;
    proc.kill('SIGKILL');
    await exited;
  }
  if (!databaseUrl) expect((await verifyLogFile(join(dataDir, 'events.ndjson'))).ok).toBe(true);
  // A COMMIT the killed server had sent still completes in its PostgreSQL backend: read only once
  // those backends are gone, or the log could grow between two reads below.
  else await backendsGone(databaseUrl);

  // Restart: a fixed clock so time-relative fields of the views compare equal across restarts.
  const clock = { now: () => new Date('2026-06-01T00:00:00.000Z') };
  const opts = { dataDir, ...(databaseUrl ? { databaseUrl } : {}), overrides: { clock } };
  let cp = await startLeviathan(opts);
  const events: StoredEvent[] = [];
  for await (const e of cp.store.scan()) events.push(e);
  const ids = new Map<string, number>();
  for (const e of events) ids.set(e.id, (ids.get(e.id) ?? 0) + 1);
  const lost = [...acked].filter((id) => !ids.has(id));
  const duplicatesStored = [...ids.values()].filter((c) => c > 1).length;
  const chain = await verifyChain(cp.store.scan());
  expect(lost).toEqual([]);
  expect(duplicatesStored).toBe(0);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(chain).toMatchObject({ ok: true, count: events.length });

  // What the API serves after the restart (snapshot + tail) …
  const served = { targets: await json(cp, '/v1/targets'), nodes: await allNodes(cp) };
  // … equals evolve over the whole log from scratch, in memory …
  const fresh = new Projector(cp.store);
  await fresh.start();
  await fresh.stop();
  expect(fresh.state).toEqual(cp.projector.state);
  await cp.close();
  // … and equals what a restart without projection.ndjson serves.
  await rm(join(dataDir, 'projection.ndjson'), { force: true });
  cp = await startLeviathan(opts);
  const rebuilt = { targets: await json(cp, '/v1/targets'), nodes: await allNodes(cp) };
  await cp.close();
  expect(rebuilt).toEqual(served);
  return {
    acked: acked.size,
    lost: lost.length,
    stored: events.length,
    duplicatesStored,
    requests: load.requests,
    byKind: load.byKind,
    chainOk: chain.ok,
    projectionsEqual: true,
  };
}

/** Runs `count` kill trials, two per data directory (the second starts from the first's repaired state). */
export async function trials(suite: string, count: number, newDir: () => Promise<{ dataDir: string; databaseUrl?: string; cleanup(): Promise<void> }>): Promise<void> {
  const totals = { trials: 0, requests: 0, acked: 0, lost: 0, stored: 0, duplicatesStored: 0, single: 0, batch: 0, webhook: 0, retry: 0, chainOk: 0, projectionsEqual: 0 };
  for (let t = 0; t < count; t += 2) {
    const d = await newDir();
    try {
      const acked = new Set<string>();
      let last: TrialResult | null = null;
      for (let k = t; k < Math.min(t + 2, count); k++) {
        last = await trial(k, d.dataDir, acked, d.databaseUrl);
        totals.trials++;
        totals.requests += last.requests;
        totals.lost += last.lost;
        totals.duplicatesStored += last.duplicatesStored;
        totals.chainOk += last.chainOk ? 1 : 0;
        totals.projectionsEqual += last.projectionsEqual ? 1 : 0;
        for (const k2 of ['single', 'batch', 'webhook', 'retry'] as const) totals[k2] += last.byKind[k2];
      }
      totals.acked += last!.acked;
      totals.stored += last!.stored;
    } finally {
      await d.cleanup();
    }
  }
  record(suite, {
    'SIGKILL trials': totals.trials,
    'requests answered 200 (single / batch / webhook / retried id)': `${totals.requests} (${totals.single} / ${totals.batch} / ${totals.webhook} / ${totals.retry})`,
    'events acknowledged': totals.acked,
    'events stored after restarts': totals.stored,
    'acknowledged events lost': [totals.lost, '0'],
    'ids stored twice': [totals.duplicatesStored, '0'],
    'trials with a verifying chain': [`${totals.chainOk}/${totals.trials}`, 'all'],
    'trials with projection = fresh replay': [`${totals.projectionsEqual}/${totals.trials}`, 'all'],
  });
}

