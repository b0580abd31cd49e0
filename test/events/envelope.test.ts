import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/events/canonical-json.ts';
import { canonicalJsonReference } from './canonical-json-reference.ts';
import {
  GENESIS_HASH,
  checkLink,
  fromInput,
  hashEvent,
  newEventSchema,
  parseNewEventFast,
  sealEvent,
  sealEventJson,
  type NewEvent,
  type StoredEvent,
} from '../../src/events/envelope.ts';

/** The hash as first defined: SHA-256 over the reference canonical JSON of every field but `hash`. */
function referenceHash(e: Omit<StoredEvent, 'hash'>): string {
  const { seq, id, type, time, actor, target, subject, data, prev_hash } = e;
  return sha256Hex(
    canonicalJsonReference({
      seq,
      id,
      type,
      time,
      actor,
      target,
      subject,
      data,
      prev_hash,
    }),
  );
}

const jsonData = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }) as fc.Arbitrary<Record<string, unknown>>;
const oddData = fc.dictionary(
  fc.string({ maxLength: 4 }),
  fc.anything({
    withDate: true,
    withBoxedValues: true,
    withNullPrototype: true,
    withSparseArray: true,
    withMap: true,
    maxDepth: 3,
  }),
  { maxKeys: 5 },
) as fc.Arbitrary<Record<string, unknown>>;
const newEvents = fc.record({
  id: fc.string({ minLength: 1, maxLength: 20 }),
  type: fc.constantFrom('a.b', 'attempt.failed', 'x.y_z'),
  actor: fc.string({ maxLength: 10 }),
  target: fc.option(fc.constantFrom('o/r', 'owner/repo'), { nil: null }),
  subject: fc.option(fc.string({ maxLength: 10 }), { nil: null }),
  data: fc.oneof(jsonData, oddData),
}) as fc.Arbitrary<NewEvent>;

describe('sealing', () => {
  it('hashes exactly as the reference definition, and the JSON is JSON.stringify of the event', () => {
    fc.assert(
      fc.property(newEvents, fc.nat({ max: 2 ** 40 }), fc.constantFrom(GENESIS_HASH, 'f'.repeat(64)), (e, seq, prev) => {
        const time = '2026-11-27T00:00:00.000Z';
        const { event, json } = sealEventJson(e, seq, time, prev);
        const unsealed = {
          seq,
          id: e.id,
          type: e.type,
          time,
          actor: e.actor,
          target: e.target,
          subject: e.subject,
          data: e.data,
          prev_hash: prev,
        };
        expect(event).toEqual({ ...unsealed, hash: referenceHash(unsealed) });
        expect(Object.keys(event)).toEqual(['seq', 'id', 'type', 'time', 'actor', 'target', 'subject', 'data', 'prev_hash', 'hash']);
        expect(json).toBe(JSON.stringify(event));
        expect(hashEvent(event)).toBe(event.hash);
        expect(sealEvent(e, seq, time, prev)).toEqual(event);
        expect(checkLink(event, { seq: seq - 1, hash: prev })).toBeNull();
      }),
      { numRuns: 1500 },
    );
  });

  it('omits undefined fields from the hash as canonical JSON does', () => {
    const e = {
      seq: 1,
      id: 'x',
      type: 'a.b',
      time: 't',
      actor: 'a',
      target: undefined,
      subject: null,
      data: { b: 1, a: undefined },
      prev_hash: GENESIS_HASH,
    } as unknown as Omit<StoredEvent, 'hash'>;
    expect(hashEvent(e)).toBe(referenceHash(e));
    const { event, json } = sealEventJson(e as unknown as NewEvent, 1, 't', GENESIS_HASH);
    expect(json).toBe(JSON.stringify(event));
  });
});

/** Client inputs near the edge of what the envelope schema accepts. */
const str = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.string({ minLength: max - 2, maxLength: max + 2 }));
const inputsOf = (oddValues: boolean) => {
  const field = <T>(valid: fc.Arbitrary<T>) => (oddValues ? fc.oneof(valid, fc.constantFrom(undefined, null, 1, '', ' ', {}, [], true)) : valid);
  return fc
    .record(
      {
        id: field(
          fc.oneof(
            { weight: 6, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,10}$/) },
            { weight: 1, arbitrary: fc.constantFrom('i'.repeat(200), 'i'.repeat(201)) },
            { weight: 1, arbitrary: str(200) },
            { weight: 1, arbitrary: fc.constant('a b') },
          ),
        ),
        type: field(
          fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom('a.b', 'bench.single') },
            {
              weight: 1,
              arbitrary: fc.constantFrom('a.b', 'task.selected', 'A.b', 'a', 'a.b.c-d', 'bench.single', `a.${'b'.repeat(98)}`, `a.${'b'.repeat(99)}`),
            },
            { weight: 1, arbitrary: str(100).map((s) => `a.${s}`) },
          ),
        ),
        actor: field(
          fc.oneof(
            {
              weight: 6,
              arbitrary: fc.string({ minLength: 1, maxLength: 20 }),
            },
            { weight: 1, arbitrary: str(200) },
            { weight: 1, arbitrary: fc.constant('') },
          ),
        ),
        target: field(
          fc.oneof(
            {
              weight: 4,
              arbitrary: fc.constantFrom('o/r', 'bench/t1', 'o/r/x', 'o r/x', `o/${'a'.repeat(198)}`, `o/${'a'.repeat(199)}`),
            },
            {
              weight: 1,
              arbitrary: fc.stringMatching(/^[a-z]{1,110}\/[a-z.]{1,110}$/),
            },
            { weight: 1, arbitrary: str(200).map((s) => `o/${s}`) },
          ),
        ),
        subject: field(str(300)),
        data: field(
          fc.oneof(
            fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
            fc.constantFrom(JSON.parse('{"__proto__":1,"a":2}') as unknown, { big: 'x'.repeat(70_000) }, Object.create(null) as unknown, new Date(0), [1]),
            fc.integer({ min: 30, max: 34 }).map((n) => {
              let v: unknown = 1;
              for (let i = 0; i < n; i++) v = { v };
              return v;
            }),
          ),
        ),
      },
      { requiredKeys: ['type'] },
    )
    .chain((o) => fc.oneof({ weight: 9, arbitrary: fc.constant(o) }, { weight: 1, arbitrary: fc.constant({ ...o, extra: 1 }) }))
    .map((o) => JSON.parse(JSON.stringify(o)) as unknown);
};

describe('parseNewEventFast', () => {
  it('answers only for inputs the schema accepts, with the same settled event', () => {
    let fast = 0;
    fc.assert(
      fc.property(fc.oneof(inputsOf(true), inputsOf(false), fc.anything()), (input) => {
        const quick = parseNewEventFast(input);
        const parsed = newEventSchema.safeParse(input);
        if (quick === null) return;
        fast++;
        expect(parsed.success).toBe(true);
        expect(quick).toEqual(parsed.data);
        expect(Object.keys(quick)).toEqual(Object.keys(parsed.data!));
        const withId = (x: typeof quick) => ({ ...x, id: x.id ?? 'fixed' });
        expect(fromInput(withId(quick), 'token:x')).toEqual(fromInput(withId(parsed.data!), 'token:x'));
        expect(JSON.stringify(quick.data)).toBe(JSON.stringify(parsed.data!.data));
      }),
      { numRuns: 6000 },
    );
    // The generator reaches the fast path often enough for the check to mean something.
    expect(fast).toBeGreaterThan(200);
  });

  it('takes the usual ingest bodies', () => {
    for (const input of [
      {
        type: 'bench.single',
        target: 'bench/single',
        data: { n: 1, note: 'a typical small worker event' },
      },
      {
        type: 'attempt.failed',
        id: 'a-1',
        actor: 'worker',
        target: 'o/r',
        subject: 'attempt:a1',
        data: { attempt_id: 'a1', failure_type: 'timeout' },
      },
      { type: 'a.b', target: null, subject: null },
    ]) {
      expect(parseNewEventFast(input)).toEqual(newEventSchema.parse(input));
    }
  });
});
