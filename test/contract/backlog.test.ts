import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKLOG_LIMITS, parseBacklog } from '../../src/contract/backlog.ts';
import { YAML_LIMITS } from '../../src/contract/load-yaml.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/backlog/${name}`, import.meta.url), 'utf8');

describe('parseBacklog: valid files', () => {
  it('reads normal.yaml with defaults applied, comments ignored, meta and max_open_prs kept', () => {
    const result = parseBacklog(fixture('normal.yaml'));
    expect(result).toEqual({
      ok: true,
      max_open_prs: 3,
      meta: { version: 1, metadata: { owner: 'platform-team' } },
      tasks: [
        {
          id: 'docs-quickstart',
          title: 'Write the quickstart',
          scope: 'docs',
          priority: 'high',
          ready: true,
          status: 'pending',
          dependencies: [],
          allowed_paths: ['docs/', 'README.md'],
          acceptance_criteria: ['Quickstart explains installation', 'Covers configuration'],
          estimated_size: 'small',
          description: 'Explain how to install and configure the app.\n',
          labels: ['documentation'],
          line: 8,
        },
        {
          id: 'tests-for-quickstart',
          title: 'Tests for the quickstart',
          scope: 'tests',
          priority: 'low',
          ready: false,
          status: 'pending',
          dependencies: ['docs-quickstart'],
          allowed_paths: ['tests/quickstart.test.ts'],
          acceptance_criteria: [],
          estimated_size: 'unknown',
          line: 26,
        },
      ],
    });
  });

  it('reads a bare list of tasks', () => {
    const result = parseBacklog(fixture('bare-list.yaml'));
    expect(result).toMatchObject({ ok: true, meta: {}, tasks: [{ id: 'one', line: 2, ready: false }, { id: 'two', line: 4, ready: true }] });
    expect(result).not.toHaveProperty('max_open_prs');
  });

  it.each([
    ['max_open_prs: "3"', 3],
    ['max_open_prs: " 4 "', 4],
    ['max_open_prs: 3', 3],
    // "Open no PRs" holds the target, written either way.
    ['max_open_prs: "0"', 0],
    ['max_open_prs: 0', 0],
  ])('reads top-level %s as %i, as policy.yaml reads it', (line, value) => {
    expect(parseBacklog(`${line}\ntasks: []\n`)).toEqual({ ok: true, tasks: [], meta: {}, max_open_prs: value });
  });

  it('fills every default for a minimal task', () => {
    expect(parseBacklog('- id: t\n  allowed_paths: [a.md]\n')).toEqual({
      ok: true,
      meta: {},
      tasks: [
        {
          id: 't',
          title: 't',
          scope: 'unknown',
          priority: 'medium',
          ready: false,
          status: 'pending',
          dependencies: [],
          allowed_paths: ['a.md'],
          acceptance_criteria: [],
          estimated_size: 'unknown',
          line: 1,
        },
      ],
    });
  });

  it.each([
    ['task-id-alias.yaml', ['legacy-1', 'legacy-2']],
    ['empty.yaml', []],
    ['comments-only.yaml', []],
    ['empty-tasks.yaml', []],
    ['null-tasks.yaml', []],
    ['anchors-and-merge.yaml', ['merged', 'aliased-paths']],
    ['yaml11-booleans.yaml', ['yes-task', 'off-task']],
    ['evil-keys.yaml', ['proto']],
  ])('%s → ok with ids %j', (name, ids) => {
    const result = parseBacklog(fixture(name));
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.tasks.map((t) => t.id)).toEqual(ids);
  });

  it('null status, priority and ready mean the defaults', () => {
    expect(parseBacklog(fixture('null-status.yaml'))).toMatchObject({
      ok: true,
      tasks: [{ id: 'null-status', status: 'pending', priority: 'medium', ready: false }],
    });
  });

  it('resolves merge keys and aliases', () => {
    expect(parseBacklog(fixture('anchors-and-merge.yaml'))).toMatchObject({
      ok: true,
      tasks: [
        { id: 'merged', scope: 'docs', ready: true, allowed_paths: ['docs/'], line: 8 },
        { id: 'aliased-paths', allowed_paths: ['src/shared/'], line: 11 },
      ],
    });
  });

  it('reads unquoted YAML 1.1 yes/off for ready, as the earlier implementation did', () => {
    expect(parseBacklog(fixture('yaml11-booleans.yaml'))).toMatchObject({
      ok: true,
      tasks: [{ id: 'yes-task', ready: true }, { id: 'off-task', ready: false }],
    });
  });

  it('does not let __proto__ keys set fields or pollute prototypes', () => {
    const result = parseBacklog(fixture('evil-keys.yaml'));
    expect(result).toMatchObject({ ok: true, tasks: [{ id: 'proto', ready: false }] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).ready).toBeUndefined();
  });

  it('normalises allowed paths and reads lenient lists', () => {
    const text = [
      'tasks:',
      '  - id: 42',
      '    title: 7',
      '    priority: HIGH',
      '    allowed_paths: [./docs/, "src//a.ts"]',
      '    acceptance_criteria:',
      '      - Returns 404: when missing',
      '      - 3',
      '    labels: docs',
      '    dependencies: [1]',
      '    ignored_key: whatever',
    ].join('\n');
    expect(parseBacklog(text)).toMatchObject({
      ok: true,
      tasks: [
        {
          id: '42',
          title: '7',
          priority: 'high',
          allowed_paths: ['docs/', 'src/a.ts'],
          acceptance_criteria: ['Returns 404: when missing', '3'],
          labels: ['docs'],
          dependencies: ['1'],
        },
      ],
    });
  });

  it('accepts a BOM and CRLF line endings', () => {
    expect(parseBacklog('\uFEFFtasks:\r\n  - id: a\r\n    allowed_paths: [docs/]\r\n')).toMatchObject({
      ok: true,
      tasks: [{ id: 'a', line: 2 }],
    });
  });
});

describe('parseBacklog: refused files', () => {
  it.each([
    ['tasks-not-a-list.yaml', 2, '`tasks` must be a list (each task starting with "- "), not a mapping'],
    ['task-not-mapping.yaml', 4, 'task #2 is the string "just a string", not a mapping; each task needs at least `id:` and `allowed_paths:`'],
    ['missing-id.yaml', 4, 'task #2 has no `id` (or `task_id`); add a unique `id:`'],
    ['duplicate-ids.yaml', 6, 'duplicate id "same": the task at line 2 already uses it; ids must be unique'],
    ['empty-allowed-paths.yaml', 4, 'task "nothing-allowed": `allowed_paths` is empty; list the files (or directories, ending in "/") it may change'],
    ['missing-allowed-paths.yaml', 4, 'task "no-paths" has no `allowed_paths`; list the files (or directories, ending in "/") it may change'],
    ['dotdot-path.yaml', 5, 'task "escape": allowed path "docs/../../etc/passwd" contains a ".." segment; paths must stay inside the repository'],
    ['absolute-path.yaml', 4, 'task "absolute": allowed path "/etc/passwd" is absolute; paths are relative to the repository root'],
    ['backslash-path.yaml', 4, 'task "windows": allowed path "docs\\\\guide.md" contains a backslash, NUL or control character, or is too long; use "/" as the separator'],
    ['syntax-error.yaml', 4, 'YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] (line 4, column 3)'],
    ['duplicate-keys.yaml', 4, 'YAML syntax error: Map keys must be unique (line 4, column 5)'],
    ['alias-bomb.yaml', null, 'too many alias expansions (limit 100); anchors and aliases (&x / *x) are expanded into a structure far too large'],
    ['deep-nesting.yaml', 4, 'nested more than 64 levels deep; a Leviathan file needs only a few levels'],
    ['wrong-types.yaml', 3, 'task "quoted-ready": `ready` must be true or false, not the string "yes"'],
    ['wrong-priority.yaml', 3, 'task "urgent": `priority` must be one of high, medium, low, not the string "urgent"'],
    ['wrong-status.yaml', 3, 'task "done": `status` must be one of pending, in_progress, completed, blocked, failed, not the string "done"'],
    ['wrong-dependencies.yaml', 3, 'task "deps": `dependencies` must be a list of task ids (e.g. [task-a]), not the string "other-task"'],
    ['wrong-dependency-item.yaml', 5, 'task "deps": each dependency must be a task id, not a mapping'],
    ['no-tasks-key.yaml', 1, 'the file is a mapping without a `tasks:` key (found: version, task); put the tasks in a list under `tasks:`'],
    ['scalar-root.yaml', 1, 'the file must be a mapping with a `tasks:` list or a list of tasks, not the string "just some text"'],
    ['bad-id.yaml', 2, 'task #1: id "has spaces/and slash" cannot be used as a branch name (leviathan/<id>); use up to 100 letters, digits, ".", "_" or "-", starting with a letter or digit'],
    ['bad-max-open-prs.yaml', 2, 'max_open_prs must be a whole number from 0 to 100, not the string "lots"'],
  ])('%s → line %s: %s', (name, line, reason) => {
    expect(parseBacklog(fixture(name))).toEqual({ ok: false, error: { code: 'backlog_invalid', line, reason } });
  });

  it.each([
    ['id and task_id differ', '- id: a\n  task_id: b\n  allowed_paths: [x]\n', 2, /both `id` and `task_id`/],
    ['id is a list', '- id: [a]\n  allowed_paths: [x]\n', 1, /`id` must be text, not a list/],
    ['id would escape a ref', '- id: a..b\n  allowed_paths: [x]\n', 1, /cannot be used as a branch name/],
    ['id ends in .lock', '- id: main.lock\n  allowed_paths: [x]\n', 1, /cannot be used as a branch name/],
    ['allowed_paths is a string', '- id: a\n  allowed_paths: docs/\n', 2, /`allowed_paths` must be a list, not the string "docs\/"/],
    ['allowed path is a number', '- id: a\n  allowed_paths:\n    - docs/\n    - 5\n', 4, /each allowed path must be text, not the number 5/],
    ['allowed path has NUL', '- id: a\n  allowed_paths: ["a\\0b"]\n', 2, /contains a backslash, NUL/],
    ['empty allowed path', '- id: a\n  allowed_paths: [""]\n', 2, /allowed path "" is empty/],
    ['title is a mapping', '- id: a\n  title: {x: 1}\n  allowed_paths: [x]\n', 2, /`title` must be text, not a mapping/],
    ['ready is a number', '- id: a\n  ready: 1\n  allowed_paths: [x]\n', 2, /`ready` must be true or false, not the number 1/],
    ['acceptance criteria nested list', '- id: a\n  allowed_paths: [x]\n  acceptance_criteria:\n    - [a, b]\n', 4, /each item of `acceptance_criteria` must be text, not a list/],
    ['labels is a mapping', '- id: a\n  allowed_paths: [x]\n  labels: {a: 1}\n', 3, /`labels` must be a list of text, not a mapping/],
    ['tasks is a string', 'tasks: none\n', 1, /`tasks` must be a list/],
    ['null task item', 'tasks:\n  -\n  - id: b\n    allowed_paths: [x]\n', 2, /task #1 is empty, not a mapping/],
    ['max_open_prs negative', 'max_open_prs: -1\ntasks: []\n', 1, /max_open_prs must be a whole number/],
    ['max_open_prs negative text', 'max_open_prs: "-1"\ntasks: []\n', 1, /max_open_prs must be a whole number from 0 to 100, not the string "-1"/],
    ['max_open_prs too big as text', 'version: 1\nmax_open_prs: "101"\ntasks: []\n', 2, /not the string "101"/],
    ['max_open_prs fractional text', 'max_open_prs: "2.5"\ntasks: []\n', 1, /not the string "2.5"/],
    ['max_open_prs empty text', 'max_open_prs: ""\ntasks: []\n', 1, /not the string ""/],
    ['max_open_prs a list', 'max_open_prs: [3]\ntasks: []\n', 1, /not a list/],
    ['two documents', 'tasks: []\n---\ntasks: []\n', 2, /YAML syntax error/],
    ['unknown alias', 'version: 1\ntasks: *nope\n', 2, /^alias \*nope refers to no anchor &nope defined before it$/],
  ])('%s → line %s', (_name, text, line, reason) => {
    const result = parseBacklog(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('backlog_invalid');
      expect(result.error.line).toBe(line);
      expect(result.error.reason).toMatch(reason);
    }
  });
});

describe('parseBacklog: hostile input', () => {
  it('refuses files over the size limit without parsing them', () => {
    const text = `tasks: []\n# ${'x'.repeat(YAML_LIMITS.maxBytes)}\n`;
    expect(parseBacklog(text)).toEqual({
      ok: false,
      error: { code: 'backlog_invalid', line: null, reason: expect.stringMatching(/^file too large \(\d+ bytes; the limit is 1048576 bytes\)$/) },
    });
  });

  it('refuses more tasks than the cap, pointing at the first one over it', () => {
    const text = Array.from({ length: BACKLOG_LIMITS.maxTasks + 1 }, (_, i) => `- {id: t${i}, allowed_paths: [x]}`).join('\n');
    expect(parseBacklog(text)).toEqual({
      ok: false,
      error: {
        code: 'backlog_invalid',
        line: BACKLOG_LIMITS.maxTasks + 1,
        // A dependency is met by `status: completed` in the file: removing such a task would block its dependants for good.
        reason: 'too many tasks (5001); the limit is 5000 — remove completed tasks that no remaining task lists in `dependencies`',
      },
    });
  });

  it('accepts exactly the cap', () => {
    const text = Array.from({ length: BACKLOG_LIMITS.maxTasks }, (_, i) => `- {id: t${i}, allowed_paths: [x]}`).join('\n');
    const result = parseBacklog(text);
    expect(result.ok && result.tasks.length).toBe(BACKLOG_LIMITS.maxTasks);
  });

  it.each([
    ['flow sequences', '['.repeat(100_000)],
    ['flow mappings', '{a: '.repeat(50_000)],
    ['block sequences', Array.from({ length: 1200 }, (_, i) => `${' '.repeat(i)}- `).join('\n')],
    ['compact sequences', `${'- '.repeat(50_000)}x`],
    ['explicit keys', `${'? '.repeat(50_000)}x`],
  ])('refuses deep nesting of %s, and the process stays healthy afterwards', (_name, text) => {
    const result = parseBacklog(text);
    expect(result).toMatchObject({ ok: false, error: { code: 'backlog_invalid', reason: expect.stringContaining('nested more than 64 levels') } });
    // A stack overflow inside the YAML composer used to poison later parses (V8 regexp state).
    expect(parseBacklog(fixture('normal.yaml')).ok).toBe(true);
  });

  it('accepts nesting at the limit', () => {
    const depth = YAML_LIMITS.maxDepth - 3;
    const text = `- id: a\n  allowed_paths: [x]\n  meta: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    expect(parseBacklog(text).ok).toBe(true);
  });

  it('refuses a billion-laughs alias bomb quickly', () => {
    const start = performance.now();
    expect(parseBacklog(fixture('alias-bomb.yaml')).ok).toBe(false);
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        const result = parseBacklog(text);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 2500 },
    );
  });

  it('never throws on YAML-ish text built from backlog fragments', () => {
    const fragment = fc.constantFrom(
      'tasks:', '- ', '  ', '    ', 'id: ', 'task_id: ', 'allowed_paths: ', 'ready: ', 'status: ', 'priority: ',
      'dependencies: ', '[', ']', '{', '}', ',', '&a ', '*a', '<<: ', '"', "'", '|', '>', '#', '\n', '---', '...',
      'docs/', '../x', '/etc/passwd', 'null', '~', 'yes', 'true', '1e999', '0x1F', ':', '? ', '!!str ', '!!binary ', '%YAML 1.1\n',
      '__proto__', '\t', '\u0000', '\\',
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 60 }), (parts) => {
        const result = parseBacklog(parts.join(''));
        if (result.ok) for (const t of result.tasks) expect(t.allowed_paths.length).toBeGreaterThan(0);
        else expect(result.error.code).toBe('backlog_invalid');
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary structures serialised as YAML', async () => {
    const { stringify } = await import('yaml');
    const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double());
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 10 }), tie('node'), { maxKeys: 4 })),
    })).node;
    const task = fc.record(
      {
        id: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), value),
        ready: fc.oneof(fc.boolean(), value),
        priority: fc.oneof(fc.constantFrom('high', 'medium', 'low'), value),
        allowed_paths: fc.oneof(fc.array(fc.constantFrom('docs/', 'a.md', '../x', '/abs', 'a\\b', ''), { maxLength: 3 }), value),
        dependencies: value,
      },
      { requiredKeys: [] },
    );
    const backlog = fc.oneof(fc.record({ tasks: fc.oneof(fc.array(task, { maxLength: 5 }), value) }), fc.array(task, { maxLength: 5 }), value);
    fc.assert(
      fc.property(backlog, (doc) => {
        const result = parseBacklog(stringify(doc));
        expect(typeof result.ok).toBe('boolean');
        if (result.ok) {
          const ids = result.tasks.map((t) => t.id);
          expect(new Set(ids).size).toBe(ids.length);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
