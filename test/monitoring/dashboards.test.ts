import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DASHBOARD_UIDS, OUTPUT_PATHS, renderOutputs } from '../../scripts/build-dashboards.ts';
import { METRICS } from '../../src/metrics/metric-names.ts';
import { ROOT, metricProblems, promtool, selectorsIn } from './promtool.ts';

interface Panel {
  id?: number;
  type: string;
  title: string;
  targets?: Array<{ refId: string; expr: string }>;
  panels?: Panel[];
}

interface DashboardJson {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; multi?: boolean; definition?: string }> };
}

const DASHBOARDS = {
  systemOverview: { path: OUTPUT_PATHS.systemOverview, uid: DASHBOARD_UIDS.systemOverview },
  targetDetail: { path: OUTPUT_PATHS.targetDetail, uid: DASHBOARD_UIDS.targetDetail },
} as const;

function load(path: string): DashboardJson {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as DashboardJson;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

interface Query {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

const queries: Query[] = Object.values(DASHBOARDS).flatMap(({ path }) => {
  const dashboard = load(path);
  return allPanels(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      dashboard: dashboard.title,
      panel: panel.title,
      refId: target.refId,
      expr: target.expr,
    })),
  );
});

/**
 * What Grafana substitutes before the query reaches Prometheus. Values are realistic: a target
 * with the slash every real one has, and the multi-value regex Grafana builds for `=~`.
 */
function interpolate(expr: string): string {
  return expr
    .replaceAll(/\$\{?__rate_interval\}?/g, '2m')
    .replaceAll(/\$\{?__interval\}?/g, '1m')
    .replaceAll(/\$\{?__range\}?/g, '1d')
    .replaceAll(/target=~"\$\{?target\}?"/g, 'target=~"(acme/widgets|acme/gadgets)"')
    .replaceAll(/\$\{?target\}?/g, 'acme/widgets');
}

describe('generated files', () => {
  it('on disk are what scripts/build-dashboards.ts produces (run `npm run build:dashboards`)', () => {
    for (const [path, content] of renderOutputs()) {
      expect(readFileSync(join(ROOT, path), 'utf8'), `${path} is stale`).toBe(content);
    }
  });
});

describe('dashboards', () => {
  it('have stable uids and a Prometheus datasource variable', () => {
    for (const { path, uid } of Object.values(DASHBOARDS)) {
      const dashboard = load(path);
      expect(dashboard.uid).toBe(uid);
      expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({
        type: 'datasource',
        query: 'prometheus',
      });
    }
  });

  it('offer a target variable from label_values(leviathan_target_status, target)', () => {
    for (const { path } of Object.values(DASHBOARDS)) {
      const variable = load(path).templating.list.find((v) => v.name === 'target');
      expect(variable).toMatchObject({ type: 'query', definition: 'label_values(leviathan_target_status, target)' });
    }
    // One repository at a time on the detail page; any subset on the overview.
    expect(load(DASHBOARDS.targetDetail.path).templating.list.find((v) => v.name === 'target')?.multi).toBe(false);
    expect(load(DASHBOARDS.systemOverview.path).templating.list.find((v) => v.name === 'target')?.multi).toBe(true);
  });

  it('have the panels the operator document lists', () => {
    const titles = (path: string) => allPanels(load(path).panels).map((panel) => panel.title);
    expect(titles(DASHBOARDS.systemOverview.path)).toEqual(
      expect.arrayContaining(['Status', 'Targets', 'Open PRs', 'Ready Tasks', 'Recent Activity', 'Success Rate']),
    );
    expect(titles(DASHBOARDS.targetDetail.path)).toEqual(
      expect.arrayContaining([
        'Target Status',
        'Open PRs',
        'Ready Tasks',
        'Attempt History',
        'PR Creation Rate',
        'Circuit Breaker Status',
      ]),
    );
  });

  it('give every panel a unique id', () => {
    for (const { path } of Object.values(DASHBOARDS)) {
      const ids = allPanels(load(path).panels).map((panel) => panel.id);
      expect(ids.every((id) => typeof id === 'number')).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('filter every per-target metric by the target variable', () => {
    const perTarget = new Set<string>(
      METRICS.filter((m) => (m.labels as readonly string[]).includes('target')).flatMap((m) =>
        m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    const unfiltered = queries.flatMap((q) =>
      [...q.expr.matchAll(/([a-z_:]+)(\{[^}]*\})?/g)]
        .filter((m) => perTarget.has(m[1] ?? '') && !/target=~?"\$target"/.test(m[2] ?? ''))
        .map((m) => `${q.dashboard} / ${q.panel} / ${q.refId}: ${m[0]}`),
    );
    expect(unfiltered).toEqual([]);
  });

  it('query only metrics we export, with labels they have', () => {
    expect(queries.length).toBeGreaterThan(20);
    const problems = queries.flatMap((q) =>
      metricProblems(interpolate(q.expr)).map((p) => `${q.dashboard} / ${q.panel} / ${q.refId}: ${p}`),
    );
    expect(problems).toEqual([]);
    // Sanity: the extraction actually sees the metrics.
    expect(queries.flatMap((q) => selectorsIn(q.expr).map((s) => s.metric))).toContain('leviathan_target_status');
  });

  describe('PromQL parses with promtool', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leviathan-dashboards-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** promtool 2.42 has no `promql format`, so each query becomes a recording rule to check. */
    function check(items: Query[]): ReturnType<typeof promtool> {
      const file = join(dir, `queries-${Math.random().toString(36).slice(2)}.yaml`);
      const groups = items.map((q, index) => ({
        name: `${q.dashboard} / ${q.panel} / ${q.refId} #${index}`,
        rules: [{ record: `leviathan:dashboard_query_${index}`, expr: interpolate(q.expr) }],
      }));
      writeFileSync(file, YAML.stringify({ groups }));
      return promtool('check', 'rules', file);
    }

    it('every panel query', () => {
      for (const q of queries) expect(interpolate(q.expr), `${q.panel}: unsubstituted variable`).not.toContain('$');
      const { status, output } = check(queries);
      expect(status, output).toBe(0);
      expect(output).toContain(`SUCCESS: ${queries.length} rules found`);
    });

    it('and the check rejects a broken query', () => {
      const { status, output } = check([
        { dashboard: 'd', panel: 'p', refId: 'A', expr: 'sum(rate(leviathan_attempts_total[$__rate_interval])' },
      ]);
      expect(status).not.toBe(0);
      expect(output).toMatch(/parse error|unclosed|unexpected/i);
    });
  });

  describe('queries show what the operator expects (promtool promql_expr_test)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leviathan-dashboard-values-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function find(dashboard: keyof typeof DASHBOARDS, panel: string, refId = 'A'): string {
      const title = load(DASHBOARDS[dashboard].path).title;
      const q = queries.find((x) => x.dashboard === title && x.panel === panel && x.refId === refId);
      if (!q) throw new Error(`no query ${refId} on panel "${panel}" of ${title}`);
      return interpolate(q.expr);
    }

    const status = (target: string, current: string, instance = '10.0.0.1:8001') =>
      ['active', 'idle', 'blocked', 'paused', 'error'].map((s) => ({
        series: `leviathan_target_status{job="leviathan-spider", instance="${instance}", target="${target}", status="${s}"}`,
        values: s === current ? '1x10' : '0x10',
      }));
    const controlPlane = (up: 0 | 1) => [
      { series: 'up{job="leviathan-control-plane", instance="10.0.0.1:8000"}', values: `${up}x10` },
    ];

    /** Evaluates `expr` at 5m over `series` and returns promtool's verdict against `value`. */
    function expectValue(expr: string, series: Array<{ series: string; values: string }>, value: number) {
      const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
      const test = {
        rule_files: [],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: series,
            promql_expr_test: [{ expr, eval_time: '5m', exp_samples: [{ labels: '{}', value }] }],
          },
        ],
      };
      writeFileSync(file, YAML.stringify(test));
      const { status: code, output } = promtool('test', 'rules', file);
      expect(code, `${expr}\n${output}`).toBe(0);
    }

    // Values map to texts in the panels: 0 No targets, 1 Idle, 2 Paused, 3 Healthy, 4 Blocked,
    // 5 Error, 6 Control plane unreachable.
    it('System Overview status is the worst target, and unreachable when the control plane is down', () => {
      const expr = find('systemOverview', 'Status');
      expectValue(
        expr,
        [...controlPlane(1), ...status('acme/widgets', 'active'), ...status('acme/gadgets', 'blocked')],
        4,
      );
      expectValue(
        expr,
        [...controlPlane(1), ...status('acme/widgets', 'active'), ...status('acme/gadgets', 'idle')],
        3,
      );
      expectValue(expr, [...controlPlane(1), ...status('acme/widgets', 'idle'), ...status('acme/gadgets', 'idle')], 1);
      expectValue(expr, [...controlPlane(0), ...status('acme/widgets', 'active')], 6);
      expectValue(expr, controlPlane(1), 0);
    });

    it('Target Detail status is the selected target only, once across replicas', () => {
      const expr = find('targetDetail', 'Target Status');
      expectValue(
        expr,
        [
          ...status('acme/widgets', 'blocked'),
          ...status('acme/widgets', 'blocked', '10.0.0.2:8001'),
          ...status('acme/gadgets', 'error'),
        ],
        4,
      );
    });

    it('Targets counts active and blocked targets', () => {
      const series = [
        ...status('acme/widgets', 'active'),
        ...status('acme/gadgets', 'blocked'),
        ...status('acme/gadgets', 'blocked', '10.0.0.2:8001'),
      ];
      expectValue(find('systemOverview', 'Targets', 'A'), series, 1);
      expectValue(find('systemOverview', 'Targets', 'B'), series, 1);
      expectValue(find('systemOverview', 'Targets', 'D'), series, 0);
    });

    it('Success Rate is successes over all attempts', () => {
      const attempts = (status: string, values: string) => ({
        series: `leviathan_attempts_total{job="leviathan-spider", instance="10.0.0.1:8001", target="acme/widgets", status="${status}"}`,
        values,
      });
      expectValue(
        find('systemOverview', 'Success Rate'),
        [attempts('success', '0+3x10'), attempts('failure', '0+1x10')],
        0.75,
      );
    });
  });
});
