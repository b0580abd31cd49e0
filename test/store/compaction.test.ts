import { readdir, readFile, rm, writeFile, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newEvent, type StoredEvent } from '../../src/events/envelope.ts';
import { Projector } from '../../src/projections/projector.ts';
import { readCheckpoint, verifyDataDir } from '../../src/store/archive.ts';
import type { EventQuery } from '../../src/store/event-store.ts';
import { openFileEventStore, type FileEventStore } from '../../src/store/file-event-store.ts';
import { idHash } from '../../src/store/id-index.ts';
import { backupStore, checkBackup, compactStore, restoreStore } from '../../src/store/retention.ts';
import { verifyChain } from '../../src/store/verify.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'leviathan-compact-'));
  dirs.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A clock the test moves: one minute per tick, starting 2026-01-01. */
function steppingClock() {
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

const minute = 60_000;

/** Writes `n` events, one minute apart, over three targets and a few types, in small batches. */
async function fill(dir: string, n: number, clock = steppingClock()): Promise<StoredEvent[]> {
  const store = await openFileEventStore({ dir, clock, snapshotEvery: 37 });
  const out: StoredEvent[] = [];
  for (let i = 0; i < n; i += 3) {
    const batch = Array.from({ length: Math.min(3, n - i) }, (_, k) =>
      newEvent({
        id: `e-${i + k}`,
        type: (i + k) % 4 === 0 ? 'target.registered' : (i + k) % 4 === 1 ? 'task.skipped' : 'attempt.started',
        actor: 'test',
        target: `acme/repo${(i + k) % 3}`,
        subject: `task:acme/repo${(i + k) % 3}:t${(i + k) % 5}`,
        data: { i: i + k, reason: 'no_ready_tasks' },
      }),
    );
    out.push(...(await store.append(batch)).stored);
    clock.advance(minute);
  }
  await store.close();
  return out;
}

async function all(store: FileEventStore, from = 0): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of store.scan(from)) out.push(e);
  return out;
}

/** Every page of a query, following `next`. */
async function pages(store: FileEventStore, q: EventQuery): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cursor: number | undefined;
  for (;;) {
    const page = await store.read({ ...q, ...(cursor !== undefined ? (q.order === 'desc' ? { before: cursor } : { after: cursor }) : {}) });
    out.push(...page.events);
    if (page.next === undefined) return out;
    cursor = page.next;
  }
}

const at = (events: StoredEvent[], seq: number) => events[seq - 1]!.time;

describe('compaction', () => {
  it('moves old events to an archive segment; reads, scans, subscriptions and verify still see one chain', async () => {
    const dir = await tempDir();
    const events = await fill(dir, 300);
    const before = at(events, 121); // events 1..120 are older (three per minute)
    const r = await compactStore(dir, before);
    expect(r).toMatchObject({ archived: 120, archivedTotal: 120, live: 180, head: { seq: 300, hash: events[299]!.hash } });
    expect(r.segment).toMatchObject({ from: 1, to: 120, hash: events[119]!.hash });

    // The live log now starts at seq 121, linked to the checkpoint.
    const live = (await readFile(join(dir, 'events.ndjson'), 'utf8')).split('\n').filter(Boolean);
    expect(live).toHaveLength(180);
    expect(JSON.parse(live[0]!)).toMatchObject({ seq: 121, prev_hash: events[119]!.hash });
    expect(await verifyDataDir(dir)).toMatchObject({ ok: true, archived: 120, live: 180, head: { seq: 300 } });

    const store = await openFileEventStore({ dir });
    try {
      expect(store.archivedThrough).toBe(120);
      expect(store.health().head).toEqual({ seq: 300, hash: events[299]!.hash });
      expect(await all(store)).toEqual(events);
      expect(await all(store, 50)).toEqual(events.slice(50));
      expect(await verifyChain(store.scan())).toMatchObject({ ok: true, count: 300 });
      // Paged reads across the boundary, both orders, with and without filters.
      expect(await pages(store, { limit: 7 })).toEqual(events);
      expect(await pages(store, { limit: 7, order: 'desc' })).toEqual(events.slice().reverse());
      const filters: EventQuery[] = [
        { limit: 5, target: 'acme/repo1' },
        { limit: 5, order: 'desc', target: 'acme/repo2', type: 'attempt.started' },
        { limit: 9, typePrefix: 'task.' },
        { limit: 4, subject: 'task:acme/repo0:t3', order: 'desc' },
        { limit: 6, since: at(events, 100), until: at(events, 140) },
        { limit: 6, order: 'desc', since: at(events, 10), until: at(events, 200), types: ['task.skipped', 'target.registered'] },
      ];
      for (const q of filters) {
        const expected = events.filter(
          (e) =>
            (q.target === undefined || e.target === q.target) &&
            (q.type === undefined || e.type === q.type) &&
            (q.typePrefix === undefined || e.type.startsWith(q.typePrefix)) &&
            (q.types === undefined || q.types.includes(e.type)) &&
            (q.subject === undefined || e.subject === q.subject) &&
            (q.since === undefined || e.time >= q.since) &&
            (q.until === undefined || e.time <= q.until),
        );
        expect(await pages(store, q)).toEqual(q.order === 'desc' ? expected.reverse() : expected);
      }
      // A subscriber from the start gets the archive, then the live log, then new events.
      const seen: number[] = [];
      const stop = store.subscribe(0, (e) => seen.push(e.seq));
      const appended = await store.append([newEvent({ id: 'after-compaction', type: 'attempt.started', actor: 'test', target: 'acme/repo0' })]);
      expect(appended.stored[0]).toMatchObject({ seq: 301, prev_hash: events[299]!.hash });
      await expect.poll(() => seen.length).toBe(301);
      stop();
      expect(seen).toEqual(Array.from({ length: 301 }, (_, i) => i + 1));
    } finally {
      await store.close();
    }
    expect(await verifyDataDir(dir)).toMatchObject({ ok: true, archived: 120, live: 181 });

    // The index snapshot written at close covers the live log only, and is used on the next open.
    const opened: Record<string, unknown>[] = [];
    const logger = { info: (o: Record<string, unknown>, m: string) => void (m === 'Event store opened' && opened.push(o)), warn() {}, error() {} };
    const again = await openFileEventStore({ dir, logger });
    try {
      expect(opened[0]).toMatchObject({ events: 301, archived: 120, fromSnapshot: 181 });
      const everything = await all(again);
      expect(everything.slice(0, 300)).toEqual(events);
      expect(everything.map((e) => e.seq)).toEqual(Array.from({ length: 301 }, (_, i) => i + 1));
      expect((await again.read({ limit: 3, order: 'desc', target: 'acme/repo0' })).events.map((e) => e.seq)).toEqual([301, 298, 295]);
    } finally {
      await again.close();
    }
  });

  it('leaves projections unchanged: the snapshot covers the archive, and a full replay reads archive + live', async () => {
    const dir = await tempDir();
    await fill(dir, 200);
    const project = async (snapshot: boolean) => {
      const store = await openFileEventStore({ dir });
      const p = new Projector(store, snapshot ? { snapshotPath: join(dir, 'projection.ndjson') } : {});
      await p.start();
      const state = structuredClone(p.state);
      await p.stop();
      await store.close();
      return state;
    };
    const expected = await project(true); // also writes projection.ndjson at the head
    const events = await (async () => {
      const s = await openFileEventStore({ dir });
      const e = await all(s);
      await s.close();
      return e;
    })();
    await compactStore(dir, at(events, 151));
    expect(await project(true)).toEqual(expected);
    await rm(join(dir, 'projection.ndjson'));
    expect(await project(false)).toEqual(expected);
  });

  it('compacts again into a second segment, and compacting everything leaves an empty live log that keeps the chain and the clock', async () => {
    const dir = await tempDir();
    const events = await fill(dir, 90);
    expect((await compactStore(dir, at(events, 31))).archived).toBe(30);
    expect((await compactStore(dir, at(events, 31))).archived).toBe(0);
    expect((await compactStore(dir, at(events, 61))).segment).toMatchObject({ from: 31, to: 60 });
    expect((await compactStore(dir, '2030-01-01T00:00:00.000Z')).segment).toMatchObject({ from: 61, to: 90 });
    expect((await stat(join(dir, 'events.ndjson'))).size).toBe(0);
    expect((await readCheckpoint(dir))?.segments.map((s) => [s.from, s.to])).toEqual([[1, 30], [31, 60], [61, 90]]);
    expect(await verifyDataDir(dir)).toMatchObject({ ok: true, archived: 90, live: 0, head: { seq: 90, hash: events[89]!.hash } });

    const frozen = { now: () => new Date('2025-01-01T00:00:00.000Z') }; // a clock behind the archive
    const store = await openFileEventStore({ dir, clock: frozen });
    const { stored } = await store.append([newEvent({ type: 'attempt.started', actor: 'test' })]);
    expect(stored[0]).toMatchObject({ seq: 91, prev_hash: events[89]!.hash });
    expect(stored[0]!.time >= events[89]!.time).toBe(true);
    expect(await all(store)).toHaveLength(91);
    await store.close();
    expect(await verifyDataDir(dir)).toMatchObject({ ok: true, archived: 90, live: 1 });
  });

  it('an event re-sent after its original was archived is still a duplicate, with or without the index snapshot', async () => {
    const dir = await tempDir();
    const events = await fill(dir, 60);
    await compactStore(dir, at(events, 31));
    const resend = (id: string) => newEvent({ id, type: 'attempt.started', actor: 'test', target: 'acme/repo0', data: {} });
    const logs: string[] = [];
    const logger = { info: (_: unknown, msg: string) => logs.push(msg), warn() {}, error() {} };

    // Compaction's own closing open indexed the archived ids and wrote them into the snapshot.
    let store = await openFileEventStore({ dir, logger });
    expect(logs).not.toContain('Archived ids indexed for duplicate detection');
    expect(await store.append([resend('e-0'), resend('e-29'), resend('e-30'), resend('new-1')])).toMatchObject({
      duplicates: ['e-0', 'e-29', 'e-30'],
      stored: [expect.objectContaining({ id: 'new-1', seq: 61 })],
    });
    await store.close();

    // Without the snapshot (lost, or written by an earlier release), the open reads them from the archive.
    await rm(join(dir, 'events.idx'));
    store = await openFileEventStore({ dir, logger });
    expect(logs).toContain('Archived ids indexed for duplicate detection');
    expect((await store.append([resend('e-1'), resend('new-1'), resend('new-2')])).duplicates).toEqual(['e-1', 'new-1']);
    expect(await all(store)).toHaveLength(62);
    await store.close();
    expect(await verifyDataDir(dir)).toMatchObject({ ok: true, archived: 30, live: 32 });
  });

  it('an id whose hash collides with an archived one is told apart by reading the archive', async () => {
    const dir = await tempDir();
    // Two distinct ids with the same 32-bit hash (a birthday search finds one in ~2^16 tries).
    const seen = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let i = 0; !pair; i++) {
      const id = `evt-${i}`;
      const other = seen.get(idHash(id));
      if (other) pair = [other, id];
      else seen.set(idHash(id), id);
    }
    const [a, b] = pair;
    const clock = steppingClock();
    let store = await openFileEventStore({ dir, clock });
    await store.append([newEvent({ id: a, type: 'test.collided', actor: 'test', data: {} })]);
    clock.advance(minute);
    await store.append([newEvent({ id: 'later', type: 'test.event', actor: 'test', data: {} })]);
    await store.close();
    await compactStore(dir, '2026-01-01T00:00:30.000Z');
    store = await openFileEventStore({ dir, clock });
    const r = await store.append([newEvent({ id: b, type: 'test.collided', actor: 'test', data: {} }), newEvent({ id: a, type: 'test.collided', actor: 'test', data: {} })]);
    expect(r.stored.map((e) => e.id)).toEqual([b]);
    expect(r.duplicates).toEqual([a]);
    await store.close();
  });

  it('survives a compaction interrupted after the checkpoint was written, and finishes it on the next run', async () => {
    const dir = await tempDir();
    const events = await fill(dir, 60);
    const original = await readFile(join(dir, 'events.ndjson'));
    await compactStore(dir, at(events, 31));
    // Put the whole log back, as if the process died before swapping it: archive + checkpoint exist.
    await writeFile(join(dir, 'events.ndjson'), original);
    await rm(join(dir, 'events.idx'), { force: true });
    expect(await verifyDataDir(dir)).toMatchObject({ ok: true, archived: 30, live: 60 });
    const store = await openFileEventStore({ dir });
    expect(await all(store)).toEqual(events);
    await store.close();
    const r = await compactStore(dir, at(events, 31));
    expect(r).toMatchObject({ archived: 0, archivedTotal: 30, live: 30 });
    expect(JSON.parse((await readFile(join(dir, 'events.ndjson'), 'utf8')).split('\n')[0]!)).toMatchObject({ seq: 31 });
  });

  it('refuses a live log that does not start at an archive boundary, and verify finds a damaged segment', async () => {
    const dir = await tempDir();
    const events = await fill(dir, 60);
    await compactStore(dir, at(events, 31));
    const lines = (await readFile(join(dir, 'events.ndjson'), 'utf8')).split('\n').filter(Boolean);
    await writeFile(join(dir, 'events.ndjson'), `${lines.slice(2).join('\n')}\n`); // two events cut off the front
    await rm(join(dir, 'events.idx'), { force: true });
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({ code: 'store_corrupt' });
    expect(await verifyDataDir(dir)).toMatchObject({ ok: false, firstBad: { seq: 33, file: 'events.ndjson' } });
    await writeFile(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);

    const [segment] = await readdir(join(dir, 'archive'));
    const path = join(dir, 'archive', segment!);
    await writeFile(path, (await readFile(path, 'utf8')).replace('"i":7,', '"i":8,'));
    expect(await verifyDataDir(dir)).toMatchObject({ ok: false, firstBad: { seq: 8, reason: 'hash_mismatch' } });
  });
});

describe('backup and restore', () => {
  it('backs up a compacted store (offline) and restores it exactly', async () => {
    const dir = await tempDir();
    const events = await fill(dir, 120);
    await compactStore(dir, at(events, 61));
    const dest = join(await tempDir(), 'backup');
    const m = await backupStore(dir, dest);
    expect(m).toMatchObject({ online: false, head: { seq: 120, hash: events[119]!.hash }, archived: 60 });
    expect(m.files.map((f) => f.path).sort()).toEqual(['archive/events-000000000001-000000000060.ndjson', 'checkpoint.json', 'events.idx', 'events.ndjson']);
    expect(await readdir(dest)).not.toContain('api-token');

    const target = await tempDir();
    const r = await restoreStore(dest, target);
    expect(r).toMatchObject({ movedAside: null, head: { seq: 120 } });
    const store = await openFileEventStore({ dir: target });
    expect(await all(store)).toEqual(events);
    await store.close();
  });

  it('takes a consistent backup while events are being appended', async () => {
    const dir = await tempDir();
    const store = await openFileEventStore({ dir });
    let stop = false;
    let n = 0;
    const writer = (async () => {
      while (!stop) await store.append(Array.from({ length: 5 }, () => newEvent({ id: `w-${n++}`, type: 'attempt.started', actor: 'test', data: { pad: 'x'.repeat(200) } })));
    })();
    await new Promise((r) => setTimeout(r, 100));
    // The open store's lock makes this an online backup: copied up to the last complete line.
    const dest = join(await tempDir(), 'b');
    const m = await backupStore(dir, dest);
    expect(m.online).toBe(true);
    stop = true;
    await writer;
    await store.close();
    expect(m.head.seq).toBeGreaterThan(0);
    expect(await checkBackup(dest)).toEqual(m);
  });

  it('refuses a damaged or incomplete backup before touching the data dir', async () => {
    const dir = await tempDir();
    await fill(dir, 30);
    const dest = join(await tempDir(), 'b');
    await backupStore(dir, dest);
    const target = await tempDir();
    await writeFile(join(target, 'marker'), 'untouched');

    const log = join(dest, 'events.ndjson');
    const good = await readFile(log);
    await writeFile(log, Buffer.from(good.toString('utf8').replace('"i":3,', '"i":4,')));
    await expect(restoreStore(dest, target)).rejects.toMatchObject({ code: 'backup_invalid', message: /events\.ndjson differs from the manifest/ });
    await writeFile(log, good);
    await rm(join(dest, 'backup.json'));
    await expect(restoreStore(dest, target)).rejects.toMatchObject({ code: 'backup_invalid', message: /not a complete backup/ });
    expect(await readdir(target)).toEqual(['marker']);
  });

  it('refuses to restore over an existing log unless forced, then moves it aside', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await fill(a, 10);
    await fill(b, 20);
    const dest = join(await tempDir(), 'b');
    await backupStore(a, dest);
    await expect(restoreStore(dest, b)).rejects.toMatchObject({ code: 'target_not_empty' });
    const r = await restoreStore(dest, b, true);
    expect(r.head.seq).toBe(10);
    expect(r.movedAside).toMatch(/pre-restore-/);
    expect((await readFile(join(r.movedAside!, 'events.ndjson'), 'utf8')).split('\n').filter(Boolean)).toHaveLength(20);
  });
});
