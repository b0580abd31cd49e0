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

/** Opens or closes a fenced code block: three or more backticks or tildes, indented at most three spaces. */
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** Width of a line's leading whitespace, a tab reaching the next multiple of four (as CommonMark counts it). */
function indentWidth(line: string): number {
  let width = 0;
  for (const ch of line) {
    if (ch === ' ') width++;
    else if (ch === '\t') width += 4 - (width % 4);
    else break;
  }
  return width;
}

/**
 * The first line of a comment that starts with `/leviathan`, split into a command name and
 * arguments; `/leviathan` alone means help. Null when the comment holds no command (most do).
 *
 * Only lines GitHub renders as the commenter's own text count. A command inside a fenced or
 * indented code block is an example ("to pause, run `/leviathan pause`"), and a quoted one
 * (`> /leviathan pause`) is someone else's words being answered: running either would act on
 * a comment that never asked for it.
 */
export function parseCommand(body: string | null | undefined): ParsedCommand | null {
  let fence: string | null = null; // the run of ``` or ~~~ that opened the block we are in
  for (const raw of (body ?? '').split(/\r?\n/)) {
    const run = FENCE.exec(raw)?.[1];
    if (fence !== null) {
      // Closed by a run of the same character, at least as long, with nothing else on the line.
      if (run && run[0] === fence[0] && run.length >= fence.length && raw.trim() === run) fence = null;
      continue;
    }
    if (run) {
      fence = run;
      continue;
    }
    if (indentWidth(raw) >= 4) continue;
    // A quoted line (`> /leviathan pause`, someone else's words) starts with `>`, so it never matches.
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
