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

  it('PostgreSQL: 10 kills during mixed ingest lose no acknowledged event', { timeout: 240_000 }, async (ctx) => {
    if (!pg) {
      // Reported in the figures rather than hidden: the table says why there is no PostgreSQL row.
      record('crash (PostgreSQL)', { 'SIGKILL trials': `0 (skipped: ${unavailable})` });
      ctx.skip();
      return;
    }
    let n = 0;
    await trials('crash (PostgreSQL)', 10, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'leviathan-crash-pg-'));
      const databaseUrl = await pg!.createDatabase(`crash_${process.pid}_${n++}`);
      return { dataDir, databaseUrl, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
    });
  });
});
