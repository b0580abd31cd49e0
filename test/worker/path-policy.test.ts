import { describe, expect, it } from 'vitest';
import { checkDiff, symlinkEscapes } from '../../src/worker/path-policy.ts';
import type { Change } from '../../src/worker/workspace.ts';

const file = (p: string, over: Partial<Change> = {}): Change => ({
  status: 'A',
  path: p,
  oldMode: '000000',
  newMode: '100644',
  newSha: 'f'.repeat(40),
  ...over,
});

describe('symlinkEscapes', () => {
  it.each([
    ['docs/a', 'b.md', false],
    ['docs/a', '../README.md', false],
    ['docs/deep/a', '../../src/x.ts', false],
    ['docs/a', '../../etc/passwd', true],
    ['a', '..', true],
    ['docs/a', '/etc/passwd', true],
    ['docs/a', 'C:\\Windows', true],
    ['docs/a', '../.git/config', true],
    ['docs/a', '', true],
  ])('%s → %s escapes: %s', (link, target, escapes) => {
    expect(symlinkEscapes(link, target)).toBe(escapes);
  });
});

describe('checkDiff', () => {
  const rules = { allowed: ['docs/'], forbidden: ['docs/private/**'], maxFiles: 3 };
  const blobs: Record<string, string> = { ['1'.repeat(40)]: '../../../etc', ['2'.repeat(40)]: 'guide.md' };
  const read = async (sha: string) => blobs[sha] ?? '';

  it('accepts allowed edits, renames within the allowed paths and in-repo symlinks', async () => {
    const changes = [
      file('docs/a.md', { status: 'M', oldMode: '100644' }),
      file('docs/b.md', { status: 'R', oldPath: 'docs/old.md', oldMode: '100644' }),
      file('docs/link', { newMode: '120000', newSha: '2'.repeat(40) }),
    ];
    expect(await checkDiff(changes, rules, read)).toEqual([]);
  });

  it('checks both sides of a rename, symlink targets and nested repositories', async () => {
    const changes = [
      file('docs/moved.md', { status: 'R', oldPath: 'src/secretive.ts' }),
      file('docs/out', { newMode: '120000', newSha: '1'.repeat(40) }),
      file('docs/vendor', { newMode: '160000' }),
      file('docs/private/x.md'),
    ];
    expect(await checkDiff(changes, rules, read)).toEqual(
      expect.arrayContaining([
        { path: 'src/secretive.ts', reason: 'forbidden' },
        { path: 'docs/out', reason: 'symlink_escape', link_target: '../../../etc' },
        { path: 'docs/vendor', reason: 'submodule' },
        { path: 'docs/private/x.md', reason: 'forbidden' },
        { path: 'docs/private/x.md', reason: 'too_many_files' },
      ]),
    );
  });

  it('checks a deleted file outside the allowed paths, but not its (absent) content', async () => {
    const changes = [file('src/index.ts', { status: 'D', newMode: '000000', newSha: '0'.repeat(40) })];
    expect(await checkDiff(changes, rules, read)).toEqual([{ path: 'src/index.ts', reason: 'outside_allowed' }]);
  });
});
