import type { ProjectionState } from './state.ts';
import { targetViews, type TargetView } from './target-view.ts';

export type SystemStatus = 'healthy' | 'idle' | 'blocked' | 'paused' | 'error';

export interface SystemView {
  status: SystemStatus;
  /** The operator document's wording: `Healthy ✓`, `Idle`, `Blocked (Max PRs) ⚠`, … */
  label: string;
  headline: string;
  action: string | null;
  targets: { total: number; active: number; idle: number; blocked: number; paused: number; error: number };
  open_prs: { open: number; max: number };
  ready_tasks: number;
  last_execution_at: string | null;
  autonomy: ProjectionState['autonomy'];
  scheduler: ProjectionState['scheduler'];
  views: TargetView[];
}

const BLOCKED_LABEL: Record<string, string> = {
  max_open_prs: 'Blocked (Max PRs) ⚠',
  circuit_breaker_open: 'Blocked (Circuit Breaker) ⚠',
};

/**
 * The dashboard's one-line verdict over all targets: any error wins, then any target making
 * progress means healthy; otherwise the most pressing blocked reason, then paused, then idle.
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
  const lastExecution = views.map((v) => v.last_execution_at).filter((x): x is string => !!x).sort().at(-1) ?? null;
  const base = {
    targets,
    open_prs: { open: sum(views.map((v) => v.open_prs.length)), max: sum(views.map((v) => v.max_open_prs)) },
    ready_tasks: sum(views.map((v) => v.ready_tasks)),
    last_execution_at: lastExecution,
    autonomy: state.autonomy,
    scheduler: state.scheduler,
    views,
  };
  const first = (s: TargetView['status']) => views.find((v) => v.status === s)!;
  if (targets.error > 0) {
    const v = first('error');
    return { ...base, status: 'error', label: 'Error ✗', headline: `${v.id}: ${v.headline}`, action: v.action };
  }
  if (targets.active > 0) return { ...base, status: 'healthy', label: 'Healthy ✓', headline: 'Executing normally.', action: null };
  if (targets.blocked > 0) {
    const v = views.find((x) => x.reason === 'circuit_breaker_open') ?? views.find((x) => x.reason === 'max_open_prs') ?? first('blocked');
    return { ...base, status: 'blocked', label: BLOCKED_LABEL[v.reason] ?? 'Blocked ⚠', headline: v.headline, action: v.action };
  }
  if (targets.paused > 0 && targets.idle === 0) {
    const v = first('paused');
    return { ...base, status: 'paused', label: 'Paused', headline: v.headline, action: v.action };
  }
  const v = views.find((x) => x.status === 'idle');
  return {
    ...base,
    status: 'idle',
    label: 'Idle',
    headline: v?.headline ?? 'No targets yet.',
    action: v?.action ?? 'Install the GitHub App on a repository with a .leviathan/backlog.yaml.',
  };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
