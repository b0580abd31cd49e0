import type { Command } from './command.ts';
import { helpCommand } from './help.ts';
import { pauseCommand } from './pause.ts';
import { resumeCommand } from './resume.ts';
import { retryCommand } from './retry.ts';
import { statusCommand } from './status.ts';
import { triggerCommand } from './trigger.ts';

/** The word every command starts with. */
export const COMMAND_PREFIX = '/leviathan';

/** Every slash command, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  helpCommand(() => COMMANDS),
  statusCommand,
  pauseCommand,
  resumeCommand,
  triggerCommand,
  retryCommand,
];

/** The command named `name`, or undefined. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** A command line found in a comment. */
export interface ParsedCommand {
  name: string;
  args: string[];
}

/**
 * The first line of a comment that starts with `/leviathan`, split into a command name and
 * arguments; `/leviathan` alone means help. Null when the comment holds no command (most do).
 */
export function parseCommand(body: string | null | undefined): ParsedCommand | null {
  for (const raw of (body ?? '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line !== COMMAND_PREFIX && !line.startsWith(`${COMMAND_PREFIX} `)) continue;
    const [name, ...args] = line.slice(COMMAND_PREFIX.length).trim().split(/\s+/).filter(Boolean);
    return { name: (name ?? 'help').toLowerCase(), args };
  }
  return null;
}

/** The registry as data, for `GET /v1/commands`. */
export function commandsHelp(): Array<Pick<Command, 'name' | 'usage' | 'description' | 'who' | 'examples'>> {
  return COMMANDS.map(({ name, usage, description, who, examples }) => ({ name, usage, description, who, examples }));
}

/** The README's command table, generated from the registry. */
export function commandsMarkdown(): string {
  const rows = COMMANDS.map(
    (c) => `| \`${c.usage}\` | ${c.description} | ${c.who === 'write' ? 'write, maintain or admin' : 'anyone who can comment'} | ${c.examples.map((e) => `\`${e}\``).join('<br>')} |`,
  );
  return ['| command | what it does | who may use it | examples |', '|---|---|---|---|', ...rows].join('\n');
}
