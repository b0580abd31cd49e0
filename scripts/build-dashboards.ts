/**
 * Generates the monitoring artefacts that must not be edited by hand:
 *
 * - `k8s/monitoring/dashboards/system-overview.json` and `target-detail.json`, built with the
 *   Grafana Foundation SDK so panel JSON stays valid across Grafana versions;
 * - `k8s/monitoring/prometheusrule.yaml`, the PrometheusRule wrapping the groups of
 *   `k8s/monitoring/rules/leviathan-rules.yaml` (the single source of the alerts).
 *
 * Run with `npm run build:dashboards`; `test/monitoring/dashboards.test.ts` fails when the files
 * on disk differ from what this script produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  FieldColorBuilder,
  FieldColorModeId,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  SpecialValueMatch,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type DynamicConfigValue,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeSeriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import YAML from 'yaml';
import { OPEN_PR_INFO_LIMIT, READY_QUEUE_HEAD, SCRAPE_JOBS, TARGET_STATUSES } from '../src/metrics/metric-names.ts';
import {
  allTargetFacts,
  targetKind,
  TARGETS_LINE,
  VERDICTS,
  type TargetFacts,
  type TargetKind,
  type TargetsLineBucket,
} from '../src/projections/dashboard-summary.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where each generated file lives, relative to the repository root. */
export const OUTPUT_PATHS = {
  systemOverview: 'k8s/monitoring/dashboards/system-overview.json',
  targetDetail: 'k8s/monitoring/dashboards/target-detail.json',
  prometheusRule: 'k8s/monitoring/prometheusrule.yaml',
} as const;

/** The alert rules file the PrometheusRule is generated from. */
export const RULES_PATH = 'k8s/monitoring/rules/leviathan-rules.yaml';

/** Stable dashboard uids: links, bookmarks and alert annotations point at these. */
export const DASHBOARD_UIDS = {
  systemOverview: 'leviathan-system-overview',
  targetDetail: 'leviathan-target-detail',
} as const;

// Every panel and query goes through the datasource variable, so the dashboards work with any
// Prometheus datasource name (the kube-prometheus default is "prometheus", Grafana Cloud's not).
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const CONTROL_PLANE_UP = `up{job="${SCRAPE_JOBS.controlPlane.job}"}`;

/**
 * The console's `Status:` verdict as one number per target, so a stat or state timeline can show
 * it with value mappings: the weight of a target's kind (dashboard-summary.ts) is higher the
 * earlier the kind comes in VERDICTS, so `max` over several targets picks the verdict the console
 * shows for them. The colours are Grafana's own.
 */
const VERDICT_COLORS: Record<TargetKind, string> = {
  error: 'red',
  active: 'green',
  blocked_circuit_breaker: 'dark-orange',
  blocked_max_prs: 'orange',
  blocked_other: 'orange',
  idle: 'blue',
  paused: 'purple',
};
const STATUS_WEIGHTS = VERDICTS.map(({ kind, label }, index) => ({
  kind,
  weight: VERDICTS.length - index,
  text: label,
  color: VERDICT_COLORS[kind],
}));
const CONTROL_PLANE_DOWN_WEIGHT = VERDICTS.length + 1;

/**
 * PromQL for "this target's facts satisfy `holds`": one 0/1 series per target (labelled only by
 * `target`, once across replicas), compiled from the facts the metrics carry. Each status whose
 * series can be 1 contributes its series, multiplied by the breaker and PR-limit conditions it
 * needs; a status that satisfies `holds` whatever they are contributes its series alone.
 */
function factsQuery(selector: string, holds: (f: TargetFacts) => boolean): string {
  const statusIs = (status: string) => `max by (target) (leviathan_target_status{${selector}, status="${status}"})`;
  const breaker = `max by (target) (leviathan_circuit_breaker_open{${selector}})`;
  const atMax = `(max by (target) (leviathan_target_open_prs{${selector}}) >= bool max by (target) (leviathan_target_max_prs{${selector}}))`;
  const condition = (value: boolean, expr: string) => (value ? expr : `(1 - ${expr})`);
  const terms: string[] = [];
  for (const status of TARGET_STATUSES) {
    const matching = allTargetFacts([status]).filter(holds);
    if (matching.length === 4) {
      terms.push(statusIs(status));
      continue;
    }
    // The smallest product per matching combination: drop a condition that holds either way.
    const remaining = [...matching];
    while (remaining.length > 0) {
      const f = remaining[0]!;
      const sameBreaker = remaining.filter((g) => g.breaker_open === f.breaker_open);
      const sameAtMax = remaining.filter((g) => g.at_max_prs === f.at_max_prs);
      let covered: TargetFacts[];
      let factors: string[];
      if (sameBreaker.length === 2) {
        covered = sameBreaker;
        factors = [condition(f.breaker_open, breaker)];
      } else if (sameAtMax.length === 2) {
        covered = sameAtMax;
        factors = [condition(f.at_max_prs, atMax)];
      } else {
        covered = [f];
        factors = [condition(f.breaker_open, breaker), condition(f.at_max_prs, atMax)];
      }
      terms.push([statusIs(status), ...factors].join(' * '));
      for (const g of covered) remaining.splice(remaining.indexOf(g), 1);
    }
  }
  if (terms.length === 0) throw new Error('factsQuery: no combination of facts satisfies the predicate');
  return terms.join('\n  + ');
}

/**
 * The verdict weight of each target (labelled by `target`), or with `system` the weight of the
 * whole selection, i.e. the verdict of the console's Status line.
 */
function statusScore(selector: string, opts: { system: boolean }): string {
  // A target has one kind, so the weighted sum over kinds is that kind's weight.
  const arms = STATUS_WEIGHTS.map(({ kind, weight }) => {
    const q = factsQuery(selector, (f) => targetKind(f) === kind);
    return `${weight} * (\n  ${q}\n)`;
  });
  const perTarget = arms.join('\n+\n');
  return opts.system ? `max (\n${perTarget}\n)` : perTarget;
}

function statusMappings(extra: ValueMapping[] = []): ValueMapping[] {
  const options: Record<string, { text: string; color: string; index: number }> = {};
  STATUS_WEIGHTS.forEach(({ weight, text, color }, index) => {
    options[String(weight)] = { text, color, index };
  });
  return [{ type: MappingType.ValueToText, options }, ...extra];
}

function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

function targetVariable(opts: { multi: boolean }): QueryVariableBuilder {
  const query = 'label_values(leviathan_target_status, target)';
  const variable = new QueryVariableBuilder('target')
    .label('Target')
    .description('Target repository (owner/repo)')
    .datasource(DATASOURCE)
    .query({ query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalCaseInsensitiveAsc)
    .multi(opts.multi)
    .includeAll(opts.multi);
  // `.*` instead of Grafana's default enumerated list keeps queries short with many targets
  // and includes targets registered after the dashboard loaded.
  return opts.multi ? variable.allValue('.*') : variable;
}

function query(refId: string, expr: string, legend = '__auto'): DataqueryBuilder {
  return new DataqueryBuilder().datasource(DATASOURCE).refId(refId).expr(expr).legendFormat(legend);
}

function instantQuery(refId: string, expr: string, legend = '__auto'): DataqueryBuilder {
  return query(refId, expr, legend).instant();
}

function thresholds(steps: Array<[number | null, string]>): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

function fixedColor(color: string): FieldColorBuilder {
  return new FieldColorBuilder().mode(FieldColorModeId.Fixed).fixedColor(color);
}

function lastValue(): common.ReduceDataOptionsBuilder {
  return new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
}

function stat(
  title: string,
  description: string,
  pos: { x: number; y: number; w: number; h: number },
): StatPanelBuilder {
  return new StatPanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .gridPos(pos)
    .reduceOptions(lastValue())
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Background)
    .textMode(common.BigValueTextMode.Auto);
}

function timeseries(
  title: string,
  description: string,
  pos: { x: number; y: number; w: number; h: number },
): TimeSeriesPanelBuilder {
  return new TimeSeriesPanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .gridPos(pos)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom)
        .calcs([]),
    );
}

function bars(panel: TimeSeriesPanelBuilder): TimeSeriesPanelBuilder {
  return panel
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .min(0);
}

/**
 * A table of one `*_info` metric's label values, one row per series: `labels` are the columns in
 * order, `sortBy` the numeric label the rows are sorted by. The query takes `max by (labels)`, so
 * replicas exporting the same series make one row and `job`/`instance` do not become columns.
 */
function infoTable(
  title: string,
  description: string,
  pos: { x: number; y: number; w: number; h: number },
  metric: string,
  selector: string,
  columns: Array<{ label: string; header: string; numeric?: boolean; properties?: DynamicConfigValue[] }>,
): TablePanelBuilder {
  const labels = columns.map((c) => c.label);
  const panel = new TablePanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .gridPos(pos)
    .withTarget(
      instantQuery('A', `max by (${labels.join(', ')}) (${metric}{${selector}})`, '__auto').format(PromQueryFormat.Table),
    )
    .withTransformation({
      id: 'convertFieldType',
      options: {
        fields: {},
        conversions: columns.filter((c) => c.numeric).map((c) => ({ targetField: c.label, destinationType: 'number' })),
      },
    })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true, Value: true },
        indexByName: Object.fromEntries(labels.map((label, i) => [label, i])),
        renameByName: {},
      },
    })
    .withTransformation({
      id: 'sortBy',
      options: { fields: {}, sort: [{ field: columns.find((c) => c.numeric)!.label, desc: false }] },
    })
    .showHeader(true)
    .cellHeight(common.TableCellHeight.Sm);
  for (const c of columns) panel.overrideByName(c.label, [{ id: 'displayName', value: c.header }, ...(c.properties ?? [])]);
  return panel;
}

function colorOverride(color: string): DynamicConfigValue[] {
  return [{ id: 'color', value: { mode: FieldColorModeId.Fixed, fixedColor: color } }];
}

/** Dropdown of every dashboard tagged `leviathan`, carrying the target and time range along. */
function leviathanLinks(): DashboardLinkBuilder {
  return new DashboardLinkBuilder('Leviathan')
    .type(DashboardLinkType.Dashboards)
    .tags(['leviathan'])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true)
    .targetBlank(false)
    .icon('external link')
    .tooltip('')
    .url('');
}

/**
 * System Overview: the console's dashboard view for the whole installation (operator document,
 * "Grafana Dashboards"). The target variable is multi-select with All by default.
 */
export function buildSystemOverview(): Dashboard {
  const t = 'target=~"$target"';
  const byTarget = (metric: string) => `sum(max by (target) (${metric}{${t}}))`;
  // The console's `Targets:` line (TARGETS_LINE); paused and error only when there are some.
  const lineCount = (bucket: TargetsLineBucket) =>
    `sum(\n  ${factsQuery(t, (f) => TARGETS_LINE[targetKind(f)] === bucket)}\n)${bucket === 'paused' || bucket === 'error' ? ' > 0' : ''}`;

  const dashboard = new DashboardBuilder('Leviathan / System Overview')
    .uid(DASHBOARD_UIDS.systemOverview)
    .description('Is Leviathan healthy, idle, blocked or failing, and why. See the Target Detail dashboard per target.')
    .tags(['leviathan', 'generated'])
    .editable()
    .timezone('browser')
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .withVariable(datasourceVariable())
    .withVariable(targetVariable({ multi: true }))
    .link(leviathanLinks())
    .withPanel(
      stat(
        'Status',
        'The console\'s Status line for the selected targets, the first that applies: Error (any target in error), Healthy (any target executing or ready to), Blocked (Circuit Breaker), Blocked (Max PRs), Blocked (another guardrail), Idle (no ready tasks), Paused (all targets paused). "Control plane unreachable" when its scrape fails.',
        { x: 0, y: 0, w: 6, h: 5 },
      )
        .withTarget(
          instantQuery(
            'A',
            `(\n${statusScore(t, { system: true })}\n  and on() (max(${CONTROL_PLANE_UP}) == 1)\n)\nor on()\n(${CONTROL_PLANE_DOWN_WEIGHT} * (1 - max(${CONTROL_PLANE_UP})))`,
            'status',
          ),
        )
        .mappings(
          statusMappings([
            {
              type: MappingType.ValueToText,
              options: {
                '0': { text: 'No targets', color: 'text', index: 0 },
                [String(CONTROL_PLANE_DOWN_WEIGHT)]: { text: 'Control plane unreachable', color: 'dark-red', index: 1 },
              },
            },
            {
              type: MappingType.SpecialValue,
              options: { match: SpecialValueMatch.Null, result: { text: 'No data', color: 'text', index: 2 } },
            },
          ]),
        )
        .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
        .thresholds(thresholds([[null, 'text']])),
    )
    .withPanel(
      stat(
        'Targets',
        'The console\'s Targets line. Active: not halted (executing, idle, or waiting on a guardrail that clears by itself, such as max open PRs). Blocked: halted by the circuit breaker. Paused and error are shown when there are some.',
        { x: 6, y: 0, w: 6, h: 5 },
      )
        .withTarget(instantQuery('A', lineCount('active'), 'active'))
        .withTarget(instantQuery('B', lineCount('blocked'), 'blocked'))
        .withTarget(instantQuery('C', lineCount('paused'), 'paused'))
        .withTarget(instantQuery('D', lineCount('error'), 'error'))
        .colorMode(common.BigValueColorMode.Value)
        .textMode(common.BigValueTextMode.ValueAndName)
        .colorScheme(fixedColor('green'))
        .overrideByName('blocked', colorOverride('dark-orange'))
        .overrideByName('paused', colorOverride('purple'))
        .overrideByName('error', colorOverride('red')),
    )
    .withPanel(
      stat(
        'Open PRs',
        'Open Leviathan pull requests against the sum of the per-target limits (max_open_prs). At the limit, a target is blocked until PRs are merged or closed.',
        { x: 12, y: 0, w: 6, h: 5 },
      )
        .withTarget(instantQuery('A', byTarget('leviathan_target_open_prs'), 'open'))
        .withTarget(instantQuery('B', byTarget('leviathan_target_max_prs'), 'max'))
        .colorMode(common.BigValueColorMode.Value)
        .textMode(common.BigValueTextMode.ValueAndName)
        .colorScheme(fixedColor('blue'))
        .overrideByName('max', colorOverride('text')),
    )
    .withPanel(
      stat(
        'Ready Tasks',
        'Backlog tasks marked ready: true. Zero means the system will be idle; add tasks with ready: true to resume.',
        { x: 18, y: 0, w: 6, h: 5 },
      )
        .withTarget(instantQuery('A', byTarget('leviathan_target_ready_tasks'), 'ready'))
        .colorMode(common.BigValueColorMode.Value)
        .colorScheme(fixedColor('blue')),
    )
    .withPanel(
      stat(
        'Last Scheduler Cycle',
        'Time since the last completed scheduler cycle. It runs every 5 minutes; above 15 minutes SchedulerNotRunning fires.',
        { x: 0, y: 5, w: 6, h: 4 },
      )
        .withTarget(
          instantQuery('A', 'time() - max(leviathan_scheduler_last_cycle_timestamp_seconds)', 'since last cycle'),
        )
        .unit('s')
        .thresholds(
          thresholds([
            [null, 'green'],
            [600, 'orange'],
            [900, 'red'],
          ]),
        ),
    )
    .withPanel(
      stat(
        'Autonomy',
        'Whether autonomy is enabled (leviathan-autonomy-config). Disabled: cycles run but no tasks are executed.',
        { x: 6, y: 5, w: 6, h: 4 },
      )
        .withTarget(instantQuery('A', 'max(leviathan_autonomy_enabled)', 'autonomy'))
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              '0': { text: 'Disabled', color: 'orange', index: 0 },
              '1': { text: 'Enabled', color: 'green', index: 1 },
            },
          },
        ]),
    )
    .withPanel(
      stat(
        'Circuit Breakers Open',
        'Targets whose circuit breaker is open (execution halted after consecutive failures).',
        { x: 12, y: 5, w: 6, h: 4 },
      )
        .withTarget(instantQuery('A', byTarget('leviathan_circuit_breaker_open'), 'open'))
        .thresholds(
          thresholds([
            [null, 'green'],
            [1, 'red'],
          ]),
        ),
    )
    .withPanel(
      stat('GitHub Rate Limit', 'GitHub API requests left in the current window, as a share of the limit.', {
        x: 18,
        y: 5,
        w: 6,
        h: 4,
      })
        .withTarget(
          instantQuery(
            'A',
            'min(leviathan_github_rate_limit_remaining) / max(leviathan_github_rate_limit_limit)',
            'remaining',
          ),
        )
        .unit('percentunit')
        .min(0)
        .max(1)
        .thresholds(
          thresholds([
            [null, 'red'],
            [0.25, 'orange'],
            [0.5, 'green'],
          ]),
        ),
    )
    .withRow(new RowBuilder('Activity').gridPos({ x: 0, y: 9, w: 24, h: 1 }))
    .withPanel(
      new StateTimelinePanelBuilder()
        .title('Target Status Timeline')
        .description('Status of each selected target over time.')
        .datasource(DATASOURCE)
        .gridPos({ x: 0, y: 10, w: 24, h: 6 })
        .withTarget(query('A', statusScore(t, { system: false }), '{{target}}'))
        .mappings(statusMappings())
        .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
        .thresholds(thresholds([[null, 'text']]))
        .showValue(common.VisibilityMode.Never)
        .mergeValues(true),
    )
    .withPanel(
      bars(
        timeseries(
          'Recent Activity',
          'Events appended to the event log, by type (all targets: the event counter has no target label).',
          { x: 0, y: 16, w: 12, h: 8 },
        ),
      ).withTarget(
        query('A', 'sum by (type) (increase(leviathan_events_received_total[$__rate_interval]))', '{{type}}'),
      ),
    )
    .withPanel(
      timeseries('Success Rate', 'Share of attempts that succeeded over the trailing hour.', {
        x: 12,
        y: 16,
        w: 12,
        h: 8,
      })
        .withTarget(
          query(
            'A',
            `sum(increase(leviathan_attempts_total{${t}, status="success"}[1h]))\n/\nsum(increase(leviathan_attempts_total{${t}}[1h]))`,
            'success rate',
          ),
        )
        .unit('percentunit')
        .min(0)
        .max(1)
        .colorScheme(fixedColor('green')),
    )
    .withPanel(
      bars(
        timeseries('Pull Requests', 'Pull requests created, merged and closed without merging.', {
          x: 0,
          y: 24,
          w: 12,
          h: 8,
        }),
      )
        .withTarget(query('A', `sum(increase(leviathan_prs_created_total{${t}}[$__rate_interval]))`, 'created'))
        .withTarget(query('B', `sum(increase(leviathan_prs_merged_total{${t}}[$__rate_interval]))`, 'merged'))
        .withTarget(query('C', `sum(increase(leviathan_prs_closed_total{${t}}[$__rate_interval]))`, 'closed'))
        .overrideByName('created', colorOverride('blue'))
        .overrideByName('merged', colorOverride('green'))
        .overrideByName('closed', colorOverride('orange')),
    )
    .withPanel(
      bars(
        timeseries(
          'Scheduler Skips by Reason',
          'Why targets did not execute, by reason code (max_open_prs, no_ready_tasks, …).',
          { x: 12, y: 24, w: 12, h: 8 },
        ),
      ).withTarget(
        query('A', `sum by (reason) (increase(leviathan_scheduler_skips_total{${t}}[$__rate_interval]))`, '{{reason}}'),
      ),
    )
    .build();
  return withPanelIds(dashboard);
}

/**
 * Target Detail: one repository, chosen with the single-select `target` variable (operator
 * document, "Dashboard: Target Detail").
 */
export function buildTargetDetail(): Dashboard {
  const t = 'target="$target"';
  const one = (metric: string) => `max(${metric}{${t}})`;

  const dashboard = new DashboardBuilder('Leviathan / Target Detail')
    .uid(DASHBOARD_UIDS.targetDetail)
    .description('One target: status, pull requests, backlog, attempts and circuit breaker.')
    .tags(['leviathan', 'generated'])
    .editable()
    .timezone('browser')
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .withVariable(datasourceVariable())
    .withVariable(targetVariable({ multi: false }))
    .link(leviathanLinks())
    .withPanel(
      stat(
        'Target Status',
        'Current status, in the console\'s words: Healthy (active), Idle, Paused, Blocked (Circuit Breaker), Blocked (Max PRs), Blocked (another guardrail) or Error. Run `leviathan ctl diagnose $target` for the reason and the fix.',
        { x: 0, y: 0, w: 5, h: 5 },
      )
        .withTarget(instantQuery('A', statusScore(t, { system: true }), 'status'))
        .mappings(
          statusMappings([
            {
              type: MappingType.SpecialValue,
              options: { match: SpecialValueMatch.Null, result: { text: 'Unknown target', color: 'text', index: 0 } },
            },
          ]),
        )
        .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
        .thresholds(thresholds([[null, 'text']])),
    )
    .withPanel(
      stat(
        'Open PRs',
        'Open Leviathan pull requests and the limit. They are listed in Open PR list below.',
        { x: 5, y: 0, w: 5, h: 5 },
      )
        .withTarget(instantQuery('A', one('leviathan_target_open_prs'), 'open'))
        .withTarget(instantQuery('B', one('leviathan_target_max_prs'), 'max'))
        .colorMode(common.BigValueColorMode.Value)
        .textMode(common.BigValueTextMode.ValueAndName)
        .colorScheme(fixedColor('blue'))
        .overrideByName('max', colorOverride('text')),
    )
    .withPanel(
      stat(
        'Ready Tasks',
        'Backlog tasks marked ready: true that are still to run (not done, running, in review or out of attempts), including those waiting on dependencies. The next to run are in Ready queue below; the whole queue is in the console.',
        { x: 10, y: 0, w: 5, h: 5 },
      )
        .withTarget(query('A', one('leviathan_target_ready_tasks'), 'ready'))
        .graphMode(common.BigValueGraphMode.Area)
        .colorMode(common.BigValueColorMode.Value)
        .colorScheme(fixedColor('blue')),
    )
    .withPanel(
      stat(
        'Circuit Breaker Status',
        'Open halts execution after consecutive failures until the cooldown ends (Breaker cooldown ends, beside).',
        { x: 15, y: 0, w: 5, h: 5 },
      )
        .withTarget(instantQuery('A', one('leviathan_circuit_breaker_open'), 'circuit breaker'))
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              '0': { text: 'Closed', color: 'green', index: 0 },
              '1': { text: 'Open', color: 'red', index: 1 },
            },
          },
        ]),
    )
    .withRow(new RowBuilder('History').gridPos({ x: 0, y: 12, w: 24, h: 1 }))
    .withPanel(
      new StateTimelinePanelBuilder()
        .title('Status Timeline')
        .description('Target status over time.')
        .datasource(DATASOURCE)
        .gridPos({ x: 0, y: 13, w: 24, h: 4 })
        .withTarget(query('A', statusScore(t, { system: true }), 'status'))
        .mappings(statusMappings())
        .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
        .thresholds(thresholds([[null, 'text']]))
        .showValue(common.VisibilityMode.Never)
        .mergeValues(true),
    )
    .withPanel(
      bars(timeseries('Attempt History', 'Finished attempts, succeeded and failed.', { x: 0, y: 17, w: 12, h: 8 }))
        .withTarget(
          query('A', `sum by (status) (increase(leviathan_attempts_total{${t}}[$__rate_interval]))`, '{{status}}'),
        )
        .overrideByName('success', colorOverride('green'))
        .overrideByName('failure', colorOverride('red')),
    )
    .withPanel(
      bars(
        timeseries('Failures by Type', 'Failed attempts by failure_type (timeout, path_violation, auth_error, …).', {
          x: 12,
          y: 17,
          w: 12,
          h: 8,
        }),
      ).withTarget(
        query(
          'A',
          `sum by (failure_type) (increase(leviathan_attempt_failures_total{${t}}[$__rate_interval]))`,
          '{{failure_type}}',
        ),
      ),
    )
    .withPanel(
      timeseries('PR Creation Rate', 'Pull requests per hour: created, merged, closed without merging.', {
        x: 0,
        y: 25,
        w: 12,
        h: 8,
      })
        .withTarget(query('A', `sum(increase(leviathan_prs_created_total{${t}}[1h]))`, 'created / h'))
        .withTarget(query('B', `sum(increase(leviathan_prs_merged_total{${t}}[1h]))`, 'merged / h'))
        .withTarget(query('C', `sum(increase(leviathan_prs_closed_total{${t}}[1h]))`, 'closed / h'))
        .min(0)
        .overrideByName('created / h', colorOverride('blue'))
        .overrideByName('merged / h', colorOverride('green'))
        .overrideByName('closed / h', colorOverride('orange')),
    )
    .withPanel(
      timeseries('Circuit Breaker', 'Breaker state (1 = open) and trips.', { x: 12, y: 25, w: 12, h: 8 })
        .withTarget(query('A', one('leviathan_circuit_breaker_open'), 'open'))
        .withTarget(query('B', `sum(increase(leviathan_circuit_breaker_trips_total{${t}}[$__rate_interval]))`, 'trips'))
        .min(0)
        .overrideByName('open', colorOverride('red'))
        .overrideByName('trips', colorOverride('orange')),
    )
    .withPanel(
      timeseries(
        'Attempt Duration',
        'Attempt duration quantiles. Attempts creeping toward the worker deadline (default 15 min) will start timing out.',
        { x: 0, y: 33, w: 12, h: 8 },
      )
        .withTarget(
          query(
            'A',
            `histogram_quantile(0.5, sum by (le) (rate(leviathan_attempt_duration_seconds_bucket{${t}}[$__rate_interval])))`,
            'p50',
          ),
        )
        .withTarget(
          query(
            'B',
            `histogram_quantile(0.95, sum by (le) (rate(leviathan_attempt_duration_seconds_bucket{${t}}[$__rate_interval])))`,
            'p95',
          ),
        )
        .unit('s')
        .min(0),
    )
    .withPanel(
      bars(
        timeseries('Scheduler Skips by Reason', 'Why the scheduler did not execute this target, by reason code.', {
          x: 12,
          y: 33,
          w: 12,
          h: 8,
        }),
      ).withTarget(
        query('A', `sum by (reason) (increase(leviathan_scheduler_skips_total{${t}}[$__rate_interval]))`, '{{reason}}'),
      ),
    )
    // Added after the panels above, so their ids (and shared viewPanel= links) stay as they were;
    // Grafana places panels by gridPos, not by their order in the file.
    .withPanel(
      infoTable(
        'Open PR list',
        `Open Leviathan pull requests, oldest first, with the task each resolves (at most ${OPEN_PR_INFO_LIMIT} listed; Open PRs has the count). Click a number to open the PR on GitHub.`,
        { x: 0, y: 5, w: 12, h: 7 },
        'leviathan_target_open_pr_info',
        t,
        [
          {
            label: 'number',
            header: 'PR',
            numeric: true,
            properties: [
              // :raw keeps the slash of owner/repo as it is in the URL.
              { id: 'links', value: [{ title: 'Open #${__value.raw} on GitHub', url: 'https://github.com/${target:raw}/pull/${__value.raw}', targetBlank: true }] },
            ],
          },
          {
            label: 'task_id',
            header: 'Task',
            properties: [
              {
                id: 'mappings',
                // task_id="" (no task known) is no label at all once in Prometheus: an empty cell.
                value: [SpecialValueMatch.Empty, SpecialValueMatch.Null].map((match, index) => ({
                  type: MappingType.SpecialValue,
                  options: { match, result: { text: '(unknown)', index } },
                })),
              },
            ],
          },
        ],
      ).noValue('No open PRs'),
    )
    .withPanel(
      infoTable(
        'Ready queue',
        `The next ${READY_QUEUE_HEAD} tasks the scheduler would select, in its order (priority, then backlog order). Tasks waiting on dependencies are counted in Ready Tasks but cannot be selected, so they are not here.`,
        { x: 12, y: 5, w: 12, h: 7 },
        'leviathan_target_ready_task_info',
        t,
        [
          { label: 'position', header: '#', numeric: true },
          { label: 'task_id', header: 'Task' },
        ],
      ).noValue('Nothing ready to run'),
    )
    .withPanel(
      stat(
        'Breaker cooldown ends',
        'When the open circuit breaker lets one attempt through again ("Breaker closed" when it is closed). Once the cause is fixed, leviathan ctl reset-breaker $target closes it earlier.',
        { x: 20, y: 0, w: 4, h: 5 },
      )
        .withTarget(instantQuery('A', `${one('leviathan_circuit_breaker_cooldown_until_timestamp_seconds')} * 1000`, 'cooldown ends'))
        // Grafana's date units take milliseconds.
        .unit('dateTimeFromNow')
        .noValue('Breaker closed')
        .colorMode(common.BigValueColorMode.Value)
        .colorScheme(fixedColor('orange')),
    )
    .build();
  return withPanelIds(dashboard);
}

/**
 * Numbers panels in the order they were added. Without ids Grafana assigns them on import, and
 * `viewPanel=` links shared during an incident would then point at different panels after a
 * re-import. New panels are added last, wherever they sit on the grid, so existing ids keep
 * their numbers.
 */
function withPanelIds(dashboard: Dashboard): Dashboard {
  (dashboard.panels ?? []).forEach((panel, index) => {
    panel.id = index + 1;
  });
  return dashboard;
}

const PROMETHEUS_RULE_HEADER = `# GENERATED by scripts/build-dashboards.ts from ${RULES_PATH}; do not edit.
# Run \`npm run build:dashboards\` after changing the rules file.
#
# The Prometheus Operator only loads PrometheusRules matched by the Prometheus resource's
# ruleSelector. The labels below match the common defaults:
#   - kube-prometheus (jsonnet):      prometheus: k8s, role: alert-rules
#   - kube-prometheus-stack (Helm):   release: <helm release name>, "kube-prometheus-stack" by
#     default; change it with \`kubectl -n leviathan label prometheusrule leviathan release=<name> --overwrite\`
#     or a kustomize patch, or set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false
#     in the chart's values so it selects every PrometheusRule.
# Check which labels your Prometheus selects:
#   kubectl get prometheus -A -o jsonpath='{.items[*].spec.ruleSelector}'
`;

/** The PrometheusRule manifest for the groups of the plain rules file. */
export function buildPrometheusRule(rulesYaml: string): string {
  const rules = YAML.parse(rulesYaml) as { groups: unknown[] };
  const resource = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'leviathan',
      namespace: 'leviathan',
      labels: {
        'app.kubernetes.io/name': 'leviathan',
        'app.kubernetes.io/component': 'monitoring',
        prometheus: 'k8s',
        role: 'alert-rules',
        release: 'kube-prometheus-stack',
      },
    },
    spec: { groups: rules.groups },
  };
  return PROMETHEUS_RULE_HEADER + YAML.stringify(resource, { lineWidth: 0 });
}

function dashboardJson(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

/** Every generated file: repository-relative path → content. */
export function renderOutputs(root = ROOT): Map<string, string> {
  return new Map([
    [OUTPUT_PATHS.systemOverview, dashboardJson(buildSystemOverview())],
    [OUTPUT_PATHS.targetDetail, dashboardJson(buildTargetDetail())],
    [OUTPUT_PATHS.prometheusRule, buildPrometheusRule(readFileSync(join(root, RULES_PATH), 'utf8'))],
  ]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [path, content] of renderOutputs()) {
    writeFileSync(join(ROOT, path), content);
    process.stdout.write(`wrote ${path}\n`);
  }
}
