/** The parts of a `push` payload read here. */
export interface PushPayload {
  ref: string;
  after: string;
  deleted?: boolean;
  forced?: boolean;
  repository: { full_name: string; default_branch?: string; master_branch?: string };
  commits?: Array<{ added?: string[]; modified?: string[]; removed?: string[] }>;
  head_commit?: { added?: string[]; modified?: string[]; removed?: string[] } | null;
}

/** The folder whose files make up the target contract. */
export const CONTRACT_DIR = '.leviathan/';

/**
 * Does this push (may) change the contract on the default branch? Only then are the backlog
 * files read again; every other push costs nothing. A forced push, or one that lists no commits
 * (the branch reset to a commit it already had), moves the branch without naming what it took
 * away: the contract may have changed back, so it is read (a 304 when it did not).
 */
export function pushTouchesContract(payload: PushPayload): boolean {
  const branch = payload.repository.default_branch ?? payload.repository.master_branch;
  if (!branch || payload.ref !== `refs/heads/${branch}` || payload.deleted) return false;
  if (payload.forced || (payload.commits ?? []).length === 0) return true;
  const commits = [...(payload.commits ?? []), ...(payload.head_commit ? [payload.head_commit] : [])];
  return commits.some((c) => [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])].some((p) => p.startsWith(CONTRACT_DIR)));
}
