import type { GitHubClient } from './client.ts';
import { statusOf } from './client.ts';

/** A user's access to a repository, from strongest to weakest. */
export type RepoPermission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

const LEVELS: readonly RepoPermission[] = ['admin', 'maintain', 'write', 'triage', 'read', 'none'];

/** Permissions that may change anything (pause, resume, trigger, retry). */
export const CHANGE_PERMISSIONS: readonly RepoPermission[] = ['admin', 'maintain', 'write'];

/** A GitHub account as payloads describe it. */
export interface GitHubUser {
  login: string;
  type?: string;
}

/** Bots never drive Leviathan, whatever their permission: no loops between Apps. */
export function isBot(user: GitHubUser): boolean {
  return user.type === 'Bot' || user.login.endsWith('[bot]');
}

/**
 * The user's permission on `owner/repo`. `role_name` is used because the legacy `permission`
 * field folds maintain into write and triage into read; a custom (fine-grained) role reports its
 * own name there, so its base permission (`permission`) decides. Someone who is not a
 * collaborator (404) has `none`.
 */
export async function repoPermission(octokit: GitHubClient, owner: string, repo: string, username: string): Promise<RepoPermission> {
  let data: { permission?: string; role_name?: string };
  try {
    ({ data } = await octokit.request('GET /repos/{owner}/{repo}/collaborators/{username}/permission', { owner, repo, username }));
  } catch (err) {
    if (statusOf(err) === 404) return 'none';
    throw err;
  }
  const role = data.role_name as RepoPermission | undefined;
  if (role && LEVELS.includes(role)) return role;
  const base = data.permission as RepoPermission | undefined;
  return base && LEVELS.includes(base) ? base : 'none';
}

/** May a user with this permission change Leviathan's behaviour on the repository? Bots may not. */
export function mayChange(permission: RepoPermission, user?: GitHubUser): boolean {
  if (user && isBot(user)) return false;
  return CHANGE_PERMISSIONS.includes(permission);
}
