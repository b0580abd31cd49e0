import { describe, expect, it } from 'vitest';
import { staticToken } from '../../src/worker/credentials.ts';

describe('staticToken', () => {
  it('returns the token it was given (the executor-minted repository token, or a development token)', async () => {
    expect(await staticToken('t0ken-value').token()).toBe('t0ken-value');
  });
});
