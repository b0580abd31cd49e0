/**
 * `npm run bench metrics`: GET /metrics of a control plane with 1,000 targets, each with a backlog,
 * open and merged PRs, attempts (successes, failures of several types, durations), skips and a few
 * tripped breakers, against prom-client rendering static gauges with the same number of series,
 * measured in the same run. Target: p99 ≤ 50 ms. Sequential scrapes, as Prometheus makes them.
 */
import type { BenchRow } from './row.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { newEvent, type NewEvent } from '../src/events/envelope.ts';
import { createMetrics } from '../src/metrics/registry.ts';
import { Projector } from '../src/projections/projector.ts';
import { openFileEventStore } from '../src/store/file-event-store.ts';
import { startLeviathan } from './servers.ts';

const TARGETS = Number(process.env.BENCH_METRICS_TARGETS ?? 1000);
const SCRAPES = Number(process.env.BENCH_METRICS_SCRAPES ?? 200);
const FAILURES = ['timeout', 'agent_error', 'path_violation', 'push_rejected', 'executor_failed', 'made_up_by_a_worker'];
const SKIPS = ['no_ready_tasks', 'max_open_prs', 'circuit_breaker_open', 'attempt_in_flight', 'paused_by_operator'];

/** The events of one target's life so far: registration, a 12-task backlog, attempts and PRs. */
export function targetHistory(i: number, now: Date): NewEvent[] {
  const target = `bench-org-${i % 37}/repo-${i}`;
  const ev = (type: string, data: Record<string, unknown> = {}, subject: string | null = null): NewEvent =>
    newEvent({ type, actor: type.startsWith('pr.') ? 'github:bench' : 'scheduler', target, subject, data });
  const tasks = Array.from({ length: 12 }, (_, k) => ({
    id: `task-${k}`,
    title: `Task ${k} of ${target}`,
    priority: ['high', 'medium', 'low'][k % 3],
    ready: k % 4 !== 3,
    status: k < 2 ? 'completed' : 'pending',
    dependencies: k > 6 ? [`task-${k - 1}`] : [],
    allowed_paths: ['src/**'],
  }));
  const events = [ev('target.registered', { installation_id: 1000 + i }), ev('backlog.synced', { tasks, etag: `e${i}`, commit: 'abc' })];
  let pr = 1;
  for (let k = 0; k < 6; k++) {
    const attempt = `a-${i}-${k}`;
    const task = `task-${2 + k}`;
    events.push(ev('task.selected', { task_id: task, attempt_id: attempt }));
    events.push(ev('attempt.created', { attempt_id: attempt, task_id: task }, `attempt:${attempt}`));
    events.push(ev('attempt.started', { attempt_id: attempt, task_id: task }, `attempt:${attempt}`));
    if ((i + k) % 3 === 0) {
      events.push(ev('attempt.failed', { attempt_id: attempt, task_id: task, failure_type: FAILURES[(i + k) % FAILURES.length], duration_seconds: 40 + ((i * k) % 900) }, `attempt:${attempt}`));
    } else {
      events.push(ev('attempt.succeeded', { attempt_id: attempt, task_id: task, duration_seconds: 5 + ((i * 7 + k) % 1900) }, `attempt:${attempt}`));
      const n = pr++;
      events.push(ev('pr.created', { number: n, task_id: task, attempt_id: attempt, title: `Leviathan: ${task}` }, `pr:${target}#${n}`));
      if (k < 3) events.push(ev(k === 2 ? 'pr.closed' : 'pr.merged', { number: n }, `pr:${target}#${n}`));
    }
  }
  for (let k = 0; k < 4; k++) events.push(ev('task.skipped', { outcome: 'blocked', reason: SKIPS[(i + k) % SKIPS.length] }));
  if (i % 10 === 0) {
    const cooldown = new Date(now.getTime() + 30 * 60_000).toISOString();
    events.push(ev('circuit_breaker.tripped', { consecutive_failures: 3, cooldown_until: cooldown }));
  }
  if (i % 25 === 0) events.push(ev('target.paused', { reason: 'bench: paused by an operator' }));
  return events;
}

/** Writes the 1,000-target log into `dir` and saves the projection snapshot, as a running server would. */
export async function seedTargets(dir: string, targets: number, now = new Date()): Promise<number> {
  const store = await openFileEventStore({ dir });
  await store.append([newEvent({ type: 'autonomy.enabled', actor: 'bench', data: { reason: 'bench' } })]);
  let count = 1;
  for (let i = 0; i < targets; i += 50) {
    const batch: NewEvent[] = [];
    for (let j = i; j < Math.min(targets, i + 50); j++) batch.push(...targetHistory(j, now));
    batch.push(newEvent({ type: 'scheduler.cycle_started', actor: 'scheduler', data: { cycle_id: `c${i}`, autonomy_enabled: true } }));
    batch.push(newEvent({ type: 'scheduler.cycle_completed', actor: 'scheduler', data: { cycle_id: `c${i}` } }));
    await store.append(batch);
    count += batch.length;
  }
  const projector = new Projector(store, { snapshotPath: join(dir, 'projection.ndjson') });
  await projector.start();
  await projector.stop();
  await store.close();
  return count;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 10; i++) await fn(); // warm-up: JIT and the first snapshot of lazy state
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

/** CPU time (user + system) a process has used, from /proc (Linux), in ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Series per metric family in `text` (sample lines, not comments). */
function seriesCount(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line && !line.startsWith('#')) n++;
  return n;
}

/** prom-client holding the same number of leviathan_* series as static gauges: the cost of the library alone. */
function staticBaseline(series: number): Registry {
  const registry = new Registry();
  const perGauge = Math.ceil(series / 20);
  for (let g = 0; g < 20; g++) {
    const gauge = new Gauge({ name: `bench_static_${g}`, help: 'static gauge', labelNames: ['target', 'k'], registers: [registry] });
    for (let s = 0; s < perGauge; s++) gauge.set({ target: `bench-org-${s % 37}/repo-${s}`, k: String(g) }, s);
  }
  return registry;
}

/** The scenario: seeds, starts `leviathan serve` on the log, scrapes sequentially, reports. */
export async function metricsScrape(report: (row: BenchRow) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lv-bench-metrics-'));
  try {
    const t0 = performance.now();
    const events = await seedTargets(dir, TARGETS);
    console.log(`(seeded ${TARGETS} targets, ${events.toLocaleString('en-US')} events in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    // In process: the render itself and the bytes the handler sends, without HTTP and compression.
    const store = await openFileEventStore({ dir });
    const projector = new Projector(store, { snapshotPath: join(dir, 'projection.ndjson') });
    await projector.start();
    const metrics = createMetrics({ projector, clock: { now: () => new Date() } });
    const text = metrics.renderLeviathan().toString();
    const series = seriesCount(text);
    const ours = await timeIt(SCRAPES, async () => metrics.renderLeviathan());
    await projector.stop();
    await store.close();
    const baselineRegistry = staticBaseline(series);
    const base = await timeIt(SCRAPES, () => baselineRegistry.metrics());
    console.log(`(${series.toLocaleString('en-US')} leviathan_* series, ${(Buffer.byteLength(text) / 2 ** 20).toFixed(1)} MiB of text)`);
    for (const [p, value, baseline] of [['p50', ours.p50, base.p50], ['p99', ours.p99, base.p99]] as const) {
      report({
        name: `render leviathan_* ${p}, ${TARGETS} targets (in process)`,
        value,
        unit: 'ms',
        baseline,
        baselineName: `prom-client rendering ${series.toLocaleString('en-US')} static gauge series, ${p}`,
        ratio: value / baseline,
        target: '≤ 50 ms',
        met: value <= 50,
      });
    }

    // Over HTTP: a separate `serve` process, asked as Prometheus asks (gzip offered; served plain).
    const lv = await startLeviathan(dir);
    try {
      const scrape = async () => {
        const res = await fetch(`${lv.url}/metrics`, { headers: { 'accept-encoding': 'gzip' } });
        if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
        await res.arrayBuffer();
      };
      const cpu0 = await cpuMs(lv.pid);
      const http = await timeIt(SCRAPES, scrape);
      // Server CPU per scrape: unlike latency, not inflated when other processes share the cores.
      console.log(`(server CPU per scrape: ${(((await cpuMs(lv.pid)) - cpu0) / (SCRAPES + 10)).toFixed(1)} ms)`);
      for (const [p, value, baseline] of [['p50', http.p50, base.p50], ['p99', http.p99, base.p99]] as const) {
        report({
          name: `GET /metrics ${p}, ${TARGETS} targets (HTTP, sequential)`,
          value,
          unit: 'ms',
          baseline,
          baselineName: `prom-client static gauges ${p}, in process`,
          ratio: value / baseline,
          target: '≤ 50 ms',
          met: value <= 50,
        });
      }
    } finally {
      await lv.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
