/**
 * Retention, measured: a store of 60,000 events over 60 days is compacted to its last 15 days,
 * backed up and restored. Figures: live log size and open time before and after, what verify
 * proves, that a full replay (archive + live) projects the same state as before, and that a
 * damaged backup is refused.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newEvent } from '../../src/events/envelope.ts';
import { Projector } from '../../src/projections/projector.ts';
import { verifyDataDir } from '../../src/store/archive.ts';
import { openFileEventStore } from '../../src/store/file-event-store.ts';
import { backupStore, compactStore, restoreStore } from '../../src/store/retention.ts';
import { verifyChain } from '../../src/store/verify.ts';
import { record } from './helpers/figures.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const temp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'leviathan-retention-'));
  dirs.push(d);
  return d;
};

const N = 60_000;
const DAY = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00.000Z');

async function timedOpen(dir: string): Promise<number> {
  const t = performance.now();
  const s = await openFileEventStore({ dir, snapshotIntervalMs: 0 });
  const ms = performance.now() - t;
  await s.close();
  return ms;
}

describe('retention: compaction, backup, restore', () => {
  it('compacts 45 of 60 days, keeps the chain provable and the projection identical, and round-trips a backup', { timeout: 120_000 }, async () => {
    const dir = await temp();
    let t = START;
    const store = await openFileEventStore({ dir, clock: { now: () => new Date(t) }, snapshotIntervalMs: 0 });
    for (let i = 0; i < N; i += 500) {
      await store.append(
        Array.from({ length: 500 }, (_, k) =>
          newEvent({ type: (i + k) % 3 === 0 ? 'target.registered' : 'task.skipped', actor: 'scheduler', target: `acme/r${(i + k) % 20}`, data: { outcome: 'idle', reason: 'no_ready_tasks', i: i + k } }),
        ),
      );
      t += (60 * DAY) / (N / 500);
    }
    await store.close();
    const project = async () => {
      const s = await openFileEventStore({ dir });
      const p = new Projector(s, { snapshotPath: join(dir, 'projection.ndjson') });
      await p.start();
      const state = structuredClone(p.state);
      await p.stop();
      await s.close();
      return state;
    };
    const before = await project();
    await rm(join(dir, 'events.idx'));
    const sizeBefore = (await stat(join(dir, 'events.ndjson'))).size;
    const openBefore = await timedOpen(dir); // full replay of the log (no index snapshot)

    const started = performance.now();
    const r = await compactStore(dir, new Date(START + 45 * DAY).toISOString());
    const compactMs = performance.now() - started;
    await rm(join(dir, 'events.idx'));
    const sizeAfter = (await stat(join(dir, 'events.ndjson'))).size;
    const openAfter = await timedOpen(dir);
    const verified = await verifyDataDir(dir);
    expect(verified).toMatchObject({ ok: true, archived: r.archivedTotal, head: { seq: N } });

    // The projection: from its snapshot, and from a full replay of archive + live.
    expect(await project()).toEqual(before);
    await rm(join(dir, 'projection.ndjson'));
    expect(await project()).toEqual(before);
    const s = await openFileEventStore({ dir });
    expect(await verifyChain(s.scan())).toMatchObject({ ok: true, count: N });
    await s.close();

    const dest = join(await temp(), 'backup');
    const b0 = performance.now();
    const manifest = await backupStore(dir, dest);
    const backupMs = performance.now() - b0;
    const target = await temp();
    const r0 = performance.now();
    const restored = await restoreStore(dest, target);
    const restoreMs = performance.now() - r0;
    expect(restored.head).toEqual(verified.ok ? verified.head : null);

    // A backup with one flipped byte in the archive is refused before anything is written.
    const seg = join(dest, manifest.files.find((f) => f.path.startsWith('archive/'))!.path);
    const bytes = await readFile(seg);
    bytes[1000] = bytes[1000] === 0x31 ? 0x32 : 0x31;
    await writeFile(seg, bytes);
    const refused = await restoreStore(dest, await temp()).then(
      () => 'restored (WRONG)',
      (e: Error) => `refused: ${e.message.slice(0, 60)}`,
    );
    expect(refused).toMatch(/^refused/);

    record('retention', {
      'events / days': `${N} / 60`,
      'archived by compact --before day 45': `${r.archived} events in 1 segment`,
      'live log size before → after': `${(sizeBefore / 1e6).toFixed(1)} MB → ${(sizeAfter / 1e6).toFixed(1)} MB`,
      'open with full replay before → after': `${Math.round(openBefore)} ms → ${Math.round(openAfter)} ms`,
      'compaction time': `${Math.round(compactMs)} ms`,
      'verify (archive + checkpoint + live)': verified.ok ? `ok: ${verified.archived} archived + ${verified.live} live, head seq ${verified.head.seq}` : 'BROKEN',
      'projection after compaction = before (snapshot / full replay)': ['equal / equal', 'equal'],
      'backup / restore time': `${Math.round(backupMs)} ms / ${Math.round(restoreMs)} ms (${manifest.files.length} files, SHA-256 each)`,
      'restore of a backup with one flipped byte': [refused.startsWith('refused') ? 'refused' : 'RESTORED', 'refused'],
    });
  });
});
