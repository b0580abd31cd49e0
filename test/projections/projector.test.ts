import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newEvent, type NewEvent } from '../../src/events/envelope.ts';
import { evolve } from '../../src/projections/evolve.ts';
import { Projector } from '../../src/projections/projector.ts';
import { emptyState, type ProjectionState } from '../../src/projections/state.ts';
import { openFileEventStore, type FileEventStore } from '../../src/store/file-event-store.ts';
import { T, task } from './given.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A life with every kind of graph node and edge: target, tasks, attempts, PRs, operator actions. */
function history(n: number): NewEvent[] {
  const ev = (type: string, data: Record<string, unknown> = {}, subject: string | null = null, target: string | null = T) =>
    newEvent({ type, actor: type.startsWith('pr.') ? 'github:octocat' : 'scheduler', target, subject, data });
  const out = [
    ev('target.registered', { installation_id: 7 }),
    ev('backlog.synced', { tasks: [task('a'), task('b', { dependencies: ['a'] })] }),
    ev('autonomy.enabled', { reason: 'go' }, null, null),
  ];
  for (let i = 0; i < n; i++) {
    const attempt = `x${i}`;
    out.push(ev('task.selected', { task_id: 'a', attempt_id: attempt }));
    out.push(ev('attempt.created', { task_id: 'a', attempt_id: attempt }, `attempt:${attempt}`));
    if (i % 2) out.push(ev('attempt.failed', { attempt_id: attempt, failure_type: 'timeout', duration_seconds: 30 }, `attempt:${attempt}`));
    else {
      out.push(ev('attempt.succeeded', { attempt_id: attempt, task_id: 'a', duration_seconds: 60 }, `attempt:${attempt}`));
      out.push(ev('pr.created', { number: i + 1, task_id: 'a', attempt_id: attempt, title: `Leviathan: a (${i})` }, `pr:${T}#${i + 1}`));
      out.push(ev('pr.closed', { number: i + 1 }, `pr:${T}#${i + 1}`));
    }
  }
  out.push(ev('target.paused', { reason: 'release freeze' }));
  return out;
}

async function storeWith(events: NewEvent[]): Promise<{ dir: string; store: FileEventStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'leviathan-projector-'));
  dirs.push(dir);
  const store = await openFileEventStore({ dir });
  await store.append(events);
  return { dir, store };
}

async function replayed(store: FileEventStore): Promise<ProjectionState> {
  const state = emptyState();
  for await (const e of store.scan(0)) evolve(state, e);
  return state;
}

/** Starts a projector on `path` and says whether it loaded the snapshot. */
async function open(store: FileEventStore, path: string): Promise<{ projector: Projector; loaded: boolean }> {
  let loaded = false;
  const projector = new Projector(store, { snapshotPath: path, logger: { info: (_o, m) => (loaded ||= m === 'Projection snapshot loaded'), warn: () => undefined } });
  await projector.start();
  return { projector, loaded };
}

describe('Projector snapshot', () => {
  it('loads the state it saved, equal to a full replay, and replays the tail written after it', async () => {
    const { dir, store } = await storeWith(history(30));
    const path = join(dir, 'projection.ndjson');
    const first = await open(store, path);
    expect(first.loaded).toBe(false);
    await first.projector.stop();

    await store.append(history(3).slice(3)); // more attempts after the snapshot
    const second = await open(store, path);
    expect(second.loaded).toBe(true);
    expect(second.projector.state).toEqual(await replayed(store));
    expect(Object.keys(second.projector.state.graph.edges).length).toBeGreaterThan(60);
    await second.projector.stop();
    await store.close();
  });

  it('writes one line per graph node and edge after a header and the rest of the state', async () => {
    const { dir, store } = await storeWith(history(4));
    const path = join(dir, 'projection.ndjson');
    const { projector } = await open(store, path);
    await projector.stop();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    const header = JSON.parse(lines[0]!) as { version: number; nodes: number; edges: number; seq: number };
    const { graph } = projector.state;
    expect(header).toMatchObject({ version: 7, seq: projector.state.seq, nodes: Object.keys(graph.nodes).length, edges: Object.keys(graph.edges).length });
    expect(lines).toHaveLength(2 + header.nodes + header.edges);
    expect(JSON.parse(lines[1]!)).not.toHaveProperty('graph');
    await store.close();
  });

  it('ignores a truncated snapshot, or one in the old single-document format, and replays the log instead', async () => {
    const { dir, store } = await storeWith(history(10));
    const path = join(dir, 'projection.ndjson');
    const { projector } = await open(store, path);
    await projector.stop();
    const expected = await replayed(store);

    const size = (await readFile(path)).length;
    await truncate(path, size - 40);
    const cut = await open(store, path);
    expect(cut.loaded).toBe(false);
    expect(cut.projector.state).toEqual(expected);
    await cut.projector.stop(); // writes a whole snapshot again

    await writeFile(path, JSON.stringify({ version: 1, seq: expected.seq, hash: 'x', state: emptyState() }));
    const old = await open(store, path);
    expect(old.loaded).toBe(false);
    expect(old.projector.state).toEqual(expected);
    await old.projector.stop();
    await store.close();
  });

  it('replays once over a format-4 snapshot: the same log now gives other attempt counts and fields', async () => {
    const { dir, store } = await storeWith(history(6));
    const path = join(dir, 'projection.ndjson');
    const { projector } = await open(store, path);
    await projector.stop();
    const [header, ...rest] = (await readFile(path, 'utf8')).split('\n');
    await writeFile(path, [JSON.stringify({ ...(JSON.parse(header!) as object), version: 4 }), ...rest].join('\n'));

    const old = await open(store, path);
    expect(old.loaded).toBe(false);
    expect(old.projector.state).toEqual(await replayed(store));
    await old.projector.stop(); // rewritten in the current format
    const again = await open(store, path);
    expect(again.loaded).toBe(true);
    await again.projector.stop();
    await store.close();
  });

  it('ignores a snapshot of another log', async () => {
    const a = await storeWith(history(5));
    const { projector } = await open(a.store, join(a.dir, 'projection.ndjson'));
    await projector.stop();
    const b = await storeWith(history(5)); // same shape, different ids and hashes
    const other = await open(b.store, join(a.dir, 'projection.ndjson'));
    expect(other.loaded).toBe(false);
    expect(other.projector.state).toEqual(await replayed(b.store));
    await a.store.close();
    await b.store.close();
  });

  it('spaces periodic snapshots by nine times the last one\'s build time', async () => {
    const { dir, store } = await storeWith([]);
    const path = join(dir, 'projection.ndjson');
    let t = 0;
    // Every clock reading advances 50 ms, so each snapshot "takes" 50 ms to build.
    const projector = new Projector(store, { snapshotPath: path, snapshotEvery: 5, now: () => (t += 50) });
    await projector.start();
    const snapshotSeq = async () => {
      // The periodic write is asynchronous: wait for the one in flight, not a guessed time (a busy machine takes longer).
      await new Promise((r) => setImmediate(r));
      const saving = (projector as unknown as { saving: Promise<void> | null }).saving;
      if (saving) await saving;
      return (JSON.parse((await readFile(path, 'utf8')).split('\n', 1)[0]!) as { seq: number }).seq;
    };
    const seqs: number[] = [];
    for (const e of history(4)) {
      const { stored: [stored] } = await store.append([e]);
      await projector.waitFor(stored!.seq);
      seqs.push(stored!.seq >= 5 ? await snapshotSeq() : 0);
    }
    // Saved at event 5 (clock 50, built 100..150: next not before 600). The clock is read again
    // from event 10 on (5 events later), 50 ms per event: 600 at event 18, the next save.
    expect(seqs).toHaveLength(20);
    expect(seqs.slice(4)).toEqual([...Array<number>(13).fill(5), 18, 18, 18]);
    await projector.stop();
    await store.close();
  });

  it('writes one snapshot at a time: saves asked for together never interleave in the temp file', async () => {
    const { dir, store } = await storeWith(history(20));
    const path = join(dir, 'projection.ndjson');
    const { projector } = await open(store, path);
    await Promise.all([projector.saveSnapshot(), projector.saveSnapshot(), projector.stop()]);
    const again = await open(store, path);
    expect(again.loaded).toBe(true);
    expect(again.projector.state).toEqual(await replayed(store));
    await again.projector.stop();
    await store.close();
  });

  it('keeps the rate-limit reading a scheduler cycle reported and a refused contract.yaml; a format-3 snapshot, which has neither field, is replayed', async () => {
    const reading = { remaining: 4200, limit: 5000, reset: 1_795_000_000 };
    const refused = { line: 2, reason: 'purpose must be text, not a list' };
    const { dir, store } = await storeWith([
      ...history(2),
      newEvent({ type: 'scheduler.cycle_completed', actor: 'scheduler', data: { cycle_id: 'c1', outcomes: {}, github_rate_limit: reading } }),
      newEvent({ type: 'backlog.synced', actor: 'scheduler', target: T, subject: `target:${T}`, data: { tasks: [task('a')], contract_error: refused } }),
    ]);
    const path = join(dir, 'projection.ndjson');
    await (await open(store, path)).projector.stop();
    const expected = await replayed(store);
    expect(expected.scheduler.github_rate_limit).toMatchObject(reading);
    expect(expected.targets[T]!.backlog.contract_error).toEqual(refused);

    const saved = await open(store, path);
    expect(saved.loaded).toBe(true);
    expect(saved.projector.state).toEqual(expected);
    await saved.projector.stop();

    // The same snapshot as the code before these fields wrote it: format 3, without them.
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[0] = JSON.stringify({ ...(JSON.parse(lines[0]!) as object), version: 3 });
    const rest = JSON.parse(lines[1]!) as { scheduler: Record<string, unknown>; targets: Record<string, { backlog: Record<string, unknown> }> };
    delete rest.scheduler.github_rate_limit;
    for (const t of Object.values(rest.targets)) delete t.backlog.contract_error;
    lines[1] = JSON.stringify(rest);
    await writeFile(path, lines.join('\n'));
    const old = await open(store, path);
    expect(old.loaded).toBe(false);
    expect(old.projector.state).toEqual(expected);
    await old.projector.stop();
    await store.close();
  });
});
