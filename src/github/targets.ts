import { newEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import { syncBacklog } from './backlog-sync.ts';
import { splitTarget, type GitHubClient } from './client.ts';
import { prCorrections } from './reconcile.ts';
import { deliveryEventId, record } from './record.ts';
import type { AppRuntime } from './runtime.ts';

/**
 * The slow half of registering a target, run after the webhook was answered: learns the default
 * branch when the payload did not carry it (installation payloads never do), reads the backlog
 * files, and puts the log's open PRs right. A target registered again (the App reinstalled, the
 * repository added back, renamed) may have had PRs merged or closed while no webhook reached us;
 * until corrected they would hold max_open_prs slots for ever. Reconcile, which corrects every
 * target's PRs itself, passes `correctPrs: false`. Ids derive from `idBase`, so a redelivery
 * records nothing twice.
 */
export async function completeRegistration(
  rt: AppRuntime,
  octokit: GitHubClient,
  target: string,
  installationId: number,
  opts: { idBase: string; actor: string; defaultBranch?: string | undefined; correctPrs?: boolean },
): Promise<void> {
  let branch = opts.defaultBranch;
  if (!branch) {
    const { owner, repo } = splitTarget(target);
    const { data } = await octokit.request('GET /repos/{owner}/{repo}', { owner, repo });
    branch = data.default_branch;
    await record(rt, [
      newEvent({
        id: deliveryEventId(opts.idBase, 'repo'),
        type: 'target.registered',
        actor: opts.actor,
        target,
        subject: subjects.target(target),
        data: { installation_id: installationId, default_branch: branch },
      }),
    ]);
  }
  try {
    await refreshBacklog(rt, octokit, target, branch, { id: deliveryEventId(opts.idBase, 'backlog'), actor: opts.actor });
  } finally {
    // Independent of the backlog: a missing or unreadable backlog must not leave merged PRs open.
    if (opts.correctPrs ?? true) await record(rt, await prCorrections(rt.projector.state, octokit, target, opts.actor));
  }
}

/**
 * A webhook said the default branch may have changed (a push whose repository names another
 * default branch, a `repository.edited`). Deliveries can arrive late, so GitHub is asked which it
 * is now; a change is recorded (target.registered carries the default branch) and the backlog
 * read there, since the contract lives on the default branch.
 */
export async function followDefaultBranch(rt: AppRuntime, octokit: GitHubClient, target: string, opts: { idBase: string; actor: string }): Promise<void> {
  const { owner, repo } = splitTarget(target);
  const { data } = await octokit.request('GET /repos/{owner}/{repo}', { owner, repo });
  const t = rt.projector.state.targets[target];
  if (!t || t.default_branch === data.default_branch) return;
  await record(rt, [
    newEvent({
      id: deliveryEventId(opts.idBase, 'branch'),
      type: 'target.registered',
      actor: opts.actor,
      target,
      subject: subjects.target(target),
      data: { ...(t.installation_id !== null ? { installation_id: t.installation_id } : {}), default_branch: data.default_branch, previous_default_branch: t.default_branch },
    }),
  ]);
  rt.logger.info({ target, from: t.default_branch, to: data.default_branch }, 'Default branch changed');
  await refreshBacklog(rt, octokit, target, data.default_branch, { id: deliveryEventId(opts.idBase, 'backlog'), actor: opts.actor });
}

/**
 * Reads the backlog files at `ref` and records the result unless nothing changed. Webhooks pass
 * the default branch's name, not a pushed commit: the read then sees the branch as it is now, so
 * a push delivered late (or read slowly) can never record an older backlog over a newer one.
 */
export async function refreshBacklog(rt: AppRuntime, octokit: GitHubClient, target: string, ref: string, opts: { id: string; actor: string }): Promise<void> {
  const previous = rt.projector.state.targets[target]?.backlog.etag ?? null;
  const event = await syncBacklog(octokit, target, ref, previous, { actor: opts.actor });
  if (event.type === 'backlog.unchanged') {
    rt.logger.debug({ target, ref }, 'Backlog unchanged (304)');
    return;
  }
  await record(rt, [{ ...event, id: opts.id }]);
  rt.logger.info({ target, ref, type: event.type }, event.type === 'backlog.synced' ? 'Backlog synced' : 'Backlog invalid');
}
