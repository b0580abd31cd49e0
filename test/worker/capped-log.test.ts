import { describe, expect, it } from 'vitest';
import { cappedLog } from '../../src/worker/capped-log.ts';

describe('cappedLog', () => {
  it('writes whole lines up to the cap, then one line saying the log was truncated, then nothing', () => {
    const out: string[] = [];
    const log = cappedLog({ write: (l: string) => out.push(l) }, 25);
    for (let i = 0; i < 10; i++) log.write(`line ${i} ........\n`); // 16 bytes each
    expect(out.slice(0, 1)).toEqual(['line 0 ........\n']);
    expect(out).toHaveLength(2);
    expect(JSON.parse(out[1]!)).toMatchObject({ level: 40, max_bytes: 25, msg: expect.stringContaining('Worker: Log truncated at 25 bytes') });
  });
});
