import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { policyStarter } from '../../src/console/policy-starter.ts';
import { effectivePolicy, parsePolicy, type PolicyFile, type PolicyLayers } from '../../src/contract/policy.ts';

/** The starter read back by the scheduler's parser, combined with the same other layers. */
function roundTrip(layers: PolicyLayers): { starter: string; file: PolicyFile; again: ReturnType<typeof effectivePolicy> } {
  const starter = policyStarter(effectivePolicy(layers));
  const parsed = parsePolicy(starter);
  if (!parsed.ok) throw new Error(`the starter does not parse: line ${parsed.error.line}: ${parsed.error.reason}\n${starter}`);
  return { starter, file: parsed.policy, again: effectivePolicy({ ...layers, policyFile: parsed.policy }) };
}

describe('policyStarter', () => {
  it('changes nothing for a target without policy.yaml: every value stays with its own layer', () => {
    const layers: PolicyLayers = { global: { max_tasks_per_day: 20, circuit_breaker: { cooldown_minutes: 30 } }, backlogMaxOpenPrs: 3 };
    const { starter, file, again } = roundTrip(layers);
    expect(file).toEqual({});
    expect(again).toEqual(effectivePolicy(layers));
    // …while showing today's values and where they come from.
    expect(starter).toContain('# max_open_prs: 3  # from backlog.yaml\n');
    expect(starter).toContain('#   cooldown_minutes: 30  # from the global config\n');
    expect(starter).toContain('#   max_tasks_per_day: 20  # from the global config\n');
    expect(starter).toContain('# scope_constraints:\n#   docs:\n#     max_files_per_task: 10\n');
    // Uncommenting a line (and its section) sets exactly that value in the file.
    const edited = starter
      .replace('# max_open_prs: 3', 'max_open_prs: 3')
      .replace('# safety_rules:', 'safety_rules:')
      .replace('#   max_tasks_per_day: 20', '  max_tasks_per_day: 20')
      .replace('# scope_constraints:\n#   docs:\n#     max_files_per_task: 10', 'scope_constraints:\n  docs:\n    max_files_per_task: 10');
    expect(parsePolicy(edited)).toEqual({ ok: true, policy: { max_open_prs: 3, max_tasks_per_day: 20, max_files_per_task: { docs: 10 } } });
  });

  it('writes per-scope file limits under scope_constraints, where the parser reads them', () => {
    const policyFile: PolicyFile = {
      max_open_prs: 1,
      circuit_breaker: { consecutive_failures: 4 },
      max_attempts_per_task: 3,
      max_tasks_per_day: null,
      allowed_paths: { docs: ['docs/**'], core: ['src/**', 'lib/x.ts'] },
      forbidden_paths: ['deploy/**'],
      max_files_per_task: { docs: 5, core: 12 },
    };
    const layers: PolicyLayers = { global: { circuit_breaker: { cooldown_minutes: 10 } }, policyFile };
    const { starter, file, again } = roundTrip(layers);
    expect(again).toEqual(effectivePolicy(layers));
    expect(again.max_files_per_task).toEqual({ docs: 5, core: 12 });
    expect(again.sources.max_files_per_task).toBe('policy.yaml');
    expect(file).toEqual(policyFile);
    expect(starter).toContain('scope_constraints:\n  docs:\n    max_files_per_task: 5\n  core:\n    max_files_per_task: 12\n');
    expect(starter).not.toMatch(/^max_files_per_task:/m);
    // A section with a key from elsewhere keeps that key commented out.
    expect(starter).toContain('circuit_breaker:\n  consecutive_failures: 4\n  # cooldown_minutes: 10  # from the global config\n');
  });

  it('round-trips any effective policy, values and sources alike', () => {
    const scope = fc.oneof(fc.constantFrom('docs', 'core', 'ops-x', 'true', 'null', '1e3', 'a b', 'with: colon', '#x', 'ünï'), fc.string({ minLength: 1, maxLength: 6 }));
    const glob = fc.constantFrom('docs/**', 'src/a.ts', 'lib/', '**/*.md', '* star', 'quote"d/**', 'x: y');
    const count = (min: number, max: number) => fc.integer({ min, max });
    const guardrails = fc.record(
      {
        max_open_prs: count(0, 100),
        circuit_breaker: fc.record({ consecutive_failures: count(1, 100), cooldown_minutes: count(0, 10_080) }, { requiredKeys: [] }),
        attempt_timeout_minutes: count(1, 1440),
        max_attempts_per_task: count(1, 100),
        max_concurrent_attempts: count(1, 100),
        max_tasks_per_day: fc.option(count(0, 100_000), { nil: null }),
      },
      { requiredKeys: [] },
    );
    const file = fc
      .tuple(
        guardrails,
        fc.option(fc.dictionary(scope, fc.array(glob, { maxLength: 3 }), { maxKeys: 3 }), { nil: undefined }),
        fc.option(fc.array(fc.constantFrom('deploy/**', '.git/**', 'secrets/*.key', 'x y/**'), { maxLength: 3 }), { nil: undefined }),
        fc.option(fc.dictionary(scope, count(1, 100_000), { minKeys: 1, maxKeys: 3 }), { nil: undefined }),
      )
      .map(([g, allowed, forbidden, maxFiles]): PolicyFile => ({
        ...g,
        ...(allowed !== undefined ? { allowed_paths: allowed } : {}),
        ...(forbidden !== undefined ? { forbidden_paths: forbidden } : {}),
        ...(maxFiles !== undefined ? { max_files_per_task: maxFiles } : {}),
      }));
    const layers = fc.record(
      { global: guardrails, policyFile: file, backlogMaxOpenPrs: count(1, 100) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(layers, (l) => {
        expect(roundTrip(l).again).toEqual(effectivePolicy(l));
      }),
      { numRuns: 300 },
    );
  });
});
