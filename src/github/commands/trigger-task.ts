import { append } from '../../control/target-controls.ts';
import { newEvent } from '../../events/envelope.ts';
import { subjects } from '../../events/types.ts';
import type { CommandContext, CommandResult } from './command.ts';

/**
 * Triggers a task of the target's backlog through the same path as POST /v1/tasks/trigger: the
 * decision runs now and the reply says the attempt or what blocks it. Without an executor in this
 * control plane, it records task.triggered and the next cycle takes it. Refuses (without
 * recording) a task the synced backlog does not have.
 */
export async function triggerTask(ctx: CommandContext, taskId: string, reason: string, extra: Record<string, unknown> = {}): Promise<CommandResult> {
  const { target, deps } = ctx;
  const t = deps.projector.state.targets[target];
  if (!t || t.lifecycle === 'removed') return { ok: false, reply: `${target} is not a Leviathan target. Install the GitHub App on it first.` };
  if (t.backlog.state === 'synced' && !t.backlog.tasks.some((task) => task.id === taskId)) {
    const known = t.backlog.tasks.slice(0, 10).map((task) => `\`${task.id}\``).join(', ');
    return { ok: false, reply: `There is no task \`${taskId}\` in .leviathan/backlog.yaml${known ? ` (tasks: ${known})` : ''}.` };
  }
  if (deps.scheduler?.executor) {
    const { decision } = await deps.scheduler.trigger({
      target,
      task_id: taskId,
      actor: ctx.actor,
      reason,
      via: 'slash_command',
      data: { comment_url: ctx.commentUrl, ...extra },
    });
    if (decision.outcome === 'executed') {
      return { ok: true, reply: `Started \`${taskId}\` on ${target} (attempt \`${decision.attempt_id}\`). The pull request will link back here.` };
    }
    return { ok: false, reply: `Could not run \`${taskId}\` now: ${decision.detail} (\`${decision.reason}\`).` };
  }
  await append(
    deps,
    newEvent({
      type: 'task.triggered',
      actor: ctx.actor,
      target,
      subject: subjects.task(target, taskId),
      data: { task_id: taskId, reason, via: 'slash_command', comment_url: ctx.commentUrl, ...extra },
    }),
  );
  return { ok: true, reply: `Triggered \`${taskId}\` on ${target}: it will run at the next scheduler cycle.` };
}
