import { FAILURE_TYPES } from '../events/types.ts';

/**
 * The metric contract: every Prometheus series Leviathan exports, by name, type and labels.
 *
 * Alert rules (`k8s/monitoring/rules/leviathan-rules.yaml`) and Grafana dashboards
 * (`k8s/monitoring/dashboards/`) are written against these names, and `test/monitoring/` fails
 * when either refers to a metric that is not listed here. The prom-client registry imports this
 * list, so renaming a metric in one place without the other is a test failure, not a silently
 * empty dashboard during an incident.
 *
 * Two conventions the alerts rely on:
 * - Counters with labels must be initialised to 0 for every known label combination (e.g.
 *   `counter.inc({ target }, 0)` when a target is registered). `increase()` cannot see the first
 *   increment of a series that did not exist before, so a target's first timeout or first
 *   circuit-breaker trip would otherwise never alert.
 * - Gauges derived from the event log (`leviathan_target_*`, `leviathan_circuit_breaker_open`,
 *   `leviathan_circuit_breaker_cooldown_until_timestamp_seconds`,
 *   `leviathan_scheduler_last_cycle_timestamp_seconds`) are rebuilt on replay, so a restart does
 *   not make them drop to zero and page someone.
 *
 * Labels are bounded. The only id-like labels (`number`, `task_id`, `position`) are on `*_info`
 * gauges that list a few things per target, each with a hard cap stated in its HELP text.
 */

/** Prometheus metric types used by Leviathan. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One exported metric: what the registry must create and what rules and dashboards may query. */
export interface MetricDefinition {
  /** Full series name; counters end in `_total` (STYLE.md, convention 6). */
  readonly name: string;
  readonly type: MetricType;
  /** HELP text exported with the metric. */
  readonly help: string;
  /** Label names, in a fixed order. Every label has a bounded set of values. */
  readonly labels: readonly string[];
}

/** `leviathan_target_status{status}`: one series per status, 1 for the target's current one. */
export const TARGET_STATUSES = ['active', 'idle', 'blocked', 'paused', 'error'] as const;
/** Values of the `status` label on a target's status gauge. */
export type TargetStatus = (typeof TARGET_STATUSES)[number];

/** `leviathan_attempts_total{status}`. */
export const ATTEMPT_STATUSES = ['success', 'failure'] as const;

/**
 * `leviathan_attempt_failures_total{failure_type}`: the vocabulary's FAILURE_TYPES. Closed on
 * purpose: a failure type a worker reports that is not listed is counted as `other`, so a
 * misbehaving worker cannot create unbounded series.
 */
export const METRIC_FAILURE_TYPES = FAILURE_TYPES;

/**
 * Bucket boundaries (seconds) for `leviathan_attempt_duration_seconds`. Attempts run from under a
 * minute to the worker's deadline (default 900 s), so the buckets are dense around minutes and
 * include the deadline itself, where timeouts pile up. `attempt_timeout_minutes` goes up to 1440,
 * so the tail reaches a day: without it every attempt past an hour lands in +Inf and a 2-hour
 * deadline cannot be told from a 24-hour one. Only ever append: the projection (and its snapshot
 * file) keeps the buckets by index.
 */
export const ATTEMPT_DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400, 43200, 86400] as const;

/**
 * Most `leviathan_target_open_pr_info` series per target: the ceiling policy.yaml, backlog.yaml
 * and the ConfigMap accept for `max_open_prs` (0..100, src/contract/policy.ts and backlog.ts).
 * The scheduler opens no PR past the target's limit, so a target has more open PRs only when its
 * limit was lowered below what was already open; the lowest numbers (the oldest) are listed then,
 * and `leviathan_target_open_prs` keeps the full count.
 */
export const OPEN_PR_INFO_LIMIT = 100;

/**
 * Length of the ready queue's head on `leviathan_target_ready_task_info`. Five answers "what runs
 * next, and after that" on a dashboard; the whole queue is in the console. 1,000 targets add at
 * most 5,000 series.
 */
export const READY_QUEUE_HEAD = 5;

/** Every Leviathan metric. The order is the order of the issue that defined them. */
export const METRICS = [
  {
    name: 'leviathan_spider_up',
    type: 'gauge',
    labels: [],
    help: 'Whether the metrics endpoint (Spider Node) is serving: always 1 when scraped.',
  },
  // Workers may post event types Leviathan does not know (they are stored, never dropped); to keep
  // `type` bounded the registry counts those under one value rather than one series per name.
  {
    name: 'leviathan_events_received_total',
    type: 'counter',
    labels: ['type'],
    help: 'Events appended to the event log, by event type.',
  },
  {
    name: 'leviathan_attempts_total',
    type: 'counter',
    labels: ['target', 'status'],
    help: 'Finished attempts by target and outcome (success|failure).',
  },
  {
    name: 'leviathan_prs_created_total',
    type: 'counter',
    labels: ['target'],
    help: 'Pull requests opened by Leviathan, by target.',
  },
  {
    name: 'leviathan_tasks_selected_total',
    type: 'counter',
    labels: ['target'],
    help: 'Tasks selected by the scheduler, by target.',
  },
  { name: 'leviathan_scheduler_cycles_total', type: 'counter', labels: [], help: 'Completed scheduler cycles.' },
  {
    name: 'leviathan_circuit_breaker_trips_total',
    type: 'counter',
    labels: ['target'],
    help: 'Circuit breaker trips, by target.',
  },
  {
    name: 'leviathan_target_status',
    type: 'gauge',
    labels: ['target', 'status'],
    help: 'Current target status: 1 for the current status, 0 for the others.',
  },
  {
    name: 'leviathan_target_open_prs',
    type: 'gauge',
    labels: ['target'],
    help: 'Open pull requests created by Leviathan, by target.',
  },
  {
    name: 'leviathan_target_max_prs',
    type: 'gauge',
    labels: ['target'],
    help: 'Policy limit of open pull requests, by target.',
  },
  {
    name: 'leviathan_target_ready_tasks',
    type: 'gauge',
    labels: ['target'],
    help: 'Tasks marked ready in the backlog, by target.',
  },
  {
    name: 'leviathan_prs_merged_total',
    type: 'counter',
    labels: ['target'],
    help: 'Leviathan pull requests merged, by target.',
  },
  {
    name: 'leviathan_prs_closed_total',
    type: 'counter',
    labels: ['target'],
    help: 'Leviathan pull requests closed without merging, by target.',
  },
  {
    name: 'leviathan_scheduler_skips_total',
    type: 'counter',
    labels: ['target', 'reason'],
    help: 'Scheduler cycles in which a target did not execute, by reason code.',
  },
  {
    name: 'leviathan_scheduler_last_cycle_timestamp_seconds',
    type: 'gauge',
    labels: [],
    help: 'Unix time of the last completed scheduler cycle (0 if none yet).',
  },
  {
    name: 'leviathan_circuit_breaker_open',
    type: 'gauge',
    labels: ['target'],
    help: 'Whether the circuit breaker is open (1) or closed (0), by target.',
  },
  {
    name: 'leviathan_attempt_duration_seconds',
    type: 'histogram',
    labels: ['target'],
    help: 'Duration of finished attempts, by target.',
  },
  {
    name: 'leviathan_attempt_failures_total',
    type: 'counter',
    labels: ['target', 'failure_type'],
    help: 'Failed attempts by target and failure type.',
  },
  {
    name: 'leviathan_autonomy_enabled',
    type: 'gauge',
    labels: [],
    help: 'Whether autonomy is enabled (1) or disabled (0).',
  },
  {
    name: 'leviathan_github_rate_limit_remaining',
    type: 'gauge',
    labels: [],
    help: 'GitHub API requests remaining in the current rate-limit window of the most constrained budget (the installation or App JWT with the smallest share of its limit left).',
  },
  {
    name: 'leviathan_github_rate_limit_limit',
    type: 'gauge',
    labels: [],
    help: 'GitHub API request limit of the budget leviathan_github_rate_limit_remaining shows.',
  },
  // Added after the issue: when the budget is low, "when does it come back" is the operator's
  // next question, and GitHub sends the answer with every response.
  {
    name: 'leviathan_github_rate_limit_reset_timestamp_seconds',
    type: 'gauge',
    labels: [],
    help: 'Unix time at which the window of the budget leviathan_github_rate_limit_remaining shows resets.',
  },
  // Added after the issue: the operator document's Target Detail dashboard lists open PRs ("Count
  // and list"), the ready queue ("Count and queue") and breaker cooldowns. Info-style gauges
  // (always 1, the facts are in the labels), with a bounded number of series per target.
  {
    name: 'leviathan_target_open_pr_info',
    type: 'gauge',
    labels: ['target', 'number', 'task_id'],
    help: `Open pull requests created by Leviathan: 1 per PR, with its number and task_id ('' if unknown); at most ${OPEN_PR_INFO_LIMIT} per target (the max_open_prs ceiling).`,
  },
  {
    name: 'leviathan_target_ready_task_info',
    type: 'gauge',
    labels: ['target', 'task_id', 'position'],
    help: `Head of the ready queue: 1 for each of the first ${READY_QUEUE_HEAD} tasks ready to run, in the scheduler's selection order (position 1-${READY_QUEUE_HEAD}); at most ${READY_QUEUE_HEAD} per target.`,
  },
  {
    name: 'leviathan_circuit_breaker_cooldown_until_timestamp_seconds',
    type: 'gauge',
    labels: ['target'],
    help: 'Unix time at which an open circuit breaker\'s cooldown ends, by target; absent while the breaker is closed.',
  },
  // Added after the issue: `ctl stop` suspends the scheduler on purpose, and SchedulerNotRunning
  // must not page for the whole of a deliberate stop; the alert needs the stop as a series.
  {
    name: 'leviathan_emergency_stop',
    type: 'gauge',
    labels: [],
    help: 'Whether an operator\'s emergency stop stands (1: the scheduler is suspended until resumed) or not (0).',
  },
] as const satisfies readonly MetricDefinition[];

/** Name of a Leviathan metric. */
export type MetricName = (typeof METRICS)[number]['name'];

/**
 * Prefixes of prom-client's default metrics (`collectDefaultMetrics()`), which are exported too
 * and may be used by dashboards.
 */
export const DEFAULT_METRIC_PREFIXES = ['process_', 'nodejs_'] as const;

/** Series Prometheus adds to every histogram. */
export const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/**
 * Scrape job names. The `job` label comes from the Service name under the Prometheus Operator
 * and from `job_name` in `k8s/monitoring/prometheus.example.yml`; alerts select on these.
 */
export const SCRAPE_JOBS = {
  controlPlane: { job: 'leviathan-control-plane', port: 8000 },
  spider: { job: 'leviathan-spider', port: 8001 },
} as const;

/**
 * Whether `series` is something we export: a listed metric, one of a histogram's derived series,
 * or a prom-client default metric. Used by the monitoring tests to reject dashboards and alerts
 * that query metrics nobody produces.
 */
export function isExportedSeries(series: string): boolean {
  if (DEFAULT_METRIC_PREFIXES.some((prefix) => series.startsWith(prefix))) return true;
  return METRICS.some(
    (metric) =>
      metric.name === series ||
      (metric.type === 'histogram' && HISTOGRAM_SUFFIXES.some((suffix) => metric.name + suffix === series)),
  );
}
