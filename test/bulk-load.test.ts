import { describe, expect, it } from 'vitest';
import { withYoungGenerationHeld } from '../src/bulk-load.ts';

describe('withYoungGenerationHeld', () => {
  it('holds the young generation for the load and lets it grow again after, also when the load fails', async () => {
    const flags: string[] = [];
    const setFlags = (f: string) => void flags.push(f);
    expect(await withYoungGenerationHeld(async () => 42, { execArgv: [], nodeOptions: '', setFlags })).toBe(42);
    await expect(withYoungGenerationHeld(() => Promise.reject(new Error('no store')), { execArgv: [], nodeOptions: '', setFlags })).rejects.toThrow('no store');
    expect(flags).toEqual(['--semi-space-growth-factor=1', '--semi-space-growth-factor=2', '--semi-space-growth-factor=1', '--semi-space-growth-factor=2']);
  });

  it("leaves an operator's own growth factor alone", async () => {
    const flags: string[] = [];
    const setFlags = (f: string) => void flags.push(f);
    await withYoungGenerationHeld(async () => 1, { execArgv: ['--semi-space-growth-factor=4'], nodeOptions: '', setFlags });
    await withYoungGenerationHeld(async () => 1, { execArgv: [], nodeOptions: '--semi-space-growth-factor=3', setFlags });
    expect(flags).toEqual([]);
  });

  it('still loads when V8 refuses flag changes at run time', async () => {
    const refuse = () => {
      throw new Error('flags are frozen');
    };
    expect(await withYoungGenerationHeld(async () => 'loaded', { execArgv: [], nodeOptions: '', setFlags: refuse })).toBe('loaded');
  });
});
