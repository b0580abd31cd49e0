import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GitCommandError, type GitRunner } from './git.ts';

/** One entry of the final diff, as git reports it after `git add -A`. */
export interface Change {
  /** A added, M modified, D deleted, R renamed, C copied, T type changed (e.g. file → symlink). */
  status: 'A' | 'M' | 'D' | 'R' | 'C' | 'T' | 'U' | 'X';
  path: string;
  /** Source path of a rename or copy. */
  oldPath?: string;
  oldMode: string;
  newMode: string;
  /** Blob id of the new content (the link target for symlinks). */
  newSha: string;
}

/** Git mode of a symbolic link; its blob is the link target. */
export const MODE_SYMLINK = '120000';
/** Git mode of a submodule or nested repository (a commit id, not content). */
export const MODE_GITLINK = '160000';

/**
 * A clone of the target repository on the default branch. Every git call goes through the
 * GitRunner, so credentials never touch disk.
 */
export class Workspace {
  #pristineConfig: string | null = null;
  #base: string | null = null;

  constructor(
    readonly dir: string,
    private readonly git: GitRunner,
  ) {}

  /** Shallow clone of `branch` only. */
  async clone(remoteUrl: string, branch: string): Promise<void> {
    await this.git.run(
      ['clone', '--depth', '1', '--branch', branch, '--single-branch', '--no-tags', '--', remoteUrl, this.dir],
      path.dirname(this.dir),
    );
    this.#pristineConfig = await readFile(path.join(this.dir, '.git', 'config'), 'utf8');
    this.#base = (await this.git.run(['rev-parse', 'HEAD'], this.dir)).toString('utf8').trim();
  }

  /** Commit the clone started from. */
  get base(): string {
    if (this.#base === null) throw new Error('Workspace not cloned');
    return this.#base;
  }

  /**
   * Puts `.git/config` back as it was after the clone. The agent could otherwise add an
   * `insteadOf` rewrite or a new push URL and have our push carry the token somewhere else.
   */
  async restoreConfig(): Promise<void> {
    if (this.#pristineConfig === null) return;
    await writeFile(path.join(this.dir, '.git', 'config'), this.#pristineConfig);
  }

  /**
   * Stages the working tree and lists the final diff against the cloned commit: adds, edits,
   * deletes, renames, mode changes. HEAD and the index are first reset to the cloned commit, so
   * commits or index entries the agent made itself cannot hide changes from the check: only the
   * files on disk count.
   */
  async stageAndListChanges(): Promise<Change[]> {
    await this.git.run(['reset', '--quiet', '--mixed', this.base], this.dir);
    await this.git.run(['add', '-A', '--', '.'], this.dir);
    const raw = await this.git.run(
      ['diff', '--cached', '--raw', '-z', '-M', '--no-abbrev', '--no-ext-diff', '--no-textconv', this.base, '--'],
      this.dir,
    );
    return parseRawDiff(raw.toString('utf8'));
  }

  /** What a commit changes against the cloned commit: the diff that the push will carry. */
  async committedChanges(sha: string): Promise<Change[]> {
    const raw = await this.git.run(['diff-tree', '-r', '-z', '--raw', '-M', '--no-abbrev', '--no-ext-diff', '--no-textconv', this.base, sha, '--'], this.dir);
    return parseRawDiff(raw.toString('utf8'));
  }

  /** Content of a staged blob: for a symlink, its target. */
  async blob(sha: string): Promise<string> {
    return (await this.git.run(['cat-file', 'blob', sha], this.dir)).toString('utf8');
  }

  /**
   * Which of `paths` contain `needle` (a fixed string) in commit `sha`. git streams the files, so
   * a large one costs no memory here; the needle goes in on stdin, not on a command line.
   */
  async filesContaining(sha: string, paths: string[], needle: string): Promise<string[]> {
    if (paths.length === 0 || needle.includes('\n')) return [];
    const literal = paths.map((p) => `:(literal)${p}`);
    try {
      const out = await this.git.run(['grep', '-l', '-z', '-F', '--no-color', '--no-textconv', '-f', '-', sha, '--', ...literal], this.dir, `${needle}\n`);
      // Each hit is `<sha>:<path>`.
      return out.toString('utf8').split('\0').filter(Boolean).map((hit) => hit.slice(sha.length + 1));
    } catch (e) {
      if (e instanceof GitCommandError && e.exitCode === 1 && !e.timedOut) return [];
      throw e;
    }
  }

  /** Commits what is staged; returns the new commit id. Hooks are off via the runner's config. */
  async commit(message: string): Promise<string> {
    await this.git.run(['commit', '--no-verify', '--no-gpg-sign', '--file', '-'], this.dir, message);
    return (await this.git.run(['rev-parse', 'HEAD'], this.dir)).toString('utf8').trim();
  }

  /**
   * Pushes HEAD to `branch` on `remoteUrl` (given explicitly, never read from `.git/config`).
   * `--force`: the `leviathan/` branch namespace is the worker's own, and a retry of the same
   * task replaces the previous attempt's branch.
   */
  async push(remoteUrl: string, branch: string): Promise<void> {
    await this.git.run(
      ['push', '--no-verify', '--force', '--porcelain', '--', remoteUrl, `HEAD:refs/heads/${branch}`],
      this.dir,
    );
  }
}

/** Parses `git diff --raw -z` output. Exported for tests. */
export function parseRawDiff(out: string): Change[] {
  const parts = out.split('\0');
  const changes: Change[] = [];
  let i = 0;
  while (i < parts.length) {
    const head = parts[i++];
    if (!head) continue;
    // ":100644 100644 <old> <new> M"
    const [oldMode = '', newMode = '', , newSha = '', statusField = ''] = head.slice(1).split(' ');
    const status = (statusField[0] ?? 'X') as Change['status'];
    if (status === 'R' || status === 'C') {
      const oldPath = parts[i++] ?? '';
      const newPath = parts[i++] ?? '';
      changes.push({ status, path: newPath, oldPath, oldMode, newMode, newSha });
    } else {
      changes.push({ status, path: parts[i++] ?? '', oldMode, newMode, newSha });
    }
  }
  return changes;
}
