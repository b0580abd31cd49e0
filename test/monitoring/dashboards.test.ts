import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DASHBOARD_UIDS, OUTPUT_PATHS, renderOutputs } from '../../scripts/build-dashboards.ts';
import { METRICS, TARGET_STATUSES, type TargetStatus } from '../../src/metrics/metric-names.ts';
import { allTargetFacts, targetKind, TARGETS_LINE, VERDICTS, type TargetFacts } from '../../src/projections/dashboard-summary.ts';
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

  // The operator document's "Open PRs – Count and list", "Ready Tasks – Count and queue" and
  // "Circuit Breaker Status – Trips and cooldowns": the lists beside the counts.
  it('Target Detail lists the open PRs, the head of the ready queue and the breaker cooldown, for the selected target', () => {
    const panels = allPanels(load(DASHBOARDS.targetDetail.path).panels);
    const expected = [
      ['Open PR list', 'table', 'leviathan_target_open_pr_info', ['number', 'task_id']],
      ['Ready queue', 'table', 'leviathan_target_ready_task_info', ['position', 'task_id']],
      ['Breaker cooldown ends', 'stat', 'leviathan_circuit_breaker_cooldown_until_timestamp_seconds', []],
    ] as const;
    for (const [title, type, metric, columns] of expected) {
      const panel = panels.find((p) => p.title === title);
      expect(panel?.type, title).toBe(type);
      const exprs = (panel!.targets ?? []).map((q) => q.expr);
      expect(exprs, title).toHaveLength(1);
      expect(exprs[0], title).toContain(`${metric}{target="$target"}`);
      expect(metricProblems(interpolate(exprs[0]!)), title).toEqual([]);
      // Tables: one instant table query, one row per series, the label values as columns.
      if (type === 'table') {
        const json = panel as unknown as { targets: Array<{ format?: string; instant?: boolean }>; transformations: Array<{ id: string; options: Record<string, unknown> }> };
        expect(json.targets[0]).toMatchObject({ format: 'table', instant: true });
        expect(exprs[0], title).toContain(`max by (${columns.join(', ')})`);
        const organize = json.transformations.find((tr) => tr.id === 'organize');
        expect(Object.keys(organize?.options.indexByName as object), title).toEqual([...columns]);
        expect(organize?.options.excludeByName, title).toMatchObject({ Time: true, Value: true });
      }
    }
    // Beside the counts they detail, not on a row of their own further down.
    const top = (title: string) => (panels.find((p) => p.title === title) as unknown as { gridPos: { y: number } }).gridPos.y;
    for (const title of ['Open PR list', 'Ready queue', 'Breaker cooldown ends']) expect(top(title), title).toBeLessThan(top('History'));
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

    /**
     * What one replica exports for a target: its status series and the facts the dashboards split
     * `blocked` by (breaker open, at the PR limit).
     */
    const target = (
      name: string,
      facts: TargetFacts | TargetStatus,
      instance = '10.0.0.1:8001',
    ): Array<{ series: string; values: string }> => {
      const f = typeof facts === 'string' ? { status: facts, breaker_open: false, at_max_prs: false } : facts;
      const labels = `job="leviathan-spider", instance="${instance}", target="${name}"`;
      return [
        ...TARGET_STATUSES.map((s) => ({
          series: `leviathan_target_status{${labels}, status="${s}"}`,
          values: s === f.status ? '1x10' : '0x10',
        })),
        { series: `leviathan_circuit_breaker_open{${labels}}`, values: f.breaker_open ? '1x10' : '0x10' },
        { series: `leviathan_target_open_prs{${labels}}`, values: f.at_max_prs ? '2x10' : '1x10' },
        { series: `leviathan_target_max_prs{${labels}}`, values: '2x10' },
      ];
    };
    const controlPlane = (up: 0 | 1) => [
      { series: 'up{job="leviathan-control-plane", instance="10.0.0.1:8000"}', values: `${up}x10` },
    ];

    interface Case {
      name: string;
      expr: string;
      series: Array<{ series: string; values: string }>;
      /** The one sample expected (labelled `labels`, `{}` by default), or null for no sample at all. */
      value: number | null;
      labels?: string;
      /** Several samples expected instead (a table's rows); overrides `value`. */
      samples?: Array<{ labels: string; value: number }>;
    }

    /** Evaluates every case at 5m in one promtool run; the output names each failing case. */
    function expectValues(cases: Case[]) {
      const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
      const test = {
        rule_files: [],
        evaluation_interval: '1m',
        tests: cases.map((c) => ({
          name: c.name,
          interval: '1m',
          input_series: c.series,
          promql_expr_test: [
            {
              expr: c.expr,
              eval_time: '5m',
              exp_samples: c.samples ?? (c.value === null ? [] : [{ labels: c.labels ?? '{}', value: c.value }]),
            },
          ],
        })),
      };
      writeFileSync(file, YAML.stringify(test));
      const { status: code, output } = promtool('test', 'rules', file);
      expect(code, output.slice(0, 4000)).toBe(0);
    }
    const expectValue = (expr: string, series: Case['series'], value: number | null) =>
      expectValues([{ name: 'case', expr, series, value }]);

    /** The number the Status panels show for a verdict (their value mappings turn it into the label). */
    const weight = (label: string) => {
      const index = VERDICTS.findIndex((v) => v.label === label);
      if (index < 0) throw new Error(`no verdict ${label}`);
      return VERDICTS.length - index;
    };
    const UNREACHABLE = VERDICTS.length + 1;
    const facts = allTargetFacts(TARGET_STATUSES);
    const show = (f: TargetFacts) => `${f.status}${f.breaker_open ? '+breaker' : ''}${f.at_max_prs ? '+max_prs' : ''}`;
    const lineOf = (fs: TargetFacts[]) => {
      const c = { active: 0, blocked: 0, paused: 0, error: 0 };
      for (const f of fs) c[TARGETS_LINE[targetKind(f)]]++;
      return c;
    };

    it('the Status panels map each weight to the console label of its verdict', () => {
      for (const [dashboard, panel] of [
        ['systemOverview', 'Status'],
        ['targetDetail', 'Target Status'],
        ['targetDetail', 'Status Timeline'],
        ['systemOverview', 'Target Status Timeline'],
      ] as const) {
        const title = load(DASHBOARDS[dashboard].path).title;
        const json = allPanels(load(DASHBOARDS[dashboard].path).panels).find((p) => p.title === panel) as unknown as {
          fieldConfig: { defaults: { mappings: Array<{ options: Record<string, { text: string }> }> } };
        };
        const texts = json.fieldConfig.defaults.mappings[0]!.options;
        for (const v of VERDICTS) expect(texts[String(weight(v.label))]?.text, `${title} / ${panel}`).toBe(v.label);
      }
    });

    // Given one target with any combination of facts, when Grafana evaluates the Target Detail
    // status and the overview's Targets line, then it shows what the console shows for it.
    it('Target Detail status and the Targets line agree with the console for every combination of facts', () => {
      const status = find('targetDetail', 'Target Status');
      const timeline = find('systemOverview', 'Target Status Timeline');
      const line = ['A', 'B', 'C', 'D'].map((refId) => find('systemOverview', 'Targets', refId));
      expectValues(
        facts.flatMap((f) => {
          const label = VERDICTS.find((v) => v.kind === targetKind(f))!.label;
          const series = target('acme/widgets', f);
          const c = lineOf([f]);
          return [
            { name: `${show(f)}: status`, expr: status, series, value: weight(label) },
            { name: `${show(f)}: timeline`, expr: timeline, series, value: weight(label), labels: '{target="acme/widgets"}' },
            { name: `${show(f)}: active`, expr: line[0]!, series, value: c.active },
            { name: `${show(f)}: blocked`, expr: line[1]!, series, value: c.blocked },
            { name: `${show(f)}: paused`, expr: line[2]!, series, value: c.paused || null },
            { name: `${show(f)}: error`, expr: line[3]!, series, value: c.error || null },
          ];
        }),
      );
    });

    // Given two targets with any combinations of facts, when Grafana evaluates the overview's
    // Status, then it is the console's verdict: the first of VERDICTS that either target has.
    it('System Overview status is the console verdict for every pair of targets', () => {
      const expr = find('systemOverview', 'Status');
      // Unordered pairs: the query treats the two targets alike.
      expectValues(
        facts.flatMap((a, i) =>
          facts.slice(i).map((b) => {
            const verdict = VERDICTS.find((v) => v.kind === targetKind(a) || v.kind === targetKind(b))!;
            return {
              name: `${show(a)} & ${show(b)}`,
              expr,
              series: [...controlPlane(1), ...target('acme/widgets', a), ...target('acme/gadgets', b)],
              value: weight(verdict.label),
            };
          }),
        ),
      );
    });

    // The operator document's four states, one target each, and a paused one.
    it.each([
      ['Healthy', { status: 'active', breaker_open: false, at_max_prs: false }, 'Healthy ✓', 1, 0],
      ['Idle', { status: 'idle', breaker_open: false, at_max_prs: false }, 'Idle', 1, 0],
      ['Blocked (Max PRs)', { status: 'blocked', breaker_open: false, at_max_prs: true }, 'Blocked (Max PRs) ⚠', 1, 0],
      ['Blocked (Circuit Breaker)', { status: 'blocked', breaker_open: true, at_max_prs: false }, 'Blocked (Circuit Breaker) ⚠', 0, 1],
      ['Paused', { status: 'paused', breaker_open: false, at_max_prs: false }, 'Paused', 0, 0],
    ] as const)('the document’s %s view: Status and Targets line', (_name, f, label, active, blocked) => {
      const series = [...controlPlane(1), ...target('acme/widgets', f)];
      expectValues([
        { name: 'status', expr: find('systemOverview', 'Status'), series, value: weight(label) },
        { name: 'active', expr: find('systemOverview', 'Targets', 'A'), series, value: active },
        { name: 'blocked', expr: find('systemOverview', 'Targets', 'B'), series, value: blocked },
        { name: 'paused', expr: find('systemOverview', 'Targets', 'C'), series, value: f.status === 'paused' ? 1 : null },
      ]);
    });

    it('System Overview status: one working target is Healthy, idle beats paused, unreachable when the control plane is down', () => {
      const expr = find('systemOverview', 'Status');
      const breaker = { status: 'blocked', breaker_open: true, at_max_prs: false } as const;
      expectValue(expr, [...controlPlane(1), ...target('acme/widgets', 'active'), ...target('acme/gadgets', breaker)], weight('Healthy ✓'));
      expectValue(expr, [...controlPlane(1), ...target('acme/widgets', 'idle'), ...target('acme/gadgets', 'paused')], weight('Idle'));
      expectValue(expr, [...controlPlane(1), ...target('acme/widgets', 'active'), ...target('acme/gadgets', 'error')], weight('Error ✗'));
      expectValue(expr, [...controlPlane(0), ...target('acme/widgets', 'active')], UNREACHABLE);
      expectValue(expr, controlPlane(1), 0);
    });

    it('Target Detail status is the selected target only, once across replicas', () => {
      const expr = find('targetDetail', 'Target Status');
      const maxPrs = { status: 'blocked', breaker_open: false, at_max_prs: true } as const;
      expectValue(
        expr,
        [...target('acme/widgets', maxPrs), ...target('acme/widgets', maxPrs, '10.0.0.2:8001'), ...target('acme/gadgets', 'error')],
        weight('Blocked (Max PRs) ⚠'),
      );
    });

    it('Targets counts each target once across replicas, and names paused and error only when there are some', () => {
      // The panel's variable selects acme/widgets and acme/gadgets (see interpolate).
      const series = [
        ...target('acme/widgets', 'paused'),
        ...target('acme/gadgets', { status: 'blocked', breaker_open: true, at_max_prs: false }),
        ...target('acme/gadgets', { status: 'blocked', breaker_open: true, at_max_prs: false }, '10.0.0.2:8001'),
        ...target('acme/website', 'active'),
      ];
      expectValue(find('systemOverview', 'Targets', 'A'), series, 0);
      expectValue(find('systemOverview', 'Targets', 'B'), series, 1);
      expectValue(find('systemOverview', 'Targets', 'C'), series, 1);
      expectValue(find('systemOverview', 'Targets', 'D'), series, null);
    });

    it('Open PR list, Ready queue and Breaker cooldown ends show the selected target once across replicas', () => {
      const info = (metric: string, labels: string, instance = '10.0.0.1:8001') => ({
        series: `${metric}{job="leviathan-spider", instance="${instance}", ${labels}}`,
        values: '1x10',
      });
      const pr = (target: string, number: number, task: string, instance?: string) =>
        info('leviathan_target_open_pr_info', `target="${target}", number="${number}", task_id="${task}"`, instance);
      const queued = (target: string, position: number, task: string, instance?: string) =>
        info('leviathan_target_ready_task_info', `target="${target}", task_id="${task}", position="${position}"`, instance);
      const cooldown = (target: string, until: number, instance = '10.0.0.1:8001') => ({
        series: `leviathan_circuit_breaker_cooldown_until_timestamp_seconds{job="leviathan-spider", instance="${instance}", target="${target}"}`,
        values: `${until}x10`,
      });
      const prs = [pr('acme/widgets', 7, 'a'), pr('acme/widgets', 7, 'a', '10.0.0.2:8001'), pr('acme/widgets', 12, ''), pr('acme/gadgets', 3, 'x')];
      const queue = [queued('acme/widgets', 1, 'h1'), queued('acme/widgets', 2, 'm1'), queued('acme/widgets', 1, 'h1', '10.0.0.2:8001'), queued('acme/gadgets', 1, 'z')];
      expectValues([
        {
          name: 'open PRs',
          expr: find('targetDetail', 'Open PR list'),
          series: prs,
          value: null,
          samples: [
            { labels: '{number="7", task_id="a"}', value: 1 },
            // An empty label is no label to Prometheus: the Task cell is empty and shows "(unknown)".
            { labels: '{number="12"}', value: 1 },
          ],
        },
        { name: 'no open PRs', expr: find('targetDetail', 'Open PR list'), series: [pr('acme/gadgets', 3, 'x')], value: null },
        {
          name: 'ready queue',
          expr: find('targetDetail', 'Ready queue'),
          series: queue,
          value: null,
          samples: [
            { labels: '{position="1", task_id="h1"}', value: 1 },
            { labels: '{position="2", task_id="m1"}', value: 1 },
          ],
        },
        {
          name: 'cooldown (ms, for the dateTimeFromNow unit)',
          expr: find('targetDetail', 'Breaker cooldown ends'),
          series: [cooldown('acme/widgets', 1_795_000_000), cooldown('acme/widgets', 1_795_000_000, '10.0.0.2:8001'), cooldown('acme/gadgets', 1)],
          value: 1_795_000_000_000,
        },
        // Breaker closed: no series, so the stat shows its "Breaker closed" text.
        { name: 'breaker closed', expr: find('targetDetail', 'Breaker cooldown ends'), series: [cooldown('acme/gadgets', 1)], value: null },
      ]);
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
