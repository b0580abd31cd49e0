import { describe, expect, it } from 'vitest';
import { METRICS, isExportedSeries } from '../../src/metrics/metric-names.ts';

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
    // Labels that would make series unbounded (ids, branch names, free text) never appear.
    for (const label of metric.labels) {
      expect(['target', 'status', 'type', 'reason', 'failure_type']).toContain(label);
    }
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
