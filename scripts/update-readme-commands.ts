/** Rewrites the slash-command table in README.md from the command registry (`npx tsx scripts/update-readme-commands.ts`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { commandsMarkdown } from '../src/github/commands/registry.ts';

export const START = '<!-- commands:start';
export const END = '<!-- commands:end -->';

/** The README with the table between the markers replaced by the registry's. */
export function withCommandsTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error('README.md lacks the commands markers');
  const headerEnd = readme.indexOf('-->', start) + 3;
  return `${readme.slice(0, headerEnd)}\n${commandsMarkdown().trim()}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, withCommandsTable(readFileSync(path, 'utf8')));
  console.log('README.md commands table updated');
}
