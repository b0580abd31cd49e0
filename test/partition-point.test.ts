import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partitionPoint } from '../src/partition-point.ts';

describe('partitionPoint', () => {
  it('finds the first index past the prefix, as a linear scan does, within any sub-range', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 })), fc.integer({ min: -1, max: 51 }), fc.nat(), fc.nat(), (raw, v, a, b) => {
        const xs = raw.sort((x, y) => x - y);
        const from = Math.min(a, xs.length);
        const to = Math.max(from, Math.min(b, xs.length));
        let expected = from;
        while (expected < to && xs[expected]! <= v) expected++;
        expect(partitionPoint(from, to, (i) => xs[i]! <= v)).toBe(expected);
      }),
    );
  });
});
