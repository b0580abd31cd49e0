import type { Command } from './command.ts';
import { triggerTask } from './trigger-task.ts';

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** `/leviathan trigger <task-id>`: runs a task at the next cycle. */
export const triggerCommand: Command = {
  name: 'trigger',
  usage: '/leviathan trigger <task-id>',
  description: 'Runs a task of the backlog now, if the guardrails allow it; the reply gives the attempt or what blocks it.',
  who: 'write',
  examples: ['/leviathan trigger docs-typo-fix'],
  async run(ctx) {
    const taskId = ctx.args[0];
    if (!taskId || !TASK_ID.test(taskId)) {
      return { ok: false, reply: 'Which task? Usage: `/leviathan trigger <task-id>`, with the id from .leviathan/backlog.yaml.' };
    }
    return triggerTask(ctx, taskId, `triggered by @${ctx.user.login} in a comment`);
  },
};
