import type { StoreFs } from './store-fs.ts';
import { readFully } from './store-fs.ts';

/**
 * Called for each complete line (without its `\n`): bytes `buf[start, end)` at file offset
 * `offset`. Return `false` to stop the scan before this line is counted as consumed.
 */
export type LineSink = (buf: Buffer, start: number, end: number, offset: number) => boolean | void;

/**
 * Streams the lines of file range [from, to) through `onLine` in large positional reads, without
 * holding more than one chunk in memory. `end` is the offset just past the last consumed line;
 * bytes in [end, to) after a normal finish are an unterminated (torn) last line.
 */
export async function scanLines(
  sfs: StoreFs,
  fd: number,
  from: number,
  to: number,
  onLine: LineSink,
  chunkSize = 4 << 20,
): Promise<{ end: number; stopped: boolean }> {
  let buf = Buffer.allocUnsafe(chunkSize);
  let pos = from;
  while (pos < to) {
    const n = await readFully(sfs, fd, buf, Math.min(buf.length, to - pos), pos);
    if (n === 0) break;
    const view = buf.subarray(0, n);
    let s = 0;
    for (let nl = view.indexOf(10, s); nl !== -1; nl = view.indexOf(10, s)) {
      if (onLine(view, s, nl, pos + s) === false) return { end: pos + s, stopped: true };
      s = nl + 1;
    }
    if (s === 0) {
      if (pos + n >= to) break;
      // A line longer than the buffer: read it again with room for it.
      buf = Buffer.allocUnsafe(buf.length * 2);
      continue;
    }
    pos += s;
  }
  return { end: pos, stopped: false };
}
