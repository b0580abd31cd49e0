import { describe, expect, it } from 'vitest';
import { parseContract } from '../../src/contract/contract-file.ts';

const full = `# Contract of an example target
name: example
purpose: Keep the docs honest
description: ignored, not part of the contract type
definition_of_done:
  - Docs build
  - Links checked: no 404s
safety:
  output_mode: pr_only
  constraints: [No direct commits]
scope:
  in_scope: [docs]
quality_gates:
  - All unit tests pass
  - 100
`;

describe('parseContract', () => {
  it('reads every informational field', () => {
    expect(parseContract(full)).toEqual({
      ok: true,
      contract: {
        name: 'example',
        purpose: 'Keep the docs honest',
        definition_of_done: ['Docs build', 'Links checked: no 404s'],
        safety: { output_mode: 'pr_only', constraints: ['No direct commits'] },
        scope: { in_scope: ['docs'] },
        quality_gates: ['All unit tests pass', '100'],
      },
    });
  });

  it.each([
    ['', {}],
    ['# nothing\n', {}],
    ['name: 42\n', { name: '42' }],
    ['quality_gates: Tests pass\n', { quality_gates: ['Tests pass'] }],
    ['name:\npurpose: ~\nsafety:\n', {}],
    ['unknown: [1, 2]\n', {}],
  ])('%j → %j', (text, contract) => {
    expect(parseContract(text)).toEqual({ ok: true, contract });
  });

  it.each([
    ['a list root', '- a\n', 1, 'contract.yaml must be a mapping, not a list'],
    ['name is a list', 'purpose: x\nname: [a]\n', 2, 'name must be text, not a list'],
    ['definition_of_done is a mapping', 'definition_of_done:\n  a: 1\n  b: 2\n', 1, 'definition_of_done must be a list of text, not a mapping'],
    ['nested list item', 'quality_gates:\n  - [a]\n', 1, 'each item of quality_gates must be text, not a list'],
    ['syntax error', 'name: [x\n', 2, expect.stringMatching(/^YAML syntax error/)],
  ])('refuses %s', (_name, text, line, reason) => {
    expect(parseContract(text)).toEqual({ ok: false, error: { code: 'contract_invalid', line, reason } });
  });

  it('refuses hostile input without throwing', () => {
    expect(parseContract('{'.repeat(100_000))).toMatchObject({ ok: false, error: { code: 'contract_invalid' } });
    expect(parseContract(`# ${'x'.repeat(2 * 1024 * 1024)}`)).toMatchObject({
      ok: false,
      error: { code: 'contract_invalid', line: null, reason: expect.stringContaining('file too large') },
    });
  });
});
