/**
 * Most bytes a worker writes to its log. A local worker's log is a file (`<data dir>/workers/
 * <attempt>.log`) that the executor opens and hands over as stdout, then may exit (`tick`): the
 * worker is the only one left to bound it. An agent's output at LOG_LEVEL=debug is the usual bulk.
 */
export const WORKER_LOG_MAX_BYTES = 16 * 1024 * 1024;

/**
 * A log destination that writes whole lines up to `maxBytes`, then one last line saying the log
 * was truncated, then nothing. The attempt's outcome still reaches the control plane as events.
 */
export function cappedLog(out: { write(line: string): unknown }, maxBytes = WORKER_LOG_MAX_BYTES): { write(line: string): void } {
  let written = 0;
  let truncated = false;
  return {
    write(line: string): void {
      if (truncated) return;
      const bytes = Buffer.byteLength(line);
      if (written + bytes <= maxBytes) {
        written += bytes;
        out.write(line);
        return;
      }
      truncated = true;
      // A pino-shaped line (warn), so whatever reads the log parses it like the others.
      const notice = { level: 40, time: Date.now(), component: 'worker', max_bytes: maxBytes, msg: `Worker: Log truncated at ${maxBytes} bytes; later lines are dropped (the attempt's events still report its outcome)` };
      out.write(`${JSON.stringify(notice)}\n`);
    },
  };
}
