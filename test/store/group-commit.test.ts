import { describe, expect, it } from 'vitest';
import { checkLink, GENESIS_HASH, newEvent } from '../../src/events/envelope.ts';
import type { AppendResult } from '../../src/store/event-store.ts';
import { GroupCommitQueue, passGuards, sealGroup, type PendingAppend } from '../../src/store/group-commit.ts';

const ev = (id: string, data: Record<string, unknown> = {}) => newEvent({ id, type: 'a.b', actor: 't', data });
const pending = (events: ReturnType<typeof ev>[]) => {
  const p: PendingAppend & { rejected?: unknown } = { events, resolve: () => undefined, reject: (e) => (p.rejected = e) };
  return p;
};

describe('sealGroup', () => {
  it('chains batches onto the head and acknowledges duplicates from the log, the batch and the group', async () => {
    const a = pending([ev('x'), ev('y'), ev('x')]);
    const b = pending([ev('y'), ev('old'), ev('z')]);
    const sealed = await sealGroup([a, b], { seq: 0, hash: GENESIS_HASH }, '2026-11-27T00:00:00.000Z', (id) => Promise.resolve(id === 'old'));
    expect(sealed.map((s) => [s.result.stored.map((e) => e.id), s.result.duplicates])).toEqual([
      [['x', 'y'], ['x']],
      [['z'], ['y', 'old']],
    ]);
    const all = sealed.flatMap((s) => s.result.stored);
    all.reduce((prev, e) => (expect(checkLink(e, prev)).toBeNull(), { seq: e.seq, hash: e.hash }), { seq: 0, hash: GENESIS_HASH });
  });

  it('answers each stored event as JSON.stringify writes it (the log line), sorted data or not', async () => {
    const a = pending([ev('x', { b: 1, a: { d: [1, { z: 1, y: 'é' }], c: null } }), ev('x'), ev('y', { a: 1, b: 'two' })]);
    const b = pending([ev('z', { s: '\u2028"\\' })]);
    const sealed = await sealGroup([a, b], { seq: 0, hash: GENESIS_HASH }, '2026-11-27T00:00:00.000Z', () => false);
    for (const s of sealed) expect(s.json).toEqual(s.result.stored.map((e) => JSON.stringify(e)));
    expect(sealed.map((s) => s.json.length)).toEqual([2, 1]);
  });

  it('rejects a batch that cannot be sealed alone; the next batch takes its seqs', async () => {
    const bad = pending([ev('ok-1'), ev('bad', { n: 10n })]);
    // The rejected batch's ids were never stored: the same ids later in the group are new.
    const good = pending([ev('ok-2'), ev('ok-1')]);
    const ids = new Set<string>();
    const sealed = await sealGroup([bad, good], { seq: 5, hash: GENESIS_HASH }, '2026-11-27T00:00:00.000Z', () => false, undefined, ids);
    expect(bad.rejected).toBeInstanceOf(TypeError);
    expect(sealed.map((s) => s.result.stored.map((e) => [e.id, e.seq]))).toEqual([
      [
        ['ok-2', 6],
        ['ok-1', 7],
      ],
    ]);
    expect([...ids]).toEqual(['ok-2', 'ok-1']);
  });
});

describe('passGuards', () => {
  it('runs each guard with the head, in order, and leaves out (rejecting) only the batches whose guard throws', async () => {
    const calls: string[] = [];
    const plain = pending([ev('p')]);
    const kept = pending([ev('k')]);
    kept.guard = async (head) => void calls.push(`kept@${head}`);
    const dropped = pending([ev('d')]);
    const no = new Error('no');
    dropped.guard = async (head) => {
      calls.push(`dropped@${head}`);
      throw no;
    };
    expect(await passGuards([plain, dropped, kept], 7)).toEqual([plain, kept]);
    expect(calls).toEqual(['dropped@7', 'kept@7']);
    expect(dropped.rejected).toBe(no);
    expect(kept.rejected).toBeUndefined();
  });

  it('hands back a group without guards as it is', async () => {
    const group = [pending([ev('a')]), pending([ev('b')])];
    expect(await passGuards(group, 0)).toBe(group);
  });
});

describe('GroupCommitQueue', () => {
  it('commits appends that arrive together in one group, and later ones in the next', async () => {
    const groups: number[] = [];
    const queue = new GroupCommitQueue(async (group) => {
      groups.push(group.length);
      await new Promise((r) => setTimeout(r, 5));
      for (const p of group) p.resolve({ stored: [], duplicates: [] } satisfies AppendResult);
    }, 1000);
    const first = Array.from({ length: 10 }, () => queue.push([ev('a')]));
    await Promise.all(first);
    await Promise.all(Array.from({ length: 3 }, () => queue.push([ev('b')])));
    await queue.drained();
    expect(groups).toEqual([10, 3]);
  });

  it('bounds a group by events', async () => {
    const groups: number[] = [];
    const queue = new GroupCommitQueue(async (group) => {
      groups.push(group.reduce((n, p) => n + p.events.length, 0));
      for (const p of group) p.resolve({ stored: [], duplicates: [] });
    }, 5);
    await Promise.all(Array.from({ length: 4 }, () => queue.push([ev('a'), ev('b'), ev('c')])));
    expect(groups).toEqual([3, 3, 3, 3]);
  });
});
