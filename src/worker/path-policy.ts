import path from 'node:path';
import { checkChangedPaths, type PathViolationReason } from '../contract/paths.ts';
import { MODE_GITLINK, MODE_SYMLINK, type Change } from './workspace.ts';

/** Why one changed path was refused: the contract's path check reasons plus what only the diff shows. */
export type ViolationReason =
  | PathViolationReason
  /** A symlink whose target is absolute or resolves outside the repository (or into `.git`). */
  | 'symlink_escape'
  /** A nested repository or submodule: its content would not be checked. */
  | 'submodule';

/** One refused path, as reported in `attempt.failed.data.violations`. */
export interface PathViolation {
  path: string;
  reason: ViolationReason;
  /** For symlinks: where it points. */
  link_target?: string;
}

/** The path rules of one attempt. */
export interface PathRules {
  allowed: string[];
  forbidden: string[];
  maxFiles?: number;
  /** policy.yaml's `allowed_paths` for the task's scope, when the policy lists it. */
  scopeAllowed?: string[];
}

/**
 * Checks the final diff: every path (both sides of a rename) against the allowed and forbidden
 * paths and the file limit, plus what only the diff can show — symlinks that lead out of the
 * repository and nested repositories. `readBlob` returns a staged blob (a symlink's target).
 */
export async function checkDiff(
  changes: readonly Change[],
  rules: PathRules,
  readBlob: (sha: string) => Promise<string>,
): Promise<PathViolation[]> {
  const violations: PathViolation[] = [];
  const result = checkChangedPaths(
    changes.map((c) => (c.oldPath === undefined ? { path: c.path } : { path: c.path, oldPath: c.oldPath })),
    {
      allowed: rules.allowed,
      forbidden: rules.forbidden,
      ...(rules.maxFiles === undefined ? {} : { maxFiles: rules.maxFiles }),
      ...(rules.scopeAllowed === undefined ? {} : { scopeAllowed: rules.scopeAllowed }),
    },
  );
  if (!result.ok) for (const v of result.violations) violations.push({ path: v.path, reason: v.reason });

  for (const c of changes) {
    if (c.status === 'D') continue;
    if (c.newMode === MODE_GITLINK) violations.push({ path: c.path, reason: 'submodule' });
    if (c.newMode === MODE_SYMLINK) {
      const target = await readBlob(c.newSha);
      if (symlinkEscapes(c.path, target)) violations.push({ path: c.path, reason: 'symlink_escape', link_target: target });
    }
  }
  return violations;
}

/**
 * True when a symlink at `linkPath` (repository-relative) pointing to `target` leaves the
 * repository: an absolute target, one that climbs above the root once resolved relative to the
 * link's directory, or one into `.git`.
 */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  if (target === '' || target.includes('\0')) return true;
  if (path.posix.isAbsolute(target) || /^[A-Za-z]:[\\/]/.test(target) || target.startsWith('\\')) return true;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target.replace(/\\/g, '/')));
  if (resolved === '..' || resolved.startsWith('../')) return true;
  return resolved === '.git' || resolved.startsWith('.git/');
}
