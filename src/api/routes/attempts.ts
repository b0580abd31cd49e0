import { newEvent } from '../../events/envelope.ts';
import { subjects } from '../../events/types.ts';
import { InstallationTokenError, type InstallationTokenMinter, type RepositoryToken } from '../../github/installation-token.ts';
import type { ApiDeps } from '../api-deps.ts';
import { requireWorkerOf } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { sendJson, type Router } from '../http.ts';

/** Mints a repository token with the workers' permissions: the App's {@link InstallationTokenMinter}. */
export type WorkerTokenMinter = Pick<InstallationTokenMinter, 'mint'>;

/**
 * A token this process handed to an attempt is handed out again, instead of a new one minted,
 * while it has at least this long left. A worker asks 10 minutes before its token expires, so it
 * always gets a new one; an agent that found the attempt token and loops on the route gets the
 * same token back instead of spending the App's GitHub rate limit (and the log) on mints.
 */
export const REUSE_MIN_REMAINING_MS = 15 * 60_000;

const NOT_CONFIGURED =
  'This control plane has no GitHub App credentials (APP_ID and PRIVATE_KEY), so it mints no GitHub tokens: ' +
  'the worker keeps the token it was started with (a development GITHUB_TOKEN).';

/**
 * `POST /v1/attempts/:attempt_id/github-token`: a fresh GitHub token for a running attempt's
 * worker, whose first one (minted by the executor) expires an hour after the attempt started.
 * Only that attempt's own token may ask (operators never need a worker's credentials); the token
 * is minted for the scope's target alone, with the permissions every worker gets, and recorded as
 * `attempt.token_refreshed` (when and until when, never the token). `minter` is null without the
 * App: 501 `not_configured`, as every route that needs the App answers, and the worker keeps the development token it was given.
 */
export function attemptRoutes(router: Router, deps: ApiDeps, minter: WorkerTokenMinter | null): void {
  // The last token handed to each attempt, in this process only (see REUSE_MIN_REMAINING_MS);
  // another replica mints its own, which costs a mint, never correctness.
  const handedOut = new Map<string, RepositoryToken>();

  router.on('POST', '/v1/attempts/:attempt_id/github-token', async ({ req, res, params }) => {
    const attemptId = params.attempt_id!;
    const { worker, actor } = requireWorkerOf(deps.authenticate(req), attemptId);
    // The body, if any, carries nothing; drain it so the connection can be reused.
    req.resume();
    if (!minter) throw new ApiError('not_configured', NOT_CONFIGURED);

    // Judge the attempt and the target on everything acknowledged so far (another replica, the
    // worker's own last report).
    await deps.projector.waitFor(deps.store.health().head.seq);
    const state = deps.projector.state;
    const attemptState = state.graph.nodes[subjects.attempt(attemptId)]?.props.state;
    if (attemptState === 'succeeded' || attemptState === 'failed') {
      throw new ApiError('attempt_ended', `Attempt ${attemptId} has ${attemptState === 'failed' ? 'failed' : 'succeeded'}; its worker gets no more GitHub tokens.`);
    }
    const t = state.targets[worker.target];
    if (!t || t.lifecycle === 'removed' || t.installation_id === null) {
      throw new ApiError(
        'github_installation_unknown',
        `No GitHub App installation is known for ${worker.target}, so no token can be minted for it; reinstall the App on the repository (then leviathan ctl reconcile).`,
      );
    }

    const now = deps.clock.now().getTime();
    for (const [id, held] of handedOut) if (Date.parse(held.expires_at) <= now) handedOut.delete(id);
    const held = handedOut.get(attemptId);
    if (held && Date.parse(held.expires_at) - now >= REUSE_MIN_REMAINING_MS) {
      sendJson(res, 200, held);
      return;
    }

    let minted: RepositoryToken;
    try {
      minted = await minter.mint(t.installation_id, worker.target);
    } catch (err) {
      if (!(err instanceof InstallationTokenError)) throw err;
      // The message names the target, installation and HTTP status; it never holds a secret.
      deps.logger.warn({ target: worker.target, attempt_id: attemptId, error: err.message }, 'Could not mint a GitHub token for a worker');
      throw new ApiError('github_auth_failed', err.message);
    }
    const expires = Date.parse(minted.expires_at);
    if (!Number.isFinite(expires)) throw new ApiError('github_auth_failed', `GitHub answered the token request for ${worker.target} without a valid expiry.`);
    const answer: RepositoryToken = { token: minted.token, expires_at: new Date(expires).toISOString() };

    // Recorded before the token is handed out: no token leaves without its audit record.
    await deps.store.append([
      newEvent({
        type: 'attempt.token_refreshed',
        actor,
        target: worker.target,
        subject: subjects.attempt(attemptId),
        data: { attempt_id: attemptId, task_id: worker.task_id, expires_at: answer.expires_at },
      }),
    ]);
    handedOut.set(attemptId, answer);
    deps.logger.info({ target: worker.target, attempt_id: attemptId, expires_at: answer.expires_at }, 'GitHub token minted for a worker');
    sendJson(res, 200, answer);
  });
}
