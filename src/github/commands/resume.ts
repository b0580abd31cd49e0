import { resumeTarget } from '../../control/target-controls.ts';
import { targetView } from '../../projections/target-view.ts';
import type { Command } from './command.ts';
import { refusedAsReply } from './outcome.ts';

/**
 * `/leviathan resume`: lifts a pause. The reply gives the target's status after it, as the API,
 * ctl and the console do: a resumed target may still not run (autonomy off, an emergency stop,
 * an open breaker), and "tasks run again" would then be wrong.
 */
export const resumeCommand: Command = {
  name: 'resume',
  usage: '/leviathan resume',
  description: 'Resumes Leviathan on this repository after a pause.',
  who: 'write',
  examples: ['/leviathan resume'],
  run: ({ target, actor, args, deps }) =>
    refusedAsReply(async () => {
      const reason = args.join(' ').trim() || undefined;
      await resumeTarget(deps, target, actor, reason?.slice(0, 2000), 'slash_command');
      // resumeTarget returns once the projection shows the resume.
      const t = deps.projector.state.targets[target]!;
      const v = targetView(deps.projector.state, t, deps.clock.now());
      return { ok: true, reply: `Resumed Leviathan on ${target}. It is now **${v.status}** (\`${v.reason}\`): ${v.headline}` };
    }),
};
