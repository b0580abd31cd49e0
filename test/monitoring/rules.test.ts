import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildPrometheusRule, OUTPUT_PATHS, RULES_PATH } from '../../scripts/build-dashboards.ts';
import { ROOT, metricProblems, promtool } from './promtool.ts';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}

const UNIT_TESTS = 'test/monitoring/rules.test.yaml';

const groups = (YAML.parse(readFileSync(join(ROOT, RULES_PATH), 'utf8')) as { groups: RuleGroup[] }).groups;
const alerts = groups.flatMap((group) => group.rules);

/** The alerts the issue and the operator document promise; the rules file must have exactly these. */
const EXPECTED_ALERTS = [
  'ControlPlaneDown',
  'CircuitBreakerTripped',
  'HighFailureRate',
  'MaxPRsReached',
  'SchedulerNotRunning',
  'GitHubRateLimitLow',
  'WorkerTimeouts',
];

describe('alert rules (k8s/monitoring/rules/leviathan-rules.yaml)', () => {
  it('are exactly the promised alerts', () => {
    expect(alerts.map((rule) => rule.alert).sort()).toEqual([...EXPECTED_ALERTS].sort());
  });

  it('pass promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', RULES_PATH);
    expect(output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(status, output).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const { status, output } = promtool('test', 'rules', UNIT_TESTS);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('each have a unit test where they fire and one where they stay silent', () => {
    const unit = YAML.parse(readFileSync(join(ROOT, UNIT_TESTS), 'utf8')) as {
      tests: Array<{ alert_rule_test?: AlertRuleTest[] }>;
    };
    const cases = unit.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const name of EXPECTED_ALERTS) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} has no firing case`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} has no silent case`,
      ).toBe(true);
    }
  });

  it.each(alerts.map((rule) => [rule.alert, rule] as const))('%s tells the operator what to do', (_name, rule) => {
    expect(rule.for, 'a `for` duration keeps one bad scrape from paging').toMatch(/^\d+[smh]$/);
    expect(['critical', 'warning']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary).toBeTruthy();
    expect(rule.annotations?.description).toBeTruthy();
    // The runbook is the operator document's troubleshooting steps, runnable as written.
    expect(rule.annotations?.runbook).toMatch(/kubectl -n leviathan|leviathan ctl/);
  });

  it.each(alerts.map((rule) => [rule.alert, rule.expr] as const))(
    '%s queries only metrics we export',
    (_name, expr) => {
      expect(metricProblems(expr)).toEqual([]);
    },
  );
});

describe('PrometheusRule (k8s/monitoring/prometheusrule.yaml)', () => {
  const onDisk = readFileSync(join(ROOT, OUTPUT_PATHS.prometheusRule), 'utf8');

  it('carries the same groups as the plain rules file', () => {
    const resource = YAML.parse(onDisk) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace: string; labels: Record<string, string> };
      spec: { groups: RuleGroup[] };
    };
    expect(resource.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(resource.kind).toBe('PrometheusRule');
    expect(resource.metadata).toMatchObject({ name: 'leviathan', namespace: 'leviathan' });
    expect(resource.spec.groups).toEqual(groups);
  });

  it('is up to date with the rules file (run `npm run build:dashboards`)', () => {
    const rules = readFileSync(join(ROOT, RULES_PATH), 'utf8');
    expect(onDisk).toBe(buildPrometheusRule(rules));
  });
});

describe('metric reference check', () => {
  // Guards the guard: if the extraction stopped finding names, every test above would pass.
  it('rejects unknown metrics and labels, accepts ours', () => {
    expect(metricProblems('sum(rate(container_cpu_usage_seconds_total[5m]))')).toEqual([
      'container_cpu_usage_seconds_total is not listed in src/metrics/metric-names.ts',
    ]);
    expect(metricProblems('leviathan_events_received_total{target="a/b"}')).toEqual([
      'leviathan_events_received_total has no label "target"',
    ]);
    expect(
      metricProblems(
        'histogram_quantile(0.9, sum by (le) (rate(leviathan_attempt_duration_seconds_bucket{target="a/b"}[5m]))) and on() up{job="x"} == 1 or vector(0)',
      ),
    ).toEqual([]);
    expect(metricProblems('nodejs_heap_size_used_bytes / process_resident_memory_bytes')).toEqual([]);
  });
});

describe('promtool', () => {
  it('rejects an invalid rules file, so a passing check means something', () => {
    const { status } = promtool('check', 'rules', 'test/monitoring/fixtures/invalid-rules.yaml');
    expect(status).not.toBe(0);
  });
});
