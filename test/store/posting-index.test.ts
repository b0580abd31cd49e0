import { describe, expect, it } from 'vitest';
import { GrowableUint, OffsetArray } from '../../src/store/posting-index.ts';

const GiB4 = 2 ** 32;

describe('GrowableUint', () => {
  it('widens from 8 to 16 to 32 bits at the first value that needs it, keeping every earlier value', () => {
    const a = new GrowableUint(16);
    const values: number[] = [];
    const pushAll = (vs: number[]) => {
      for (const v of vs) {
        a.push(v);
        values.push(v);
      }
    };
    pushAll(Array.from({ length: 300 }, (_, i) => i % 256));
    expect(a.data).toBeInstanceOf(Uint8Array);
    pushAll([256]);
    expect(a.data).toBeInstanceOf(Uint16Array);
    pushAll(Array.from({ length: 65_536 - 257 }, (_, i) => 257 + i));
    expect(a.data).toBeInstanceOf(Uint16Array);
    pushAll([65_536, 7, 0xffff_ffff]);
    expect(a.data).toBeInstanceOf(Uint32Array);
    expect(a.length).toBe(values.length);
    expect(Array.from(a.data.subarray(0, a.length))).toEqual(values);
  });

  it('jumps straight to 32 bits, and a wrapped array keeps its width and widens further', () => {
    const a = new GrowableUint(16);
    a.push(3);
    a.push(70_000);
    expect(a.data).toBeInstanceOf(Uint32Array);
    expect(Array.from(a.data.subarray(0, 2))).toEqual([3, 70_000]);

    const b = GrowableUint.wrap(new Uint16Array([1, 300, 2, 0]), 3);
    b.push(400);
    expect(b.data).toBeInstanceOf(Uint16Array);
    b.push(100_000);
    expect(b.data).toBeInstanceOf(Uint32Array);
    expect(Array.from(b.data.subarray(0, b.length))).toEqual([1, 300, 2, 400, 100_000]);
  });
});

describe('OffsetArray', () => {
  /** Ascending offsets up to ~13 GiB in uneven steps, one step jumping two boundaries at once. */
  function syntheticOffsets(): number[] {
    const out: number[] = [];
    let at = 0;
    for (let i = 0; i < 5000; i++) {
      out.push(at);
      at += i === 4000 ? 2 * GiB4 + 17 : 1 + ((i * 7919) % 2_000_000);
    }
    // Lines starting exactly on a boundary and right before one.
    out.push(4 * GiB4 - 1, 4 * GiB4, 4 * GiB4 + 1);
    return out;
  }

  /** Index of the first offset at or past each 4 GiB boundary, the slow obvious way. */
  function wrapsOf(offsets: number[]): number[] {
    const last = offsets[offsets.length - 1]!;
    return Array.from({ length: Math.floor(last / GiB4) }, (_, k) => offsets.findIndex((v) => v >= (k + 1) * GiB4));
  }

  it('reads back offsets above 4 GiB from 32-bit entries plus a table of where each boundary is crossed', () => {
    const offsets = syntheticOffsets();
    expect(offsets[offsets.length - 1]).toBeGreaterThan(3 * GiB4);
    const o = new OffsetArray(16);
    for (const v of offsets) o.push(v);
    expect(o.low).toBeInstanceOf(Uint32Array);
    expect(o.length).toBe(offsets.length);
    expect(o.wraps).toEqual(wrapsOf(offsets));
    expect(o.wraps[0]).toBe(o.wraps[1]); // one line crossed two boundaries
    offsets.forEach((v, i) => expect(o.at(i)).toBe(v));
  });

  it('has no wraps below 4 GiB', () => {
    const o = new OffsetArray(16);
    for (let i = 0; i < 100; i++) o.push(i * 40_000_000);
    expect(o.wraps).toEqual([]);
    expect(o.at(99)).toBe(99 * 40_000_000);
  });

  it('upper-bound searches by full offset, across boundaries', () => {
    const offsets = syntheticOffsets();
    const o = new OffsetArray(16);
    for (const v of offsets) o.push(v);
    const n = offsets.length;
    const probes = [-1, 0, GiB4 - 1, GiB4, GiB4 + 1, 3 * GiB4 + 5, 4 * GiB4, 10 * GiB4, ...offsets.filter((_, i) => i % 97 === 0)];
    for (const v of probes) {
      const expected = offsets.findIndex((x) => x > v);
      expect(o.upperBound(v, 0, n)).toBe(expected === -1 ? n : expected);
    }
    // Bounded to a range, as the streaming batches search.
    const from = 3000;
    expect(o.upperBound(offsets[from]! + (1 << 20), from + 1, n)).toBe(offsets.findIndex((x) => x > offsets[from]! + (1 << 20)));
    expect(o.upperBound(0, 10, 20)).toBe(10);
    expect(o.upperBound(100 * GiB4, 10, 20)).toBe(20);
  });

  it('round-trips through its low entries and wraps (as the snapshot stores them) and keeps growing', () => {
    const offsets = syntheticOffsets().slice(0, 4500);
    const o = new OffsetArray(16);
    for (const v of offsets) o.push(v);
    const copy = OffsetArray.wrap(o.low.slice(), o.length, JSON.parse(JSON.stringify(o.wraps)) as number[]);
    offsets.forEach((v, i) => expect(copy.at(i)).toBe(v));
    const more = [4 * GiB4 - 3, 5 * GiB4 + 8, 5 * GiB4 + 9];
    for (const v of more) copy.push(v);
    [...offsets, ...more].forEach((v, i) => expect(copy.at(i)).toBe(v));
    expect(copy.wraps).toEqual(wrapsOf([...offsets, ...more]));
  });
});
