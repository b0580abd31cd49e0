/**
 * Pure path policy shared by the scheduler (path leases) and the worker (final diff check).
 * Every path is repository-relative POSIX; anything that could leave the repository is refused
 * rather than resolved, because the earlier implementation let `..` through its check.
 */
import { DEFAULT_FORBIDDEN_PATHS } from './forbidden-paths.ts';

/** Longest path accepted; git itself allows ~4 KiB on Linux. */
const MAX_PATH_LENGTH = 4096;

/** Why a path was refused by {@link normalizeRepoPath}. */
export type PathRejection = 'absolute' | 'dotdot' | 'empty' | 'invalid';

/** Result of {@link normalizeRepoPath}. */
export type NormalizedPath = { ok: true; path: string } | { ok: false; reason: PathRejection };

/**
 * Normalises a repository-relative path: collapses `//`, drops `.` segments and a leading `./`,
 * keeps a trailing `/` (it marks a directory prefix in `allowed_paths`). Refuses absolute paths
 * (`/x`, `C:/x`), any `..` segment (even one that would normalise away, such as `a/../b`: git
 * never reports such paths, so one in a rule or a diff is a mistake or an attack), backslashes,
 * NUL and other control characters, and paths that normalise to nothing.
 */
export function normalizeRepoPath(p: string): NormalizedPath {
  if (typeof p !== 'string' || p.length > MAX_PATH_LENGTH) return { ok: false, reason: 'invalid' };
  if (p.trim() === '') return { ok: false, reason: 'empty' };
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(p)) return { ok: false, reason: 'invalid' };
  if (p.startsWith('/') || /^[A-Za-z]:(\/|$)/.test(p)) return { ok: false, reason: 'absolute' };
  const out: string[] = [];
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return { ok: false, reason: 'dotdot' };
    out.push(segment);
  }
  if (out.length === 0) return { ok: false, reason: 'empty' };
  return { ok: true, path: out.join('/') + (p.endsWith('/') ? '/' : '') };
}

/** True when a rule entry uses glob syntax rather than naming a file or a directory prefix. */
export function isGlob(entry: string): boolean {
  return entry.includes('*') || entry.includes('?');
}

/**
 * Matches a repository path against a glob. `**` as a whole segment matches zero or more
 * directories (so `a/**` matches `a` itself and everything below it); `*` matches any run of
 * characters within one segment and `?` exactly one, neither crossing `/`; a glob ending in `/`
 * means everything below that directory. Dotfiles are not special. Case-sensitive. No brace or
 * bracket syntax: `[` and `{` are literal. Runs in O(path × glob); hostile globs cannot blow up.
 */
export function matchesGlob(path: string, glob: string): boolean {
  const p = path.split('/').filter((s) => s !== '' && s !== '.');
  const g: string[] = [];
  for (const s of glob.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '**' && g[g.length - 1] === '**') continue;
    g.push(s);
  }
  if (glob.endsWith('/') && g[g.length - 1] !== '**') g.push('**');
  if (g.length === 0) return p.length === 0;
  // prev[j]: glob segments [0, j) match the path segments consumed so far.
  let prev: boolean[] = new Array<boolean>(g.length + 1).fill(false);
  prev[0] = true;
  for (let j = 1; j <= g.length; j++) prev[j] = g[j - 1] === '**' && prev[j - 1] === true;
  for (let i = 1; i <= p.length; i++) {
    const cur: boolean[] = new Array<boolean>(g.length + 1).fill(false);
    for (let j = 1; j <= g.length; j++) {
      const seg = g[j - 1]!;
      cur[j] =
        seg === '**'
          ? cur[j - 1] === true || prev[j] === true
          : prev[j - 1] === true && matchesSegment(p[i - 1]!, seg);
    }
    prev = cur;
  }
  return prev[g.length] === true;
}

/** Wildcard match of one segment: linear backtracking on the last `*` only. */
function matchesSegment(s: string, pat: string): boolean {
  let si = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    const c = pat[pi];
    if (c === '?' || (c !== undefined && c !== '*' && c === s[si])) {
      si++;
      pi++;
    } else if (c === '*') {
      star = pi++;
      mark = si;
    } else if (star !== -1) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pat[pi] === '*') pi++;
  return pi === pat.length;
}

/** One rule entry against an already normalised path (without trailing `/`). */
function matchesEntry(path: string, entry: string): boolean {
  const n = normalizeRepoPath(entry);
  if (!n.ok) return false;
  if (isGlob(n.path)) return matchesGlob(path, n.path);
  if (n.path.endsWith('/')) return path.startsWith(n.path);
  return path === n.path;
}

/**
 * True when `path` is covered by one of the entries: an entry ending in `/` is a directory
 * prefix (`docs/` covers `docs/a/b.md`, not `docs2/x` nor the file `docs`), an entry with `*`
 * or `?` is a glob ({@link matchesGlob}), anything else is one exact file. A path that fails
 * {@link normalizeRepoPath} is never covered; entries that fail it are ignored.
 */
export function matchesAllowed(path: string, allowed: readonly string[]): boolean {
  const n = normalizeRepoPath(path);
  if (!n.ok) return false;
  const p = n.path.endsWith('/') ? n.path.slice(0, -1) : n.path;
  return allowed.some((entry) => matchesEntry(p, entry));
}

/** Why one changed path was refused by {@link checkChangedPaths}. */
export type PathViolationReason = 'outside_allowed' | 'outside_scope' | 'forbidden' | 'absolute' | 'dotdot' | 'too_many_files' | 'invalid';

/** One refused path; for `too_many_files`, the first path beyond the limit. */
export interface PathViolation {
  path: string;
  reason: PathViolationReason;
}

/** A file in the final diff; `oldPath` is set for renames (and copies). */
export interface ChangedPath {
  path: string;
  oldPath?: string;
}

/** Rules for {@link checkChangedPaths}. */
export interface ChangedPathRules {
  /** The task's `allowed_paths` (files, `dir/` prefixes or globs). */
  allowed: readonly string[];
  /** Extra forbidden entries; {@link DEFAULT_FORBIDDEN_PATHS} always apply on top. */
  forbidden: readonly string[];
  /** Most distinct files the change may touch (policy `max_files_per_task`). */
  maxFiles?: number;
  /**
   * policy.yaml's `allowed_paths` for the task's scope, when it lists the scope: the owner's
   * bound on every task of that scope, whatever the backlog says. A path must match both lists.
   */
  scopeAllowed?: readonly string[];
}

/** Result of {@link checkChangedPaths}. */
export type ChangedPathsResult = { ok: true } | { ok: false; violations: PathViolation[] };

/**
 * Checks a final diff against the task's rules. Both sides of a rename are checked (moving a
 * forbidden file out is as bad as moving one in). Forbidden beats allowed. The default
 * forbidden globs apply even if the caller passes none, so a missing policy cannot open `.git/`.
 */
export function checkChangedPaths(changes: readonly ChangedPath[], rules: ChangedPathRules): ChangedPathsResult {
  const violations: PathViolation[] = [];
  const forbidden = [...DEFAULT_FORBIDDEN_PATHS, ...rules.forbidden];
  const counted = new Set<string>();
  let firstBeyondLimit: string | null = null;
  for (const change of changes) {
    const sides = change.oldPath !== undefined && change.oldPath !== change.path ? [change.path, change.oldPath] : [change.path];
    for (const raw of sides) {
      const n = normalizeRepoPath(raw);
      if (!n.ok) {
        violations.push({ path: String(raw), reason: n.reason === 'empty' ? 'invalid' : n.reason });
        continue;
      }
      const p = n.path.endsWith('/') ? n.path.slice(0, -1) : n.path;
      if (forbidden.some((entry) => matchesEntry(p, entry))) violations.push({ path: p, reason: 'forbidden' });
      else if (!rules.allowed.some((entry) => matchesEntry(p, entry))) violations.push({ path: p, reason: 'outside_allowed' });
      else if (rules.scopeAllowed && !rules.scopeAllowed.some((entry) => matchesEntry(p, entry))) violations.push({ path: p, reason: 'outside_scope' });
    }
    const n = normalizeRepoPath(change.path);
    const key = n.ok ? n.path : String(change.path);
    if (!counted.has(key)) {
      counted.add(key);
      if (rules.maxFiles !== undefined && counted.size > rules.maxFiles && firstBeyondLimit === null) firstBeyondLimit = key;
    }
  }
  if (firstBeyondLimit !== null) violations.push({ path: firstBeyondLimit, reason: 'too_many_files' });
  return violations.length === 0 ? { ok: true } : { ok: false, violations };
}

/** A rule entry reduced to what it can touch: one file, or everything under a prefix. */
type Reach = { kind: 'file'; path: string } | { kind: 'prefix'; prefix: string; glob?: string };

function reachOf(entry: string): Reach | null {
  const n = normalizeRepoPath(entry);
  if (!n.ok) return null;
  if (isGlob(n.path)) {
    const literal: string[] = [];
    for (const s of n.path.split('/')) {
      if (isGlob(s) || s === '') break;
      literal.push(s);
    }
    return { kind: 'prefix', prefix: literal.length === 0 ? '' : `${literal.join('/')}/`, glob: n.path };
  }
  if (n.path.endsWith('/')) return { kind: 'prefix', prefix: n.path };
  return { kind: 'file', path: n.path };
}

function reachesOverlap(a: Reach, b: Reach): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.path === b.path;
  if (a.kind === 'file' && b.kind === 'prefix') return b.glob !== undefined ? matchesGlob(a.path, b.glob) : a.path.startsWith(b.prefix);
  if (a.kind === 'prefix' && b.kind === 'file') return reachesOverlap(b, a);
  const pa = (a as { prefix: string }).prefix;
  const pb = (b as { prefix: string }).prefix;
  // Two globs or a glob and a directory: compared by their literal directories, which may
  // overstate the overlap; for a lease, a false "overlaps" only delays a task.
  return pa.startsWith(pb) || pb.startsWith(pa);
}

/**
 * True when two tasks' allowed paths could touch the same file: equal files, a file inside a
 * directory prefix, one prefix inside the other, or a glob that could reach the other side.
 * Used for the scheduler's path lease, so it errs towards "overlaps": an entry that is not a
 * valid repository path overlaps everything.
 */
export function pathsOverlap(a: readonly string[], b: readonly string[]): boolean {
  const ra = a.map(reachOf);
  const rb = b.map(reachOf);
  for (const x of ra) {
    for (const y of rb) {
      if (x === null || y === null || reachesOverlap(x, y)) return true;
    }
  }
  return false;
}
