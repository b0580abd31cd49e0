import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withCommandsTable } from '../../../scripts/update-readme-commands.ts';

describe('README slash-command table', () => {
  it('is the one generated from the registry (run scripts/update-readme-commands.ts)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toBe(withCommandsTable(readme));
  });
});
