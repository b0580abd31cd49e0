import { parseBacklog } from '../contract/backlog.ts';
import { parseContract } from '../contract/contract-file.ts';
import { parsePolicy } from '../contract/policy.ts';
import { LIMITS, newEvent, type NewEvent } from '../events/envelope.ts';
import { subjects, type TaskSummary } from '../events/types.ts';
import { splitTarget, statusOf, type GitHubClient } from './client.ts';

/** The files of the target contract, in the order their ETags appear in the combined ETag. */
export const LEVIATHAN_FILES = {
  backlog: '.leviathan/backlog.yaml',
  policy: '.leviathan/policy.yaml',
  contract: '.leviathan/contract.yaml',
} as const;
type FileKey = keyof typeof LEVIATHAN_FILES;
const KEYS: readonly FileKey[] = ['backlog', 'policy', 'contract'];

/** Stands for "this file did not exist" in the combined ETag. */
const MISSING = '-';

type Fetched = { state: 'ok'; text: string; etag: string | null } | { state: 'missing' } | { state: 'unchanged' };

/**
 * Reads `.leviathan/backlog.yaml`, `policy.yaml` and `contract.yaml` at `ref` through the
 * contents API and returns the event that records them:
 *
 * - `backlog.synced` (tasks summary, combined etag, commit, parsed policy file, backlog
 *   max_open_prs, contract) when the backlog and the policy are valid;
 * - `backlog.invalid` (file, line, reason) when either is wrong or the backlog is missing;
 * - `backlog.unchanged` (etag) when `previousEtag` still matches every file: each file was asked
 *   for with `If-None-Match` and GitHub answered 304, which costs no rate limit. Callers
 *   usually drop this one instead of appending it.
 *
 * `previousEtag` is the `etag` of an earlier `backlog.synced`: the three files' ETags joined by a
 * space (ETags cannot contain spaces), `-` for a missing file. Parsing stays in src/contract.
 * GitHub errors other than 404 are thrown (the scheduler maps them to backlog_unreadable or
 * github_auth_failed). The event has a random id and the actor `leviathan` unless given.
 */
export async function syncBacklog(
  octokit: GitHubClient,
  target: string,
  ref: string,
  previousEtag?: string | null,
  opts: { actor?: string } = {},
): Promise<NewEvent> {
  const previous = splitEtag(previousEtag);
  let files = await fetchAll(octokit, target, ref, previous);
  const allUnchanged = KEYS.every((k) => files[k].state === 'unchanged' || (files[k].state === 'missing' && previous[k] === MISSING));
  const commit = /^[0-9a-f]{40}$/.test(ref) ? ref : undefined;
  const base = { actor: opts.actor ?? 'leviathan', target, subject: subjects.target(target) };
  if (previousEtag && allUnchanged) {
    return newEvent({ ...base, type: 'backlog.unchanged', data: { etag: previousEtag, ref, ...(commit ? { commit } : {}) } });
  }
  // Something changed: files that answered 304 are needed in full to record a complete picture.
  if (KEYS.some((k) => files[k].state === 'unchanged')) files = await fetchAll(octokit, target, ref, { backlog: null, policy: null, contract: null });

  const etag = KEYS.map((k) => {
    const f = files[k];
    return f.state === 'ok' ? (f.etag ?? MISSING) : MISSING;
  }).join(' ');
  const invalid = (file: string, line: number | null, reason: string): NewEvent =>
    newEvent({ ...base, type: 'backlog.invalid', data: { file, line, reason, etag, ref, ...(commit ? { commit } : {}) } });

  const backlogFile = files.backlog;
  if (backlogFile.state !== 'ok') {
    return invalid(LEVIATHAN_FILES.backlog, null, `${LEVIATHAN_FILES.backlog} not found on ${ref}; add it to the default branch.`);
  }
  const backlog = parseBacklog(backlogFile.text);
  if (!backlog.ok) return invalid(LEVIATHAN_FILES.backlog, backlog.error.line, backlog.error.reason);

  let policyFile: Record<string, unknown> = {};
  if (files.policy.state === 'ok') {
    const policy = parsePolicy(files.policy.text);
    if (!policy.ok) return invalid(LEVIATHAN_FILES.policy, policy.error.line, policy.error.reason);
    policyFile = policy.policy as Record<string, unknown>;
  }
  let contract: Record<string, unknown> | undefined;
  let contractError: { line: number | null; reason: string } | undefined;
  if (files.contract.state === 'ok') {
    // The contract is informational: a bad one is shown, it does not stop the target.
    const parsed = parseContract(files.contract.text);
    if (parsed.ok) contract = parsed.contract as Record<string, unknown>;
    else contractError = { line: parsed.error.line, reason: parsed.error.reason };
  }

  const tasks: TaskSummary[] = backlog.tasks.map((t) => ({
    id: t.id,
    title: t.title,
    priority: t.priority,
    ready: t.ready,
    status: t.status,
    dependencies: t.dependencies,
    allowed_paths: t.allowed_paths,
    scope: t.scope,
    line: t.line,
    // What the worker puts in the PR body and gives the agent: without it the assignment falls back to defaults.
    acceptance_criteria: t.acceptance_criteria,
    estimated_size: t.estimated_size,
    ...(t.description !== undefined ? { description: t.description } : {}),
    ...(t.labels !== undefined ? { labels: t.labels } : {}),
  }));
  const data: Record<string, unknown> = {
    tasks,
    etag,
    ...(commit ? { commit } : {}),
    ref,
    policy_file: policyFile,
    // 0 included: "open no PRs" must hold the target, not fall back to the default of 2.
    ...(backlog.max_open_prs !== undefined ? { backlog_max_open_prs: backlog.max_open_prs } : {}),
    ...(contract ? { contract } : {}),
    ...(contractError ? { contract_error: contractError } : {}),
  };
  if (Buffer.byteLength(JSON.stringify(data)) > LIMITS.dataBytes) {
    return invalid(LEVIATHAN_FILES.backlog, null, `The backlog has ${tasks.length} tasks, too many to record at once; split it or remove completed tasks.`);
  }
  return newEvent({ ...base, type: 'backlog.synced', data });
}

function splitEtag(etag: string | null | undefined): Record<FileKey, string | null> {
  const parts = (etag ?? '').split(' ');
  return { backlog: parts[0] || null, policy: parts[1] || null, contract: parts[2] || null };
}

async function fetchAll(octokit: GitHubClient, target: string, ref: string, etags: Record<FileKey, string | null>): Promise<Record<FileKey, Fetched>> {
  const [backlog, policy, contract] = await Promise.all(KEYS.map((k) => fetchFile(octokit, target, LEVIATHAN_FILES[k], ref, etags[k])));
  return { backlog: backlog!, policy: policy!, contract: contract! };
}

async function fetchFile(octokit: GitHubClient, target: string, path: string, ref: string, etag: string | null): Promise<Fetched> {
  const { owner, repo } = splitTarget(target);
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  try {
    const res = await octokit.request(`GET /repos/{owner}/{repo}/contents/${encoded}`, {
      owner,
      repo,
      ref,
      headers: {
        accept: 'application/vnd.github.raw+json',
        ...(etag && etag !== MISSING ? { 'if-none-match': etag } : {}),
      },
    });
    return { state: 'ok', text: asText(res.data), etag: typeof res.headers.etag === 'string' ? res.headers.etag : null };
  } catch (err) {
    const status = statusOf(err);
    if (status === 304) return { state: 'unchanged' };
    if (status === 404) return { state: 'missing' };
    throw err;
  }
}

/** The raw media type comes back as text; be lenient with bytes and the JSON (base64) form. */
function asText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  const content = (data as { content?: unknown; encoding?: unknown })?.content;
  if (typeof content === 'string') return Buffer.from(content, 'base64').toString('utf8');
  throw new Error('unexpected contents API response');
}
