import { appendFile, copyFile, mkdtemp, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newEvent, type StoredEvent } from '../../src/events/envelope.ts';
import { openFileEventStore, type FileEventStore, type StoreLogger } from '../../src/store/file-event-store.ts';
import { idHash } from '../../src/store/id-index.ts';
import { readSnapshot, type IndexSnapshot } from '../../src/store/index-snapshot.ts';
import { nodeStoreFs, type StoreFs } from '../../src/store/store-fs.ts';
import { parseLogLine, verifyChain, verifyLogFile } from '../../src/store/verify.ts';
import { describeEventStoreContract, expectValidChain, sampleEvents } from './event-store-contract.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'leviathan-store-'));
  dirs.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describeEventStoreContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'leviathan-contract-'));
  return {
    store: await openFileEventStore({ dir }),
    reopen: () => openFileEventStore({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

/** A logger that remembers what it was told, to assert operator-visible messages. */
function recordingLogger(): StoreLogger & { lines: { level: string; msg: string; obj: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, msg, obj });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

async function all(store: FileEventStore): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of store.scan()) out.push(e);
  return out;
}

async function logLines(dir: string): Promise<string[]> {
  return (await readFile(join(dir, 'events.ndjson'), 'utf8')).split('\n').filter((l) => l !== '');
}

async function* parsed(lines: string[]): AsyncIterable<StoredEvent> {
  for (const l of lines) yield parseLogLine(l)!;
}

/** A closed store holding `n` sample events: its directory, log path and log size. */
async function seededLog(n: number): Promise<{ dir: string; log: string; size: number }> {
  const dir = await tempDir();
  const store = await openFileEventStore({ dir });
  await store.append(sampleEvents(n));
  await store.close();
  const log = join(dir, 'events.ndjson');
  return { dir, log, size: (await stat(log)).size };
}

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

describe('file event store: on disk', () => {
  it('writes one sealed event per line to events.ndjson, in envelope field order', async () => {
    const dir = await tempDir();
    const store = await openFileEventStore({ dir });
    const { stored } = await store.append(sampleEvents(3));
    await store.close();
    expect(await logLines(dir)).toEqual(stored.map((e) => JSON.stringify(e)));
  });

  it('assigns time from the injected clock and never lets it go backwards', async () => {
    const dir = await tempDir();
    let now = '2026-05-01T10:00:00.000Z';
    const store = await openFileEventStore({ dir, clock: { now: () => new Date(now) } });
    const a = await store.append(sampleEvents(1, 'a'));
    now = '2026-05-01T09:00:00.000Z';
    const b = await store.append(sampleEvents(1, 'b'));
    now = '2026-05-01T11:00:00.000Z';
    const c = await store.append(sampleEvents(1, 'c'));
    expect([a, b, c].map((r) => r.stored[0]!.time)).toEqual([
      '2026-05-01T10:00:00.000Z',
      '2026-05-01T10:00:00.000Z',
      '2026-05-01T11:00:00.000Z',
    ]);
    await store.close();
  });

  it('resolves an append only after its bytes were fdatasync-ed', async () => {
    const dir = await tempDir();
    let synced = 0;
    const fs: StoreFs = {
      ...nodeStoreFs,
      fdatasync: async (fd) => {
        await new Promise((r) => setTimeout(r, 20));
        await nodeStoreFs.fdatasync(fd);
        synced++;
      },
    };
    const store = await openFileEventStore({ dir, fs });
    const before = synced;
    await store.append(sampleEvents(1));
    expect(synced).toBe(before + 1);
    await store.close();
  });

  it('group-commits concurrent appends: 500 callers, gap-free seqs, far fewer syncs than appends', async () => {
    const dir = await tempDir();
    let syncs = 0;
    let writes = 0;
    const fs: StoreFs = {
      ...nodeStoreFs,
      write: (...args) => {
        writes++;
        return nodeStoreFs.write(...args);
      },
      fdatasync: (fd) => {
        syncs++;
        return nodeStoreFs.fdatasync(fd);
      },
    };
    const store = await openFileEventStore({ dir, fs, snapshotEvery: 1e9 });
    const events = sampleEvents(500, 'g');
    // Arrive in waves, so some appends queue behind a commit already in flight.
    const results = await Promise.all(
      events.map(async (e, i) => {
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
        return store.append([e]);
      }),
    );
    expect(results.map((r) => r.stored[0]!.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    expect(syncs).toBeLessThan(50);
    expect(writes).toBeLessThan(50);
    const events2 = await all(store);
    expectValidChain(events2);
    expect(new Set(events2.map((e) => e.id)).size).toBe(500);
    await store.close();
  });
});

describe('file event store: repair and corruption', () => {
  it('cuts off a torn last line, logs it, and continues the chain', async () => {
    const { dir, log, size } = await seededLog(5);
    await appendFile(log, '{"seq":6,"id":"torn","type":"task.sel');
    const logger = recordingLogger();
    const store = await openFileEventStore({ dir, logger });
    expect((await stat(log)).size).toBe(size);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'Torn last line of the event log cut off', obj: expect.objectContaining({ offset: size }) }),
    );
    const { stored } = await store.append(sampleEvents(2, 'after'));
    expect(stored.map((e) => e.seq)).toEqual([6, 7]);
    await store.close();
    expect(await verifyLogFile(log)).toMatchObject({ ok: true, count: 7, tornTailBytes: 0 });
  });

  // A complete line that does not parse is cut off only when it holds NUL bytes, as a crash leaves it.
  it.each([
    ['only NUL bytes', '\0\0\0\0\n'],
    ['NUL bytes where a power loss left pages unwritten', '{"seq":4,"id":"lost","ty\0\0\0\0e":"x"}\n'],
  ])('cuts off a complete but unparsable last line holding %s', async (_, garbage) => {
    const { dir, log, size } = await seededLog(3);
    await appendFile(log, garbage);
    expect(await verifyLogFile(log)).toMatchObject({ ok: true, count: 3, tornTailBytes: Buffer.byteLength(garbage) });
    const store = await openFileEventStore({ dir });
    expect((await stat(log)).size).toBe(size);
    expect(store.health()).toMatchObject({ writable: true, head: { seq: 3 } });
    await store.close();
  });

  it('refuses a complete last line that does not parse or chain (no NUL bytes): an acknowledged event is never cut off', async () => {
    const { dir, log } = await seededLog(5);
    const lines = await logLines(dir);
    for (const [last, reason] of [
      [lines[4]!.slice(0, -1), 'unparsable'], // its closing brace lost: no crash leaves a newline after that
      [lines[4]!.replace('"i":4', '"i":5'), 'hash_mismatch'],
    ] as const) {
      await writeFile(log, `${[...lines.slice(0, 4), last].join('\n')}\n`);
      const size = (await stat(log)).size;
      expect(await verifyLogFile(log)).toMatchObject({ ok: false, count: 4, firstBad: { seq: 5, reason } });
      await expect(openFileEventStore({ dir })).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringContaining(`seq 5: ${reason}`) });
      expect((await stat(log)).size).toBe(size);
      const store = await openFileEventStore({ dir, allowCorrupt: true });
      expect(store.corruption).toEqual({ seq: 5, reason });
      expect(store.health()).toMatchObject({ writable: false, head: { seq: 4 } });
      await store.close();
      expect((await stat(log)).size).toBe(size);
    }
  });

  it('detects a tampered line: verify names the seq and open refuses with store_corrupt', async () => {
    const { dir, log } = await seededLog(20);
    const lines = await logLines(dir);
    // One byte of data in the middle, same length: only the hash can tell.
    lines[11] = lines[11]!.replace('"i":11', '"i":12');
    await writeFile(log, `${lines.join('\n')}\n`);

    expect(await verifyChain(parsed(lines))).toEqual({ ok: false, count: 11, firstBad: { seq: 12, reason: 'hash_mismatch' } });
    expect(await verifyLogFile(log)).toMatchObject({ ok: false, firstBad: { seq: 12, reason: 'hash_mismatch' } });
    // The index snapshot written at close must not hide the edit.
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({
      code: 'store_corrupt',
      message: expect.stringContaining('seq 12: hash_mismatch'),
    });

    const logger = recordingLogger();
    const store = await openFileEventStore({ dir, allowCorrupt: true, logger });
    expect(store.corruption).toEqual({ seq: 12, reason: 'hash_mismatch' });
    expect(store.health()).toMatchObject({ writable: false, head: { seq: 11 } });
    expect(store.health().problem).toContain('seq 12');
    expect((await store.read({ limit: 100 })).events).toHaveLength(11);
    await expect(store.append(sampleEvents(1, 'x'))).rejects.toMatchObject({ code: 'store_corrupt' });
    await store.close();
  });

  it('detects deleted and reordered lines', async () => {
    const { dir, log } = await seededLog(10);
    const lines = await logLines(dir);

    await writeFile(log, `${lines.filter((_, i) => i !== 4).join('\n')}\n`);
    expect(await verifyLogFile(log)).toMatchObject({ ok: false, count: 4, firstBad: { seq: 6, reason: 'seq_gap' } });
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({ code: 'store_corrupt' });

    const swapped = [...lines];
    [swapped[6], swapped[7]] = [swapped[7]!, swapped[6]!];
    await writeFile(log, `${swapped.join('\n')}\n`);
    expect(await verifyLogFile(log)).toMatchObject({ ok: false, count: 6, firstBad: { seq: 8, reason: 'seq_gap' } });

    const middle = [...lines];
    middle[2] = 'not json';
    await writeFile(log, `${middle.join('\n')}\n`);
    expect(await verifyLogFile(log)).toMatchObject({ ok: false, firstBad: { seq: 3, reason: 'unparsable' } });
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringContaining('seq 3') });
  });
});

describe('file event store: index snapshot', () => {
  async function opened(dir: string, logger = recordingLogger()) {
    const store = await openFileEventStore({ dir, logger, snapshotEvery: 1e9 });
    const info = logger.lines.find((l) => l.msg === 'Event store opened')!.obj;
    return { store, fromSnapshot: info.fromSnapshot as number, logger };
  }

  it('is written on close and used on reopen', async () => {
    const dir = await tempDir();
    let { store, fromSnapshot } = await opened(dir);
    expect(fromSnapshot).toBe(0);
    await store.append(sampleEvents(40));
    const before = await all(store);
    await store.close();
    ({ store, fromSnapshot } = await opened(dir));
    expect(fromSnapshot).toBe(40);
    expect(await all(store)).toEqual(before);
    expect((await store.read({ target: 'acme/api', order: 'desc', limit: 3 })).events).toEqual(
      before.filter((e) => e.target === 'acme/api').reverse().slice(0, 3),
    );
    expect((await store.append(sampleEvents(1))).duplicates).toEqual(['e-0']);
    await store.close();
  });

  it('is written every snapshotEvery events, so a crash without close still opens from it', async () => {
    const dir = await tempDir();
    const store = await openFileEventStore({ dir, snapshotEvery: 10 });
    await store.append(sampleEvents(25));
    const idx = join(dir, 'events.idx');
    for (let i = 0; i < 100 && !(await stat(idx).catch(() => null)); i++) await new Promise((r) => setTimeout(r, 10));
    // Copy the files as a crash would leave them: no close, no final snapshot.
    const crashed = await tempDir();
    await copyFile(join(dir, 'events.ndjson'), join(crashed, 'events.ndjson'));
    await copyFile(idx, join(crashed, 'events.idx'));
    await store.close();
    const r = await opened(crashed);
    expect(r.fromSnapshot).toBe(25);
    expect(r.store.health().head.seq).toBe(25);
    await r.store.close();
  });

  it('checks the links of the tail after an older snapshot, junction included', async () => {
    const dir = await tempDir();
    let { store } = await opened(dir);
    await store.append(sampleEvents(10, 'a'));
    await store.close();
    await copyFile(join(dir, 'events.idx'), join(dir, 'old.idx'));
    ({ store } = await opened(dir));
    await store.append(sampleEvents(10, 'b'));
    await store.close();
    await copyFile(join(dir, 'old.idx'), join(dir, 'events.idx'));
    const lines = await logLines(dir);
    const tampered = [...lines];
    tampered[14] = tampered[14]!.replace('"actor":"test"', '"actor":"evil"');
    await writeFile(join(dir, 'events.ndjson'), `${tampered.join('\n')}\n`);
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({ message: expect.stringContaining('seq 15: hash_mismatch') });
    // The first tail event no longer links to the snapshot's head.
    await copyFile(join(dir, 'old.idx'), join(dir, 'events.idx'));
    await writeFile(join(dir, 'events.ndjson'), `${[...lines.slice(0, 10), ...lines.slice(11)].join('\n')}\n`);
    await expect(openFileEventStore({ dir })).rejects.toMatchObject({ message: expect.stringContaining('seq 12: seq_gap') });
  });

  it('an older snapshot is used for its prefix and the tail is indexed from the log', async () => {
    const dir = await tempDir();
    let { store } = await opened(dir);
    await store.append(sampleEvents(30, 'old'));
    await store.close();
    await copyFile(join(dir, 'events.idx'), join(dir, 'old.idx'));
    ({ store } = await opened(dir));
    await store.append(sampleEvents(20, 'new'));
    const before = await all(store);
    await store.close();
    await copyFile(join(dir, 'old.idx'), join(dir, 'events.idx'));

    const reopened = await opened(dir);
    store = reopened.store;
    expect(reopened.fromSnapshot).toBe(30);
    expect(await all(store)).toEqual(before);
    expect((await store.read({ subject: 'pr:acme/web#1', limit: 100 })).events).toEqual(
      before.filter((e) => e.subject === 'pr:acme/web#1'),
    );
    expect((await store.append(sampleEvents(1, 'new'))).duplicates).toEqual(['new-0']);
    await store.close();
  });

  it('a snapshot from a different log, a newer one, or garbage is ignored safely', async () => {
    const dir = await tempDir();
    const other = await tempDir();
    let { store } = await opened(dir);
    await store.append(sampleEvents(30, 'mine'));
    const mine = await all(store);
    await store.close();
    ({ store } = await opened(other));
    await store.append(sampleEvents(30, 'theirs'));
    await store.close();

    // Same number of events and similar sizes, but a different chain.
    await copyFile(join(other, 'events.idx'), join(dir, 'events.idx'));
    let r = await opened(dir);
    expect(r.fromSnapshot).toBe(0);
    expect(r.logger.lines.some((l) => l.msg === 'Index snapshot ignored; replaying the log')).toBe(true);
    expect(await all(r.store)).toEqual(mine);
    await r.store.close();

    // A snapshot covering more than the log holds (log cut back by hand).
    const lines = await logLines(dir);
    await truncate(join(dir, 'events.ndjson'), lines.slice(0, 20).join('\n').length + 1);
    r = await opened(dir);
    expect(r.fromSnapshot).toBe(0);
    expect(r.store.health().head.seq).toBe(20);
    await r.store.close();

    await writeFile(join(dir, 'events.idx'), 'garbage');
    r = await opened(dir);
    expect(r.fromSnapshot).toBe(0);
    expect(r.store.health().head.seq).toBe(20);
    await r.store.close();

    await unlink(join(dir, 'events.idx'));
    r = await opened(dir);
    expect(r.fromSnapshot).toBe(0);
    await r.store.close();
  });

  it('a snapshot in the older format is ignored with a log line, rebuilt from the log and rewritten', async () => {
    const dir = await tempDir();
    let { store } = await opened(dir);
    await store.append(sampleEvents(40));
    const before = await all(store);
    await store.close();
    // Relabelled as format 3, as a store written before the current format leaves it.
    const idx = join(dir, 'events.idx');
    const bytes = await readFile(idx);
    bytes.write('LVNIDX03', 0, 'latin1');
    const header = bytes.indexOf('"version":4');
    expect(header).toBeGreaterThan(0);
    bytes.write('"version":3', header, 'latin1');
    await writeFile(idx, bytes);

    const r = await opened(dir);
    expect(r.fromSnapshot).toBe(0);
    expect(r.logger.lines.find((l) => l.msg === 'Index snapshot ignored; replaying the log')?.obj.reason).toBe(
      'format LVNIDX03, not LVNIDX04',
    );
    expect(await all(r.store)).toEqual(before);
    expect((await r.store.read({ target: 'acme/web', type: 'pr.created', limit: 100 })).events).toEqual(
      before.filter((e) => e.target === 'acme/web' && e.type === 'pr.created'),
    );
    await r.store.close();
    expect((await readFile(idx)).toString('latin1', 0, 8)).toBe('LVNIDX04');
    ({ store } = await opened(dir));
    expect(await all(store)).toEqual(before);
    await store.close();
  });

  it('more types than fit a byte: type ids widen, and filters by type hold through the snapshot and a rebuild', async () => {
    const dir = await tempDir();
    /** Two events of each type kind<from>.seen .. kind<to - 1>.seen. */
    const typed = (from: number, to: number) =>
      Array.from({ length: 2 * (to - from) }, (_, i) => {
        const t = from + (i % (to - from));
        return newEvent({ id: `k${t}-${i}`, type: `kind${t}.seen`, actor: 'test', target: `acme/r${t % 3}`, data: { i } });
      });
    const typeIdBytes = async () =>
      ((await readSnapshot(nodeStoreFs, join(dir, 'events.idx'), () => 0)) as IndexSnapshot).typeIds.BYTES_PER_ELEMENT;
    const expectByType = async (store: FileEventStore, events: StoredEvent[]) => {
      for (const type of ['kind0.seen', 'kind199.seen', 'kind254.seen', 'kind255.seen', 'kind299.seen']) {
        expect((await store.read({ type, limit: 1000 })).events).toEqual(events.filter((e) => e.type === type));
      }
      expect((await store.read({ typePrefix: 'kind25', target: 'acme/r1', limit: 1000 })).events).toEqual(
        events.filter((e) => e.type.startsWith('kind25') && e.target === 'acme/r1'),
      );
      expect((await store.read({ types: ['kind3.seen', 'kind290.seen'], order: 'desc', limit: 1000 })).events).toEqual(
        events.filter((e) => e.type === 'kind3.seen' || e.type === 'kind290.seen').reverse(),
      );
    };

    const { store } = await opened(dir);
    await store.append(typed(0, 200));
    await store.close();
    expect(await typeIdBytes()).toBe(1);

    // Widens a store opened from a one-byte snapshot.
    let r = await opened(dir);
    expect(r.fromSnapshot).toBe(400);
    await r.store.append(typed(200, 300));
    const events = await all(r.store);
    expect(new Set(events.map((e) => e.type)).size).toBe(300);
    await expectByType(r.store, events);
    await r.store.close();
    expect(await typeIdBytes()).toBe(2);

    r = await opened(dir);
    expect(r.fromSnapshot).toBe(600);
    await expectByType(r.store, events);
    await r.store.close();

    await unlink(join(dir, 'events.idx'));
    r = await opened(dir);
    expect(r.fromSnapshot).toBe(0);
    await expectByType(r.store, events);
    await r.store.close();
  });
});

describe('file event store: queries use the indexes', () => {
  it('reads only the lines a page needs, not the whole log', async () => {
    const dir = await tempDir();
    let bytesRead = 0;
    const fs: StoreFs = {
      ...nodeStoreFs,
      readSync: (fd, buf, offset, length, position) => {
        const n = nodeStoreFs.readSync!(fd, buf, offset, length, position);
        bytesRead += n;
        return n;
      },
      read: async (fd, buf, offset, length, position) => {
        const n = await nodeStoreFs.read(fd, buf, offset, length, position);
        bytesRead += n;
        return n;
      },
    };
    const store = await openFileEventStore({ dir, fs });
    for (let i = 0; i < 10; i++) await store.append(sampleEvents(500, `b${i}`));
    const size = (await stat(join(dir, 'events.ndjson'))).size;
    bytesRead = 0;
    const page = await store.read({ target: 'octo/cat', order: 'desc', limit: 20 });
    expect(page.events).toHaveLength(20);
    expect(page.events.every((e) => e.target === 'octo/cat')).toBe(true);
    expect(bytesRead).toBeLessThan(size / 20);
    bytesRead = 0;
    await store.read({ subject: 'pr:acme/api#0', since: page.events[19]!.time, limit: 5 });
    expect(bytesRead).toBeLessThan(size / 20);
    await store.close();
  });

  it('a subscriber that throws is logged and does not stop the others', async () => {
    const dir = await tempDir();
    const logger = recordingLogger();
    const store = await openFileEventStore({ dir, logger });
    const seen: number[] = [];
    store.subscribe(0, () => {
      throw new Error('boom');
    });
    store.subscribe(0, (e) => seen.push(e.seq));
    await new Promise((r) => setTimeout(r, 10));
    await store.append(sampleEvents(3));
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([1, 2, 3]);
    expect(logger.lines.filter((l) => l.msg === 'Event subscriber threw')).toHaveLength(3);
    await store.close();
  });
});

describe('file event store: a subscriber survives a failed read', () => {
  it('retries its catch-up from where it stopped instead of dropping it', async () => {
    const { dir } = await seededLog(5);
    let failReads = 0;
    const fs: StoreFs = {
      ...nodeStoreFs,
      read: async (fd, buf, offset, length, position) => {
        if (failReads > 0) {
          failReads--;
          throw errno('EIO');
        }
        return nodeStoreFs.read(fd, buf, offset, length, position);
      },
    };
    const logger = recordingLogger();
    const store = await openFileEventStore({ dir, fs, logger });
    failReads = 1;
    const seen: number[] = [];
    store.subscribe(0, (e) => seen.push(e.seq));
    await store.append(sampleEvents(2, 'later'));
    const deadline = Date.now() + 5_000;
    while (seen.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(logger.lines.filter((l) => l.msg === 'Event subscription backlog failed; retrying')).toHaveLength(1);
    await store.close();
  });
});

describe('file event store: line offsets', () => {
  it('finds every line of a group mixing ASCII and multi-byte text, before and after a reopen', async () => {
    const dir = await tempDir();
    const texts = ['plain', 'é', '日本語', '🙂 emoji', '\u2028 separator', 'plain again'];
    let store = await openFileEventStore({ dir });
    // One group: appended in the same tick.
    await Promise.all(texts.map((t, i) => store.append([newEvent({ id: `u-${i}`, type: 'a.b', actor: 't', subject: `s-${i}`, data: { t } })])));
    const check = async () => {
      for (let i = 0; i < texts.length; i++) {
        const page = await store.read({ subject: `s-${i}`, limit: 5 });
        expect(page.events.map((e) => [e.id, e.data])).toEqual([[`u-${i}`, { t: texts[i] }]]);
      }
      expectValidChain(await all(store));
    };
    await check();
    await store.close();
    store = await openFileEventStore({ dir });
    await check();
    await store.close();
  });
});

describe('file event store: write failures', () => {
  /** The real fs, except that writes fail with `code` while `failing` is set. */
  function failingFs(code: string, partial: boolean) {
    const state = { failing: false };
    const fs: StoreFs = {
      ...nodeStoreFs,
      write: async (fd, buf, offset, length, position) => {
        if (!state.failing) return nodeStoreFs.write(fd, buf, offset, length, position);
        // Half of the bytes reach the file before the failure, as on a disk filling up.
        if (partial) await nodeStoreFs.write(fd, buf, offset, Math.floor(length / 2), position);
        throw errno(code);
      },
    };
    return { fs, state };
  }

  for (const [code, storeCode, partial] of [
    ['EROFS', 'store_read_only', false],
    ['EACCES', 'store_read_only', false],
    ['ENOSPC', 'store_full', true],
  ] as const) {
    it(`${code} on write: health not writable, append rejects with ${storeCode}, nothing torn`, async () => {
      const dir = await tempDir();
      const { fs, state } = failingFs(code, partial);
      const logger = recordingLogger();
      const store = await openFileEventStore({ dir, fs, logger });
      await store.append(sampleEvents(3, 'ok'));
      const size = (await stat(join(dir, 'events.ndjson'))).size;
      const head = store.health().head;

      state.failing = true;
      const results = await Promise.allSettled([store.append(sampleEvents(4, 'lost')), store.append(sampleEvents(1, 'lost2'))]);
      for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: storeCode } });
      expect(store.health()).toMatchObject({ writable: false, head });
      expect(store.health().problem).toContain(code);
      expect((await stat(join(dir, 'events.ndjson'))).size).toBe(size);
      expect((await store.read({ limit: 100 })).events.map((e) => e.id)).toEqual(['ok-0', 'ok-1', 'ok-2']);
      expect(logger.lines.some((l) => l.level === 'error' && l.obj.code === storeCode)).toBe(true);

      // The disk recovers: appends resume, the failed ids were never stored.
      state.failing = false;
      const again = await store.append(sampleEvents(4, 'lost'));
      expect(again.stored.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
      expect(store.health().writable).toBe(true);
      await store.close();
      expect(await verifyLogFile(join(dir, 'events.ndjson'))).toMatchObject({ ok: true, count: 7, tornTailBytes: 0 });
    });
  }

  it('a failing fdatasync rejects the batch and leaves nothing visible', async () => {
    const dir = await tempDir();
    let fail = false;
    const fs: StoreFs = {
      ...nodeStoreFs,
      fdatasync: async (fd) => {
        if (fail) throw errno('EIO');
        return nodeStoreFs.fdatasync(fd);
      },
    };
    const store = await openFileEventStore({ dir, fs });
    await store.append(sampleEvents(2));
    fail = true;
    await expect(store.append(sampleEvents(3, 'x'))).rejects.toMatchObject({ code: 'store_unavailable' });
    fail = false;
    expect(store.health().head.seq).toBe(2);
    const next = await store.append(sampleEvents(1, 'x'));
    expect(next.stored[0]!.seq).toBe(3);
    expectValidChain(await all(store));
    await store.close();
  });

  /** Polls `cond` every few ms for up to `ms`. */
  async function eventually(cond: () => boolean, ms = 3000): Promise<boolean> {
    for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 5))) if (cond()) return true;
    return cond();
  }

  it('turns writable again without an append once fdatasync works again (readiness must not wait for traffic)', async () => {
    const dir = await tempDir();
    let failing = false;
    let syncs = 0;
    const fs: StoreFs = {
      ...nodeStoreFs,
      fdatasync: async (fd) => {
        syncs++;
        if (failing) throw errno('EIO');
        return nodeStoreFs.fdatasync(fd);
      },
    };
    const logger = recordingLogger();
    const store = await openFileEventStore({ dir, fs, logger, writeRetryMs: 10 });
    await store.append(sampleEvents(2, 'ok'));
    const size = (await stat(join(dir, 'events.ndjson'))).size;
    failing = true;
    await expect(store.append(sampleEvents(1, 'x'))).rejects.toMatchObject({ code: 'store_unavailable' });
    const before = syncs;
    // Retried and still failing: not writable, and not pretending to be.
    expect(await eventually(() => syncs >= before + 2)).toBe(true);
    expect(store.health()).toMatchObject({ writable: false, head: { seq: 2 } });

    failing = false;
    expect(await eventually(() => store.health().writable)).toBe(true);
    expect(store.health().problem).toBeUndefined();
    expect(logger.lines.filter((l) => l.msg === 'Event store writable again')).toHaveLength(1);
    expect((await stat(join(dir, 'events.ndjson'))).size).toBe(size);
    expect((await store.append(sampleEvents(1, 'x'))).stored[0]!.seq).toBe(3);
    await store.close();
    expect(await verifyLogFile(join(dir, 'events.ndjson'))).toMatchObject({ ok: true, count: 3, tornTailBytes: 0 });
  });

  it('stays not writable while the disk is still full, turns writable once space is freed, and stops retrying at close', async () => {
    const dir = await tempDir();
    const { fs, state } = failingFs('ENOSPC', true);
    let calls = 0;
    const counting: StoreFs = {
      ...fs,
      write: (...args) => (calls++, fs.write(...args)),
      fdatasync: (fd) => (calls++, fs.fdatasync(fd)),
    };
    const store = await openFileEventStore({ dir, fs: counting, writeRetryMs: 10 });
    await store.append(sampleEvents(2, 'ok'));
    const size = (await stat(join(dir, 'events.ndjson'))).size;
    state.failing = true;
    await expect(store.append(sampleEvents(3, 'x'))).rejects.toMatchObject({ code: 'store_full' });
    const before = calls;
    expect(await eventually(() => calls >= before + 2)).toBe(true);
    expect(store.health()).toMatchObject({ writable: false });
    expect(store.health().problem).toContain('ENOSPC');

    state.failing = false;
    expect(await eventually(() => store.health().writable)).toBe(true);
    expect((await stat(join(dir, 'events.ndjson'))).size).toBe(size);

    // Failing again, then closed: no retry touches the (closed) log afterwards.
    state.failing = true;
    await expect(store.append(sampleEvents(1, 'y'))).rejects.toMatchObject({ code: 'store_full' });
    await store.close();
    const atClose = calls;
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(atClose);
    state.failing = false;
    expect(await verifyLogFile(join(dir, 'events.ndjson'))).toMatchObject({ ok: true, count: 2, tornTailBytes: 0 });
  });

  it('a directory not writable at open gives a readable, read-only store', async () => {
    const { dir } = await seededLog(4);
    const fs: StoreFs = {
      ...nodeStoreFs,
      access: async (path, mode) => {
        if (mode !== 0) throw errno('EACCES');
        return nodeStoreFs.access(path, mode);
      },
    };
    const logger = recordingLogger();
    const store = await openFileEventStore({ dir, fs, logger });
    expect(store.health()).toMatchObject({ writable: false, kind: 'file', head: { seq: 4 } });
    expect(store.health().problem).toContain('EACCES');
    expect((await store.read({ limit: 10 })).events).toHaveLength(4);
    await expect(store.append(sampleEvents(1, 'no'))).rejects.toMatchObject({ code: 'store_read_only' });
    expect(logger.lines.some((l) => l.msg === 'Event store is read-only')).toBe(true);
    await store.close();
  });
});

describe('ids whose hashes collide', () => {
  it('are told apart by reading the log: a colliding new id is stored, a repeated one is a duplicate', async () => {
    // Two distinct ids with the same 32-bit hash (a birthday search finds one in ~2^16 tries).
    const seen = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let i = 0; !pair; i++) {
      const id = `evt-${i}`;
      const h = idHash(id);
      const other = seen.get(h);
      if (other) pair = [other, id];
      else seen.set(h, id);
    }
    const [a, b] = pair;
    const store = await openFileEventStore({ dir: await tempDir() });
    const ev = (id: string) => ({ id, type: 'test.collided', actor: 'test', target: null, subject: null, data: {} });
    expect((await store.append([ev(a)])).stored.map((e) => e.id)).toEqual([a]);
    const second = await store.append([ev(b), ev(a)]);
    expect(second.stored.map((e) => e.id)).toEqual([b]);
    expect(second.duplicates).toEqual([a]);
    expect((await store.append([ev(b)])).duplicates).toEqual([b]);
    await store.close();
  });
});

describe('file event store: pipelined group commit', () => {
  /** Calls that wait, while the gate is closed, until the test lets each one through (`pass`) or fails it. */
  function gate(isOpen: boolean) {
    const held: { pass: () => void; fail: (e: Error) => void }[] = [];
    return {
      held,
      open(): void {
        isOpen = true;
        for (const h of held.splice(0)) h.pass();
      },
      close(): void {
        isOpen = false;
      },
      async enter(): Promise<void> {
        if (!isOpen) await new Promise<void>((pass, fail) => held.push({ pass, fail }));
      },
      async waitFor(n: number): Promise<void> {
        while (held.length < n) await new Promise((r) => setTimeout(r, 1));
      },
    };
  }

  async function gatedStore() {
    const dir = await tempDir();
    const syncs = gate(false);
    const writes = gate(true);
    let written = 0;
    const fs: StoreFs = {
      ...nodeStoreFs,
      write: async (...args) => {
        await writes.enter();
        const n = await nodeStoreFs.write(...args);
        written++;
        return n;
      },
      fdatasync: async (fd) => {
        await syncs.enter();
        return nodeStoreFs.fdatasync(fd);
      },
    };
    const store = await openFileEventStore({ dir, fs, logger: recordingLogger() });
    const waitForWrites = async (n: number) => {
      while (written < n) await new Promise((r) => setTimeout(r, 1));
    };
    return { dir, store, syncs, writes, written: () => written, waitForWrites };
  }

  /** The append's outcome so far, without waiting for it. */
  function track<T>(p: Promise<T>) {
    const t: { settled: boolean; value?: T; error?: unknown; done: Promise<unknown> } = { settled: false, done: p };
    t.done = p.then(
      (v) => Object.assign(t, { settled: true, value: v }),
      (e) => Object.assign(t, { settled: true, error: e }),
    );
    return t;
  }

  it('writes the next group while the one before syncs, and answers each only once it is durable, in log order', async () => {
    const { store, syncs, waitForWrites } = await gatedStore();
    const a = track(store.append(sampleEvents(2, 'a')));
    await syncs.waitFor(1);
    const b = track(store.append(sampleEvents(1, 'b')));
    await waitForWrites(2); // b is on the log while a's fdatasync is still in flight
    await new Promise((r) => setTimeout(r, 5));
    expect([a.settled, b.settled]).toEqual([false, false]);
    expect((await store.read({ limit: 10 })).events).toEqual([]);
    expect(store.health().head.seq).toBe(0);

    syncs.held.shift()!.pass();
    await a.done;
    expect(a.value!.stored.map((e) => e.seq)).toEqual([1, 2]);
    // b was written after a's sync began, so that sync does not cover it: b waits for its own.
    await syncs.waitFor(1);
    expect(b.settled).toBe(false);
    expect(store.health().head.seq).toBe(2);
    syncs.open();
    await b.done;
    expect(b.value!.stored.map((e) => e.seq)).toEqual([3]);
    expectValidChain(await all(store));
    await store.close();
  });

  it('a failed fdatasync refuses its group and every group written after it, cuts them off, and appends resume', async () => {
    const { dir, store, syncs, waitForWrites } = await gatedStore();
    syncs.open();
    await store.append(sampleEvents(2, 'ok'));
    const size = (await stat(join(dir, 'events.ndjson'))).size;
    syncs.close();
    const b = track(store.append(sampleEvents(3, 'b')));
    await syncs.waitFor(1);
    const c = track(store.append(sampleEvents(1, 'c')));
    await waitForWrites(3);
    syncs.held.shift()!.fail(errno('EIO'));
    await Promise.all([b.done, c.done]);
    expect(b.error).toMatchObject({ code: 'store_unavailable' });
    expect(c.error).toMatchObject({ code: 'store_unavailable' });
    expect(store.health()).toMatchObject({ writable: false, head: { seq: 2 } });
    expect((await stat(join(dir, 'events.ndjson'))).size).toBe(size);

    syncs.open();
    const d = await store.append(sampleEvents(1, 'd'));
    expect(d.stored[0]!.seq).toBe(3);
    expect(store.health().writable).toBe(true);
    await store.close();
    expect(await verifyLogFile(join(dir, 'events.ndjson'))).toMatchObject({ ok: true, count: 3, tornTailBytes: 0 });
    const again = await openFileEventStore({ dir });
    expect((await all(again)).map((e) => e.id)).toEqual(['ok-0', 'ok-1', 'd-0']);
    await again.close();
  });

  it('a group still being written when an earlier sync fails is refused and its bytes cut off too', async () => {
    const { dir, store, syncs, writes } = await gatedStore();
    const b = track(store.append(sampleEvents(2, 'b')));
    await syncs.waitFor(1);
    writes.close(); // the next write waits
    const c = track(store.append(sampleEvents(2, 'c')));
    await writes.waitFor(1);
    syncs.held.shift()!.fail(errno('EIO'));
    await b.done;
    expect(b.error).toMatchObject({ code: 'store_unavailable' });
    writes.open(); // c's bytes land after b's failure
    await c.done;
    expect(c.error).toMatchObject({ code: 'store_unavailable' });
    syncs.open();
    const d = await store.append(sampleEvents(1, 'd'));
    expect(d.stored[0]!.seq).toBe(1);
    await store.close();
    expect(await verifyLogFile(join(dir, 'events.ndjson'))).toMatchObject({ ok: true, count: 1, tornTailBytes: 0 });
  });

  it('a duplicate of an event still syncing is answered once that event is durable, and refused if it never is', async () => {
    const { store, syncs } = await gatedStore();
    const first = track(store.append(sampleEvents(1, 'x')));
    await syncs.waitFor(1);
    const dup = track(store.append(sampleEvents(1, 'x')));
    await new Promise((r) => setTimeout(r, 5));
    expect(dup.settled).toBe(false);
    syncs.held.shift()!.pass();
    await Promise.all([first.done, dup.done]);
    expect(dup.value).toEqual({ stored: [], duplicates: ['x-0'] });

    const lost = track(store.append(sampleEvents(1, 'y')));
    await syncs.waitFor(1);
    const lostDup = track(store.append(sampleEvents(1, 'y')));
    syncs.held.shift()!.fail(errno('EIO'));
    syncs.open(); // cutting the refused group off syncs too
    await Promise.all([lost.done, lostDup.done]);
    expect(lost.error).toMatchObject({ code: 'store_unavailable' });
    expect(lostDup.error).toMatchObject({ code: 'store_unavailable' });
    expect((await store.append(sampleEvents(1, 'y'))).stored.map((e) => e.seq)).toEqual([2]);
    await store.close();
  });
});
