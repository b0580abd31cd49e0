import { resumeTarget } from '../../control/target-controls.ts';
import type { Command } from './command.ts';
import { refusedAsReply } from './outcome.ts';

/** `/leviathan resume`: lifts a pause. */
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
      return { ok: true, reply: `Resumed Leviathan on ${target}. Tasks run again from the next cycle.` };
    }),
};
