import { setFlagsFromString } from 'node:v8';

/**
 * Runs `load` with V8's young generation held at its current size, then lets it grow again.
 *
 * Starting `serve` (loading the modules, opening the store, loading the projection) creates tens
 * of MB of objects that all survive; V8 reads that as "grow the young generation", takes it to its
 * maximum (2 × 16 MB) and keeps it until its memory reducer runs on an idle heap 10–20 s later.
 * Held (`--semi-space-growth-factor=1`, set at run time: on the command line it does not stop
 * this growth), the survivors go on to the old generation: at a million events the process starts
 * ~28 MB smaller and loads no slower. Afterwards the default (2) applies again, because a young
 * generation that can grow is worth ~20% of ingest throughput.
 *
 * Skipped when the operator set the factor themselves (it would be reset to the default after).
 */
export async function withYoungGenerationHeld<T>(
  load: () => Promise<T>,
  opts: { execArgv?: readonly string[]; nodeOptions?: string; setFlags?: (flags: string) => void } = {},
): Promise<T> {
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
  try {
    return await load();
  } finally {
    if (held) setFlags('--semi-space-growth-factor=2');
  }
}
