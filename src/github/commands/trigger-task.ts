import { activeTarget } from '../../projections/state.ts';
import type { CommandContext, CommandResult } from './command.ts';

/**
 * Triggers a task of the target's backlog through the same path as POST /v1/tasks/trigger: the
 * decision runs now and the reply says the attempt or what blocks it. Refuses, recording nothing,
 * a task the synced backlog does not have, and — as the API answers 501 — a control plane without
 * an executor: no cycle gives a triggered task precedence, so "it will run later" would be untrue.
 */
export async function triggerTask(ctx: CommandContext, taskId: string, reason: string, extra: Record<string, unknown> = {}): Promise<CommandResult> {
  const { target, deps } = ctx;
  const t = activeTarget(deps.projector.state, target);
  if (!t) return { ok: false, reply: `${target} is not a Leviathan target. Install the GitHub App on it first.` };
  if (t.backlog.state === 'synced' && !t.backlog.tasks.some((task) => task.id === taskId)) {
    const known = t.backlog.tasks.slice(0, 10).map((task) => `\`${task.id}\``).join(', ');
    return { ok: false, reply: `There is no task \`${taskId}\` in .leviathan/backlog.yaml${known ? ` (tasks: ${known})` : ''}.` };
  }
  if (!deps.scheduler?.executor) {
    return { ok: false, reply: `Could not run \`${taskId}\`: no worker executor is configured on this control plane (see LEVIATHAN_EXECUTOR in its logs). Nothing was recorded.` };
  }
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
