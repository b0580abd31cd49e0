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
/**
 * Stands for "contract.yaml could not be read" in the combined ETag: unlike {@link MISSING}, a
 * later 404 must not count as unchanged, or the read error would stay shown for a removed file.
 */
const UNREAD = '!';

type Fetched =
  | { state: 'ok'; text: string; etag: string | null }
  | { state: 'missing' }
  | { state: 'unchanged' }
  | { state: 'failed'; error: unknown };

/**
 * GitHub answered a read of a `.leviathan/` file with an error other than 304 or 404 (or never
 * answered). `status` and `response` are GitHub's, so a caller can tell a refused token or an
 * exhausted rate limit from an outage; `file` is the file that failed, `detail` what GitHub said.
 */
export class LeviathanFileReadError extends Error {
  override readonly name = 'LeviathanFileReadError';
  readonly status: number | undefined;
  readonly response: unknown;
  readonly detail: string;

  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const status = statusOf(cause);
    const detail = readFailure(cause);
    super(`Could not read ${file}: ${detail}`, { cause });
    this.detail = detail;
    this.status = status === 0 ? undefined : status;
    this.response = (cause as { response?: unknown } | null)?.response;
  }
}

function readFailure(err: unknown): string {
  const status = statusOf(err);
  return status !== 0 ? `HTTP ${status}` : err instanceof Error ? err.message : String(err);
}

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
 * space (ETags cannot contain spaces), `-` for a missing file, `!` for a contract.yaml that could
 * not be read. Parsing stays in src/contract.
 * A GitHub error other than 404 on the backlog or the policy is thrown as a
 * {@link LeviathanFileReadError} naming the file, and one before any file was reached (the
 * installation token) as GitHub's own error; the scheduler maps either to backlog_unreadable,
 * github_auth_failed or github_rate_limited. contract.yaml is informational: a failed read of it
 * is recorded as `contract_error`, like an unparsable one, and the sync goes on without it. The
 * event has a random id and the actor `leviathan` unless given.
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
  // A contract that cannot be read now does not replace the one recorded before, nor cost a full re-read.
  const allUnchanged = KEYS.every(
    (k) => files[k].state === 'unchanged' || (files[k].state === 'missing' && previous[k] === MISSING) || (k === 'contract' && files[k].state === 'failed'),
  );
  const commit = /^[0-9a-f]{40}$/.test(ref) ? ref : undefined;
  const base = { actor: opts.actor ?? 'leviathan', target, subject: subjects.target(target) };
  if (previousEtag && allUnchanged) {
    return newEvent({ ...base, type: 'backlog.unchanged', data: { etag: previousEtag, ref, ...(commit ? { commit } : {}) } });
  }
  // Something changed: files that answered 304 are needed in full to record a complete picture.
  if (KEYS.some((k) => files[k].state === 'unchanged')) files = await fetchAll(octokit, target, ref, { backlog: null, policy: null, contract: null });

  const etag = KEYS.map((k) => {
    const f = files[k];
    if (f.state === 'failed') return UNREAD;
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
  } else if (files.contract.state === 'failed') {
    contractError = { line: null, reason: `could not be read from GitHub (${readFailure(files.contract.error)}); the backlog and policy were read without it.` };
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
    return invalid(LEVIATHAN_FILES.backlog, null, `The backlog has ${tasks.length} tasks, too many to record at once; shorten long descriptions and acceptance criteria, or remove completed tasks that no remaining task lists in \`dependencies\`.`);
  }
  return newEvent({ ...base, type: 'backlog.synced', data });
}

function splitEtag(etag: string | null | undefined): Record<FileKey, string | null> {
  const parts = (etag ?? '').split(' ');
  return { backlog: parts[0] || null, policy: parts[1] || null, contract: parts[2] || null };
}

/**
 * Throws a {@link LeviathanFileReadError} for a backlog or policy that could not be read, and
 * GitHub's own error when no file was reached (the installation token could not be minted); a
 * contract that could not be read comes back as `failed`.
 */
async function fetchAll(octokit: GitHubClient, target: string, ref: string, etags: Record<FileKey, string | null>): Promise<Record<FileKey, Fetched>> {
  const [backlog, policy, contract] = await Promise.all(KEYS.map((k) => fetchFile(octokit, target, LEVIATHAN_FILES[k], ref, etags[k])));
  for (const [key, f] of [['backlog', backlog!], ['policy', policy!]] as const) {
    if (f.state === 'failed') throw new LeviathanFileReadError(LEVIATHAN_FILES[key], f.error);
  }
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
        ...(etag && etag !== MISSING && etag !== UNREAD ? { 'if-none-match': etag } : {}),
      },
    });
    return { state: 'ok', text: asText(res.data), etag: typeof res.headers.etag === 'string' ? res.headers.etag : null };
  } catch (err) {
    const status = statusOf(err);
    if (status === 304) return { state: 'unchanged' };
    if (status === 404) return { state: 'missing' };
    // Octokit mints the installation token inside this request: its failure is no file's.
    const failedUrl = (err as { request?: { url?: unknown } } | null)?.request?.url;
    if (typeof failedUrl === 'string' && !failedUrl.includes(`/contents/${encoded}`)) throw err;
    return { state: 'failed', error: err };
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
