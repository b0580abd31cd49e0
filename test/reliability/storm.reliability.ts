/**
 * Webhook storm, measured: 1,000 signed pull_request deliveries (opened / closed / reopened /
 * merged, ours and humans'), shuffled out of order, with redeliveries, sent 16 at a time. The
 * final open-PR lists and the graph's PR nodes must equal the state computed independently from
 * the generated history (the newest `updated_at` of each PR decides), and each delivery must be
 * recorded once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestControlPlane } from '../helpers/control-plane.ts';
import { record } from './helpers/figures.ts';
import { deliverTo, pool, prPayload, startLeviathan } from './helpers/leviathan.ts';

const TARGETS = ['storm/one', 'storm/two', 'storm/three'];
const TOTAL = 1000;
const CONCURRENCY = 16;

interface Delivery {
  id: string;
  target: string;
  number: number;
  action: 'opened' | 'closed' | 'reopened';
  merged: boolean;
  ours: boolean;
  updatedAt: string;
}

/** A deterministic pseudo-random source, so a failing storm can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Lifecycles: opened, then zero to two close/reopen rounds, then maybe closed or merged. Each
 * step is one delivery with a later `updated_at`. Redeliveries repeat a delivery id and body.
 */
function history(seed: number): { unique: Delivery[]; sent: Delivery[] } {
  const rand = rng(seed);
  const unique: Delivery[] = [];
  let n = 0;
  while (unique.length < TOTAL * 0.8) {
    n++;
    const target = TARGETS[n % TARGETS.length]!;
    const ours = rand() < 0.6;
    let t = Date.UTC(2026, 4, 1) + n * 1000;
    const step = (action: Delivery['action'], merged = false) => {
      t += 1000 + Math.floor(rand() * 60_000);
      unique.push({ id: randomUUID(), target, number: n, action, merged, ours, updatedAt: new Date(t).toISOString() });
    };
    step('opened');
    const rounds = Math.floor(rand() * 3);
    for (let r = 0; r < rounds; r++) {
      step('closed');
      step('reopened');
    }
    const end = rand();
    if (end < 0.3) step('closed');
    else if (end < 0.6) step('closed', true);
  }
  const sent = [...unique];
  while (sent.length < TOTAL) sent.push(unique[Math.floor(rand() * unique.length)]!);
  // Fisher–Yates: any order at all, so closes arrive before opens and reopens before closes.
  for (let i = sent.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [sent[i], sent[j]] = [sent[j]!, sent[i]!];
  }
  return { unique, sent };
}

/** The final state, computed from the history alone: the newest delivery of each PR decides. */
function expectedState(unique: Delivery[]) {
  const last = new Map<string, Delivery>();
  for (const d of unique) {
    const key = `${d.target}#${d.number}`;
    const seen = last.get(key);
    if (!seen || d.updatedAt > seen.updatedAt) last.set(key, d);
  }
  const openOurs: Record<string, number[]> = Object.fromEntries(TARGETS.map((t) => [t, []]));
  const nodes: Record<string, string> = {};
  for (const d of last.values()) {
    const state = d.action === 'closed' ? (d.merged ? 'merged' : 'closed') : 'open';
    nodes[`pr:${d.target}#${d.number}`] = state;
    if (d.ours && state === 'open') openOurs[d.target]!.push(d.number);
  }
  for (const t of TARGETS) openOurs[t]!.sort((a, b) => a - b);
  return { openOurs, nodes, prs: last.size };
}

let cp: TestControlPlane;

beforeAll(async () => {
  cp = await startLeviathan();
  const res = await cp.api('/v1/events', {
    method: 'POST',
    json: TARGETS.map((t) => ({ type: 'target.registered', target: t, data: { installation_id: 4242 } })),
  });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await cp?.destroy();
});

describe('webhook storm', () => {
  it(`${TOTAL} shuffled deliveries with redeliveries, ${CONCURRENCY} at a time: open PRs and the graph are exact`, { timeout: 120_000 }, async () => {
    const seed = Number(process.env.LEVIATHAN_STORM_SEED ?? Date.now() % 100_000);
    const { unique, sent } = history(seed);
    const statuses = new Map<number, number>();
    const started = performance.now();
    await pool(sent, CONCURRENCY, async (d) => {
      const payload = prPayload(d.target, d.number, d.action, { updatedAt: d.updatedAt, merged: d.merged, ours: d.ours, attempt: `att-${d.number}` });
      const res = await deliverTo(cp.url, 'pull_request', payload, d.id);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    });
    const seconds = (performance.now() - started) / 1000;

    const expected = expectedState(unique);
    const targets = ((await (await cp.api('/v1/targets')).json()) as { targets: Array<{ id: string; open_prs: Array<{ number: number }> }> }).targets;
    const openOurs = Object.fromEntries(TARGETS.map((t) => [t, (targets.find((x) => x.id === t)?.open_prs ?? []).map((p) => p.number)]));
    const nodes = ((await (await cp.api('/v1/graph/nodes?type=pr&limit=1000')).json()) as { nodes: Array<{ id: string; props: { state?: string } }> }).nodes;
    const graph = Object.fromEntries(nodes.map((n) => [n.id, n.props.state]));
    const events = (await cp.store.read({ typePrefix: 'pr.', limit: 10_000 })).events;
    const recordedDeliveries = new Set(events.map((e) => e.id.split(':')[1]));
    const wrongPrs = Object.keys(expected.nodes).filter((id) => graph[id] !== expected.nodes[id]);
    const openExpected = Object.values(expected.openOurs).reduce((a, l) => a + l.length, 0);
    const openServed = Object.values(openOurs).reduce((a, l) => a + l.length, 0);

    // The history and the stored events of a PR served wrongly, to diagnose a failure.
    const explain = (id: string) =>
      `${id}: served ${graph[id]}, expected ${expected.nodes[id]}; sent ${JSON.stringify(unique.filter((d) => `pr:${d.target}#${d.number}` === id).map((d) => `${d.action}${d.merged ? '(merged)' : ''}@${d.updatedAt.slice(11, 19)}`))}; stored ${JSON.stringify(events.filter((e) => e.subject === id).map((e) => `${e.seq}:${e.type}@${String((e.data as { updated_at?: string }).updated_at).slice(11, 19)}`))}`;
    const missingOpen = TARGETS.flatMap((t) => expected.openOurs[t]!.filter((n) => !openOurs[t]!.includes(n)).map((n) => `pr:${t}#${n}`));
    const extraOpen = TARGETS.flatMap((t) => openOurs[t]!.filter((n) => !expected.openOurs[t]!.includes(n)).map((n) => `pr:${t}#${n}`));

    record('webhook storm', {
      'deliveries sent (unique + redeliveries)': `${sent.length} (${unique.length} + ${sent.length - unique.length})`,
      'concurrency / seed': `${CONCURRENCY} / ${seed} (LEVIATHAN_STORM_SEED replays the history)`,
      'throughput': `${Math.round(sent.length / seconds)} deliveries/s`,
      'answers': [...statuses.entries()].map(([s, c]) => `${s}×${c}`).join(' '),
      'pull requests': expected.prs,
      'pr.* events stored': events.length,
      'deliveries recorded twice': [events.length - recordedDeliveries.size, '0'],
      'open Leviathan PRs (served / expected)': `${openServed} / ${openExpected}`,
      'open PRs served that should not be': [extraOpen.length, '0'],
      'PR graph nodes in the wrong state': [wrongPrs.length, '0'],
      'open PRs missing': [missingOpen.length, '0'],
    });
    expect(statuses.get(200)).toBe(sent.length);
    expect(events.length).toBe(recordedDeliveries.size);
    expect(extraOpen.map(explain)).toEqual([]);
    expect(wrongPrs.map(explain)).toEqual([]);
    expect(missingOpen.map(explain)).toEqual([]);
  });
});
