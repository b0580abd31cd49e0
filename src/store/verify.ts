import { constants } from 'node:fs';
import { checkLink, GENESIS_HASH, type StoredEvent } from '../events/envelope.ts';
import { scanLines } from './ndjson-scan.ts';
import { nodeStoreFs, type StoreFs } from './store-fs.ts';

/** Outcome of checking a hash chain: the head it proves, or the first link that does not hold. */
export type VerifyResult =
  | { ok: true; count: number; head: string }
  | { ok: false; count: number; firstBad: { seq: number; reason: string } };

/**
 * Checks every link of a chain of events, in order, from the genesis hash. `count` is the number
 * of events that verified before the first bad one.
 */
export async function verifyChain(events: AsyncIterable<StoredEvent>): Promise<VerifyResult> {
  let prev = { seq: 0, hash: GENESIS_HASH };
  let count = 0;
  for await (const e of events) {
    const problem = checkLink(e, prev);
    if (problem) return { ok: false, count, firstBad: { seq: problem.seq, reason: problem.reason } };
    prev = { seq: e.seq, hash: e.hash };
    count++;
  }
  return { ok: true, count, head: prev.hash };
}

/**
 * Parses one log line into an event, or returns null when it is not a JSON object. Shape beyond
 * that is left to `checkLink`: a line edited into the wrong shape fails its hash or seq check.
 */
export function parseLogLine(text: string): StoredEvent | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as StoredEvent) : null;
  } catch {
    return null;
  }
}

/**
 * Can an unparsable line be what a crash left? A crash leaves an unterminated tail, or, after a
 * power loss on some file systems, a line holding NUL bytes where pages were never written; a
 * complete line without NULs that does not parse was edited or rotted after it was acknowledged.
 */
function isTornLine(buf: Uint8Array, start: number, end: number): boolean {
  return buf.subarray(start, end).includes(0);
}

/**
 * The one rule for a terminated log line, shared by the store's open and `ctl verify` so they
 * cannot drift: its event, 'torn' when it does not parse but a crash can have left it (see
 * {@link isTornLine}; only the last line may be), or 'bad' when it does not parse otherwise.
 */
export function classifyLine(buf: Buffer, start: number, stop: number): StoredEvent | 'torn' | 'bad' {
  const e = parseLogLine(buf.toString('utf8', start, stop));
  if (e !== null) return e;
  return isTornLine(buf, start, stop) ? 'torn' : 'bad';
}

/**
 * Verifies the raw NDJSON log at `path` (what `leviathan ctl verify` runs): every line must parse
 * and link to the one before, so an edited, reordered or deleted line is reported with the first
 * seq where the chain breaks. An unterminated last line, or a last line holding NUL bytes (see
 * {@link isTornLine}), is a torn write the store repairs on open, not tampering: it is reported in
 * `tornTailBytes` and does not fail the check. Any other unparsable line, the last included, does.
 */
export async function verifyLogFile(
  path: string,
  sfs: StoreFs = nodeStoreFs,
): Promise<VerifyResult & { tornTailBytes: number }> {
  const r = await verifyLines(path, { seq: 0, hash: GENESIS_HASH }, sfs, true);
  return r.ok ? { ok: true, count: r.count, head: r.head.hash, tornTailBytes: r.tornTailBytes } : { ...r, tornTailBytes: 0 };
}

export type LinesResult =
  | { ok: true; count: number; head: { seq: number; hash: string }; tornTailBytes: number }
  | { ok: false; count: number; firstBad: { seq: number; reason: string } };

/** Checks every line of an NDJSON file links to the one before, starting from `prev`. */
export async function verifyLines(path: string, prev: { seq: number; hash: string }, sfs: StoreFs, tornTailAllowed: boolean): Promise<LinesResult> {
  let fd: number;
  try {
    fd = await sfs.open(path, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tornTailAllowed) return { ok: true, count: 0, head: prev, tornTailBytes: 0 };
    return { ok: false, count: 0, firstBad: { seq: prev.seq + 1, reason: `cannot open: ${(err as NodeJS.ErrnoException).code ?? String(err)}` } };
  }
  try {
    const size = (await sfs.fstat(fd)).size;
    let count = 0;
    let unparsableAt: number | null = null;
    let firstBad: { seq: number; reason: string } | null = null;
    const { end } = await scanLines(sfs, fd, 0, size, (buf, start, stop, offset) => {
      if (unparsableAt !== null) {
        firstBad = { seq: prev.seq + 1, reason: 'unparsable' };
        return false;
      }
      const e = classifyLine(buf, start, stop);
      if (e === 'bad') {
        firstBad = { seq: prev.seq + 1, reason: 'unparsable' };
        return false;
      }
      if (e === 'torn') {
        unparsableAt = offset;
        return;
      }
      const problem = checkLink(e, prev);
      if (problem) {
        firstBad = { seq: problem.seq, reason: problem.reason };
        return false;
      }
      prev = { seq: e.seq, hash: e.hash };
      count++;
    });
    if (firstBad !== null) return { ok: false, count, firstBad };
    const tornTailBytes = size - (unparsableAt ?? end);
    if (tornTailBytes > 0 && !tornTailAllowed) return { ok: false, count, firstBad: { seq: prev.seq + 1, reason: 'unterminated or unparsable line' } };
    return { ok: true, count, head: prev, tornTailBytes };
  } finally {
    await sfs.close(fd);
  }
}
