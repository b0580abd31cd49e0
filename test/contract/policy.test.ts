import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_FORBIDDEN_PATHS,
  DEFAULT_POLICY,
  effectivePolicy,
  parseAutonomyConfig,
  parsePolicy,
  readAutonomyConfig,
  type PolicyFile,
} from '../../src/contract/policy.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/policy/${name}`, import.meta.url), 'utf8');

describe('DEFAULT_POLICY', () => {
  it('has the values of the target contract', () => {
    expect(DEFAULT_POLICY).toMatchObject({
      max_open_prs: 2,
      circuit_breaker: { consecutive_failures: 2, cooldown_minutes: 60 },
      attempt_timeout_minutes: 15,
      max_attempts_per_task: 2,
      max_concurrent_attempts: 1,
      max_tasks_per_day: null,
    });
  });

  it('forbids the contract-mandated paths', () => {
    expect(DEFAULT_FORBIDDEN_PATHS).toEqual(
      expect.arrayContaining(['.git/**', '.leviathan/**', '.github/workflows/**', '**/*.pem', '**/*.key', '**/id_rsa*', '**/.env', '**/.env.*', '**/*secret*']),
    );
  });
});

describe('parsePolicy', () => {
  it('reads full.yaml (format of the earlier implementation plus guardrails)', () => {
    expect(parsePolicy(fixture('full.yaml'))).toEqual({
      ok: true,
      policy: {
        max_open_prs: 4,
        circuit_breaker: { consecutive_failures: 3, cooldown_minutes: 30 },
        attempt_timeout_minutes: 20,
        max_attempts_per_task: 3,
        max_concurrent_attempts: 1,
        max_tasks_per_day: 10,
        allowed_paths: { docs: ['docs/**', 'README.md', '*.md'], core: ['src/**/*.ts'] },
        forbidden_paths: ['src/generated/**', '.git/**'],
        max_files_per_task: { docs: 10, core: 5 },
      },
    });
  });

  it('reads partial.yaml as only what it sets', () => {
    expect(parsePolicy(fixture('partial.yaml'))).toEqual({
      ok: true,
      policy: { circuit_breaker: { cooldown_minutes: 120 }, forbidden_paths: ['infra/**'] },
    });
  });

  it.each([
    ['', {}],
    ['# only a comment\n', {}],
    ['max_attempts_per_task: 4\n', { max_attempts_per_task: 4 }],
    ['safety_rules:\n  max_tasks_per_day: null\n', { max_tasks_per_day: null }],
    ['safety_rules:\n  max_attempts_per_task: 3\nmax_attempts_per_task: 3\n', { max_attempts_per_task: 3 }],
    ['max_open_prs: "3"\n', { max_open_prs: 3 }],
    ['max_open_prs: 0\n', { max_open_prs: 0 }],
    ['forbidden_paths: "tmp/**"\n', { forbidden_paths: ['tmp/**'] }],
    ['circuit_breaker:\nallowed_paths:\nscope_constraints:\n', {}],
    ['scope_constraints:\n  docs:\n  core:\n    max_files_per_task: 5\n', { max_files_per_task: { core: 5 } }],
    ['scope_constraints:\n  docs:\n    max_files_per_task: "5"\n', { max_files_per_task: { docs: 5 } }],
  ])('%j → %j', (text, policy) => {
    expect(parsePolicy(text)).toEqual({ ok: true, policy });
  });

  it.each([
    ['invalid.yaml', 3, 'circuit_breaker.consecutive_failures must be a whole number from 1 to 100, not the number 0'],
    ['invalid-forbidden.yaml', 3, 'forbidden_paths: entry "../outside/**" is outside the repository (..)'],
    ['invalid-allowed.yaml', 1, 'allowed_paths must map each scope to a list of globs (e.g. docs: ["docs/**"]), not a list'],
    ['conflicting-safety-rules.yaml', 3, 'max_attempts_per_task is set both as safety_rules.max_attempts_per_task and as max_attempts_per_task with different values; keep one'],
    ['syntax-error.yaml', 4, 'YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] (line 4, column 1)'],
  ])('%s → line %s: %s', (name, line, reason) => {
    expect(parsePolicy(fixture(name))).toEqual({ ok: false, error: { code: 'policy_invalid', line, reason } });
  });

  it.each([
    ['not a mapping', '- a\n', 1, /policy.yaml must be a mapping, not a list/],
    ['max_open_prs too big', 'max_open_prs: 1000\n', 1, /max_open_prs must be a whole number from 0 to 100, not the number 1000/],
    ['fractional timeout', 'attempt_timeout_minutes: 1.5\n', 1, /attempt_timeout_minutes must be a whole number/],
    ['circuit_breaker is a number', 'circuit_breaker: 3\n', 1, /circuit_breaker must be a mapping, not the number 3/],
    ['absolute allowed glob', 'allowed_paths:\n  docs:\n    - /docs/**\n', 3, /allowed_paths.docs: entry "\/docs\/\*\*" is absolute/],
    ['max_files_per_task as words', 'scope_constraints:\n  docs:\n    max_files_per_task: "five"\n', 3, /scope_constraints.docs.max_files_per_task must be a whole number of at least 1, not the string "five"/],
    ['max_files_per_task zero', 'scope_constraints:\n  docs:\n    max_files_per_task: 0\n', 3, /scope_constraints.docs.max_files_per_task must be a whole number of at least 1/],
    ['a scope is a number', 'scope_constraints:\n  core:\n    max_files_per_task: 5\n  docs: 5\n', 4, /^scope_constraints.docs must be a mapping \(e.g. max_files_per_task: 10\), not the number 5$/],
    ['a scope is a list', 'scope_constraints:\n  docs: [max_files_per_task]\n', 2, /^scope_constraints.docs must be a mapping .*, not a list$/],
    ['a scope is text', 'scope_constraints:\n  docs: "max_files_per_task: 3"\n', 2, /^scope_constraints.docs must be a mapping .*, not the string/],
    ['scope_constraints is a list', 'scope_constraints:\n  - docs\n', 1, /^scope_constraints must be a mapping of scopes, not a list$/],
    ['scope_constraints is a number', 'max_open_prs: 2\nscope_constraints: 5\n', 2, /^scope_constraints must be a mapping of scopes, not the number 5$/],
    ['max_tasks_per_day text', 'safety_rules:\n  max_tasks_per_day: many\n', 2, /safety_rules.max_tasks_per_day must be a whole number from 0 to 100000 \(or null for no limit\)/],
  ])('%s → line %s', (_name, text, line, reason) => {
    const result = parsePolicy(text);
    expect(result).toMatchObject({ ok: false, error: { code: 'policy_invalid', line } });
    if (!result.ok) expect(result.error.reason).toMatch(reason);
  });

  it('refuses hostile files without throwing', () => {
    expect(parsePolicy('['.repeat(10_000))).toMatchObject({ ok: false, error: { code: 'policy_invalid' } });
    expect(parsePolicy(readFileSync(new URL('../../fixtures/backlog/alias-bomb.yaml', import.meta.url), 'utf8'))).toMatchObject({
      ok: false,
      error: { code: 'policy_invalid', reason: expect.stringContaining('too many alias expansions') },
    });
  });
});

describe('effectivePolicy', () => {
  it('is the defaults, all sourced "default", when nothing is configured', () => {
    const p = effectivePolicy({});
    expect(p).toEqual({
      ...DEFAULT_POLICY,
      circuit_breaker: { consecutive_failures: 2, cooldown_minutes: 60 },
      allowed_paths: {},
      forbidden_paths: [...DEFAULT_FORBIDDEN_PATHS],
      max_files_per_task: {},
      sources: {
        max_open_prs: 'default',
        'circuit_breaker.consecutive_failures': 'default',
        'circuit_breaker.cooldown_minutes': 'default',
        attempt_timeout_minutes: 'default',
        max_attempts_per_task: 'default',
        max_concurrent_attempts: 'default',
        max_tasks_per_day: 'default',
        allowed_paths: 'default',
        forbidden_paths: 'default',
        max_files_per_task: 'default',
      },
    });
  });

  const global = { max_open_prs: 5, attempt_timeout_minutes: 30, circuit_breaker: { cooldown_minutes: 10 }, max_tasks_per_day: 50 };
  const policyFile: PolicyFile = { max_open_prs: 1, circuit_breaker: { consecutive_failures: 4 }, max_tasks_per_day: null };

  it.each([
    ['max_open_prs: policy.yaml beats backlog, global, default', { global, policyFile, backlogMaxOpenPrs: 3 }, 'max_open_prs', 1, 'policy.yaml'],
    ['max_open_prs: backlog beats global', { global, backlogMaxOpenPrs: 3 }, 'max_open_prs', 3, 'backlog.yaml'],
    ['max_open_prs: backlog 0 is a value, not absent', { global, backlogMaxOpenPrs: 0 }, 'max_open_prs', 0, 'backlog.yaml'],
    ['max_open_prs: global beats default', { global }, 'max_open_prs', 5, 'global'],
    ['consecutive_failures from policy.yaml', { global, policyFile }, 'circuit_breaker.consecutive_failures', 4, 'policy.yaml'],
    ['cooldown from global while its sibling comes from policy.yaml', { global, policyFile }, 'circuit_breaker.cooldown_minutes', 10, 'global'],
    ['attempt timeout from global', { global, policyFile }, 'attempt_timeout_minutes', 30, 'global'],
    ['explicit null in policy.yaml beats a global daily limit', { global, policyFile }, 'max_tasks_per_day', null, 'policy.yaml'],
    ['global daily limit', { global }, 'max_tasks_per_day', 50, 'global'],
    ['untouched key stays default', { global, policyFile }, 'max_concurrent_attempts', 1, 'default'],
  ] as const)('%s', (_name, layers, key, value, source) => {
    const p = effectivePolicy(layers);
    const actual = key.startsWith('circuit_breaker.')
      ? p.circuit_breaker[key.slice('circuit_breaker.'.length) as 'consecutive_failures' | 'cooldown_minutes']
      : p[key as 'max_open_prs'];
    expect(actual).toBe(value);
    expect(p.sources[key]).toBe(source);
  });

  it('backlog max_open_prs only affects max_open_prs', () => {
    const p = effectivePolicy({ backlogMaxOpenPrs: 7 });
    expect(Object.entries(p.sources).filter(([, s]) => s === 'backlog.yaml')).toEqual([['max_open_prs', 'backlog.yaml']]);
  });

  it('forbidden_paths is the union of defaults and policy.yaml, never fewer', () => {
    const p = effectivePolicy({ policyFile: { forbidden_paths: ['infra/**', '.git/**'] } });
    expect(p.forbidden_paths).toEqual([...DEFAULT_FORBIDDEN_PATHS, 'infra/**']);
    expect(p.sources.forbidden_paths).toBe('policy.yaml');
    const empty = effectivePolicy({ policyFile: { forbidden_paths: [] } });
    expect(empty.forbidden_paths).toEqual([...DEFAULT_FORBIDDEN_PATHS]);
    expect(empty.sources.forbidden_paths).toBe('default');
  });

  it('takes allowed paths and max files per scope from policy.yaml', () => {
    const parsed = parsePolicy(fixture('full.yaml'));
    if (!parsed.ok) throw new Error('fixture must parse');
    const p = effectivePolicy({ policyFile: parsed.policy, global: { max_open_prs: 9 } });
    expect(p.allowed_paths).toEqual({ docs: ['docs/**', 'README.md', '*.md'], core: ['src/**/*.ts'] });
    expect(p.max_files_per_task).toEqual({ docs: 10, core: 5 });
    expect(p.max_open_prs).toBe(4);
    expect(p.sources).toMatchObject({ allowed_paths: 'policy.yaml', max_files_per_task: 'policy.yaml', max_open_prs: 'policy.yaml' });
  });

  it('does not share arrays with its inputs or the defaults', () => {
    const file: PolicyFile = { allowed_paths: { docs: ['docs/'] } };
    const p = effectivePolicy({ policyFile: file });
    p.allowed_paths.docs!.push('x');
    p.forbidden_paths.push('y');
    expect(file.allowed_paths!.docs).toEqual(['docs/']);
    expect(DEFAULT_FORBIDDEN_PATHS).not.toContain('y');
  });
});

describe('parseAutonomyConfig', () => {
  it.each([
    ['autonomy_enabled: true\n', true],
    ['autonomy_enabled: false\n', false],
    ['autonomy_enabled: "true"\n', true],
    ['autonomy_enabled: "FALSE"\n', false],
  ])('%j → enabled %s', (text, enabled) => {
    expect(parseAutonomyConfig(text)).toEqual({ autonomy_enabled: enabled, defaults: {}, problems: [] });
  });

  it('reads global guardrail defaults with the same keys as policy.yaml', () => {
    const text = 'autonomy_enabled: true\nmax_open_prs: 3\ncircuit_breaker:\n  cooldown_minutes: 90\nsafety_rules:\n  max_tasks_per_day: 20\n';
    expect(parseAutonomyConfig(text)).toEqual({
      autonomy_enabled: true,
      defaults: { max_open_prs: 3, circuit_breaker: { cooldown_minutes: 90 }, max_tasks_per_day: 20 },
      problems: [],
    });
  });

  it.each([
    ['empty', '', 'autonomy_enabled is not set; autonomy is off'],
    ['only other keys', 'max_open_prs: 2\n', 'autonomy_enabled is not set; autonomy is off'],
    ['null', 'autonomy_enabled:\n', 'autonomy_enabled is not set; autonomy is off'],
    ['"maybe"', 'autonomy_enabled: "maybe"\n', 'autonomy_enabled must be true or false, not the string "maybe"; autonomy is off'],
    ['unquoted yes', 'autonomy_enabled: yes\n', 'autonomy_enabled must be true or false, not the string "yes"; autonomy is off'],
    ['1', 'autonomy_enabled: 1\n', 'autonomy_enabled must be true or false, not the number 1; autonomy is off'],
    ['garbage', '\u0000\u0001{{{[[[', expect.stringContaining('autonomy is off')],
    ['a list', '- autonomy_enabled: true\n', 'the autonomy config must be a mapping of keys, not a list; autonomy is off'],
    ['a bad guardrail next to true', 'autonomy_enabled: true\nmax_open_prs: -3\n', 'line 2: max_open_prs must be a whole number from 0 to 100, not the number -3'],
  ])('fails closed: %s', (_name, text, problem) => {
    const parsed = parseAutonomyConfig(text);
    expect(parsed.autonomy_enabled).toBe(false);
    expect(parsed.problems).toContainEqual(problem);
  });
});

describe('readAutonomyConfig', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leviathan-autonomy-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is off when no path is configured', async () => {
    expect(await readAutonomyConfig(undefined)).toEqual({
      enabled: false,
      defaults: {},
      problems: ['no autonomy config path is configured; autonomy is off'],
    });
  });

  it('is off when the path does not exist', async () => {
    const missing = join(dir, 'nope');
    expect(await readAutonomyConfig(missing)).toEqual({
      enabled: false,
      defaults: {},
      problems: [`autonomy config not found at ${missing}; autonomy is off`],
    });
  });

  it('is off for an empty directory', async () => {
    expect(await readAutonomyConfig(dir)).toEqual({
      enabled: false,
      defaults: {},
      problems: [`the autonomy config directory ${dir} has no keys; autonomy is off`],
    });
  });

  it('reads a single YAML file', async () => {
    const file = join(dir, 'autonomy.yaml');
    await writeFile(file, 'autonomy_enabled: true\nmax_open_prs: 1\n');
    expect(await readAutonomyConfig(file)).toEqual({ enabled: true, defaults: { max_open_prs: 1 }, problems: [] });
  });

  it('is off for a garbage file', async () => {
    const file = join(dir, 'autonomy.yaml');
    await writeFile(file, 'autonomy_enabled: [true\n');
    const config = await readAutonomyConfig(file);
    expect(config.enabled).toBe(false);
    expect(config.problems[0]).toMatch(/^YAML syntax error: .*autonomy is off$/);
  });

  it('reads a mounted ConfigMap: one file per key, dotted keys nest, ..data entries skipped', async () => {
    // The layout kubelet creates: real files in a timestamped dir, ..data symlink, key symlinks.
    const data = join(dir, '..2026_11_27_21_00_00.000000001');
    await mkdir(data);
    await writeFile(join(data, 'autonomy_enabled'), 'true\n');
    await writeFile(join(data, 'max_open_prs'), '3');
    await writeFile(join(data, 'circuit_breaker.cooldown_minutes'), '15\n');
    await symlink(data, join(dir, '..data'));
    for (const key of ['autonomy_enabled', 'max_open_prs', 'circuit_breaker.cooldown_minutes']) {
      await symlink(join('..data', key), join(dir, key));
    }
    expect(await readAutonomyConfig(dir)).toEqual({
      enabled: true,
      defaults: { max_open_prs: 3, circuit_breaker: { cooldown_minutes: 15 } },
      problems: [],
    });
  });

  it('reads a ConfigMap with a config.yaml key; per-key files win over it', async () => {
    await writeFile(join(dir, 'config.yaml'), 'autonomy_enabled: true\nmax_open_prs: 4\nattempt_timeout_minutes: 20\n');
    await writeFile(join(dir, 'max_open_prs'), '1');
    expect(await readAutonomyConfig(dir)).toEqual({
      enabled: true,
      defaults: { max_open_prs: 1, attempt_timeout_minutes: 20 },
      problems: [],
    });
  });

  it.each([
    ['maybe', 'autonomy_enabled must be true or false, not the string "maybe"; autonomy is off'],
    ['', 'autonomy_enabled is not set; autonomy is off'],
    ['  TRUE  ', null],
  ])('key file autonomy_enabled containing %j', async (content, problem) => {
    await writeFile(join(dir, 'autonomy_enabled'), content);
    const config = await readAutonomyConfig(dir);
    if (problem === null) {
      expect(config).toEqual({ enabled: true, defaults: {}, problems: [] });
    } else {
      expect(config.enabled).toBe(false);
      expect(config.problems).toContain(problem);
    }
  });

  it('is off when a key file is unparseable, even if autonomy_enabled says true', async () => {
    await writeFile(join(dir, 'autonomy_enabled'), 'true');
    await writeFile(join(dir, 'max_open_prs'), '[1');
    const config = await readAutonomyConfig(dir);
    expect(config.enabled).toBe(false);
    expect(config.problems[0]).toMatch(/^max_open_prs: YAML syntax error/);
  });

  it('ignores prototype-polluting key names', async () => {
    await writeFile(join(dir, 'autonomy_enabled'), 'false');
    await writeFile(join(dir, '__proto__.polluted'), 'true');
    expect(await readAutonomyConfig(dir)).toEqual({ enabled: false, defaults: {}, problems: [] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
