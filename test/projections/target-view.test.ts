import { describe, expect, it } from 'vitest';
import { systemView } from '../../src/projections/system-view.ts';
import { targetView } from '../../src/projections/target-view.ts';
import { T, given, task } from './given.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const base = (tasks = [task('a'), task('b')]) => [
  { type: 'autonomy.enabled', data: {} },
  { type: 'target.registered', target: T, data: { installation_id: 1 } },
  { type: 'backlog.synced', target: T, data: { tasks } },
];
const view = (specs: Parameters<typeof given>[0]) => {
  const s = given(specs).when().state;
  return targetView(s, s.targets[T]!, NOW);
};
const pr = (n: number, taskId = 'a') => ({ type: 'pr.created', target: T, data: { number: n, task_id: taskId } });

describe('targetView: one outcome with its reason and action', () => {
  it.each([
    ['ready tasks → active', base(), 'active', 'ready', null],
    ['no ready tasks → idle', base([task('a', { ready: false })]), 'idle', 'no_ready_tasks', 'Add tasks with ready: true to resume execution.'],
    [
      'every ready task waits on a dependency → idle',
      base([task('a', { ready: false }), task('b', { dependencies: ['a'] })]),
      'idle',
      'all_tasks_blocked_by_dependencies',
      'Complete or merge the dependencies, or remove them from the tasks.',
    ],
    ['max open PRs → blocked', [...base(), pr(1, 'a'), pr(2, 'b')], 'blocked', 'max_open_prs', 'Merge or close PRs to resume execution.'],
    [
      'no backlog read yet, even with PRs at the limit → idle',
      [...base().slice(0, 2), pr(1, 'a'), pr(2, 'b')],
      'idle',
      'backlog_not_synced',
      'Add .leviathan/backlog.yaml to the default branch (or run leviathan ctl reconcile).',
    ],
    [
      'a ready task depends on an unknown task → idle, fix the dependencies',
      base([task('a', { ready: false }), task('b', { dependencies: ['gone'] })]),
      'idle',
      'all_tasks_blocked_by_dependencies',
      'Fix the dependencies: remove gone from them, or put it back in the backlog (status: completed if done).',
    ],
    [
      'breaker open → blocked with cooldown',
      [...base(), { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 2, cooldown_until: '2026-11-27T12:30:00Z' } }],
      'blocked',
      'circuit_breaker_open',
      'Wait for cooldown or investigate failures (reset the breaker when fixed).',
    ],
    ['paused → paused', [...base(), { type: 'target.paused', target: T, data: { reason: 'freeze' } }], 'paused', 'paused_by_operator', 'Resume the target to continue execution.'],
    [
      'autonomy off → paused',
      [...base(), { type: 'autonomy.disabled', data: { reason: 'incident' } }],
      'paused',
      'autonomy_disabled',
      'Set autonomy_enabled: true (leviathan ctl autonomy on) to resume execution.',
    ],
    [
      'invalid backlog → error',
      [...base(), { type: 'backlog.invalid', target: T, data: { file: '.leviathan/backlog.yaml', line: 12, reason: 'duplicate id "a"' } }],
      'error',
      'backlog_invalid',
      'Fix .leviathan/backlog.yaml and push it to main.',
    ],
    [
      'scheduler saw GitHub auth fail → error',
      [...base(), { type: 'task.skipped', target: T, data: { outcome: 'error', reason: 'github_auth_failed', detail: 'Bad credentials' } }],
      'error',
      'github_auth_failed',
      'Check the GitHub App credentials (APP_ID, PRIVATE_KEY) and that the App is installed on the repository.',
    ],
    [
      'an attempt in flight → active',
      [...base(), { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x' } }],
      'active',
      'attempt_in_flight',
      null,
    ],
  ] as const)('%s', (_name, specs, status, reason, action) => {
    const v = view([...specs]);
    expect(v.status).toBe(status);
    expect(v.reason).toBe(reason);
    expect(v.action).toBe(action);
  });

  it('the breaker headline gives the failures and the cooldown, and closes itself after it', () => {
    const specs = [...base(), { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 2, cooldown_until: '2026-11-27T12:30:00Z' } }];
    const v = view(specs);
    expect(v.headline).toBe('Circuit breaker tripped after 2 consecutive failures. Cooldown expires in 30 minutes.');
    expect(v.breaker.cooldown_remaining_seconds).toBe(1800);
    const s = given(specs).when().state;
    expect(targetView(s, s.targets[T]!, new Date('2026-11-27T12:31:00Z')).status).toBe('active');
  });

  it('a task whose attempts are used up shows as failed with the last reason', () => {
    const attempt = (id: string) => [
      { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: id } },
      { type: 'attempt.created', target: T, data: { task_id: 'a', attempt_id: id } },
      { type: 'attempt.failed', target: T, data: { attempt_id: id, failure_type: 'agent_error' } },
    ];
    const v = view([...base(), ...attempt('x1'), ...attempt('x2')]);
    const a = v.tasks.find((t) => t.id === 'a')!;
    expect(a.state).toBe('failed');
    expect(a.explanation).toBe('Failed after 2 attempts (last: agent_error).');
  });

  it('a dependency whose PR merged counts as completed', () => {
    const v = view([...base([task('a'), task('b', { dependencies: ['a'] })]), pr(1, 'a'), { type: 'pr.merged', target: T, data: { number: 1 } }]);
    expect(v.tasks.map((t) => [t.id, t.state])).toEqual([
      ['a', 'completed'],
      ['b', 'ready'],
    ]);
  });

  it('the unread backlog comes before the breaker, as in decide()', () => {
    const v = view([...base().slice(0, 2), { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 2, cooldown_until: '2026-11-27T12:30:00Z' } }]);
    expect([v.status, v.reason, v.headline]).toEqual(['idle', 'backlog_not_synced', 'No backlog read yet.']);
  });

  describe('a dependency that names no task Leviathan knows', () => {
    const resync = (tasks: ReturnType<typeof task>[]) => ({ type: 'backlog.synced', target: T, data: { tasks } });

    it('is named, with what to fix, instead of being waited on', () => {
      const v = view(base([task('a', { ready: false }), task('b', { dependencies: ['gone', 'a'] }), task('c', { dependencies: ['gone', 'lost'] })]));
      const [b, c] = [v.tasks.find((t) => t.id === 'b')!, v.tasks.find((t) => t.id === 'c')!];
      expect(b).toMatchObject({
        state: 'waiting_on_dependencies',
        unmet_dependencies: ['gone', 'a'],
        unknown_dependencies: ['gone'],
        explanation: 'Depends on unknown task gone: not in the backlog and no merged PR; fix the dependencies. Also waiting on a.',
      });
      expect(c).toMatchObject({ unknown_dependencies: ['gone', 'lost'], explanation: 'Depends on unknown tasks gone, lost: not in the backlog and no merged PR; fix the dependencies.' });
      expect(v.headline).toBe('All ready tasks wait on dependencies, some on unknown tasks gone, lost (not in the backlog, no merged PR).');
      expect(v.action).toBe('Fix the dependencies: remove gone, lost from them, or put them back in the backlog (status: completed if done).');
    });

    it('is unknown once the owner deletes a completed task from the backlog', () => {
      const v = view([...base([task('a', { status: 'completed' }), task('b', { dependencies: ['a'] })]), resync([task('b', { dependencies: ['a'] })])]);
      expect(v.tasks[0]).toMatchObject({ id: 'b', state: 'waiting_on_dependencies', unknown_dependencies: ['a'] });
      expect(v.reason).toBe('all_tasks_blocked_by_dependencies');
    });

    it("is complete when the deleted task's PR merged", () => {
      const v = view([...base([task('a'), task('b', { dependencies: ['a'] })]), pr(1, 'a'), { type: 'pr.merged', target: T, data: { number: 1 } }, resync([task('b', { dependencies: ['a'] })])]);
      expect(v.tasks[0]).toMatchObject({ id: 'b', state: 'ready', unmet_dependencies: [], unknown_dependencies: [] });
    });

    it("is waited on while the deleted task's PR is open or its attempt runs: either may still merge", () => {
      const open = view([...base([task('a'), task('b', { dependencies: ['a'] })]), pr(1, 'a'), resync([task('b', { dependencies: ['a'] })])]);
      expect(open.tasks[0]).toMatchObject({ id: 'b', unknown_dependencies: [], explanation: 'Waiting on a.' });
      const running = view([
        ...base([task('a'), task('b', { dependencies: ['a'] })]),
        { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: 'x' } },
        resync([task('b', { dependencies: ['a'] })]),
      ]);
      expect(running.tasks[0]).toMatchObject({ id: 'b', unknown_dependencies: [], explanation: 'Waiting on a.' });
    });
  });

  it('orders tasks by priority, then file order', () => {
    const v = view(base([task('low', { priority: 'low' }), task('m1'), task('high', { priority: 'high' }), task('m2')]));
    expect(v.tasks.map((t) => t.id)).toEqual(['high', 'm1', 'm2', 'low']);
  });
});

describe('systemView: the dashboard verdict', () => {
  const sys = (specs: Parameters<typeof given>[0]) => systemView(given(specs).when().state, NOW);
  it.each([
    ['Healthy ✓', base()],
    ['Idle', base([task('a', { ready: false })])],
    ['Blocked (Max PRs) ⚠', [...base(), pr(1, 'a'), pr(2, 'b')]],
    ['Blocked (Circuit Breaker) ⚠', [...base(), { type: 'circuit_breaker.tripped', target: T, data: { consecutive_failures: 2, cooldown_until: '2026-11-27T12:30:00Z' } }]],
    ['Error ✗', [...base(), { type: 'backlog.invalid', target: T, data: { file: '.leviathan/backlog.yaml', line: 3, reason: 'x' } }]],
  ] as const)('%s', (label, specs) => {
    expect(sys([...specs]).label).toBe(label);
  });

  it('counts open PRs against the sum of the maxima', () => {
    expect(sys([...base(), pr(1, 'a')]).open_prs).toEqual({ open: 1, max: 2 });
  });
});

describe('retries cannot be dodged', () => {
  const rounds = (n: number, round: (i: number) => Array<{ type: string; target: string; data: Record<string, unknown> }>) =>
    Array.from({ length: n }, (_, i) => round(i)).flat();

  it('a worker that fails before its attempt.created is stored still used a try', () => {
    const v = view([
      ...base(),
      ...rounds(2, (i) => [
        { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: `x${i}` } },
        { type: 'attempt.failed', target: T, data: { attempt_id: `x${i}`, task_id: 'a', failure_type: 'agent_error' } },
        { type: 'attempt.created', target: T, data: { attempt_id: `x${i}`, task_id: 'a' } },
      ]),
    ]);
    const a = v.tasks.find((t) => t.id === 'a')!;
    expect([a.state, a.attempts]).toEqual(['failed', 2]);
  });

  it('a Leviathan PR closed without merging counts as a failed try', () => {
    const v = view([
      ...base(),
      ...rounds(2, (i) => [
        { type: 'task.selected', target: T, data: { task_id: 'a', attempt_id: `x${i}` } },
        { type: 'attempt.succeeded', target: T, data: { attempt_id: `x${i}`, task_id: 'a' } },
        { type: 'pr.created', target: T, data: { number: 10 + i, task_id: 'a', attempt_id: `x${i}` } },
        { type: 'pr.closed', target: T, data: { number: 10 + i } },
      ]),
    ]);
    const a = v.tasks.find((t) => t.id === 'a')!;
    expect(a.state).toBe('failed');
    expect(a.explanation).toBe('Failed after 2 attempts (last: pr_closed).');
  });

  it('a late start of an attempt that ended long ago does not revive it', () => {
    const many = rounds(25, (i) => [
      { type: 'task.selected', target: T, data: { task_id: 'b', attempt_id: `y${i}` } },
      { type: 'attempt.succeeded', target: T, data: { attempt_id: `y${i}`, task_id: 'b' } },
    ]);
    const v = view([...base(), ...many, { type: 'attempt.started', target: T, data: { attempt_id: 'y0', task_id: 'b' } }]);
    expect(v.tasks.find((t) => t.id === 'b')!.state).not.toBe('running');
  });
});

describe('targetView: contract.yaml, repository text shown to operators', () => {
  const withContract = (data: Record<string, unknown>) => view([...base(), { type: 'backlog.synced', target: T, data: { tasks: [task('a')], ...data } }]);

  it('shows the documented fields as text and lists; the status does not depend on them', () => {
    const v = withContract({
      contract: {
        name: 'Radix',
        purpose: 'A small HTTP client.',
        definition_of_done: ['Tests pass', 'Docs updated'],
        quality_gates: ['npm test'],
        scope: 'src/ and docs/',
        safety: 'No network in tests.',
      },
    });
    expect(v.contract).toEqual({
      name: 'Radix',
      purpose: 'A small HTTP client.',
      definition_of_done: ['Tests pass', 'Docs updated'],
      scope: 'src/ and docs/',
      safety: 'No network in tests.',
      quality_gates: ['npm test'],
    });
    expect(v.contract_error).toBeNull();
    expect([v.status, v.reason]).toEqual(['active', 'ready']);
  });

  it('is null with no error when there is no contract.yaml', () => {
    const v = view(base());
    expect([v.contract, v.contract_error]).toEqual([null, null]);
  });

  it('a refused contract is an error in one line of text, and only informational', () => {
    const v = withContract({ contract_error: { line: 3, reason: 'name must be text, not a list' } });
    expect(v.contract).toBeNull();
    expect(v.contract_error).toBe('.leviathan/contract.yaml line 3: name must be text, not a list');
    expect(v.status).toBe('active');
    expect(withContract({ contract_error: { line: null, reason: 'could not read contract.yaml: boom' } }).contract_error).toBe(
      '.leviathan/contract.yaml: could not read contract.yaml: boom',
    );
  });

  it('keeps only the documented fields; other types are dropped or written out as text', () => {
    const v = withContract({
      contract: {
        name: ['not', 'text'],
        purpose: 42,
        definition_of_done: 'One item',
        quality_gates: ['lint', { nested: ['x'] }, null, 7, true, '   '],
        scope: { docs: ['docs/**'], max_files: 5 },
        safety: [{ never: 'push to main' }, 'no secrets'],
        owner_script: '<script>alert(1)</script>',
      },
    });
    expect(v.contract).toEqual({
      name: null,
      purpose: '42',
      definition_of_done: ['One item'],
      scope: 'docs:\n  - docs/**\nmax_files: 5',
      safety: '-\n  never: push to main\n- no secrets',
      quality_gates: ['lint', '7', 'true'],
    });
    expect(Object.keys(v.contract!)).not.toContain('owner_script');
  });

  it('bounds lengths and list sizes, and removes control and bidi-override characters', () => {
    const v = withContract({
      contract: {
        name: `Ra\u202Edix\u0000\n  ${'n'.repeat(500)}`,
        purpose: 'p'.repeat(5000),
        definition_of_done: Array.from({ length: 80 }, (_, i) => `item ${i}`),
        quality_gates: ['g'.repeat(1000)],
        scope: { deep: { deeper: { deepest: { too: { far: 'x' } } } } },
      },
    });
    const c = v.contract!;
    expect(c.name!.startsWith('Radix n')).toBe(true);
    expect(c.name!.length).toBe(200);
    expect(c.name!.endsWith('…')).toBe(true);
    expect(c.purpose!.length).toBeLessThanOrEqual(2000);
    expect(c.purpose!.endsWith('…')).toBe(true);
    expect(c.definition_of_done).toHaveLength(50);
    expect(c.definition_of_done[48]).toBe('item 48');
    expect(c.definition_of_done[49]).toBe('… and 31 more');
    expect(c.quality_gates[0]!.length).toBeLessThanOrEqual(500);
    expect(c.scope).toBe('deep:\n  deeper:\n    deepest:\n      too: …');
    expect(c.safety).toBeNull();
    expect(withContract({ contract_error: { line: 1, reason: `bad\u202E ${'r'.repeat(5000)}` } }).contract_error!.length).toBeLessThanOrEqual(2000);
  });
});
