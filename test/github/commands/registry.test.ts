import { describe, expect, it } from 'vitest';
import { COMMANDS, commandsHelp, commandsMarkdown, findCommand, parseCommand } from '../../../src/github/commands/registry.ts';
import { startTestControlPlane, READ_TOKEN } from '../../helpers/control-plane.ts';

describe('command registry', () => {
  it('declares usage, description, audience and examples for every command', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(['help', 'status', 'pause', 'resume', 'trigger', 'retry']);
    for (const c of COMMANDS) {
      expect(c.usage.startsWith(`/leviathan ${c.name}`)).toBe(true);
      expect(c.description).not.toBe('');
      expect(c.examples.length).toBeGreaterThan(0);
      for (const e of c.examples) expect(parseCommand(e)?.name).toBe(c.name);
    }
    // Only reading is open to everyone.
    expect(COMMANDS.filter((c) => c.who === 'anyone').map((c) => c.name)).toEqual(['help', 'status']);
  });

  it('parses the first /leviathan line of a comment', () => {
    expect(parseCommand('Thanks!\n/leviathan pause  release freeze \nmore')).toEqual({ name: 'pause', args: ['release', 'freeze'] });
    expect(parseCommand('/leviathan')).toEqual({ name: 'help', args: [] });
    expect(parseCommand('/LEVIATHAN help')).toBeNull();
    expect(parseCommand('/leviathanx help')).toBeNull();
    expect(parseCommand('see `/leviathan help` for help')).toBeNull();
    expect(findCommand('nope')).toBeUndefined();
  });

  it('skips commands in code blocks, indented code and quotes: examples and other people\'s words', () => {
    expect(parseCommand('To pause, run:\n\n```\n/leviathan pause\n```')).toBeNull();
    expect(parseCommand('```sh\n/leviathan pause\n````\n/leviathan status')).toEqual({ name: 'status', args: [] }); // a longer run closes
    expect(parseCommand('~~~\n/leviathan pause\n```\n/leviathan trigger x')).toBeNull(); // ``` does not close ~~~
    expect(parseCommand('   ```\n/leviathan pause')).toBeNull(); // unclosed: code to the end
    expect(parseCommand('Example:\n\n    /leviathan trigger x')).toBeNull();
    expect(parseCommand('\t/leviathan pause')).toBeNull();
    expect(parseCommand('> /leviathan pause\n\nWhy?')).toBeNull();
    expect(parseCommand('   /leviathan pause freeze')).toEqual({ name: 'pause', args: ['freeze'] }); // three spaces is still text
    expect(parseCommand('```\nlog\n```\n/leviathan resume')).toEqual({ name: 'resume', args: [] });
  });

  it('generates the README table from the registry', () => {
    const md = commandsMarkdown();
    expect(md.split('\n')).toHaveLength(2 + COMMANDS.length);
    for (const c of COMMANDS) expect(md).toContain(`\`${c.usage}\``);
  });

  it('GET /v1/commands serves the registry with the read scope', async () => {
    const cp = await startTestControlPlane();
    try {
      const res = await cp.api('/v1/commands', { token: READ_TOKEN });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ commands: commandsHelp() });
      expect((await cp.api('/v1/commands', { token: null })).status).toBe(401);
    } finally {
      await cp.destroy();
    }
  });
});
