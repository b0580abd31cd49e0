import {
  targetFacts,
  targetKind,
  targetsLineText,
  TARGETS_LINE,
  VERDICTS,
  type SystemStatus,
  type TargetKind,
  type TargetsLineCounts,
} from './dashboard-summary.ts';
import type { ProjectionState } from './state.ts';
import { targetViews, type TargetView } from './target-view.ts';

export type { SystemStatus } from './dashboard-summary.ts';

export interface SystemView {
  status: SystemStatus;
  /** The operator document's wording: `Healthy ✓`, `Idle`, `Blocked (Max PRs) ⚠`, … */
  label: string;
  headline: string;
  action: string | null;
  /** Targets by TargetView status. */
  targets: { total: number; active: number; idle: number; blocked: number; paused: number; error: number };
  /**
   * The dashboard's `Targets:` line (dashboard-summary.ts): `active` is every target not halted
   * (active, idle, or blocked by a guardrail that clears itself, such as max open PRs), `blocked`
   * those halted by their circuit breaker; `text` is the line as shown.
   */
  targets_line: TargetsLineCounts & { text: string };
  open_prs: { open: number; max: number };
  ready_tasks: number;
  last_execution_at: string | null;
  autonomy: ProjectionState['autonomy'];
  scheduler: ProjectionState['scheduler'];
  views: TargetView[];
}

/**
 * The dashboard's one-line verdict over all targets, and its `Targets:` line, by the rules of
 * dashboard-summary.ts (which the Grafana System Overview follows too).
 */
export function systemView(state: ProjectionState, now: Date): SystemView {
  const views = targetViews(state, now);
  const count = (s: TargetView['status']) => views.filter((v) => v.status === s).length;
  const targets = {
    total: views.length,
    active: count('active'),
    idle: count('idle'),
    blocked: count('blocked'),
    paused: count('paused'),
    error: count('error'),
  };
  const kinds = views.map((v) => ({ view: v, kind: targetKind(targetFacts(v)) }));
  const line: TargetsLineCounts = { active: 0, blocked: 0, paused: 0, error: 0 };
  for (const { kind } of kinds) line[TARGETS_LINE[kind]]++;
  const lastExecution = views.map((v) => v.last_execution_at).filter((x): x is string => !!x).sort().at(-1) ?? null;
  const base = {
    targets,
    targets_line: { ...line, text: targetsLineText(line) },
    open_prs: { open: sum(views.map((v) => v.open_prs.length)), max: sum(views.map((v) => v.max_open_prs)) },
    ready_tasks: sum(views.map((v) => v.ready_tasks)),
    last_execution_at: lastExecution,
    autonomy: state.autonomy,
    scheduler: state.scheduler,
    views,
  };
  const first = (k: TargetKind) => kinds.find((x) => x.kind === k)?.view;
  const verdict = VERDICTS.find((d) => first(d.kind));
  if (!verdict) {
    return {
      ...base,
      status: 'idle',
      label: 'Idle',
      headline: 'No targets yet.',
      action: 'Install the GitHub App on a repository with a .leviathan/backlog.yaml.',
    };
  }
  const v = first(verdict.kind)!;
  const { status, label } = verdict;
  if (verdict.kind === 'active') return { ...base, status, label, headline: 'Executing normally.', action: null };
  if (verdict.kind === 'error') return { ...base, status, label, headline: `${v.id}: ${v.headline}`, action: v.action };
  return { ...base, status, label, headline: v.headline, action: v.action };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
