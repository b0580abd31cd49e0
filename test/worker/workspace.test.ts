import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AUTHOR, GitRunner } from '../../src/worker/git.ts';
import { Redactor } from '../../src/worker/redact.ts';
import { parseRawDiff, Workspace } from '../../src/worker/workspace.ts';

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

describe('Workspace.filesContaining', () => {
  it('finds a fixed string in the named files of a commit only, taking names literally', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lv-ws-'));
    try {
      const repo = path.join(dir, 'repo');
      await mkdir(path.join(repo, 'docs'), { recursive: true });
      const secret = 'not.a*regex[0-9]+secret';
      await writeFile(path.join(repo, 'docs', '[a].md'), `x ${secret} y\n`);
      await writeFile(path.join(repo, 'docs', 'a.md'), `${secret}\n`);
      await writeFile(path.join(repo, 'docs', 'b.md'), 'nothing here\n');
      await writeFile(path.join(repo, 'bin.dat'), Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(secret)]));
      const sh = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
      sh('init', '-q');
      sh('add', '-A');
      sh('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'x');
      const sha = sh('rev-parse', 'HEAD');
      const ws = new Workspace(repo, new GitRunner({ baseEnv: { PATH: process.env.PATH }, remoteUrl: repo, author: DEFAULT_AUTHOR, redactor: new Redactor() }));
      // `docs/[a].md` as a glob would match docs/a.md; literally it names the first file only.
      expect(await ws.filesContaining(sha, ['docs/[a].md', 'docs/b.md', 'bin.dat'], secret)).toEqual(['bin.dat', 'docs/[a].md']);
      expect(await ws.filesContaining(sha, ['docs/b.md'], secret)).toEqual([]);
      expect(await ws.filesContaining(sha, [], secret)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
