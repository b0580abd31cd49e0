import { pauseTarget } from '../../control/target-controls.ts';
import type { Command } from './command.ts';
import { refusedAsReply } from './outcome.ts';

/** `/leviathan pause [reason]`: the scheduler skips this repository until resumed. */
export const pauseCommand: Command = {
  name: 'pause',
  usage: '/leviathan pause [reason]',
  description: 'Pauses Leviathan on this repository until someone resumes it.',
  who: 'write',
  examples: ['/leviathan pause', '/leviathan pause release freeze until Monday'],
  run: ({ target, actor, args, commentUrl, deps }) =>
    refusedAsReply(async () => {
      const reason = args.join(' ').trim() || `paused from ${commentUrl}`;
      await pauseTarget(deps, target, actor, reason.slice(0, 2000), 'slash_command');
      return { ok: true, reply: `Paused Leviathan on ${target}: ${reason}. Comment \`/leviathan resume\` to continue.` };
    }),
};
