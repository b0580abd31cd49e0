import { newEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import { syncBacklog } from './backlog-sync.ts';
import { splitTarget, type GitHubClient } from './client.ts';
import { deliveryEventId, record } from './record.ts';
import type { AppRuntime } from './runtime.ts';

/**
 * The slow half of registering a target, run after the webhook was answered: learns the default
 * branch when the payload did not carry it (installation payloads never do), then reads the
 * backlog files. Ids derive from `idBase`, so a redelivery records nothing twice.
 */
export async function completeRegistration(
  rt: AppRuntime,
  octokit: GitHubClient,
  target: string,
  installationId: number,
  opts: { idBase: string; actor: string; defaultBranch?: string },
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
  await refreshBacklog(rt, octokit, target, branch, { id: deliveryEventId(opts.idBase, 'backlog'), actor: opts.actor });
}

/** Reads the backlog files at `ref` and records the result unless nothing changed. */
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
