import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Clock } from '../api/api-deps.ts';
import { ApiError } from '../api/errors.ts';
import type { Mount } from '../api/server.ts';
import { eventDataSchemas, OPERATOR_ACTION_TYPES, SKIP_REASONS, type GitHubRateLimit } from '../events/types.ts';
import type { OpenPr, ProjectionState, TargetCounters } from '../projections/state.ts';
import { emptyTargetCounters } from '../projections/state.ts';
import {
  ATTEMPT_DURATION_BUCKETS,
  ATTEMPT_STATUSES,
  METRIC_FAILURE_TYPES,
  METRICS,
  OPEN_PR_INFO_LIMIT,
  TARGET_STATUSES,
  type MetricName,
} from './metric-names.ts';
import { targetGauges } from './target-gauges.ts';

/**
 * Every Leviathan metric, rendered in one place.
 *
 * The leviathan_* series are not prom-client objects updated as events arrive: they are computed
 * at scrape time from the projection, which is rebuilt from the event log on start. That is what
 * makes counters continue from their pre-restart value (a counter reset after every deploy would
 * make `increase()` lie and the trip/timeout alerts misfire) and keeps the gauges equal to what
 * `/v1/targets` says. They are written straight into the text exposition format because
 * prom-client's generic formatter needs ~115 ms for the ~40,000 series of 1,000 targets, and the
 * budget is 50 ms. prom-client still provides the process_* and nodejs_* defaults.
 */

/** Content type of the Prometheus text exposition format 0.0.4, which Prometheus 2.x and 3.x parse. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** The reading `recordRateLimit` takes: GitHub's `x-ratelimit-remaining`, `-limit` and `-reset` headers. */
export interface RateLimitReading {
  remaining: number;
  limit: number;
  /** When the window resets: Unix seconds (as in `x-ratelimit-reset`) or a Date. */
  reset?: number | Date | null;
  /**
   * Which budget it is of: the credential and the resource (`installation:42/core`, `app/core`).
   * GitHub counts each installation and the App's JWT separately, so readings replace only
   * earlier readings of the same budget.
   */
  budget?: string;
}

/** A rate-limit reading as kept: reset in Unix seconds (null when GitHub sent none), `at` when it was taken (ms since epoch). */
export interface RateLimitSnapshot extends GitHubRateLimit {
  at: number;
}

/**
 * The last reading of every GitHub budget this process has used, by budget. Process-wide, because
 * the caller (an octokit hook) has no handle on the metrics object and the budgets belong to the
 * process's credentials, not to one server instance. Bounded by the installations the process
 * talks to. Empty until the first response: exporting 0 before any call was made would look like
 * an exhausted budget to GitHubRateLimitLow.
 */
const readings = new Map<string, RateLimitSnapshot>();

/**
 * Records GitHub's rate-limit headers; call it from every octokit response (the values change with
 * each request). `at` is when the reading was taken (ms since epoch; now by default). Invalid
 * readings (missing or non-numeric headers, e.g. from GitHub Enterprise with rate limiting
 * disabled, or a negative count) are ignored rather than exported as 0.
 */
export function recordRateLimit(reading: RateLimitReading, at: number = Date.now()): void {
  const remaining = Number(reading.remaining);
  const limit = Number(reading.limit);
  if (!Number.isFinite(remaining) || remaining < 0 || !Number.isFinite(limit) || limit <= 0) return;
  const reset = reading.reset instanceof Date ? reading.reset.getTime() / 1000 : reading.reset == null ? null : Number(reading.reset);
  readings.set(reading.budget ?? '', { remaining, limit, reset: reset !== null && Number.isFinite(reset) && reset >= 0 ? reset : null, at });
}

/**
 * This process's most constrained budget (see mostConstrainedRateLimit), or null before any
 * reading. The scheduler's cycle reports it in `scheduler.cycle_completed` (CycleDeps.rateLimit):
 * a `leviathan tick` process ends with its cycle, and the control plane serving /metrics learns
 * the tick's reading from the log.
 */
export function lastRateLimit(now: number = Date.now()): RateLimitSnapshot | null {
  const r = mostConstrainedRateLimit([...readings.values()], now);
  return r ? { ...r } : null;
}

/** Forgets every rate-limit reading (tests). */
export function resetRateLimit(): void {
  readings.clear();
}

/** GitHub's rate-limit window; a reading without a reset is taken to last this long. */
const RATE_LIMIT_WINDOW_MS = 3_600_000;

/** When a reading's window ends (ms since epoch): its reset, or an hour after it was taken. */
function windowEnd(r: RateLimitSnapshot): number {
  return r.reset !== null ? r.reset * 1000 : r.at + RATE_LIMIT_WINDOW_MS;
}

/**
 * The most constrained reading: of the readings whose window has not reset by `now`, the one with
 * the smallest share of its limit left. One exhausted installation must not be hidden by another
 * that has plenty (GitHubRateLimitLow compares remaining with 0.25 × limit, so all three gauges
 * come from the same reading, and the share, not the count, decides: limits differ between
 * installations). Within a window a budget only goes down, so where two readings may be of the
 * same budget (this process's and the tick's) the lower is also the later. A reading whose window
 * has reset says nothing any more (the budget is full again) and would pin the gauge low; when
 * every reading is that old, the newest is returned as it was taken (the cycle reports it so;
 * the gauges show its budget full again, see shownRateLimit).
 */
export function mostConstrainedRateLimit<T extends RateLimitSnapshot>(all: readonly T[], now: number): T | null {
  let newest: T | null = null;
  let tightest: T | null = null;
  for (const r of all) {
    if (!newest || r.at > newest.at) newest = r;
    if (windowEnd(r) <= now) continue;
    const share = r.remaining / r.limit;
    const best = tightest ? tightest.remaining / tightest.limit : Infinity;
    if (share < best || (share === best && tightest && r.remaining < tightest.remaining)) tightest = r;
  }
  return tightest ?? newest;
}

/**
 * What the gauges show: the most constrained of this process's budgets and the reading the last
 * scheduler cycle reported (at its event's time), as of `now`. When every reading's window has
 * reset, the budget is full again: the gauges show remaining = limit, with that reading's reset
 * time, rather than the expired count, which would keep the panel red after the reset for as long
 * as nothing calls GitHub (autonomy off, say). Only the gauges: lastRateLimit, which the cycle
 * reports, keeps the reading as GitHub sent it.
 */
function shownRateLimit(state: ProjectionState, now: number): GitHubRateLimit | null {
  const reported = state.scheduler.github_rate_limit ?? null; // absent in snapshots older than the field
  const all = [...readings.values()];
  if (reported) all.push({ remaining: reported.remaining, limit: reported.limit, reset: reported.reset, at: Date.parse(reported.at) });
  const shown = mostConstrainedRateLimit(all, now);
  if (shown && windowEnd(shown) <= now) return { remaining: shown.limit, limit: shown.limit, reset: shown.reset };
  return shown;
}

/**
 * Event types counted under their own name on `leviathan_events_received_total`: those Leviathan
 * writes itself. Anything else a worker posts is counted as `other`, so one misbehaving client
 * cannot create a series per invented type.
 */
export const METRIC_EVENT_TYPES: readonly string[] = [
  ...new Set([
    ...Object.keys(eventDataSchemas),
    ...OPERATOR_ACTION_TYPES,
    // Written by the control plane but validated elsewhere; evolve() handles them.
    'scheduler.emergency_stopped',
    'scheduler.emergency_resumed',
  ]),
]
  .filter((type) => type !== 'other')
  .sort()
  .concat('other');

/** Values of `reason` on `leviathan_scheduler_skips_total`: the reason codes of DESIGN §5, plus `other`. */
export const METRIC_SKIP_REASONS: readonly string[] = [...SKIP_REASONS, 'other'];

const KNOWN_EVENT_TYPES = new Set(METRIC_EVENT_TYPES);
const KNOWN_FAILURE_TYPES = new Set<string>(METRIC_FAILURE_TYPES);
const KNOWN_SKIP_REASONS = new Set<string>(SKIP_REASONS);

/** Maps a label value onto a closed set: anything not in it becomes `other`. */
function bounded(value: string, known: ReadonlySet<string>): string {
  return known.has(value) ? value : 'other';
}

/** What createMetrics reads. Only the projection and the clock: every value is derived from them. */
export interface MetricsDeps {
  projector: { readonly state: ProjectionState };
  clock: Clock;
}

/** The metrics of one control plane. */
export interface Metrics {
  /** prom-client registry with the default process_* and nodejs_* metrics (process-wide). */
  registry: Registry;
  /** Answers `GET /metrics` (and HEAD); passes on every other path. */
  handler: Mount;
  /** The whole exposition (UTF-8 text): leviathan_* series followed by the default metrics. */
  render(): Promise<Buffer>;
  /** Only the leviathan_* series (synchronous; what the 50 ms budget is about). */
  renderLeviathan(): Buffer;
}

let processRegistry: Registry | null = null;

/**
 * One registry of default metrics per process: they describe the process, and registering the
 * event-loop and GC observers again for every server (tests start many) would only leak them.
 */
function defaultRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Builds the metrics of a control plane from its projection. Nothing is updated on events; each
 * scrape reads the projection, so there is no second copy of the state that could drift.
 */
export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = defaultRegistry();
  const renderLeviathan = (): Buffer => renderProjection(deps.projector.state, deps.clock.now());
  const render = async (): Promise<Buffer> => {
    const ours = renderLeviathan();
    return Buffer.concat([ours, Buffer.from(await registry.metrics())]);
  };

  const handler: Mount = async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new ApiError('method_not_allowed', `${req.method} is not allowed on /metrics; use GET.`);
    }
    const body = await render();
    // Not compressed although Prometheus offers gzip: at 1,000 targets (3 MB) gzip added ~7 ms of
    // CPU to a ~10 ms scrape and doubled its latency (bench/metrics.ts), to save in-cluster
    // bandwidth that one scrape every 30 s does not strain.
    const headers = { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': body.length };
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };

  return { registry, handler, render, renderLeviathan };
}

const DEFINITIONS = new Map<string, (typeof METRICS)[number]>(METRICS.map((m) => [m.name, m]));

/** `# HELP` and `# TYPE` lines of a metric, from its definition in metric-names.ts. */
function header(name: MetricName): Buffer {
  const def = DEFINITIONS.get(name)!;
  return Buffer.from(`# HELP ${name} ${def.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${def.type}\n`);
}

/** Escapes a label value for the text format (backslash, double quote, newline). */
function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/**
 * Appends the exposition into one growing Buffer. ~40,000 lines built as strings are ~150,000
 * short-lived strings per scrape; at 1,000 targets the garbage collection they cause, not the
 * formatting, decided the p99. Here every constant part is a Buffer made once and every number is
 * written as digits in place.
 */
class ExpositionWriter {
  private buf: Buffer;
  private len = 0;

  constructor(sizeHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 64 * 1024));
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    this.len += b.copy(this.buf, this.len);
  }

  /** One sample line: `head` (`name{` or `name `), the target label, `tail` (`} ` or `,k="v"} `), value. */
  sample(head: Buffer, label: Buffer | null, tail: Buffer | null, value: number): void {
    this.bytes(head);
    if (label) this.bytes(label);
    if (tail) this.bytes(tail);
    this.number(value);
    this.room(1);
    this.buf[this.len++] = 0x0a;
  }

  private number(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) {
      const text = Number.isNaN(n) ? 'NaN' : n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : String(n);
      this.room(text.length);
      this.len += this.buf.write(text, this.len, 'latin1');
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.room(digits);
    let pos = this.len + digits;
    let x = n;
    do {
      this.buf[--pos] = 0x30 + (x % 10);
      x = Math.floor(x / 10);
    } while (x > 0);
    this.len += digits;
  }

  end(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** The per-target figures of one scrape, computed once and written into every family. */
interface TargetRow {
  /** `target="owner/repo"`, escaped: the start of every per-target label set. */
  label: Buffer;
  counters: TargetCounters;
  status: string;
  openPrs: number;
  maxPrs: number;
  readyTasks: number;
  breakerOpen: boolean;
  /** Unix seconds at which the open breaker's cooldown ends; null while it is closed. */
  cooldownUntil: number | null;
  /** `leviathan_target_open_pr_info` lines (at most OPEN_PR_INFO_LIMIT, by PR number); null without open PRs. */
  openPrLines: Buffer | null;
  /** `leviathan_target_ready_task_info` lines (at most READY_QUEUE_HEAD, in selection order); null when nothing is ready. */
  readyQueueLines: Buffer | null;
}

const EMPTY_COUNTERS = emptyTargetCounters();
const b = (text: string): Buffer => Buffer.from(text);

/** Constant parts of the sample lines, made once: `name{` heads and `,label="value"} ` tails. */
const HEADS = Object.fromEntries(
  METRICS.flatMap((m) =>
    m.type === 'histogram'
      ? [
          [`${m.name}_bucket`, b(`${m.name}_bucket{`)],
          [`${m.name}_sum`, b(`${m.name}_sum{`)],
          [`${m.name}_count`, b(`${m.name}_count{`)],
        ]
      : [[m.name, b(m.labels.length > 0 ? `${m.name}{` : `${m.name} `)]],
  ),
) as Record<string, Buffer>;
const HEADERS = Object.fromEntries(METRICS.map((m) => [m.name, header(m.name)])) as Record<MetricName, Buffer>;
const CLOSE = b('} ');
const tails = (label: string, values: readonly string[]): Map<string, Buffer> =>
  new Map(values.map((v) => [v, b(`,${label}="${escapeLabel(v)}"} `)]));
const ATTEMPT_TAILS = tails('status', ATTEMPT_STATUSES);
const STATUS_TAILS = tails('status', TARGET_STATUSES);
const SKIP_TAILS = tails('reason', METRIC_SKIP_REASONS);
const FAILURE_TAILS = tails('failure_type', METRIC_FAILURE_TYPES);
const BUCKET_TAILS = tails('le', [...ATTEMPT_DURATION_BUCKETS.map(String), '+Inf']);
const EVENT_TYPE_HEADS = new Map(METRIC_EVENT_TYPES.map((type) => [type, b(`leviathan_events_received_total{type="${escapeLabel(type)}"} `)]));

/** `target="…"` label bytes by target id; targets are few and long-lived, so this stays small. */
const targetLabels = new Map<string, Buffer>();
function targetLabel(id: string): Buffer {
  let label = targetLabels.get(id);
  if (!label) {
    label = b(`target="${escapeLabel(id)}"`);
    targetLabels.set(id, label);
  }
  return label;
}

/**
 * The info series' sample lines of one target (value always 1), made when its open PRs or its
 * queue's head are first seen and reused while they stay the same: both change a few times a day,
 * and assembling the lines at every scrape cost twice as much per line as the other families. One
 * entry per target, like targetLabels.
 */
interface InfoLines {
  /** The open PRs the PR lines were made from, with the two fields the lines show. */
  prs: readonly OpenPr[];
  prNumbers: number[];
  prTasks: Array<string | null>;
  prLines: Buffer | null;
  queue: readonly string[];
  queueLines: Buffer | null;
}
const infoLines = new Map<string, InfoLines>();
const NO_INFO: InfoLines = { prs: [], prNumbers: [], prTasks: [], prLines: null, queue: [], queueLines: null };

function infoLinesOf(target: string, label: Buffer, openPrs: readonly OpenPr[], queue: readonly string[]): InfoLines {
  const prs = openPrs.length > OPEN_PR_INFO_LIMIT ? openPrs.slice(0, OPEN_PR_INFO_LIMIT) : openPrs;
  const cached = infoLines.get(target) ?? NO_INFO;
  const samePrs = sameOpenPrs(cached, prs);
  const sameQueue = sameIds(cached.queue, queue);
  if (samePrs && sameQueue) return cached;
  const next: InfoLines = samePrs
    ? { ...cached }
    : {
        prs: [...prs],
        prNumbers: prs.map((pr) => pr.number),
        prTasks: prs.map((pr) => pr.task_id),
        prLines: lines(
          prs.map((pr) => [HEADS.leviathan_target_open_pr_info!, label, b(`,number="${pr.number}",task_id="${escapeLabel(pr.task_id ?? '')}"} 1\n`)]),
        ),
        queue: cached.queue,
        queueLines: cached.queueLines,
      };
  if (!sameQueue) {
    next.queue = queue;
    next.queueLines = lines(
      queue.map((id, i) => [HEADS.leviathan_target_ready_task_info!, label, b(`,task_id="${escapeLabel(id)}",position="${i + 1}"} 1\n`)]),
    );
  }
  infoLines.set(target, next);
  return next;
}

function lines(parts: Buffer[][]): Buffer | null {
  return parts.length === 0 ? null : Buffer.concat(parts.flat());
}

/** The same PR objects with the same number and task: evolve changes open PRs in place. */
function sameOpenPrs(cached: InfoLines, prs: readonly OpenPr[]): boolean {
  if (cached.prs.length !== prs.length) return false;
  for (let i = 0; i < prs.length; i++) {
    const pr = prs[i]!;
    if (cached.prs[i] !== pr || cached.prNumbers[i] !== pr.number || cached.prTasks[i] !== pr.task_id) return false;
  }
  return true;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

let lastSize = 0;

/**
 * The leviathan_* exposition for a projection at `now`. Linear in targets: the figures
 * `/v1/targets` shows (targetGauges, which agrees with targetView without building task lists),
 * then one pass per metric family. Removed targets are left out like in `/v1/targets`; their series
 * go stale in Prometheus and continue from the log's totals if the App is installed again.
 */
export function renderProjection(state: ProjectionState, now: Date): Buffer {
  const rows: TargetRow[] = [];
  const ids = Object.keys(state.targets).sort();
  for (const id of ids) {
    const t = state.targets[id]!;
    if (t.lifecycle === 'removed') continue;
    const g = targetGauges(state, t, now);
    const label = targetLabel(id);
    const info = t.open_prs.length === 0 && g.ready_queue.length === 0 ? NO_INFO : infoLinesOf(id, label, t.open_prs, g.ready_queue);
    rows.push({
      label,
      counters: state.counters.by_target[id] ?? EMPTY_COUNTERS,
      status: g.status,
      openPrs: g.open_prs,
      maxPrs: g.max_open_prs,
      readyTasks: g.ready_tasks,
      breakerOpen: g.breaker_open,
      // breakerOpen implies a cooldown_until in the future (breakerOpen() in target-view.ts).
      cooldownUntil: g.breaker_open ? Date.parse(t.breaker.cooldown_until!) / 1000 : null,
      openPrLines: info.prLines,
      readyQueueLines: info.queueLines,
    });
  }

  const w = new ExpositionWriter(lastSize + 4096);
  const family = (name: MetricName): void => w.bytes(HEADERS[name]);
  const single = (name: MetricName, value: number): void => {
    family(name);
    w.sample(HEADS[name]!, null, null, value);
  };
  const perTarget = (name: MetricName, value: (r: TargetRow) => number): void => {
    family(name);
    const head = HEADS[name]!;
    for (const r of rows) w.sample(head, r.label, CLOSE, value(r));
  };

  single('leviathan_spider_up', 1);

  // Known types always present (at 0 until seen), so increase() sees the first event of a type.
  const events = new Map<string, number>(METRIC_EVENT_TYPES.map((type) => [type, 0]));
  for (const [type, n] of Object.entries(state.counters.events_by_type)) {
    const key = bounded(type, KNOWN_EVENT_TYPES);
    events.set(key, events.get(key)! + n);
  }
  family('leviathan_events_received_total');
  for (const [type, n] of events) w.sample(EVENT_TYPE_HEADS.get(type)!, null, null, n);

  family('leviathan_attempts_total');
  const attempts = HEADS.leviathan_attempts_total!;
  for (const r of rows) {
    w.sample(attempts, r.label, ATTEMPT_TAILS.get('success')!, r.counters.attempts_success);
    w.sample(attempts, r.label, ATTEMPT_TAILS.get('failure')!, r.counters.attempts_failure);
  }
  perTarget('leviathan_prs_created_total', (r) => r.counters.prs_created);
  perTarget('leviathan_tasks_selected_total', (r) => r.counters.tasks_selected);
  single('leviathan_scheduler_cycles_total', state.counters.scheduler_cycles);
  perTarget('leviathan_circuit_breaker_trips_total', (r) => r.counters.breaker_trips);

  family('leviathan_target_status');
  const status = HEADS.leviathan_target_status!;
  for (const r of rows) {
    for (const [value, tail] of STATUS_TAILS) w.sample(status, r.label, tail, r.status === value ? 1 : 0);
  }
  perTarget('leviathan_target_open_prs', (r) => r.openPrs);

  // Info series, a bounded number per target (OPEN_PR_INFO_LIMIT, READY_QUEUE_HEAD in
  // metric-names.ts): at 1,000 targets with 2 open PRs and a full queue head each, 7,000 lines
  // (4,000 in the metrics bench). A target with no open PR or nothing ready has none.
  family('leviathan_target_open_pr_info');
  for (const r of rows) if (r.openPrLines) w.bytes(r.openPrLines);
  perTarget('leviathan_target_max_prs', (r) => r.maxPrs);
  perTarget('leviathan_target_ready_tasks', (r) => r.readyTasks);
  family('leviathan_target_ready_task_info');
  for (const r of rows) if (r.readyQueueLines) w.bytes(r.readyQueueLines);
  perTarget('leviathan_prs_merged_total', (r) => r.counters.prs_merged);
  perTarget('leviathan_prs_closed_total', (r) => r.counters.prs_closed);

  // Only the reasons a target has actually had: zero-filling all 21 reason codes would add 21,000
  // always-zero series at 1,000 targets, and no alert takes increase() of a skip reason.
  family('leviathan_scheduler_skips_total');
  const skips = HEADS.leviathan_scheduler_skips_total!;
  const merged = new Map<string, number>();
  for (const r of rows) {
    const reasons = r.counters.skips_by_reason;
    merged.clear();
    for (const reason in reasons) {
      const key = bounded(reason, KNOWN_SKIP_REASONS);
      merged.set(key, (merged.get(key) ?? 0) + reasons[reason]!);
    }
    if (merged.size === 0) continue;
    for (const [reason, tail] of SKIP_TAILS) {
      const n = merged.get(reason);
      if (n !== undefined) w.sample(skips, r.label, tail, n);
    }
  }

  const lastCycle = state.scheduler.last_cycle_completed_at ? Date.parse(state.scheduler.last_cycle_completed_at) / 1000 : 0;
  single('leviathan_scheduler_last_cycle_timestamp_seconds', Number.isFinite(lastCycle) ? lastCycle : 0);

  perTarget('leviathan_circuit_breaker_open', (r) => (r.breakerOpen ? 1 : 0));
  // Only for open breakers: a closed one has no cooldown, and 0 would read as "ended in 1970".
  family('leviathan_circuit_breaker_cooldown_until_timestamp_seconds');
  const cooldown = HEADS.leviathan_circuit_breaker_cooldown_until_timestamp_seconds!;
  for (const r of rows) if (r.cooldownUntil !== null) w.sample(cooldown, r.label, CLOSE, r.cooldownUntil);

  // The projection keeps cumulative buckets aligned with ATTEMPT_DURATION_BUCKETS (evolve's
  // observeDuration counts every bucket whose bound is ≥ the duration), so they are written as is.
  family('leviathan_attempt_duration_seconds');
  const bucket = HEADS.leviathan_attempt_duration_seconds_bucket!;
  const bucketTails = [...BUCKET_TAILS.values()];
  for (const r of rows) {
    const c = r.counters;
    // Buckets are only ever appended to ATTEMPT_DURATION_BUCKETS; a snapshot from before that is
    // replayed (SNAPSHOT_VERSION), so every bucket is already counted from the first event.
    for (let i = 0; i < bucketTails.length; i++) {
      const value = i < ATTEMPT_DURATION_BUCKETS.length ? (c.duration_buckets[i] ?? 0) : c.duration_count;
      w.sample(bucket, r.label, bucketTails[i]!, value);
    }
    w.sample(HEADS.leviathan_attempt_duration_seconds_sum!, r.label, CLOSE, c.duration_sum);
    w.sample(HEADS.leviathan_attempt_duration_seconds_count!, r.label, CLOSE, c.duration_count);
  }

  // Every failure type at 0 from the start: the timeout alert uses increase(), which cannot see
  // the first increment of a series that did not exist.
  family('leviathan_attempt_failures_total');
  const failures = HEADS.leviathan_attempt_failures_total!;
  for (const r of rows) {
    const byType = r.counters.failures_by_type;
    let other = 0;
    for (const type in byType) if (!KNOWN_FAILURE_TYPES.has(type) || type === 'other') other += byType[type]!;
    for (const [type, tail] of FAILURE_TAILS) w.sample(failures, r.label, tail, type === 'other' ? other : (byType[type] ?? 0));
  }

  single('leviathan_autonomy_enabled', state.autonomy.enabled === true ? 1 : 0);

  // Absent until GitHub has answered this process or a scheduler cycle has reported a reading
  // (see recordRateLimit and shownRateLimit).
  const budget = shownRateLimit(state, now.getTime());
  family('leviathan_github_rate_limit_remaining');
  if (budget) w.sample(HEADS.leviathan_github_rate_limit_remaining!, null, null, budget.remaining);
  family('leviathan_github_rate_limit_limit');
  if (budget) w.sample(HEADS.leviathan_github_rate_limit_limit!, null, null, budget.limit);
  family('leviathan_github_rate_limit_reset_timestamp_seconds');
  if (budget?.reset != null) w.sample(HEADS.leviathan_github_rate_limit_reset_timestamp_seconds!, null, null, budget.reset);

  // SchedulerNotRunning is silent while this is 1 (and 15 minutes after): `ctl stop` suspends the ticks on purpose.
  single('leviathan_emergency_stop', state.autonomy.emergency_stop ? 1 : 0);

  const out = w.end();
  lastSize = out.length;
  return out;
}
