import { describe, expect, it } from 'vitest';
import { diagnose, type ClusterFacts, type Diagnosis, type DiagnosisCheck } from '../../src/control/diagnosis.ts';
import { evolve } from '../../src/projections/evolve.ts';
import { emptyState } from '../../src/projections/state.ts';
import { log, T, task } from '../projections/given.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
/** `minutes` before NOW. */
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

type Spec = Parameters<typeof log>[0][number];

/** A target that executes normally: autonomy on, a recent cycle, two ready tasks. */
const healthy = (tasks = [task('a'), task('b')]): Spec[] => [
  { type: 'autonomy.enabled', data: { reason: 'go live' }, at: ago(180) },
  { type: 'target.registered', target: T, data: { installation_id: 1 }, at: ago(179) },
  { type: 'backlog.synced', target: T, data: { tasks }, at: ago(178) },
  { type: 'scheduler.cycle_started', data: { cycle_id: 'c1' }, at: ago(4) },
  { type: 'scheduler.cycle_completed', data: { cycle_id: 'c1' }, at: ago(3) },
];

/** Given events → When diagnose → the diagnosis. Events without `at` happen a minute ago. */
function given(specs: Spec[], cluster?: ClusterFacts): Diagnosis {
  const events = log(specs.map((s) => ({ at: ago(1), ...s })));
  const state = events.reduce((s, e) => evolve(s, e), emptyState());
  return diagnose(NOW, state, T, { events }, cluster);
}

function check(d: Diagnosis, id: DiagnosisCheck['id']): DiagnosisCheck {
  const c = d.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
}

const cluster = (over: Partial<ClusterFacts> = {}): ClusterFacts => ({
  namespace: 'leviathan',
  cronJobName: 'leviathan-dev-scheduler',
  configMapName: 'leviathan-autonomy-config',
  autonomyEnabled: true,
  cronjob: { name: 'leviathan-dev-scheduler', suspended: false, schedule: '*/5 * * * *', lastScheduleTime: ago(3) },
  errors: [],
  ...over,
});

describe('diagnose: the troubleshooting guide, one blocking cause at a time', () => {
  it('all clear: nothing blocks, every check ok, and the summary names the ready tasks', () => {
    const d = given(healthy());
    expect(d.blocking).toBeNull();
    expect(d.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(d.summary).toBe('Nothing blocks acme/web: 2 tasks ready: a, b.');
    expect(d.checks.map((c) => c.id)).toEqual([
      'autonomy',
      'emergency_stop',
      'scheduler',
      'paused',
      'backlog',
      'github_auth',
      'max_open_prs',
      'circuit_breaker',
      'dependencies',
      'ready_tasks',
      'last_outcome',
      'path_violations',
      'timeouts',
    ]);
  });

  it('autonomy off: blocking, with the disabling event and "Enable autonomy if disabled"', () => {
    const d = given([...healthy(), { type: 'autonomy.disabled', actor: 'github:octocat', data: { reason: 'incident 42' } }]);
    expect(d.blocking).toBe('autonomy');
    const c = check(d, 'autonomy');
    expect(c.title).toBe('⚠ Autonomy disabled in configuration');
    expect(c.evidence[0]).toMatchObject({ type: 'autonomy.disabled', seq: 6, summary: 'autonomy.disabled by github:octocat: incident 42' });
    expect(c.action).toBe('Enable autonomy if disabled.');
    expect(c.commands).toEqual(['leviathan ctl autonomy on --reason "…"']);
    expect(d.summary).toBe('acme/web is not executing: ⚠ Autonomy disabled in configuration. Enable autonomy if disabled.');
  });

  it('autonomy never enabled counts as off (fail closed)', () => {
    const d = given(healthy().slice(1));
    expect(d.blocking).toBe('autonomy');
    expect(check(d, 'autonomy').title).toBe('Autonomy has never been enabled (off until enabled)');
  });

  it('autonomy off in the ConfigMap wins over the log, with the kubectl command', () => {
    const d = given(healthy(), cluster({ autonomyEnabled: false }));
    expect(d.blocking).toBe('autonomy');
    const c = check(d, 'autonomy');
    expect(c.evidence).toContainEqual(expect.objectContaining({ seq: null, type: 'configmap', summary: 'ConfigMap leviathan-autonomy-config: autonomy_enabled=false' }));
    expect(c.commands).toContain(`kubectl -n leviathan patch configmap leviathan-autonomy-config --type merge -p '{"data":{"autonomy_enabled":"true"}}'`);
    expect(c.details?.drift).toContain('the ConfigMap wins');
  });

  it('emergency stop: blocking, naming who stopped it and why, with the resume command', () => {
    const d = given([...healthy(), { type: 'scheduler.emergency_stopped', actor: 'token:abc', data: { reason: 'runaway PRs', deleted_jobs: [] } }]);
    expect(d.blocking).toBe('emergency_stop');
    const c = check(d, 'emergency_stop');
    expect(c.title).toBe(`Emergency stop by token:abc at ${ago(1)}: runaway PRs`);
    expect(c.evidence[0]).toMatchObject({ type: 'scheduler.emergency_stopped', summary: 'scheduler.emergency_stopped by token:abc: runaway PRs' });
    expect(c.commands).toEqual(['leviathan ctl resume']);
  });

  it('CronJob suspended by kubectl (no event): blocking, with the exact kubectl patch', () => {
    const d = given(healthy(), cluster({ cronjob: { name: 'leviathan-dev-scheduler', suspended: true, schedule: '*/5 * * * *' } }));
    expect(d.blocking).toBe('emergency_stop');
    const c = check(d, 'emergency_stop');
    expect(c.title).toContain('no emergency stop is recorded');
    expect(c.evidence).toContainEqual(expect.objectContaining({ type: 'cronjob', summary: expect.stringContaining('suspend=true') }));
    expect(c.commands).toEqual(['leviathan ctl resume', `kubectl -n leviathan patch cronjob leviathan-dev-scheduler -p '{"spec":{"suspend":false}}'`]);
  });

  it('scheduler not running: no cycle completed in the last 15 minutes', () => {
    const specs = healthy().map((s) => (s.type.startsWith('scheduler.cycle') ? { ...s, at: ago(40) } : s));
    const d = given(specs);
    expect(d.blocking).toBe('scheduler');
    const c = check(d, 'scheduler');
    expect(c.title).toBe('Scheduler not running: no cycle completed in the last 15 minutes (last 40 minutes ago)');
    expect(c.evidence[0]).toMatchObject({ type: 'scheduler.cycle_completed', time: ago(40) });
    expect(c.commands).toEqual(['leviathan tick']);
    const k8s = given(specs, cluster());
    expect(check(k8s, 'scheduler').commands).toEqual(['kubectl -n leviathan get cronjob leviathan-dev-scheduler', 'kubectl -n leviathan logs -l app=leviathan-dev-scheduler --tail=50']);
  });

  it('scheduler that never ran is not running either', () => {
    const d = given(healthy().filter((s) => !s.type.startsWith('scheduler.')));
    expect(d.blocking).toBe('scheduler');
    expect(check(d, 'scheduler').title).toBe('Scheduler not running: no cycle has ever completed');
  });

  it('paused: blocking, with who, why and the resume command', () => {
    const d = given([...healthy(), { type: 'target.paused', target: T, actor: 'github:octocat', data: { reason: 'release freeze' } }]);
    expect(d.blocking).toBe('paused');
    const c = check(d, 'paused');
    expect(c.title).toBe(`Paused by github:octocat at ${ago(1)}: release freeze`);
    expect(c.evidence[0]).toMatchObject({ type: 'target.paused' });
    expect(c.action).toBe('Resume the target to continue execution.');
    expect(c.commands).toEqual(['leviathan ctl resume acme/web --reason "…"']);
  });

  it('backlog invalid: blocking, with the file, line and reason', () => {
    const d = given([
      ...healthy(),
      { type: 'backlog.invalid', target: T, data: { file: '.leviathan/backlog.yaml', line: 7, reason: 'tasks[2].id is required' } },
    ]);
    expect(d.blocking).toBe('backlog');
    const c = check(d, 'backlog');
    expect(c.title).toBe('Backlog invalid: .leviathan/backlog.yaml line 7: tasks[2].id is required');
    expect(c.details).toEqual({ file: '.leviathan/backlog.yaml', line: 7, reason: 'tasks[2].id is required' });
    expect(c.evidence[0]).toMatchObject({ type: 'backlog.invalid', summary: 'backlog invalid: .leviathan/backlog.yaml line 7: tasks[2].id is required' });
    expect(c.action).toBe('Fix .leviathan/backlog.yaml at line 7 and push it to main.');
  });

  it('GitHub auth failing (scheduler): blocking, "Rotate GitHub token"', () => {
    const d = given([...healthy(), { type: 'task.skipped', target: T, data: { outcome: 'error', reason: 'github_auth_failed', detail: '401 Bad credentials' } }]);
    expect(d.blocking).toBe('github_auth');
    const c = check(d, 'github_auth');
    expect(c.evidence[0]).toMatchObject({ type: 'task.skipped', summary: 'error: github_auth_failed — 401 Bad credentials' });
    expect(c.action).toMatch(/^Rotate GitHub token/);
  });

  it('GitHub auth failing (worker auth_error): blocking while it is the latest word, a warning once recovered', () => {
    const failed: Spec = { type: 'attempt.failed', target: T, data: { attempt_id: 'x1', task_id: 'a', failure_type: 'auth_error', message: 'clone: 403' }, at: ago(2) };
    const d = given([...healthy(), failed]);
    expect(d.blocking).toBe('github_auth');
    expect(check(d, 'github_auth').evidence[0]).toMatchObject({ type: 'attempt.failed', summary: 'attempt x1 of a failed (auth_error): clone: 403' });

    const recovered = given([...healthy(), failed, { type: 'attempt.succeeded', target: T, data: { attempt_id: 'x2', task_id: 'b' } }]);
    expect(check(recovered, 'github_auth').status).toBe('warning');
    expect(recovered.blocking).toBeNull();
  });

  it('max open PRs: blocking, with the open PR list and the gh command', () => {
    const d = given([
      ...healthy([task('a'), task('b'), task('c')]),
      { type: 'pr.created', target: T, subject: 'pr:acme/web#721', data: { number: 721, title: 'docs-update', task_id: 'a' } },
      { type: 'pr.created', target: T, subject: 'pr:acme/web#722', data: { number: 722, title: 'api-base-normalization-test', task_id: 'b' } },
    ]);
    expect(d.blocking).toBe('max_open_prs');
    const c = check(d, 'max_open_prs');
    expect(c.title).toBe('Max open PRs reached (2/2)');
    expect(c.evidence.map((e) => e.summary)).toEqual(['PR #721 docs-update (a)', 'PR #722 api-base-normalization-test (b)']);
    expect(c.details?.open_prs).toEqual([
      { number: 721, title: 'docs-update', task_id: 'a', url: null },
      { number: 722, title: 'api-base-normalization-test', task_id: 'b', url: null },
    ]);
    expect(c.action).toBe('Merge PRs if at max (merge or close PRs to resume execution).');
    expect(c.commands).toEqual(['gh pr list --repo acme/web --state open']);
  });

  it('circuit breaker open: blocking, with the cooldown end and the failures that tripped it', () => {
    const d = given([
      ...healthy(),
      { type: 'attempt.failed', target: T, data: { attempt_id: 'x1', task_id: 'a', failure_type: 'agent_error' }, at: ago(45) },
      { type: 'attempt.failed', target: T, data: { attempt_id: 'x2', task_id: 'b', failure_type: 'agent_error' }, at: ago(30) },
      { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 2, cooldown_until: '2026-11-27T12:30:00.000Z' }, at: ago(30) },
    ]);
    expect(d.blocking).toBe('circuit_breaker');
    const c = check(d, 'circuit_breaker');
    expect(c.title).toBe('Circuit breaker tripped after 2 consecutive failures. Cooldown expires in 30 minutes (2026-11-27T12:30:00.000Z).');
    expect(c.evidence.map((e) => e.type)).toEqual(['circuit_breaker.tripped', 'attempt.failed', 'attempt.failed']);
    expect(c.details).toEqual({ cooldown_until: '2026-11-27T12:30:00.000Z', consecutive_failures: 2 });
    expect(c.action).toMatch(/^Wait for circuit breaker cooldown \(until 2026-11-27T12:30:00.000Z\)/);
    expect(c.commands).toContain('leviathan ctl reset-breaker acme/web --reason "…"');
  });

  it('dependencies: blocking, saying which task waits on what', () => {
    const d = given(healthy([task('a', { ready: false }), task('b', { dependencies: ['a'] }), task('c', { dependencies: ['a', 'gone'] })]));
    expect(d.blocking).toBe('dependencies');
    const c = check(d, 'dependencies');
    expect(c.title).toBe('All ready tasks wait on dependencies: b waits on a; c waits on a, gone');
    expect(c.details?.waiting).toEqual([
      { task_id: 'b', waits_on: [{ task_id: 'a', state: 'not_ready' }] },
      { task_id: 'c', waits_on: [{ task_id: 'a', state: 'not_ready' }, { task_id: 'gone', state: 'not_in_backlog' }] },
    ]);
    expect(c.action).toBe('Remove dependencies or mark them satisfied (complete or merge the tasks they wait on).');
  });

  it('no ready tasks: blocking, "Add tasks with ready: true to resume execution."', () => {
    const d = given(healthy([task('a', { ready: false }), task('b', { status: 'completed' })]));
    expect(d.blocking).toBe('ready_tasks');
    const c = check(d, 'ready_tasks');
    expect(c.title).toBe('No ready tasks in backlog.');
    expect(c.action).toBe('Add tasks with ready: true to resume execution.');
    expect(c.details).toEqual({ by_state: { not_ready: 1, completed: 1 } });
    expect(c.evidence[0]).toMatchObject({ type: 'backlog.synced', summary: 'backlog synced: 2 tasks' });
    expect(d.summary).toBe('acme/web is not executing: No ready tasks in backlog. Add tasks with ready: true to resume execution.');
  });

  it('another scheduler error (executor_failed): blocking under last_outcome, with the skip as evidence', () => {
    const d = given([...healthy(), { type: 'task.skipped', target: T, data: { outcome: 'error', reason: 'executor_failed', detail: 'Jobs forbidden' } }]);
    expect(d.blocking).toBe('last_outcome');
    expect(check(d, 'last_outcome')).toMatchObject({ title: 'Scheduler error: executor_failed — Jobs forbidden', evidence: [expect.objectContaining({ type: 'task.skipped' })] });
  });

  it('path violations and timeouts in the last 24 h: warnings with task ids and the guide’s actions; older ones ignored', () => {
    const d = given([
      ...healthy(),
      { type: 'attempt.failed', target: T, data: { attempt_id: 'old', task_id: 'a', failure_type: 'timeout' }, at: ago(25 * 60) },
      { type: 'attempt.failed', target: T, data: { attempt_id: 'x1', task_id: 'a', failure_type: 'path_violation', message: 'touched .github/workflows/ci.yml' }, at: ago(50) },
      { type: 'attempt.failed', target: T, data: { attempt_id: 'x2', task_id: 'b', failure_type: 'timeout' }, at: ago(40) },
      { type: 'attempt.failed', target: T, data: { attempt_id: 'x3', task_id: 'b', failure_type: 'timeout' }, at: ago(20) },
    ].sort((x, y) => String(x.at).localeCompare(String(y.at))));
    expect(d.blocking).toBeNull();
    const pv = check(d, 'path_violations');
    expect(pv).toMatchObject({ status: 'warning', title: '1 path violation in the last 24 hours: a', action: 'Fix task allowed_paths (the change touched files outside them).' });
    expect(pv.details?.task_ids).toEqual(['a']);
    const to = check(d, 'timeouts');
    expect(to).toMatchObject({ status: 'warning', title: '2 timeouts in the last 24 hours: b', action: 'Increase timeout or split task.' });
    expect(to.details?.attempt_ids).toEqual(['x2', 'x3']);
    // Newest first, like every event list an operator reads.
    expect(to.evidence.map((e) => e.summary)).toEqual(['attempt x3 of b failed (timeout)', 'attempt x2 of b failed (timeout)']);
    expect(d.summary).toContain('2 warnings');
  });

  it('the first blocking check in the guide’s order is the reason (paused before max PRs)', () => {
    const d = given([
      ...healthy(),
      { type: 'pr.created', target: T, data: { number: 1, task_id: 'a' } },
      { type: 'pr.created', target: T, data: { number: 2, task_id: 'b' } },
      { type: 'target.paused', target: T, data: { reason: 'freeze' } },
    ]);
    expect(d.blocking).toBe('paused');
    expect(d.checks.filter((c) => c.status === 'blocking').map((c) => c.id)).toEqual(['paused', 'max_open_prs', 'ready_tasks']);
  });
});
