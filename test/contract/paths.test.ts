import { describe, expect, it } from 'vitest';
import { DEFAULT_FORBIDDEN_PATHS } from '../../src/contract/forbidden-paths.ts';
import {
  checkChangedPaths,
  matchesAllowed,
  matchesGlob,
  normalizeRepoPath,
  pathsOverlap,
} from '../../src/contract/paths.ts';

describe('normalizeRepoPath', () => {
  it.each([
    ['docs/a.md', 'docs/a.md'],
    ['./docs/a.md', 'docs/a.md'],
    ['docs//a.md', 'docs/a.md'],
    ['docs/./a.md', 'docs/a.md'],
    ['docs/', 'docs/'],
    ['./docs/', 'docs/'],
    ['.env', '.env'],
    ['a/..b/c', 'a/..b/c'],
    ['a/b..', 'a/b..'],
    ['docs/**/*.md', 'docs/**/*.md'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeRepoPath(input)).toEqual({ ok: true, path: expected });
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['.', 'empty'],
    ['./', 'empty'],
    ['/etc/passwd', 'absolute'],
    ['//server/share', 'absolute'],
    ['C:/Windows', 'absolute'],
    ['../x', 'dotdot'],
    ['a/../b', 'dotdot'],
    ['docs/../../etc/passwd', 'dotdot'],
    ['a/b/..', 'dotdot'],
    ['docs\\a.md', 'invalid'],
    ['a\u0000b', 'invalid'],
    ['a\nb', 'invalid'],
    ['x'.repeat(5000), 'invalid'],
  ] as const)('%j is refused as %s', (input, reason) => {
    expect(normalizeRepoPath(input)).toEqual({ ok: false, reason });
  });
});

describe('matchesGlob', () => {
  it.each([
    // ** spans zero or more directories
    ['docs/a.md', 'docs/**', true],
    ['docs/a/b/c.md', 'docs/**', true],
    ['docs', 'docs/**', true],
    ['docs2/a.md', 'docs/**', false],
    ['a.pem', '**/*.pem', true],
    ['x/y/z.pem', '**/*.pem', true],
    ['x/y/z.pem.txt', '**/*.pem', false],
    ['src/a/b/c.ts', 'src/**/*.ts', true],
    ['src/c.ts', 'src/**/*.ts', true],
    ['lib/c.ts', 'src/**/*.ts', false],
    ['a/x/b/y/c', 'a/**/b/**/c', true],
    ['a/b/c', 'a/**/**/c', true],
    // * and ? stay within a segment
    ['README.md', '*.md', true],
    ['docs/README.md', '*.md', false],
    ['a.md', '?.md', true],
    ['ab.md', '?.md', false],
    ['a/b', 'a?b', false],
    ['my-secret-file', '**/*secret*', true],
    ['deep/dir/secret', '**/*secret*', true],
    ['abc', 'a**c', true],
    ['a/c', 'a**c', false],
    // dotfiles are matched
    ['.env', '*', true],
    ['.github/workflows/ci.yml', '.github/workflows/**', true],
    ['sub/.git/config', '**/.git/**', true],
    ['.git', '**/.git', true],
    ['config/.env.local', '**/.env.*', true],
    // trailing slash means everything below
    ['docs/a.md', 'docs/', true],
    ['docs2/a.md', 'docs/', false],
    // brackets and braces are literal
    ['a[1].md', 'a[1].md', true],
    ['a1.md', 'a[1].md', false],
    ['{a,b}', '{a,b}', true],
    // case-sensitive
    ['Docs/a.md', 'docs/**', false],
  ] as const)('%j ~ %j → %s', (path, glob, expected) => {
    expect(matchesGlob(path, glob)).toBe(expected);
  });

  it('stays fast on pathological globs', () => {
    const start = performance.now();
    expect(matchesGlob(`${'a'.repeat(2000)}b`, `${'*a'.repeat(50)}c`)).toBe(false);
    expect(matchesGlob(`${'a/'.repeat(500)}b`, `${'**/a/'.repeat(40)}c`)).toBe(false);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('matchesAllowed', () => {
  it.each([
    ['docs/a.md', ['docs/'], true],
    ['docs/deep/a.md', ['docs/'], true],
    ['docs2/x', ['docs/'], false],
    ['docs', ['docs/'], false],
    ['README.md', ['README.md'], true],
    ['README.md.bak', ['README.md'], false],
    ['docs/README.md', ['README.md'], false],
    ['./docs/a.md', ['docs/'], true],
    ['docs/a.md', ['./docs/'], true],
    ['docs/../secrets/x', ['docs/'], false],
    ['../x', ['docs/', '**'], false],
    ['/etc/passwd', ['**'], false],
    ['src/a/b.ts', ['src/**/*.ts'], true],
    ['src/a/b.js', ['src/**/*.ts'], false],
    ['anything', [], false],
    ['docs/a.md', ['../docs/', '/docs/'], false],
  ] as const)('%j in %j → %s', (path, allowed, expected) => {
    expect(matchesAllowed(path, allowed)).toBe(expected);
  });
});

describe('checkChangedPaths', () => {
  const rules = { allowed: ['docs/', 'README.md'], forbidden: ['docs/private/**'] };

  it('accepts changes inside the allowed paths', () => {
    expect(checkChangedPaths([{ path: 'docs/a.md' }, { path: './README.md' }], rules)).toEqual({ ok: true });
  });

  it('accepts an empty diff', () => {
    expect(checkChangedPaths([], rules)).toEqual({ ok: true });
  });

  it.each([
    ['docs2/a.md', 'outside_allowed'],
    ['src/index.ts', 'outside_allowed'],
    ['docs/private/plan.md', 'forbidden'],
    ['/etc/passwd', 'absolute'],
    ['docs/../src/index.ts', 'dotdot'],
    ['../outside', 'dotdot'],
    ['docs\\a.md', 'invalid'],
    ['', 'invalid'],
  ] as const)('%j → %s', (path, reason) => {
    expect(checkChangedPaths([{ path }], rules)).toEqual({ ok: false, violations: [{ path, reason }] });
  });

  it("refuses a path the task allows but the policy's scope does not (outside_scope); forbidden still comes first", () => {
    const scoped = { ...rules, scopeAllowed: ['docs/guides/**', 'docs/private/x.md'] };
    expect(checkChangedPaths([{ path: 'docs/guides/a.md' }], scoped)).toEqual({ ok: true });
    expect(checkChangedPaths([{ path: 'docs/a.md' }, { path: 'docs/private/x.md' }], scoped)).toEqual({
      ok: false,
      violations: [
        { path: 'docs/a.md', reason: 'outside_scope' },
        { path: 'docs/private/x.md', reason: 'forbidden' },
      ],
    });
  });

  it('applies the default forbidden paths even when the caller passes none', () => {
    const result = checkChangedPaths(
      [{ path: 'docs/.env' }, { path: '.git/config' }, { path: 'docs/key.pem' }, { path: '.github/workflows/x.yml' }],
      { allowed: ['docs/', '.git/', '.github/'], forbidden: [] },
    );
    expect(result).toEqual({
      ok: false,
      violations: [
        { path: 'docs/.env', reason: 'forbidden' },
        { path: '.git/config', reason: 'forbidden' },
        { path: 'docs/key.pem', reason: 'forbidden' },
        { path: '.github/workflows/x.yml', reason: 'forbidden' },
      ],
    });
  });

  it('checks both sides of a rename', () => {
    expect(checkChangedPaths([{ path: 'docs/moved.md', oldPath: 'src/secret-ish.ts' }], rules)).toEqual({
      ok: false,
      violations: [{ path: 'src/secret-ish.ts', reason: 'forbidden' }],
    });
    expect(checkChangedPaths([{ path: 'src/stolen.md', oldPath: 'docs/a.md' }], rules)).toEqual({
      ok: false,
      violations: [{ path: 'src/stolen.md', reason: 'outside_allowed' }],
    });
    expect(checkChangedPaths([{ path: 'docs/b.md', oldPath: 'docs/a.md' }], rules)).toEqual({ ok: true });
    expect(checkChangedPaths([{ path: 'docs/a.md', oldPath: '../a.md' }], rules)).toEqual({
      ok: false,
      violations: [{ path: '../a.md', reason: 'dotdot' }],
    });
  });

  it('limits the number of distinct files', () => {
    const changes = [{ path: 'docs/a.md' }, { path: './docs/a.md' }, { path: 'docs/b.md' }, { path: 'docs/c.md' }];
    expect(checkChangedPaths(changes, { ...rules, maxFiles: 3 })).toEqual({ ok: true });
    expect(checkChangedPaths(changes, { ...rules, maxFiles: 2 })).toEqual({
      ok: false,
      violations: [{ path: 'docs/c.md', reason: 'too_many_files' }],
    });
  });

  it('forbidden wins over allowed', () => {
    expect(checkChangedPaths([{ path: 'docs/private/a.md' }], { allowed: ['docs/private/a.md'], forbidden: ['docs/private/**'] })).toEqual({
      ok: false,
      violations: [{ path: 'docs/private/a.md', reason: 'forbidden' }],
    });
  });
});

describe('DEFAULT_FORBIDDEN_PATHS', () => {
  it.each([
    '.git/config',
    'vendor/lib/.git/HEAD',
    '.leviathan/backlog.yaml',
    '.github/workflows/release.yml',
    'certs/server.pem',
    'server.key',
    'home/.ssh/id_rsa',
    'id_ed25519.pub',
    '.env',
    'app/.env.production',
    'config/secrets.yaml',
    'aws/credentials',
  ])('forbids %s', (path) => {
    expect(matchesAllowed(path, DEFAULT_FORBIDDEN_PATHS)).toBe(true);
  });

  it.each(['docs/guide.md', 'src/index.ts', '.github/CODEOWNERS', 'README.md', 'keyboard.ts'])('does not forbid %s', (path) => {
    expect(matchesAllowed(path, DEFAULT_FORBIDDEN_PATHS)).toBe(false);
  });
});

describe('pathsOverlap', () => {
  it.each([
    [['docs/'], ['docs/a.md'], true],
    [['docs/a.md'], ['docs/'], true],
    [['docs/'], ['docs2/a.md'], false],
    [['docs/'], ['docs2/'], false],
    [['docs/'], ['docs/api/'], true],
    [['README.md'], ['README.md'], true],
    [['README.md'], ['CHANGELOG.md'], false],
    [['./docs/a.md'], ['docs/a.md'], true],
    [['src/'], ['docs/', 'tests/'], false],
    [['src/', 'docs/x.md'], ['docs/', 'tests/'], true],
    [['docs/**'], ['docs/a.md'], true],
    [['docs/**/*.md'], ['docs/a.ts'], false],
    [['docs/**'], ['src/'], false],
    [['*.md'], ['docs/'], true],
    [['src/**/*.ts'], ['src/**/*.js'], true],
    [[], ['docs/'], false],
    [['../x'], ['docs/'], true],
  ] as const)('%j vs %j → %s', (a, b, expected) => {
    expect(pathsOverlap(a, b)).toBe(expected);
    expect(pathsOverlap(b, a)).toBe(expected);
  });
});
