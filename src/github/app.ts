import type { ApplicationFunction, Context } from 'probot';
import { installationEvents } from './handlers/installation.ts';
import { installationRepositoriesEvents } from './handlers/installation-repositories.ts';
import { handleIssueComment, type IssueCommentPayload } from './handlers/issue-comment.ts';
import { pushTouchesContract } from './handlers/push.ts';
import { pullRequestEvents } from './pull-requests.ts';
import { deliveryEventId, recordDelivery } from './record.ts';
import { githubActor, type AppRuntime } from './runtime.ts';
import { completeRegistration, refreshBacklog } from './targets.ts';

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
      const target = payload.repository.full_name;
      const events = pullRequestEvents(rt.projector.state, payload.action, target, payload.pull_request, githubActor(payload.sender?.login));
      await recordDelivery(rt, context.id, events);
    });

    app.on('push', async (context) => {
      const { payload } = context;
      if (!pushTouchesContract(payload)) return;
      const target = payload.repository.full_name;
      const actor = githubActor(payload.sender?.login ?? payload.pusher?.name);
      // One sync per target at a time, in delivery order: a slow read of an older push must not
      // land after (and over) the newer one.
      rt.background.runInOrder(`backlog:${target}`, `backlog sync ${target}`, () =>
        refreshBacklog(rt, context.octokit, target, payload.after, { id: deliveryEventId(context.id, 'backlog'), actor }),
      );
    });

    app.on('issue_comment.created', async (context) => {
      const payload = context.payload as unknown as IssueCommentPayload;
      rt.background.run(`slash command ${payload.repository.full_name}#${payload.issue.number}`, () =>
        handleIssueComment(rt, context.octokit, context.id, payload),
      );
    });
  };
}

function registerInBackground(rt: AppRuntime, context: Context, targets: string[], installationId: number, actor: string): void {
  targets.forEach((target, i) => {
    rt.background.run(`register ${target}`, () =>
      completeRegistration(rt, context.octokit, target, installationId, { idBase: `${context.id}:${i}`, actor }),
    );
  });
}
