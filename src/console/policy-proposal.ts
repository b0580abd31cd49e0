import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ApiDeps } from '../api/api-deps.ts';
import { ApiError } from '../api/errors.ts';
import { sendJson, type Router } from '../api/http.ts';
import { body, mayAct, targetId } from '../api/routes/targets.ts';
import { parsePolicy } from '../contract/policy.ts';
import { newEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import { append } from '../control/target-controls.ts';
import { statusOf, type GitHubClient } from '../github/client.ts';

/** The file the policy editor proposes changes to. */
export const POLICY_PATH = '.leviathan/policy.yaml';

/** The policy file as it is on a ref: its exact text and its blob sha. */
export interface PolicyFileAt {
  text: string;
  sha: string;
}

/** What proposing a policy change needs from GitHub: a file's text, a branch, a file on it, a pull request. */
export interface PolicyProposalPort {
  /** The commit a branch points at now. */
  headCommit(o: { owner: string; repo: string; branch: string }): Promise<string>;
  /** The file at `ref` (branch or commit), byte for byte; null when there is none. */
  readFile(o: { owner: string; repo: string; path: string; ref: string }): Promise<PolicyFileAt | null>;
  createBranch(o: { owner: string; repo: string; branch: string; sha: string }): Promise<void>;
  deleteBranch(o: { owner: string; repo: string; branch: string }): Promise<void>;
  putFile(o: { owner: string; repo: string; branch: string; path: string; content: string; message: string }): Promise<void>;
  createPullRequest(o: { owner: string; repo: string; head: string; base: string; title: string; body: string }): Promise<{ number: number; url: string }>;
}

/** The port over an installation client (the App's own token: the user never writes directly). */
export function octokitPolicyPort(client: GitHubClient): PolicyProposalPort {
  const readFile: PolicyProposalPort['readFile'] = async ({ owner, repo, path, ref }) => {
    try {
      const { data } = await client.request('GET /repos/{owner}/{repo}/contents/{path}', { owner, repo, path, ref });
      if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) return null;
      // The JSON form carries the blob sha (the raw form does not); content is base64 up to 1 MB.
      return { text: Buffer.from(data.content, 'base64').toString('utf8'), sha: data.sha };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  };
  return {
    async headCommit({ owner, repo, branch }) {
      const { data } = await client.request('GET /repos/{owner}/{repo}/git/ref/{ref}', { owner, repo, ref: `heads/${branch}` });
      return data.object.sha;
    },
    readFile,
    async createBranch({ owner, repo, branch, sha }) {
      await client.request('POST /repos/{owner}/{repo}/git/refs', { owner, repo, ref: `refs/heads/${branch}`, sha });
    },
    async deleteBranch({ owner, repo, branch }) {
      await client.request('DELETE /repos/{owner}/{repo}/git/refs/{ref}', { owner, repo, ref: `heads/${branch}` });
    },
    async putFile({ owner, repo, branch, path, content, message }) {
      // Updating an existing file needs its blob sha; a new file has none.
      let sha: string | undefined;
      try {
        const { data } = await client.request('GET /repos/{owner}/{repo}/contents/{path}', { owner, repo, path, ref: branch });
        if (!Array.isArray(data) && 'sha' in data) sha = data.sha;
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
      }
      await client.request('PUT /repos/{owner}/{repo}/contents/{path}', {
        owner,
        repo,
        path,
        branch,
        message,
        content: Buffer.from(content, 'utf8').toString('base64'),
        ...(sha ? { sha } : {}),
      });
    },
    async createPullRequest({ owner, repo, head, base, title, body }) {
      const { data } = await client.request('POST /repos/{owner}/{repo}/pulls', { owner, repo, head, base, title, body });
      return { number: data.number, url: data.html_url };
    },
  };
}

const proposalBody = z
  .object({
    policy_yaml: z.string().min(1, 'policy_yaml is empty').max(64 * 1024),
    reason: z.string().trim().min(1, 'a reason is required').max(2000),
    via: z.enum(['api', 'console', 'ctl']).optional(),
    /**
     * The blob sha of the policy.yaml the text was edited from, null when there was no file. When
     * given, the proposal is refused (409) if the default branch no longer has that file, so an
     * edit made meanwhile (and its comments) is never replaced unseen. Omitted: no check.
     */
    base_sha: z
      .string()
      .regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'base_sha must be a git blob sha')
      .nullable()
      .optional(),
  })
  .strict();

/** GitHub's refusals as API errors that say what happened (a 500 would say nothing). */
async function onGitHub<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const status = (err as { status?: unknown }).status;
    if (typeof status !== 'number') throw err;
    const message = (err as { response?: { data?: { message?: string } } }).response?.data?.message ?? (err as Error).message;
    if (status === 422) throw new ApiError('conflict', `GitHub refused the proposal: ${message}`);
    if (status === 401 || status === 403) throw new ApiError('forbidden', `GitHub refused the App (HTTP ${status}): it needs contents and pull requests write on the repository.`);
    throw new ApiError('upstream_failed', `GitHub answered HTTP ${status}: ${message}`);
  }
}

/**
 * The policy routes:
 *
 * - GET /v1/targets/:owner/:repo/policy/file: `{path, ref, file: {text, sha} | null}`, the
 *   current .leviathan/policy.yaml on the default branch byte for byte, so the console edits the
 *   owner's own text (comments, key order, unknown keys) rather than a rendering of its values.
 * - POST /v1/targets/:owner/:repo/policy/proposals {policy_yaml, reason, base_sha?}: opens a
 *   pull request that changes .leviathan/policy.yaml. The text must pass parsePolicy, the parser
 *   the scheduler uses; nothing reaches GitHub otherwise. Leviathan never writes a target's
 *   default branch itself; the repository's own review decides.
 *
 * Both need write permission on the target and answer 501 without the GitHub App.
 */
export function policyProposalRoutes(
  router: Router,
  deps: ApiDeps,
  portFor: ((installationId: number) => Promise<PolicyProposalPort>) | null,
): void {
  const connect = async (id: string) => {
    const t = deps.projector.state.targets[id];
    if (!t || t.lifecycle === 'removed') throw new ApiError('not_found', `No target ${id}.`);
    if (!portFor || t.installation_id === null) {
      throw new ApiError('not_configured', 'Policy changes are proposed as pull requests by the GitHub App, which is not configured for this target.');
    }
    return { t, port: await portFor(t.installation_id) };
  };

  router.on('GET', '/v1/targets/:owner/:repo/policy/file', async (ctx) => {
    const id = targetId(ctx.params);
    await mayAct(deps.authenticate(ctx.req), id);
    const { t, port } = await connect(id);
    const [owner, repo] = [ctx.params.owner!, ctx.params.repo!];
    const file = await onGitHub(() => port.readFile({ owner, repo, path: POLICY_PATH, ref: t.default_branch }));
    sendJson(ctx.res, 200, { path: POLICY_PATH, ref: t.default_branch, file });
  });

  router.on('POST', '/v1/targets/:owner/:repo/policy/proposals', async (ctx) => {
    const id = targetId(ctx.params);
    const principal = await mayAct(deps.authenticate(ctx.req), id);
    const b = await body(ctx, proposalBody);
    const parsed = parsePolicy(b.policy_yaml);
    if (!parsed.ok) {
      throw new ApiError('validation_failed', `policy_yaml${parsed.error.line ? ` line ${parsed.error.line}` : ''}: ${parsed.error.reason}`);
    }
    const { t, port } = await connect(id);
    const [owner, repo] = [ctx.params.owner!, ctx.params.repo!];
    const at = deps.clock.now();
    // The time says when; the suffix keeps two proposals in the same second apart.
    const branch = `leviathan/policy-${at.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
    const pr = await onGitHub(async () => {
      // The branch starts at the very commit whose policy.yaml was compared with base_sha.
      const head = await port.headCommit({ owner, repo, branch: t.default_branch });
      if (b.base_sha !== undefined) {
        const current = await port.readFile({ owner, repo, path: POLICY_PATH, ref: head });
        if ((current?.sha ?? null) !== b.base_sha) {
          const now = current === null ? 'has been deleted' : b.base_sha === null ? 'has been created' : 'has changed';
          throw new ApiError('conflict', `${POLICY_PATH} on ${t.default_branch} ${now} since it was loaded for editing; reload to edit its current text. Nothing was written.`);
        }
        if (current !== null && current.text === b.policy_yaml) {
          throw new ApiError('validation_failed', `policy_yaml is the same as ${POLICY_PATH} on ${t.default_branch}; there is nothing to propose.`);
        }
      }
      await port.createBranch({ owner, repo, branch, sha: head });
      try {
        await port.putFile({ owner, repo, branch, path: POLICY_PATH, content: b.policy_yaml, message: `Update ${POLICY_PATH}\n\n${b.reason}` });
        return await port.createPullRequest({
          owner,
          repo,
          head: branch,
          base: t.default_branch,
          title: `Update Leviathan policy (${POLICY_PATH})`,
          body: `Proposed by ${principal.actor} from the Leviathan console.\n\nReason: ${b.reason}\n\nMerging this PR changes the effective policy of ${id}.`,
        });
      } catch (err) {
        // No pull request, no branch: a failed proposal leaves nothing in the repository that no
        // event accounts for. Best effort; the error the operator sees is the one that stopped it.
        await port.deleteBranch({ owner, repo, branch }).catch((e: unknown) => {
          deps.logger.warn({ target: id, branch, error: (e as Error).message }, 'Could not delete the branch of a failed policy proposal');
        });
        throw err;
      }
    });
    const event = await append(
      deps,
      newEvent({
        type: 'policy.change_proposed',
        actor: principal.actor,
        target: id,
        subject: subjects.target(id),
        data: { reason: b.reason, via: b.via ?? 'api', pr_number: pr.number, pr_url: pr.url, branch },
      }),
    );
    sendJson(ctx.res, 201, { event: { id: event.id, seq: event.seq, type: event.type }, pull_request: pr, branch });
  });
}
