import { attemptIdOf, taskOfAttempt } from '../pull-requests.ts';
import type { Command } from './command.ts';
import { triggerTask } from './trigger-task.ts';

/** `/leviathan retry` on a Leviathan pull request: runs its task again. */
export const retryCommand: Command = {
  name: 'retry',
  usage: '/leviathan retry',
  description: 'On a Leviathan pull request: runs its task again now, if the guardrails allow it.',
  who: 'write',
  examples: ['/leviathan retry'],
  async run(ctx) {
    if (!ctx.issue.isPullRequest) {
      return { ok: false, reply: '`/leviathan retry` works on a Leviathan pull request. Here, use `/leviathan trigger <task-id>`.' };
    }
    const attemptId = attemptIdOf(ctx.issue.body);
    if (!attemptId) {
      return { ok: false, reply: `#${ctx.issue.number} was not opened by Leviathan (no \`Leviathan-Attempt\` line in its description), so there is no task to retry.` };
    }
    const taskId = taskOfAttempt(ctx.deps.projector.state, ctx.target, attemptId);
    if (!taskId) {
      return { ok: false, reply: `Leviathan has no record of attempt \`${attemptId}\`, so it cannot tell which task to retry. Use \`/leviathan trigger <task-id>\`.` };
    }
    return triggerTask(ctx, taskId, `retry of #${ctx.issue.number} requested by @${ctx.user.login}`, { attempt_id: attemptId, pr_number: ctx.issue.number });
  },
};
