import type { TargetStatus, TargetView } from './target-view.ts';

/**
 * The dashboard's two summary lines, `Status:` and `Targets:`, defined once for the console
 * (systemView) and for Grafana's System Overview (scripts/build-dashboards.ts compiles these
 * tables to PromQL, and test/monitoring/dashboards.test.ts checks the PromQL against them for
 * every combination of facts).
 *
 * Both judge a target only by facts its metrics carry too: its status
 * (`leviathan_target_status`), whether its circuit breaker is open
 * (`leviathan_circuit_breaker_open`), and whether it is at its PR limit
 * (`leviathan_target_open_prs >= leviathan_target_max_prs`).
 */
export interface TargetFacts {
  status: TargetStatus;
  breaker_open: boolean;
  at_max_prs: boolean;
}

/** A target's status with `blocked` split by cause. */
export type TargetKind =
  | 'active'
  | 'idle'
  | 'blocked_circuit_breaker'
  | 'blocked_max_prs'
  | 'blocked_other'
  | 'paused'
  | 'error';

export function targetFacts(v: Pick<TargetView, 'status' | 'breaker' | 'open_prs' | 'max_open_prs'>): TargetFacts {
  return { status: v.status, breaker_open: v.breaker.open, at_max_prs: v.open_prs.length >= v.max_open_prs };
}

/**
 * targetView checks the breaker before the PR limit, and both before the other blocked reasons
 * (path lease, worker cap, tasks per day), so a blocked target with an open breaker has reason
 * `circuit_breaker_open`, one with a closed breaker at its limit `max_open_prs`, and the rest
 * something else.
 */
export function targetKind(f: TargetFacts): TargetKind {
  if (f.status !== 'blocked') return f.status;
  if (f.breaker_open) return 'blocked_circuit_breaker';
  if (f.at_max_prs) return 'blocked_max_prs';
  return 'blocked_other';
}

/** The counts of the `Targets:` line. */
export type TargetsLineBucket = 'active' | 'blocked' | 'paused' | 'error';

/**
 * Where each kind of target counts on the `Targets: N active, M blocked` line. The operator
 * document shows one target as `1 active, 0 blocked` when executing, idle, or at max open PRs,
 * and `0 active, 1 blocked` only with the circuit breaker open: "blocked" means halted, and
 * "active" means running under the ordinary guardrails, which clear by themselves (a PR merges,
 * a worker finishes, a new day starts). Paused and error targets are neither; the line names
 * them only when there are some.
 */
export const TARGETS_LINE: Record<TargetKind, TargetsLineBucket> = {
  active: 'active',
  idle: 'active',
  blocked_max_prs: 'active',
  blocked_other: 'active',
  blocked_circuit_breaker: 'blocked',
  paused: 'paused',
  error: 'error',
};

export type TargetsLineCounts = Record<TargetsLineBucket, number>;

/** `1 active, 0 blocked`, then `, N paused` and `, N error` when N > 0. */
export function targetsLineText(c: TargetsLineCounts): string {
  return [
    `${c.active} active`,
    `${c.blocked} blocked`,
    ...(c.paused > 0 ? [`${c.paused} paused`] : []),
    ...(c.error > 0 ? [`${c.error} error`] : []),
  ].join(', ');
}

export type SystemStatus = 'healthy' | 'idle' | 'blocked' | 'paused' | 'error';

/**
 * The `Status:` verdict, most pressing first: the system takes the verdict of the first kind any
 * target has. Any error wins; then one target making progress makes the system healthy, even if
 * others wait (the `Targets:` line shows those); then the blocked causes, the breaker first; then
 * idle over paused, so `Paused` means "everything is paused". No targets at all is `Idle`.
 * The labels are the operator document's words.
 */
export const VERDICTS: ReadonlyArray<{ kind: TargetKind; status: SystemStatus; label: string }> = [
  { kind: 'error', status: 'error', label: 'Error ✗' },
  { kind: 'active', status: 'healthy', label: 'Healthy ✓' },
  { kind: 'blocked_circuit_breaker', status: 'blocked', label: 'Blocked (Circuit Breaker) ⚠' },
  { kind: 'blocked_max_prs', status: 'blocked', label: 'Blocked (Max PRs) ⚠' },
  { kind: 'blocked_other', status: 'blocked', label: 'Blocked ⚠' },
  { kind: 'idle', status: 'idle', label: 'Idle' },
  { kind: 'paused', status: 'paused', label: 'Paused' },
];

/** Every combination of facts, for code that must agree with these tables on all of them. */
export function allTargetFacts(statuses: readonly TargetStatus[]): TargetFacts[] {
  return statuses.flatMap((status) =>
    [false, true].flatMap((breaker_open) => [false, true].map((at_max_prs) => ({ status, breaker_open, at_max_prs }))),
  );
}
