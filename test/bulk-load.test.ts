import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { asBulkLoad } from '../src/bulk-load.ts';

const quiet = { execArgv: [], nodeOptions: '' };

describe('asBulkLoad', () => {
  it('holds the young generation for the load and lets it grow again after, also when the load fails', async () => {
    const flags: string[] = [];
    const setFlags = (f: string) => void flags.push(f);
    const collect = () => {};
    expect(await asBulkLoad(async () => 42, { ...quiet, setFlags, collect })).toBe(42);
    await expect(asBulkLoad(() => Promise.reject(new Error('no store')), { ...quiet, setFlags, collect })).rejects.toThrow('no store');
    expect(flags).toEqual(['--semi-space-growth-factor=1', '--semi-space-growth-factor=2', '--semi-space-growth-factor=1', '--semi-space-growth-factor=2']);
  });

  it("leaves an operator's own growth factor alone", async () => {
    const flags: string[] = [];
    const setFlags = (f: string) => void flags.push(f);
    const collect = () => {};
    await asBulkLoad(async () => 1, { execArgv: ['--semi-space-growth-factor=4'], nodeOptions: '', setFlags, collect });
    await asBulkLoad(async () => 1, { execArgv: [], nodeOptions: '--semi-space-growth-factor=3', setFlags, collect });
    expect(flags).toEqual([]);
  });

  it('still loads when V8 refuses flag changes at run time', async () => {
    const refuse = () => {
      throw new Error('flags are frozen');
    };
    expect(await asBulkLoad(async () => 'loaded', { ...quiet, setFlags: refuse, collect: () => {} })).toBe('loaded');
  });

  it('collects once after a load that succeeded, not after one that failed, and a collector that throws loses nothing', async () => {
    const order: string[] = [];
    const collect = () => void order.push('collect');
    await asBulkLoad(async () => void order.push('load'), { ...quiet, setFlags: () => {}, collect });
    await asBulkLoad(() => Promise.reject(new Error('no store')), { ...quiet, setFlags: () => {}, collect }).catch(() => order.push('failed'));
    expect(order).toEqual(['load', 'collect', 'failed']);
    const broken = () => {
      throw new Error('no gc');
    };
    expect(await asBulkLoad(async () => 'kept', { ...quiet, setFlags: () => {}, collect: broken })).toBe('kept');
  });

  it("runs V8's real full collection without leaving a gc global in the main context or in later ones", async () => {
    const hadGc = 'gc' in globalThis;
    const garbage = new WeakRef({ big: new Array(1e5).fill(1) });
    // A WeakRef keeps its target for the rest of the task that made it.
    await new Promise((r) => setImmediate(r));
    expect(await asBulkLoad(async () => 'loaded', { ...quiet, setFlags: () => {} })).toBe('loaded');
    // Only a full collection frees an unreachable large object.
    expect(garbage.deref()).toBeUndefined();
    expect('gc' in globalThis).toBe(hadGc);
    expect(runInNewContext('typeof gc')).toBe(process.execArgv.includes('--expose-gc') ? 'function' : 'undefined');
  });
});
