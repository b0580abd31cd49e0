import { describe, expect, it } from 'vitest';
import { targetLabelValue, toLabelValue, workerJobName } from '../../src/kubernetes/labels.ts';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('workerJobName', () => {
  it('keeps readable ids as they are, lower-cased', () => {
    expect(workerJobName('att-01')).toBe('leviathan-worker-att-01');
    expect(workerJobName('01HZX3K9Q2ABCDEF')).toBe('leviathan-worker-01hzx3k9q2abcdef');
  });

  it.each(['a/b', 'under_score', '-leading', 'x'.repeat(100), '', '...', 'Ünïcode'])('makes %j a DNS-1123 label of at most 63 chars', (id) => {
    const name = workerJobName(id);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS_LABEL);
    expect(name.startsWith('leviathan-worker-')).toBe(true);
  });

  it('keeps ids apart that sanitise to the same text', () => {
    expect(workerJobName('a/b')).not.toBe(workerJobName('a_b'));
    expect(workerJobName(`${'x'.repeat(80)}1`)).not.toBe(workerJobName(`${'x'.repeat(80)}2`));
  });
});

describe('label values', () => {
  it('turn owner/repo into owner.repo', () => {
    expect(targetLabelValue('iangreen74/radix')).toBe('iangreen74.radix');
  });

  it.each(['a b', '_x_', 'y'.repeat(70), '', '#'])('make %j a valid label value', (v) => {
    const out = toLabelValue(v);
    expect(out.length).toBeLessThanOrEqual(63);
    expect(out).toMatch(LABEL_VALUE);
    if (v !== '') expect(out).not.toBe('');
  });
});
