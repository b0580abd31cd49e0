import { DEFAULT_FORBIDDEN_PATHS } from '../contract/forbidden-paths.ts';
import type { EffectivePolicy } from '../contract/types.ts';

type Source = EffectivePolicy['sources'][string];

const FROM: Record<Source, string> = {
  default: 'the default',
  global: 'the global config',
  'backlog.yaml': 'backlog.yaml',
  'policy.yaml': 'policy.yaml',
};

/** A YAML scalar: numbers and null as they are, text double-quoted (JSON is valid YAML). */
function scalar(v: unknown): string {
  return typeof v === 'number' || v === null ? String(v) : JSON.stringify(v);
}

/** A mapping key, quoted unless YAML would read it back as the same plain text. */
function key(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(k) ? k : JSON.stringify(k);
}

/**
 * A starting `.leviathan/policy.yaml` for a target that has none yet, written from its effective
 * policy so that it changes nothing when proposed as is: combined with the other layers,
 * `parsePolicy(policyStarter(p))` gives `p` again, values and sources alike. What policy.yaml
 * decided (the file may have been deleted since the last sync) is written out in the shape the
 * parser reads — `safety_rules.*`, `circuit_breaker.*`, `scope_constraints.<scope>.max_files_per_task`;
 * values from the defaults, the global config or backlog.yaml are shown commented out, so they
 * keep following their own layer until the owner uncomments one.
 *
 * Only for a missing file: an existing policy.yaml is edited as its own text, never regenerated.
 */
export function policyStarter(p: EffectivePolicy): string {
  const src = (k: string): Source => p.sources[k] ?? 'default';
  const out: string[] = [
    '# .leviathan/policy.yaml: how Leviathan may work on this repository.',
    '# Values set here win over backlog.yaml, the global config and the defaults.',
    '# A commented-out line shows the value today and where it comes from: uncomment it (and its',
    '# section) to set it here.',
    '',
  ];
  /** `name: value`, or the same commented out with its origin when policy.yaml does not set it. */
  const line = (indent: string, name: string, dotted: string, value: unknown): string =>
    src(dotted) === 'policy.yaml' ? `${indent}${name}: ${scalar(value)}` : `${indent}# ${name}: ${scalar(value)}  # from ${FROM[src(dotted)]}`;
  /** A nested section: written when policy.yaml sets any of its keys, else all of it commented out. */
  const section = (name: string, keys: Array<[string, string, unknown]>): void => {
    const active = keys.some(([, dotted]) => src(dotted) === 'policy.yaml');
    out.push(active ? `${name}:` : `# ${name}:`);
    for (const [k, dotted, v] of keys) out.push(active ? line('  ', k, dotted, v) : `#   ${k}: ${scalar(v)}  # from ${FROM[src(dotted)]}`);
  };

  out.push(line('', 'max_open_prs', 'max_open_prs', p.max_open_prs));
  out.push(line('', 'attempt_timeout_minutes', 'attempt_timeout_minutes', p.attempt_timeout_minutes));
  section('circuit_breaker', [
    ['consecutive_failures', 'circuit_breaker.consecutive_failures', p.circuit_breaker.consecutive_failures],
    ['cooldown_minutes', 'circuit_breaker.cooldown_minutes', p.circuit_breaker.cooldown_minutes],
  ]);
  section('safety_rules', [
    ['max_attempts_per_task', 'max_attempts_per_task', p.max_attempts_per_task],
    ['max_concurrent_attempts', 'max_concurrent_attempts', p.max_concurrent_attempts],
    ['max_tasks_per_day', 'max_tasks_per_day', p.max_tasks_per_day],
  ]);

  out.push('', '# Paths a task of each scope may change (scope → globs).');
  const scopes = Object.entries(p.allowed_paths);
  if (src('allowed_paths') !== 'policy.yaml') out.push('# allowed_paths:', '#   docs: ["docs/**"]');
  else if (scopes.length === 0) out.push('allowed_paths: {}');
  else out.push('allowed_paths:', ...scopes.map(([scope, globs]) => `  ${key(scope)}: [${globs.map(scalar).join(', ')}]`));

  out.push('', '# Paths no task may change, on top of the ones always forbidden (.git, .leviathan, .github/workflows, keys, secrets).');
  const extra = p.forbidden_paths.filter((g) => !DEFAULT_FORBIDDEN_PATHS.includes(g));
  if (extra.length === 0) out.push('# forbidden_paths:', '#   - "deploy/**"');
  else out.push('forbidden_paths:', ...extra.map((g) => `  - ${scalar(g)}`));

  out.push('', '# The most files one task of a scope may change.');
  const limits = Object.entries(p.max_files_per_task);
  if (limits.length === 0) out.push('# scope_constraints:', '#   docs:', '#     max_files_per_task: 10');
  else out.push('scope_constraints:', ...limits.flatMap(([scope, n]) => [`  ${key(scope)}:`, `    max_files_per_task: ${scalar(n)}`]));

  return `${out.join('\n')}\n`;
}
