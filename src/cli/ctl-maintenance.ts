import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isoTimeMs } from '../api/http.ts';
import type { Env } from '../env.ts';
import { Projector } from '../projections/projector.ts';
import { verifyDataDir } from '../store/archive.ts';
import { openFileEventStore } from '../store/file-event-store.ts';
import { assertNoLiveWriter, backupStore, compactStore, MaintenanceError, PROJECTION_FILE, restoreStore } from '../store/retention.ts';

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Commands that work on LEVIATHAN_DATA_DIR directly rather than through the API. */
export const MAINTENANCE_COMMANDS = new Set(['compact', 'backup', 'restore']);

/** Is this `ctl` invocation a maintenance command (including `verify --offline`)? */
export function isMaintenanceCommand(argv: string[]): boolean {
  const [command, ...rest] = argv;
  return MAINTENANCE_COMMANDS.has(command ?? '') || (command === 'verify' && rest.includes('--offline'));
}

export const MAINTENANCE_HELP = `Maintenance (file store; works on LEVIATHAN_DATA_DIR directly):
  compact --before <time|Nd> [--force]
                         move events older than <time> (ISO 8601, or e.g. 90d ago) into an
                         archive segment + checkpoint; the chain stays verifiable end to end.
                         The control plane must be stopped (--force: one on another host,
                         whose lock is still renewed, is known to be stopped; its lock goes).
  backup <dir>           consistent, verified copy of log, index, projection snapshot and archive
                         (safe while serving). Secrets (api-token, session-secret) are not copied.
  restore <dir> [--force]
                         verify a backup completely, then restore it (control plane stopped;
                         --force moves an existing log aside instead of refusing, and takes
                         another host's lock as compact --force does)
  verify --offline       check archive segments, checkpoint and live log on disk
`;

/** `leviathan ctl compact|backup|restore|verify --offline`: returns the exit code (0 ok, 1 failed, 2 usage). */
export async function ctlMaintenance(env: Env, argv: string[], io: Io, now: () => Date = () => new Date()): Promise<number> {
  const [command, ...rest] = argv;
  const print = (s: string) => io.out.write(`${s}\n`);
  let values: { before?: string; force?: boolean; offline?: boolean; json?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { before: { type: 'string' }, force: { type: 'boolean' }, offline: { type: 'boolean' }, json: { type: 'boolean' } },
    }));
  } catch (err) {
    io.err.write(`${(err as Error).message}\n\n${MAINTENANCE_HELP}`);
    return 2;
  }
  if (env.LEVIATHAN_DATABASE_URL) {
    io.err.write(`ctl ${command} works on the file store; with LEVIATHAN_DATABASE_URL set use PostgreSQL's own tools (pg_dump, partitioning).\n`);
    return 2;
  }
  const dir = env.LEVIATHAN_DATA_DIR;
  try {
    switch (command) {
      case 'compact': {
        const before = parseBefore(values.before ?? retentionDefault(env), now());
        await assertNoLiveWriter(dir, values.force === true);
        // The projection snapshot must cover what leaves the live log, so a restart does not
        // replay the archive: bring it up to the head first.
        await refreshProjection(dir);
        const r = await compactStore(dir, before);
        if (values.json) return print(JSON.stringify(r)), 0;
        if (r.archived === 0) print(`Nothing older than ${before} left in the live log (${r.archivedTotal} events archived, ${r.live} live).`);
        else print(`Archived ${r.archived} events (seq ${r.segment!.from}–${r.segment!.to}) into ${join(dir, 'archive', r.segment!.file)}; ${r.live} events stay live.`);
        print(`Chain OK through seq ${r.head.seq}, head ${r.head.hash}.`);
        return 0;
      }
      case 'backup': {
        const dest = positionals[0];
        if (!dest) return usage(io, 'backup <dir>');
        const m = await backupStore(dir, dest);
        if (values.json) return print(JSON.stringify(m)), 0;
        print(`Backup of ${dir} written to ${dest} (${m.online ? 'online, while serving' : 'offline'}): ${m.head.seq} events (${m.archived} archived), head ${m.head.hash}.`);
        print(`${m.files.length} files, each with its SHA-256 in ${join(dest, 'backup.json')}; chain verified.`);
        return 0;
      }
      case 'restore': {
        const src = positionals[0];
        if (!src) return usage(io, 'restore <dir> [--force]');
        const r = await restoreStore(src, dir, values.force === true);
        if (values.json) return print(JSON.stringify(r)), 0;
        if (r.movedAside) print(`The previous store files were moved to ${r.movedAside}.`);
        print(`Restored ${src} into ${dir}: ${r.head.seq} events, head ${r.head.hash} (backup taken ${r.manifest.created_at}).`);
        return 0;
      }
      case 'verify': {
        const r = await verifyDataDir(dir);
        if (values.json) return print(JSON.stringify(r)), r.ok ? 0 : 1;
        if (!r.ok) {
          print(`Chain BROKEN at seq ${r.firstBad.seq} in ${r.firstBad.file}: ${r.firstBad.reason} (${r.archived + r.live} events verified before it).`);
          return 1;
        }
        print(`Chain OK: ${r.archived + r.live} events (${r.archived} archived in ${r.segments} segment${r.segments === 1 ? '' : 's'}, ${r.live} live), head ${r.head.hash}.`);
        if (r.tornTailBytes > 0) print(`The live log ends with a torn line of ${r.tornTailBytes} bytes (an interrupted write; cut off on the next start).`);
        return 0;
      }
      default:
        io.err.write(`Unknown maintenance command "${command}".\n\n${MAINTENANCE_HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof MaintenanceError) {
      io.err.write(`${err.message}\n`);
      return err.code === 'invalid_argument' ? 2 : 1;
    }
    throw err;
  }
}

function usage(io: Io, text: string): number {
  io.err.write(`Usage: leviathan ctl ${text}\n`);
  return 2;
}

/** The retention default for `compact` without --before: LEVIATHAN_RETENTION_DAYS, else --before is required. */
function retentionDefault(env: Env): string {
  const days = env.LEVIATHAN_RETENTION_DAYS;
  if (days === undefined) throw new MaintenanceError('invalid_argument', 'compact needs --before <time> (ISO 8601, or e.g. 90d for ninety days ago), or LEVIATHAN_RETENTION_DAYS.');
  return `${days}d`;
}

/**
 * `--before`: an ISO 8601 time (by the API's own rules: a time without a zone is UTC, a day the
 * calendar lacks is refused), or `<n>d` / `<n>h` before now.
 */
function parseBefore(raw: string, now: Date): string {
  const rel = /^(\d{1,6})([dh])$/.exec(raw.trim());
  if (rel) return new Date(now.getTime() - Number(rel[1]) * (rel[2] === 'd' ? 86_400_000 : 3_600_000)).toISOString();
  const t = isoTimeMs(raw.trim());
  if (t === null) throw new MaintenanceError('invalid_argument', `--before must be an ISO 8601 time or a number of days like 90d (got "${raw}").`);
  if (t > now.getTime()) throw new MaintenanceError('invalid_argument', `--before ${raw} is in the future; compaction only archives the past.`);
  return new Date(t).toISOString();
}

/** Replays the log into the projection snapshot (from the one on disk) and saves it at the head. */
async function refreshProjection(dir: string): Promise<void> {
  const store = await openFileEventStore({ dir, snapshotIntervalMs: 0 });
  try {
    const projector = new Projector(store, { snapshotPath: join(dir, PROJECTION_FILE) });
    await projector.start();
    await projector.stop();
  } finally {
    await store.close();
  }
}
