import { describe, expect, it } from 'vitest';
import { BACKLOG_LIMITS } from '../../src/contract/backlog.ts';
import { parsePolicy } from '../../src/contract/policy.ts';
import { METRICS, OPEN_PR_INFO_LIMIT, READY_QUEUE_HEAD, isExportedSeries } from '../../src/metrics/metric-names.ts';

describe('metric names (src/metrics/metric-names.ts)', () => {
  it('are unique', () => {
    const names = METRICS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(METRICS.map((m) => [m.name, m] as const))('%s follows leviathan_<thing>_<unit> naming', (name, metric) => {
    expect(name).toMatch(/^leviathan_[a-z][a-z0-9_]*[a-z0-9]$/);
    // Prometheus and Grafana treat *_total as a counter; a gauge or histogram so named misleads rate().
    expect(name.endsWith('_total')).toBe(metric.type === 'counter');
    expect(metric.help.length).toBeGreaterThan(10);
    // Labels that would make series unbounded (ids, branch names, free text) never appear. Id-like
    // labels only on *_info gauges that list a capped number of things per target, the cap stated
    // in their HELP text.
    for (const label of metric.labels) {
      if (['target', 'status', 'type', 'reason', 'failure_type'].includes(label)) continue;
      expect(['number', 'task_id', 'position'], name).toContain(label);
      expect(name.endsWith('_info') && metric.type === 'gauge', `${name}: ${label} on a non-info metric`).toBe(true);
      expect(metric.labels[0], name).toBe('target');
      expect(metric.help, name).toMatch(/at most \d+ per target/);
    }
  });

  it('state the caps of the info series in their HELP text', () => {
    const help = (name: string) => METRICS.find((m) => m.name === name)!.help;
    expect(help('leviathan_target_open_pr_info')).toContain(`at most ${OPEN_PR_INFO_LIMIT} per target`);
    expect(help('leviathan_target_ready_task_info')).toContain(`at most ${READY_QUEUE_HEAD} per target`);
    // The open-PR cap is the highest max_open_prs any layer accepts, so it never cuts a list short
    // of the limit in force.
    expect(OPEN_PR_INFO_LIMIT).toBeGreaterThanOrEqual(BACKLOG_LIMITS.maxOpenPrs);
    expect(parsePolicy(`max_open_prs: ${OPEN_PR_INFO_LIMIT + 1}\n`).ok).toBe(false);
    expect(parsePolicy(`max_open_prs: ${OPEN_PR_INFO_LIMIT}\n`).ok).toBe(true);
  });

  it('recognises histogram series and default process metrics, and nothing else', () => {
    expect(isExportedSeries('leviathan_attempt_duration_seconds_bucket')).toBe(true);
    expect(isExportedSeries('leviathan_attempt_duration_seconds_count')).toBe(true);
    expect(isExportedSeries('process_cpu_seconds_total')).toBe(true);
    expect(isExportedSeries('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(isExportedSeries('leviathan_attempts_total_bucket')).toBe(false);
    expect(isExportedSeries('leviathan_attempts')).toBe(false);
  });
});
