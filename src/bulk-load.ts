import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface BulkLoadOptions {
  execArgv?: readonly string[];
  nodeOptions?: string;
  setFlags?: (flags: string) => void;
  /** One full, compacting collection (V8's `gc()`); injectable for tests. */
  collect?: () => void;
}

/**
 * Runs `load` (loading the modules, opening the store and the projection: the bulk load of
 * `serve`'s life) so that the process keeps what it loaded and not what loading cost.
 *
 * - The young generation is held at its size while loading. Tens of MB of objects are created
 *   that all survive; V8 reads that as "grow the young generation", takes it to its maximum
 *   (2 × 16 MB) and keeps it until its memory reducer runs on an idle heap 10–20 s later. Held
 *   (`--semi-space-growth-factor=1`, set at run time: on the command line it does not stop this
 *   growth), the survivors go on to the old generation: at a million events the process starts
 *   ~28 MB smaller and loads no slower. Afterwards the default (2) applies again, because a young
 *   generation that can grow is worth ~20% of ingest throughput.
 * - Once loaded, one full collection frees what loading left behind (parsed snapshot lines,
 *   replay garbage): ~10 MB less RSS at a million events for ~35 ms, before the first request —
 *   what V8's memory reducer would do anyway after ~10 s of idle, done at the one moment we know
 *   the load is over. Not after a failed load: the process is about to exit.
 *
 * An operator's own growth factor is left alone (it would be reset to the default after).
 */
export async function asBulkLoad<T>(load: () => Promise<T>, opts: BulkLoadOptions = {}): Promise<T> {
  const own = [...(opts.execArgv ?? process.execArgv), opts.nodeOptions ?? process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space-growth-factor'));
  const setFlags = opts.setFlags ?? setFlagsFromString;
  let held = false;
  if (!own) {
    try {
      setFlags('--semi-space-growth-factor=1');
      held = true;
    } catch {
      // A V8 that refuses flag changes at run time: the load simply uses more memory.
    }
  }
  let loaded: T;
  try {
    loaded = await load();
  } finally {
    if (held) setFlags('--semi-space-growth-factor=2');
  }
  try {
    (opts.collect ?? fullCollection)();
  } catch {
    // No collector to call: the memory reducer frees the same a little later.
  }
  return loaded;
}

/**
 * V8's `gc()` without `--expose-gc` on the command line: the flag is read when a context is
 * created, so a fresh context gets the function; the flag is turned off again at once so that no
 * later context (and never the main one) carries a `gc` global.
 */
function fullCollection(): void {
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as () => void)();
  } finally {
    if (!process.execArgv.includes('--expose-gc')) setFlagsFromString('--no-expose-gc');
  }
}
