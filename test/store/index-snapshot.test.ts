import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IdIndex, idHash } from '../../src/store/id-index.ts';
import { encodeSnapshot, readSnapshot, writeFileAtomic, type IndexSnapshot } from '../../src/store/index-snapshot.ts';
import { GrowableUint, OffsetArray, PostingIndex } from '../../src/store/posting-index.ts';
import { nodeStoreFs } from '../../src/store/store-fs.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Writes `s` to a fresh directory and reads it back with room for 8 more entries per seq. */
async function roundTrip(s: IndexSnapshot): Promise<{ path: string; read: IndexSnapshot | string | null }> {
  const dir = await mkdtemp(join(tmpdir(), 'leviathan-idx-'));
  dirs.push(dir);
  const path = join(dir, 'events.idx');
  await writeFileAtomic(nodeStoreFs, dir, path, encodeSnapshot(s));
  return { path, read: await readSnapshot(nodeStoreFs, path, () => 8) };
}

/** A snapshot of `count` events whose offsets and type ids come from the arrays under test. */
function snapshotOf(offsets: OffsetArray, typeIds: GrowableUint): IndexSnapshot {
  const count = offsets.length;
  const ids = new IdIndex();
  const targets = new PostingIndex();
  for (let seq = 1; seq <= count; seq++) {
    ids.insert(idHash(`id-${seq}`), seq);
    targets.add(`t${seq % 3}`, seq);
  }
  return {
    count,
    logLength: offsets.at(count - 1) + 100,
    logCrc: 1234,
    headHash: 'h',
    lastTimeMs: count,
    offsets: offsets.low,
    offsetWraps: offsets.wraps,
    times: Float64Array.from({ length: count }, (_, i) => i),
    typeIds: typeIds.data,
    types: [],
    ids: ids.table(),
    targets: targets.table(),
    subjects: new PostingIndex().table(),
  };
}

function arrays(count: number, offsetAt: (i: number) => number, typeAt: (i: number) => number) {
  const offsets = new OffsetArray(16);
  const typeIds = new GrowableUint(16);
  for (let i = 0; i < count; i++) {
    offsets.push(offsetAt(i));
    typeIds.push(typeAt(i));
  }
  return { offsets, typeIds };
}

describe('index snapshot format', () => {
  it('restores offsets past 4 GiB from the wrap table, and type ids at the width they were written', async () => {
    for (const [maxType, width] of [[200, 1], [60_000, 2], [70_000, 4]] as const) {
      const { offsets, typeIds } = arrays(1000, (i) => i * 20_000_000, (i) => (i === 999 ? maxType : i % 200));
      expect(offsets.wraps.length).toBe(4);
      expect(typeIds.data.BYTES_PER_ELEMENT).toBe(width);
      const { read } = await roundTrip(snapshotOf(offsets, typeIds));
      const s = read as IndexSnapshot;
      expect(typeof s).toBe('object');
      expect(s.offsetWraps).toEqual(offsets.wraps);
      expect(s.typeIds.BYTES_PER_ELEMENT).toBe(typeIds.data.BYTES_PER_ELEMENT);
      expect(s.typeIds.length).toBe(1008);
      const restored = OffsetArray.wrap(s.offsets, s.count, s.offsetWraps);
      for (let i = 0; i < 1000; i++) {
        expect(restored.at(i)).toBe(i * 20_000_000);
        expect(s.typeIds[i]).toBe(typeIds.data[i]);
      }
      expect(s.times[999]).toBe(999);
      expect(IdIndex.fromTable(s.ids)?.lookup(idHash('id-5'))).toEqual([5]);
      expect(PostingIndex.fromTable(s.targets)?.get('t1')?.length).toBe(334);
    }
  });

  it('refuses a wrap table that cannot describe the offsets', async () => {
    const { offsets, typeIds } = arrays(10, (i) => i, () => 1);
    for (const offsetWraps of [[5, 3], [10], [-1], [1.5]]) {
      const { read } = await roundTrip({ ...snapshotOf(offsets, typeIds), offsetWraps });
      expect(read).toBe('inconsistent header');
    }
  });

  it('calls an older format by its name and a cut file truncated', async () => {
    const { offsets, typeIds } = arrays(10, (i) => i * 10, (i) => i);
    const { path } = await roundTrip(snapshotOf(offsets, typeIds));
    const bytes = await readFile(path);
    bytes.write('LVNIDX03', 0, 'latin1');
    await writeFile(path, bytes);
    expect(await readSnapshot(nodeStoreFs, path, () => 8)).toBe('format LVNIDX03, not LVNIDX04');
    bytes.write('LVNIDX04', 0, 'latin1');
    await writeFile(path, bytes.subarray(0, bytes.length - 1));
    expect(await readSnapshot(nodeStoreFs, path, () => 8)).toBe('truncated');
  });
});
