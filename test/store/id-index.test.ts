import { describe, expect, it } from 'vitest';
import { IdIndex, idHash } from '../../src/store/id-index.ts';

describe('IdIndex', () => {
  it('finds every seq inserted under a hash, across growth, and nothing for an unknown one', () => {
    const index = new IdIndex(16);
    const ids = Array.from({ length: 50_000 }, (_, i) => `01J${i.toString(36).padStart(10, '0')}`);
    ids.forEach((id, i) => index.insert(idHash(id), i + 1));
    expect(index.size).toBe(ids.length);
    ids.forEach((id, i) => expect(index.lookup(idHash(id))).toContain(i + 1));
    expect(index.lookup(idHash('never-inserted')).length).toBeLessThanOrEqual(1);
  });

  it('returns all entries of colliding hashes (the caller confirms against the log), including hash 0', () => {
    const index = new IdIndex(16);
    index.insert(0, 1);
    index.insert(0, 2);
    index.insert(1, 3); // 0 and 1 share a key: 0 marks empty slots
    expect(index.lookup(0).sort()).toEqual([1, 2, 3]);
    expect(index.lookup(12345)).toEqual([]);
  });

  it('round-trips through its table and refuses a table of the wrong shape', () => {
    const index = new IdIndex(16);
    for (let i = 1; i <= 1000; i++) index.insert(idHash(`id-${i}`), i);
    const copy = IdIndex.fromTable(index.table())!;
    expect(copy.size).toBe(1000);
    expect(copy.lookup(idHash('id-500'))).toContain(500);
    const t = index.table();
    expect(IdIndex.fromTable({ ...t, seqs: t.seqs.subarray(1) })).toBeNull();
    expect(IdIndex.fromTable({ ...t, size: t.keys.length })).toBeNull();
  });

  it('spreads ids that differ in one character', () => {
    const hashes = new Set(Array.from({ length: 10_000 }, (_, i) => idHash(`evt-${i}`)));
    expect(hashes.size).toBeGreaterThan(9_990);
  });

  it('returns every seq stored under a colliding hash, across growth', () => {
    const index = new IdIndex(4);
    for (let i = 1; i <= 5000; i++) index.insert(i % 3 === 0 ? 42 : i * 7919, i);
    expect(index.lookup(42)).toHaveLength(1666);
    expect(index.lookup(7919)).toEqual([1]);
    expect(index.lookup(1)).toEqual([]);
    expect(index.size).toBe(5000);
  });
});
