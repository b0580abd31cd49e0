import { describe, expect, it } from 'vitest';
import { DEFAULT_REDACTED_VARS, isRedactedVar, redact, redactedVarGlobs, Redactor } from '../../src/worker/redact.ts';
import { FAKE_TOKEN } from './harness.ts';

describe('redact', () => {
  it('replaces known secrets wherever they appear', () => {
    expect(redact(`token=${FAKE_TOKEN}; again ${FAKE_TOKEN}`, [FAKE_TOKEN])).toBe('token=***; again ***');
  });

  it('catches GitHub token shapes and credentials it was never told about', () => {
    expect(redact('ghp_abcdefghijklmnopqrstuvwxyz0123 and gho_ABCDEFGHIJKLMNOPQRSTUV')).toBe('*** and ***');
    expect(redact('https://x-access-token:abc123@github.com/o/r')).toBe('https://x-access-token:***@github.com/o/r');
    expect(redact('Authorization: Basic eC1hY2Nlc3MtdG9rZW46Zm9v')).toBe('Authorization: Basic ***');
    expect(redact('github_pat_11ABCDEFG0123456789_abcdefghijkl')).toBe('***');
  });

  it('catches the LLM and cloud key shapes agents are given, but not branch names that contain `sk-`', () => {
    expect(redact('key sk-ant-api03-abcdefghijklmnopqrstuvwxyz_0123 ok')).toBe('key *** ok');
    expect(redact('OPENAI sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX0123')).toBe('OPENAI ***');
    expect(redact('aws AKIAIOSFODNN7EXAMPLE.')).toBe('aws ***.');
    const branch = 'leviathan/task-ant-make-the-readme-shorter-please';
    expect(redact(`pushed ${branch}`)).toBe(`pushed ${branch}`);
    expect(redact('refs/heads/disk-proj-cleanup-of-old-volumes-now')).toBe('refs/heads/disk-proj-cleanup-of-old-volumes-now');
  });

  it('leaves ordinary text alone, including short "secrets" that would shred it', () => {
    expect(redact('the quick brown fox', ['a', 'fox1'])).toBe('the quick brown fox');
    expect(redact('ghs_short')).toBe('ghs_short');
  });
});

describe('Redactor', () => {
  it('learns secrets late and also removes their Basic-auth form', () => {
    const r = new Redactor(['api-token-123456']);
    const basic = Buffer.from(`x-access-token:${FAKE_TOKEN}`).toString('base64');
    expect(r.text(`h: ${basic}`)).toBe(`h: ${basic}`);
    r.add(FAKE_TOKEN);
    expect(r.text(`h: ${basic} api-token-123456`)).toBe('h: *** ***');
  });

  it('redacts every string inside nested values', () => {
    const r = new Redactor([FAKE_TOKEN]);
    expect(r.value({ a: [`x ${FAKE_TOKEN}`, 1, null], b: { c: FAKE_TOKEN }, d: true })).toEqual({
      a: ['x ***', 1, null],
      b: { c: '***' },
      d: true,
    });
  });
});

describe('redacted variable names', () => {
  it('by default: names ending like a credential, case-insensitively', () => {
    const globs = redactedVarGlobs(undefined);
    expect(globs).toBe(DEFAULT_REDACTED_VARS);
    for (const name of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'HF_TOKEN', 'DB_PASSWORD', 'app_secret', 'PG_CONNECTION_STRING']) {
      expect(isRedactedVar(name, globs), name).toBe(true);
    }
    for (const name of ['PATH', 'HOME', 'KEYBOARD', 'TOKENIZER_PATH', 'LEVIATHAN_TASK_FILE']) expect(isRedactedVar(name, globs), name).toBe(false);
  });

  it('LEVIATHAN_REDACTED_VARS replaces the list; an empty one keeps the defaults', () => {
    const globs = redactedVarGlobs(' MY_*_CREDS , EXACT ');
    expect(globs).toEqual(['MY_*_CREDS', 'EXACT']);
    expect(isRedactedVar('MY_LLM_CREDS', globs)).toBe(true);
    expect(isRedactedVar('EXACT', globs)).toBe(true);
    expect(isRedactedVar('NOT_EXACT', globs)).toBe(false);
    expect(isRedactedVar('OPENAI_API_KEY', globs)).toBe(false);
    expect(redactedVarGlobs(' , ')).toBe(DEFAULT_REDACTED_VARS);
  });
});

describe('Redactor.mask', () => {
  it("redacts an agent's credential without making it one the agent's environment loses", () => {
    const r = new Redactor([FAKE_TOKEN]);
    r.mask('ANTHROPIC_API_KEY', 'agent-key-0123456789');
    r.mask('SHORT_KEY', 'abc');
    expect(r.text('k=agent-key-0123456789 abc')).toBe('k=*** abc');
    expect(r.secrets).not.toContain('agent-key-0123456789');
    expect(r.known).toEqual(
      expect.arrayContaining([
        { value: FAKE_TOKEN, label: 'a Leviathan credential', kind: 'leviathan' },
        { value: 'agent-key-0123456789', label: 'the value of ANTHROPIC_API_KEY', kind: 'agent' },
      ]),
    );
    expect(r.known.map((k) => k.value)).not.toContain('abc');
  });
});
