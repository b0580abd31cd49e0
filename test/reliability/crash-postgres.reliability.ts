/**
 * Crash safety on PostgreSQL (LEVIATHAN_TEST_DATABASE_URL, or a throwaway cluster the helper
 * starts): the same trials as the file store, see helpers/crash-trials.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { trials } from './helpers/crash-trials.ts';
import { record } from './helpers/figures.ts';

describe('crash safety under SIGKILL: PostgreSQL store', () => {
  let pg: TestPostgres | null = null;
  let unavailable: string | null = null;
  beforeAll(async () => {
    try {
      pg = await startPostgres();
    } catch (err) {
      unavailable = (err as Error).message;
    }
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('PostgreSQL: 10 kills during mixed ingest lose no acknowledged event', { timeout: 240_000 }, async () => {
    if (!pg) {
      // A missing PostgreSQL fails the suite loudly (.ci/run installs it), never a silent skip.
      record('crash (PostgreSQL)', { 'SIGKILL trials': `0 (PostgreSQL unavailable: ${unavailable})` });
      throw new Error(`PostgreSQL is needed for this test and could not be started: ${unavailable}`);
    }
    let n = 0;
    await trials('crash (PostgreSQL)', 10, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'leviathan-crash-pg-'));
      const databaseUrl = await pg!.createDatabase(`crash_${process.pid}_${n++}`);
      return { dataDir, databaseUrl, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
    });
  });
});
