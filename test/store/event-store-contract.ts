import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkLink, GENESIS_HASH, newEvent, type NewEvent, type StoredEvent } from '../../src/events/envelope.ts';
import { matchesFilter, StoreError, type EventQuery, type EventStore } from '../../src/store/event-store.ts';

/** What a store implementation hands the contract suite. */
export interface ContractFixture {
  store: EventStore;
  /** Closes nothing: opens a second store on the same data (after the suite closed `store`). */
  reopen: () => Promise<EventStore>;
  cleanup: () => Promise<void>;
}

const TARGETS = ['acme/api', 'acme/web', 'octo/cat'];
const TYPES = ['attempt.started', 'attempt.failed', 'pr.created', 'pr.merged', 'task.selected'];

/** A deterministic mix of events over a few targets, subjects and types. */
export function sampleEvents(n: number, prefix = 'e'): NewEvent[] {
  return Array.from({ length: n }, (_, i) =>
    newEvent({
      id: `${prefix}-${i}`,
      type: TYPES[i % TYPES.length]!,
      actor: 'test',
      target: i % 7 === 6 ? null : TARGETS[i % TARGETS.length]!,
      subject: i % 4 === 3 ? null : `pr:${TARGETS[i % TARGETS.length]!}#${i % 5}`,
      data: { i },
    }),
  );
}

async function collect(it: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** Every link from genesis holds, seq is 1..n without gaps, times never go backwards. */
export function expectValidChain(events: StoredEvent[]): void {
  let prev = { seq: 0, hash: GENESIS_HASH };
  let time = '';
  for (const e of events) {
    expect(checkLink(e, prev)).toBeNull();
    expect(e.time >= time).toBe(true);
    prev = e;
    time = e.time;
  }
}

/** Walks every page of `query` (following `next`) and returns the seqs in the order served. */
async function pageThrough(store: EventStore, query: Omit<EventQuery, 'after' | 'before'>): Promise<number[]> {
  const seqs: number[] = [];
  let cursor: number | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await store.read({
      ...query,
      ...(cursor === undefined ? {} : query.order === 'desc' ? { before: cursor } : { after: cursor }),
    });
    expect(page.events.length).toBeLessThanOrEqual(query.limit);
    seqs.push(...page.events.map((e) => e.seq));
    if (page.next === undefined) return seqs;
    expect(page.events.length).toBe(query.limit);
    cursor = page.next;
  }
  throw new Error('pagination did not terminate');
}

/**
 * The behaviour every EventStore must have, whatever it stores events in. `open` must return a
 * fresh, empty store each time.
 */
export function describeEventStoreContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`EventStore contract: ${name}`, () => {
    let fx: ContractFixture;
    let store: EventStore;

    beforeEach(async () => {
      fx = await open();
      store = fx.store;
    });

    afterEach(async () => {
      await store.close();
      await fx.cleanup();
    });

    it('assigns gap-free seqs, times and a valid hash chain, in the order appended', async () => {
      const first = await store.append(sampleEvents(3, 'a'));
      const second = await store.append(sampleEvents(2, 'b'));
      expect(first.stored.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(second.stored.map((e) => e.seq)).toEqual([4, 5]);
      expect(first.stored.map((e) => e.id)).toEqual(['a-0', 'a-1', 'a-2']);
      const all = await collect(store.scan());
      expect(all).toEqual([...first.stored, ...second.stored]);
      expectValidChain(all);
      expect(store.health().head).toEqual({ seq: 5, hash: all[4]!.hash });
      expect(store.health().last_append_at).not.toBeNull();
    });

    it('stores each event as given, with the fields of the envelope', async () => {
      const e = newEvent({ id: 'x', type: 'pr.merged', actor: 'github:octocat', target: 'acme/api', subject: 'pr:acme/api#7', data: { n: 1, s: 'é' } });
      const { stored } = await store.append([e]);
      const [read] = (await store.read({ limit: 1 })).events;
      expect(read).toEqual(stored[0]);
      expect(Object.keys(read!)).toEqual(['seq', 'id', 'type', 'time', 'actor', 'target', 'subject', 'data', 'prev_hash', 'hash']);
      expect(read!.data).toEqual({ n: 1, s: 'é' });
    });

    it('acknowledges duplicate ids without storing them again, across calls and within a batch', async () => {
      await store.append(sampleEvents(2, 'd'));
      const again = await store.append([
        ...sampleEvents(1, 'd'),
        newEvent({ id: 'new-1', type: 'task.selected', actor: 't' }),
        newEvent({ id: 'new-1', type: 'task.selected', actor: 't' }),
      ]);
      expect(again.stored.map((e) => e.id)).toEqual(['new-1']);
      expect(again.duplicates).toEqual(['d-0', 'new-1']);
      const all = await collect(store.scan());
      expect(all.map((e) => e.id)).toEqual(['d-0', 'd-1', 'new-1']);
      expectValidChain(all);
    });

    it('treats the same id in concurrent appends as one event', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.append([newEvent({ id: 'same', type: 'task.selected', actor: 't' })])),
      );
      expect(results.flatMap((r) => r.stored)).toHaveLength(1);
      expect(results.flatMap((r) => r.duplicates)).toHaveLength(9);
    });

    it('keeps seq gap-free and the chain valid under many concurrent appends', async () => {
      const events = sampleEvents(200, 'c');
      const results = await Promise.all(events.map((e) => store.append([e])));
      const seqs = results.map((r) => r.stored[0]!.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expectValidChain(await collect(store.scan()));
    });

    it('is all-or-nothing per batch: a batch that cannot be stored leaves no trace', async () => {
      await store.append(sampleEvents(2, 'ok'));
      const head = store.health().head;
      const bad = [
        newEvent({ id: 'bad-0', type: 'task.selected', actor: 't' }),
        // BigInt has no JSON form, so the second event cannot be sealed.
        newEvent({ id: 'bad-1', type: 'task.selected', actor: 't', data: { n: 1n } }),
      ];
      const good = newEvent({ id: 'good', type: 'task.selected', actor: 't' });
      const [badResult, goodResult] = await Promise.allSettled([store.append(bad), store.append([good])]);
      expect(badResult.status).toBe('rejected');
      expect(goodResult.status).toBe('fulfilled');
      const all = await collect(store.scan());
      expect(all.map((e) => e.id)).toEqual(['ok-0', 'ok-1', 'good']);
      expect(all[2]!.prev_hash).toBe(head.hash);
      expectValidChain(all);
      // The failed batch's ids were never stored, so they can be sent again.
      const retry = await store.append([newEvent({ id: 'bad-0', type: 'task.selected', actor: 't' })]);
      expect(retry.stored).toHaveLength(1);
    });

    it('runs an append guard where appends are serialised, with the head every earlier append left', async () => {
      await store.append(sampleEvents(2, 'g'));
      const heads: number[] = [];
      const refused = new Error('refused by guard');
      // Sent together, so the three usually share one group: the guard sees the head before it.
      const [before, guarded, refusedOne] = await Promise.allSettled([
        store.append(sampleEvents(1, 'plain')),
        store.append(sampleEvents(2, 'kept'), { guard: async (head) => void heads.push(head) }),
        store.append(sampleEvents(1, 'dropped'), {
          guard: async () => {
            throw refused;
          },
        }),
      ]);
      expect(before.status).toBe('fulfilled');
      expect(guarded.status).toBe('fulfilled');
      expect(refusedOne).toEqual({ status: 'rejected', reason: refused });
      expect(heads).toHaveLength(1);
      expect([2, 3]).toContain(heads[0]);
      const all = await collect(store.scan());
      expect(all.map((e) => e.id)).toEqual(['g-0', 'g-1', 'plain-0', 'kept-0', 'kept-1']);
      expectValidChain(all);
      // Alone, a guard sees the whole log.
      await store.append(sampleEvents(1, 'last'), { guard: async (head) => void heads.push(head) });
      expect(heads[1]).toBe(5);
    });

    it('accepts an empty batch as a no-op', async () => {
      expect(await store.append([])).toEqual({ stored: [], duplicates: [] });
      expect(store.health().head.seq).toBe(0);
    });

    it('reads by seq range in both orders', async () => {
      await store.append(sampleEvents(20));
      const asc = await store.read({ after: 5, limit: 3 });
      expect(asc.events.map((e) => e.seq)).toEqual([6, 7, 8]);
      expect(asc.next).toBe(8);
      const desc = await store.read({ order: 'desc', before: 5, limit: 10 });
      expect(desc.events.map((e) => e.seq)).toEqual([4, 3, 2, 1]);
      expect(desc.next).toBeUndefined();
      const newest = await store.read({ order: 'desc', limit: 2 });
      expect(newest.events.map((e) => e.seq)).toEqual([20, 19]);
      expect((await store.read({ after: 20, limit: 5 })).events).toEqual([]);
    });

    it('pages asc and desc stitch together without gaps or repeats, with and without filters', async () => {
      await store.append(sampleEvents(60));
      const all = await collect(store.scan());
      const queries: Omit<EventQuery, 'after' | 'before' | 'limit' | 'order'>[] = [
        {},
        { target: 'acme/web' },
        { subject: 'pr:acme/api#0' },
        { typePrefix: 'attempt.' },
        { target: 'acme/api', type: 'pr.created' },
        { target: 'acme/api', subject: 'pr:acme/api#3' },
      ];
      for (const filter of queries) {
        const expected = all.filter((e) => matchesFilter(e, filter)).map((e) => e.seq);
        expect(expected.length).toBeGreaterThan(0);
        for (const limit of [1, 4, 7, 100]) {
          expect(await pageThrough(store, { ...filter, limit })).toEqual(expected);
          expect(await pageThrough(store, { ...filter, limit, order: 'desc' })).toEqual([...expected].reverse());
        }
      }
    });

    it('filters by target, type, type prefix, subject and time bounds like matchesFilter', async () => {
      // Separate appends, so the store may give them different times for since/until to cut.
      for (let i = 0; i < 6; i++) {
        await store.append(sampleEvents(5, `t${i}`));
        await new Promise((r) => setTimeout(r, 2));
      }
      const all = await collect(store.scan());
      const since = all[10]!.time;
      const until = all[24]!.time;
      const filters = [
        { target: 'octo/cat' },
        { type: 'pr.merged' },
        { typePrefix: 'pr.' },
        { subject: 'pr:acme/web#1' },
        { since },
        { until },
        { since, until, target: 'acme/api' },
        { target: 'nobody/here' },
        { type: 'no.such_type' },
        { since: '2999-01-01T00:00:00.000Z' },
        { until: '2000-01-01T00:00:00.000Z' },
      ];
      for (const f of filters) {
        const expected = all.filter((e) => matchesFilter(e, f));
        expect((await store.read({ ...f, limit: 1000 })).events).toEqual(expected);
        expect((await store.read({ ...f, limit: 1000, order: 'desc' })).events).toEqual([...expected].reverse());
      }
    });

    it('subscribe delivers the backlog then live events in order, even with appends during the backlog', async () => {
      await store.append(sampleEvents(30, 'old'));
      const seen: number[] = [];
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const unsubscribe = store.subscribe(10, (e) => {
        seen.push(e.seq);
        if (seen.length === 30) done();
      });
      // Appended while the backlog is being read.
      await Promise.all(sampleEvents(10, 'live').map((e) => store.append([e])));
      await finished;
      expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 11));
      unsubscribe();
      await store.append(sampleEvents(1, 'after'));
      await new Promise((r) => setTimeout(r, 20));
      expect(seen).toHaveLength(30);
    });

    it('subscribe from the head delivers only new events', async () => {
      await store.append(sampleEvents(3, 'old'));
      const seen: string[] = [];
      const unsubscribe = store.subscribe(3, (e) => seen.push(e.id));
      await new Promise((r) => setTimeout(r, 10));
      await store.append(sampleEvents(2, 'new'));
      await new Promise((r) => setTimeout(r, 10));
      unsubscribe();
      expect(seen).toEqual(['new-0', 'new-1']);
    });

    it('keeps everything across a reopen and continues the chain', async () => {
      await store.append(sampleEvents(25, 'r'));
      const before = await collect(store.scan());
      await store.close();
      store = await fx.reopen();
      expect(await collect(store.scan())).toEqual(before);
      expect(store.health().head).toEqual({ seq: 25, hash: before[24]!.hash });
      const dup = await store.append([...sampleEvents(1, 'r'), ...sampleEvents(1, 'after')]);
      expect(dup.duplicates).toEqual(['r-0']);
      expect(dup.stored[0]!.seq).toBe(26);
      expect((await store.read({ target: 'acme/web', limit: 100 })).events).toEqual(
        [...before, ...dup.stored].filter((e) => e.target === 'acme/web'),
      );
      expectValidChain(await collect(store.scan()));
    });

    it('scan streams from a position', async () => {
      await store.append(sampleEvents(12));
      expect((await collect(store.scan(9))).map((e) => e.seq)).toEqual([10, 11, 12]);
    });

    it('flushes pending appends on close and refuses appends afterwards', async () => {
      const pending = store.append(sampleEvents(5, 'p'));
      await store.close();
      expect((await pending).stored).toHaveLength(5);
      await expect(store.append(sampleEvents(1, 'late'))).rejects.toMatchObject({ code: 'store_closed' });
      await expect(store.append(sampleEvents(1, 'late'))).rejects.toBeInstanceOf(StoreError);
      store = await fx.reopen();
      expect(store.health().head.seq).toBe(5);
    });
  });
}
