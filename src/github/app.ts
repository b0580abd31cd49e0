import type { ApplicationFunction, Context } from 'probot';
import { installationEvents } from './handlers/installation.ts';
import { installationRepositoriesEvents } from './handlers/installation-repositories.ts';
import { activeTarget } from '../projections/state.ts';
import { repositoryEvents, type RepositoryPayload } from './handlers/repository.ts';
import { handleIssueComment, type IssueCommentPayload } from './handlers/issue-comment.ts';
import { pushTouchesContract } from './handlers/push.ts';
import { pullRequestEvents } from './pull-requests.ts';
import { deliveryEventId, recordDelivery } from './record.ts';
import { githubActor, type AppRuntime } from './runtime.ts';
import { completeRegistration, followDefaultBranch, refreshBacklog } from './targets.ts';

/**
 * The Probot app: maps each webhook to events and records them before answering (a store append
 * takes milliseconds); anything that calls GitHub runs after the answer, in the background.
 * Every event id derives from the delivery id, so redeliveries are recorded once.
 */
export function leviathanApp(rt: AppRuntime): ApplicationFunction {
  return (app) => {
    app.on(['installation.created', 'installation.deleted', 'installation.suspend', 'installation.unsuspend'], async (context) => {
      const payload = context.payload;
      const actor = githubActor(payload.sender?.login);
      const events = installationEvents(rt.projector.state, payload as Parameters<typeof installationEvents>[1], actor);
      await recordDelivery(rt, context.id, events);
      if (payload.action === 'created') registerInBackground(rt, context, events.map((e) => e.target!), payload.installation.id, actor);
    });

    app.on(['installation_repositories.added', 'installation_repositories.removed'], async (context) => {
      const payload = context.payload;
      const actor = githubActor(payload.sender?.login);
      const events = installationRepositoriesEvents(payload, actor);
      await recordDelivery(rt, context.id, events);
      if (payload.action === 'added') registerInBackground(rt, context, events.map((e) => e.target!), payload.installation.id, actor);
    });

    app.on(['pull_request.opened', 'pull_request.reopened', 'pull_request.closed'], async (context) => {
      const { payload } = context;
      const repository = payload.repository.full_name;
      const events = pullRequestEvents(rt.projector.state, payload.action, repository, payload.pull_request, githubActor(payload.sender?.login));
      if (activeTarget(rt.projector.state, repository)) {
        await recordDelivery(rt, context.id, events);
        return;
      }
      // Not a target (a rename or transfer missed, a registration lost): the projection would make
      // one of any name an event carries, so the delivery is kept with the repository in its data
      // only, as a stray slash command is, and the installation is read again to learn the truth.
      await recordDelivery(rt, context.id, events.map((e) => ({ ...e, target: null, data: { ...e.data, repository } })));
      queueReconcileOf(rt, payload.installation?.id, `pull_request for ${repository}, not a target`);
    });

    app.on('push', async (context) => {
      const { payload } = context;
      const target = payload.repository.full_name;
      const t = activeTarget(rt.projector.state, target);
      if (!t) {
        queueReconcileOf(rt, payload.installation?.id, `push to ${target}, not a target`);
        return;
      }
      const actor = githubActor(payload.sender?.login ?? payload.pusher?.name);
      const branch = payload.repository.default_branch ?? payload.repository.master_branch;
      const idBase = context.id;
      // One read per target at a time, in delivery order. Each reads the default branch as it is
      // now rather than the pushed commit, so an older push delivered late cannot land over a
      // newer backlog (README, decision log).
      if (branch && branch !== t.default_branch) {
        rt.background.runInOrder(`backlog:${target}`, `default branch ${target}`, () => followDefaultBranch(rt, context.octokit, target, { idBase, actor }));
      } else if (pushTouchesContract(payload)) {
        rt.background.runInOrder(`backlog:${target}`, `backlog sync ${target}`, () =>
          refreshBacklog(rt, context.octokit, target, t.default_branch, { id: deliveryEventId(idBase, 'backlog'), actor }),
        );
      }
    });

    app.on(['repository.renamed', 'repository.transferred', 'repository.deleted', 'repository.edited'], async (context) => {
      const payload = context.payload as unknown as RepositoryPayload;
      const actor = githubActor(context.payload.sender?.login);
      const { events, followUp } = repositoryEvents(rt.projector.state, payload, actor);
      await recordDelivery(rt, context.id, events);
      if (!followUp) return;
      switch (followUp.kind) {
        case 'reconcile':
          queueReconcileOf(rt, followUp.installationId, `repository.${payload.action} for ${payload.repository.full_name}, not a target`);
          break;
        case 'register': {
          const { target, installationId, defaultBranch } = followUp;
          if (installationId === null) break;
          rt.background.runInOrder(`backlog:${target}`, `register ${target}`, () =>
            completeRegistration(rt, context.octokit, target, installationId, { idBase: context.id, actor, defaultBranch }),
          );
          break;
        }
        case 'default_branch':
          rt.background.runInOrder(`backlog:${followUp.target}`, `default branch ${followUp.target}`, () =>
            followDefaultBranch(rt, context.octokit, followUp.target, { idBase: context.id, actor }),
          );
          break;
        default: {
          const never: never = followUp;
          throw new Error(`unhandled follow-up ${JSON.stringify(never)}`);
        }
      }
    });

    app.on('issue_comment.created', async (context) => {
      const payload = context.payload as unknown as IssueCommentPayload;
      rt.background.run(`slash command ${payload.repository.full_name}#${payload.issue.number}`, () =>
        handleIssueComment(rt, context.octokit, context.id, payload),
      );
    });
  };
}

function queueReconcileOf(rt: AppRuntime, installationId: number | undefined, reason: string): void {
  if (installationId !== undefined) rt.queueReconcile(installationId, reason);
  else rt.logger.warn({ reason }, 'Webhook for a repository that is not a target, without an installation: ignored');
}

function registerInBackground(rt: AppRuntime, context: Context, targets: string[], installationId: number, actor: string): void {
  targets.forEach((target, i) => {
    rt.background.run(`register ${target}`, () =>
      completeRegistration(rt, context.octokit, target, installationId, { idBase: `${context.id}:${i}`, actor }),
    );
  });
}
