import { OperationError } from '../../control/operation-error.ts';
import type { CommandResult } from './command.ts';

/** Turns a refused operation (already paused, unknown target) into a reply instead of a failure. */
export async function refusedAsReply(run: () => Promise<CommandResult>): Promise<CommandResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof OperationError) return { ok: false, reply: err.message };
    throw err;
  }
}
