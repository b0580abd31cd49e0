import type { Command } from './command.ts';

/** `/leviathan help`: lists every command; the list comes from the registry. */
export function helpCommand(list: () => readonly Command[]): Command {
  return {
    name: 'help',
    usage: '/leviathan help',
    description: 'Lists the commands Leviathan understands.',
    who: 'anyone',
    examples: ['/leviathan help'],
    async run() {
      const rows = list().map((c) => `| \`${c.usage}\` | ${c.description} | ${c.who === 'write' ? 'write, maintain or admin' : 'anyone'} |`);
      return { ok: true, reply: ['Leviathan commands:', '', '| command | what it does | who |', '|---|---|---|', ...rows].join('\n') };
    },
  };
}
