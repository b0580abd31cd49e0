import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/console/safe-next.ts';

describe('safeNext', () => {
  it.each([
    ['/targets/acme/web', '/targets/acme/web'],
    ['/stream?type=pr.*', '/stream?type=pr.*'],
    [null, '/'],
    ['', '/'],
    ['https://evil.example/', '/'],
    ['//evil.example/', '/'],
    ['/\\evil.example/', '/'],
    ['/\t/evil.example/', '/'],
    ['/\n/evil.example/', '/'],
    ['/a\\b', '/'],
  ])('%j → %j', (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });
});
