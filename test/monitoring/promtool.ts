import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HISTOGRAM_SUFFIXES, METRICS, isExportedSeries } from '../../src/metrics/metric-names.ts';

/** Repository root, so promtool gets the same relative paths wherever vitest is started. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** promtool binary: `PROMTOOL` if set, else from PATH (Debian package `prometheus`). */
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

/** Outcome of one promtool invocation. */
export interface PromtoolResult {
  status: number;
  output: string;
}

/**
 * Runs promtool from the repository root. A missing binary throws with the fix instead of
 * skipping: a monitoring test that silently skips is how broken alerts reach production.
 */
export function promtool(...args: string[]): PromtoolResult {
  const result = spawnSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(
        `promtool not found (tried "${PROMTOOL}"). These tests validate the alert rules and dashboard ` +
          'queries with the real Prometheus parser and must not be skipped. Install it with ' +
          '`apt-get install -y prometheus` (Debian/Ubuntu; provides /usr/bin/promtool) or download a ' +
          'Prometheus release, then re-run, or point PROMTOOL at the binary.',
      );
    }
    throw result.error;
  }
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

/** A metric selector found in an expression: the series name and the label names it matches on. */
export interface SelectorRef {
  metric: string;
  labels: string[];
}

/**
 * Metric selectors in a PromQL expression. Deliberately simple: strips strings' contents, label
 * matchers, range/subquery brackets and grouping clauses, then treats the remaining identifiers
 * that are not functions (followed by `(`) or keywords as metric names.
 */
export function selectorsIn(expr: string): SelectorRef[] {
  const refs: SelectorRef[] = [];
  // Selectors with braces first, so their label names can be checked.
  const withBraces = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g;
  for (const match of expr.matchAll(withBraces)) {
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] ?? '');
    refs.push({ metric: match[1] ?? '', labels });
  }
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const match of stripped.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = match[1] ?? '';
    if (match[2] || KEYWORDS.has(name.toLowerCase())) continue;
    if (!refs.some((ref) => ref.metric === name)) refs.push({ metric: name, labels: [] });
  }
  return refs;
}

const SCRAPE_LABELS = ['job', 'instance'];

/**
 * Problems with the metrics an expression refers to: names we do not export, and label
 * matchers on labels the metric does not have (both give silently empty panels and alerts that
 * can never fire). `up` is Prometheus' own per-target series.
 */
export function metricProblems(expr: string): string[] {
  const problems: string[] = [];
  for (const { metric, labels } of selectorsIn(expr)) {
    if (metric === 'up') continue;
    if (!isExportedSeries(metric)) {
      problems.push(`${metric} is not listed in src/metrics/metric-names.ts`);
      continue;
    }
    const definition = METRICS.find(
      (m) => m.name === metric || (m.type === 'histogram' && HISTOGRAM_SUFFIXES.some((s) => m.name + s === metric)),
    );
    if (!definition) continue; // prom-client default metric
    const allowed: string[] = [...definition.labels, ...SCRAPE_LABELS];
    if (metric.endsWith('_bucket')) allowed.push('le');
    for (const label of labels) {
      if (!allowed.includes(label)) problems.push(`${metric} has no label "${label}"`);
    }
  }
  return problems;
}
