import type { ClientBase } from 'pg';
import { StoreError } from '../event-store.ts';
import { MIGRATIONS, type Migration } from './migrations.ts';

/**
 * Advisory lock keys (two int4s: an application tag and a purpose). Every replica uses the same
 * keys, so they serialise against each other and nothing else in the database.
 */
export const LOCK_NAMESPACE = 0x4c657669; // "Levi"
/** Held (transaction-level) while migrating. */
export const MIGRATION_LOCK = 1;
/** Held (transaction-level) by every append, from reading the head to commit. */
export const APPEND_LOCK = 2;

/** What `migrate` did, for the start-up log line. */
export interface MigrationReport {
  applied: number[];
  version: number;
}

/**
 * Brings the schema up to date: in one transaction, under an advisory lock, applies every
 * migration not yet recorded in `schema_migrations`. Two replicas starting together queue on the
 * lock; the second finds the work done. A failure rolls everything back, so the schema is always
 * at some released version. A database newer than this build is refused rather than guessed at.
 */
export async function migrate(client: ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationReport> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, MIGRATION_LOCK]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    const done = new Set(rows.map((r) => r.version));
    const known = migrations.at(-1)?.version ?? 0;
    const newest = rows.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new StoreError(
        'store_unavailable',
        `the database schema is at version ${newest} but this build knows only up to ${known}; run a newer Leviathan (or restore the matching database)`,
      );
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return { applied, version: known };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
