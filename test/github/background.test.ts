import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { BackgroundWork } from '../../src/github/background.ts';

describe('BackgroundWork.runInOrder', () => {
  it('runs work of one key one at a time in the order queued, other keys alongside', async () => {
    const bg = new BackgroundWork(pino({ level: 'silent' }));
    const done: string[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    bg.runInOrder('a', 'older push', async () => {
      await sleep(60);
      done.push('a1');
    });
    bg.runInOrder('a', 'newer push', async () => {
      done.push('a2');
    });
    bg.runInOrder('b', 'other target', async () => {
      done.push('b1');
    });
    await bg.idle();
    expect(done).toEqual(['b1', 'a1', 'a2']);
  });

  it('a failure does not stop the work queued after it', async () => {
    const bg = new BackgroundWork(pino({ level: 'silent' }));
    const done: string[] = [];
    bg.runInOrder('a', 'fails', async () => {
      throw new Error('GitHub 502');
    });
    bg.runInOrder('a', 'next', async () => {
      done.push('next');
    });
    await bg.idle();
    expect(done).toEqual(['next']);
  });
});
