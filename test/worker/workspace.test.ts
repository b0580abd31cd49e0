import { describe, expect, it } from 'vitest';
import { parseRawDiff } from '../../src/worker/workspace.ts';

describe('parseRawDiff', () => {
  it('reads adds, edits, deletes, renames, mode changes and odd file names from -z output', () => {
    const z = (...parts: string[]) => parts.join('\0') + '\0';
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const zero = '0'.repeat(40);
    const out = z(
      `:000000 100644 ${zero} ${a} A`, 'docs/new file.md',
      `:100644 100644 ${a} ${b} M`, 'docs/tab\there.md',
      `:100644 000000 ${a} ${zero} D`, 'docs/gone.md',
      `:100644 100644 ${a} ${a} R100`, 'docs/old.md', 'docs/new.md',
      `:100644 100755 ${a} ${a} M`, 'docs/build.sh',
      `:000000 120000 ${zero} ${b} A`, 'docs/link',
    );
    expect(parseRawDiff(out)).toEqual([
      { status: 'A', path: 'docs/new file.md', oldMode: '000000', newMode: '100644', newSha: a },
      { status: 'M', path: 'docs/tab\there.md', oldMode: '100644', newMode: '100644', newSha: b },
      { status: 'D', path: 'docs/gone.md', oldMode: '100644', newMode: '000000', newSha: zero },
      { status: 'R', path: 'docs/new.md', oldPath: 'docs/old.md', oldMode: '100644', newMode: '100644', newSha: a },
      { status: 'M', path: 'docs/build.sh', oldMode: '100644', newMode: '100755', newSha: a },
      { status: 'A', path: 'docs/link', oldMode: '000000', newMode: '120000', newSha: b },
    ]);
  });

  it('an empty diff has no changes', () => {
    expect(parseRawDiff('')).toEqual([]);
  });
});
