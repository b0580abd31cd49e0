import { activeTarget } from '../../projections/state.ts';
import { targetView } from '../../projections/target-view.ts';
import type { Command } from './command.ts';

/** `/leviathan status`: the target's status, reason and action, as the console shows them. */
export const statusCommand: Command = {
  name: 'status',
  usage: '/leviathan status',
  description: "Shows this repository's status, why, and what to do about it.",
  who: 'anyone',
  examples: ['/leviathan status'],
  async run({ target, deps }) {
    const state = deps.projector.state;
    const t = activeTarget(state, target);
    if (!t) {
      return { ok: false, reply: `${target} is not a Leviathan target. Install the GitHub App on it to register it.` };
    }
    const v = targetView(state, t, deps.clock.now());
    const prs = v.open_prs.length > 0 ? ` (${v.open_prs.map((p) => `#${p.number}`).join(', ')})` : '';
    return {
      ok: true,
      reply: [
        `**${target}** is **${v.status}** (\`${v.reason}\`): ${v.headline}`,
        '',
        ...(v.action ? [`Action: ${v.action}`, ''] : []),
        `Open Leviathan PRs: ${v.open_prs.length}/${v.max_open_prs}${prs}. Ready tasks: ${v.ready_tasks}.`,
      ].join('\n'),
    };
  },
};
