/**
 * Crash safety on the file store, measured: see helpers/crash-trials.ts for what each trial does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { trials } from './helpers/crash-trials.ts';

describe('crash safety under SIGKILL', () => {
  it('file store: 20 kills during mixed ingest lose no acknowledged event', { timeout: 240_000 }, async () => {
    await trials('crash (file store)', 20, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'leviathan-crash-rel-'));
      return { dataDir, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
    });
  });
});
