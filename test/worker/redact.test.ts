import { describe, expect, it } from 'vitest';
import { redact, Redactor } from '../../src/worker/redact.ts';
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
