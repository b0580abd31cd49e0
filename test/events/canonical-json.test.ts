import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex, stringifyIsCanonical } from '../../src/events/canonical-json.ts';
import { canonicalJsonReference } from './canonical-json-reference.ts';

/** The same answer, or the same kind of error, from both implementations. */
function outcome(f: (v: unknown) => string, v: unknown): { ok: string } | { threw: string } {
  try {
    return { ok: f(v) };
  } catch (err) {
    return { threw: (err as Error).constructor.name };
  }
}

const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
  maxDepth: 4,
});

/** JSON-shaped values whose objects often have their keys in sorted order (the fast path). */
const sortedJson = fc
  .jsonValue({ maxDepth: 4 })
  .map(
    (v) =>
      JSON.parse(
        JSON.stringify(v, (_k, x: unknown) =>
          x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
        ),
      ) as unknown,
  );

describe('canonicalJson', () => {
  it('gives what the reference definition gives, for any value', () => {
    fc.assert(
      fc.property(anything, (v) => {
        expect(outcome(canonicalJson, v)).toEqual(outcome(canonicalJsonReference, v));
      }),
      { numRuns: 3000 },
    );
  });

  it('gives what the reference definition gives for JSON values, sorted or not', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 5 }), sortedJson), (v) => {
        expect(canonicalJson(v)).toBe(canonicalJsonReference(v));
      }),
      { numRuns: 3000 },
    );
  });

  it('takes JSON.stringify only where its output is the canonical one', () => {
    fc.assert(
      fc.property(fc.oneof(anything, sortedJson), (v) => {
        if (stringifyIsCanonical(v)) expect(JSON.stringify(v)).toBe(canonicalJsonReference(v));
      }),
      { numRuns: 3000 },
    );
  });

  it('handles the shapes JSON.stringify renders differently from the definition', () => {
    class WithToJson {
      a = 1;
      toJSON() {
        return 'x';
      }
    }
    const arrayWithToJson = Object.assign([1, 2], { toJSON: () => 'x' });
    const sparse: unknown[] = [1];
    sparse[3] = 2;
    const deep: unknown[] = [];
    let cur = deep;
    for (let i = 0; i < 100; i++) {
      const next: unknown[] = [];
      cur.push({ a: next, b: 1 });
      cur = next;
    }
    const cases: unknown[] = [
      { b: 1, a: 2 },
      { 10: 'x', 9: 'y', a: { d: 1, c: [3, { z: 1, y: 2 }] } },
      {
        a: undefined,
        b: () => 1,
        c: Symbol('s'),
        d: [undefined, () => 1, Symbol('t')],
      },
      { toJSON: () => 'x' },
      { toJSON: 'not a function' },
      new WithToJson(),
      { w: new WithToJson() },
      arrayWithToJson,
      new Date(0),
      { d: new Date(0) },
      sparse,
      { s: sparse },
      Object.assign(Object.create(null) as object, { b: 1, a: 2 }),
      Object.assign(Object.create(null) as object, { a: 1, b: 2 }),
      { ['__proto__']: 1 },
      JSON.parse('{"__proto__":{"b":1,"a":2},"z":0}'),
      [NaN, -0, Infinity, 1e21, 'é\u2028\ud800'],
      { '': 1, ' ': 2, A: 3, a: 4, é: 5, '😀': 6, '\uffff': 7 },
      deep,
      undefined,
      () => 1,
      Symbol('x'),
      null,
    ];
    for (const v of cases) expect(outcome(canonicalJson, v)).toEqual(outcome(canonicalJsonReference, v));
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});

describe('sha256Hex', () => {
  it('is the SHA-256 of the UTF-8 text, in hex', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(sha256Hex(s)).toBe(createHash('sha256').update(s).digest('hex'));
      }),
    );
  });
});
