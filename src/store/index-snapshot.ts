import { constants } from 'node:fs';
import { crc32 } from 'node:zlib';
import { uintArray, type UintArray } from './posting-index.ts';
import type { StoreFs } from './store-fs.ts';
import { readFully, writeFully } from './store-fs.ts';

/** A posting index in compressed-sparse-row form: key id k's seqs are base[starts[k-1] .. starts[k]). */
export interface PostingTable {
  names: string[];
  starts: Uint32Array;
  base: Uint32Array;
}

/** The id hash table as it sits in memory (see IdIndex). */
export interface IdTable {
  keys: Uint32Array;
  seqs: Uint32Array;
  size: number;
}

/**
 * What the file store needs to skip re-reading the log on open: its in-memory indexes for the
 * first `count` events, in their in-memory layout so they load with no rebuilding, and enough
 * about the log prefix they came from (length, CRC-32 of those bytes, head hash) to tell whether
 * the log on disk still starts with that prefix.
 */
export interface IndexSnapshot {
  count: number;
  /** Bytes of the log covered; the line of seq `count` ends here. */
  logLength: number;
  /** CRC-32 of log bytes [0, logLength): any edit inside the covered prefix invalidates the snapshot. */
  logCrc: number;
  headHash: string;
  lastTimeMs: number;
  /**
   * Per seq (index seq - 1): low 32 bits of the line start offset, epoch ms of `time`, type id (1,
   * 2 or 4 bytes each, as wide as its largest value needs). May be longer than `count`.
   */
  offsets: Uint32Array;
  times: Float64Array;
  typeIds: UintArray;
  /** Index of the first offset past each 4 GiB boundary (see OffsetArray). */
  offsetWraps: number[];
  types: string[];
  ids: IdTable;
  targets: PostingTable;
  subjects: PostingTable;
}

const MAGIC = 'LVNIDX04';

interface Header {
  version: 4;
  count: number;
  logLength: number;
  logCrc: number;
  headHash: string;
  lastTimeMs: number;
  offsetWraps: number[];
  /** Bytes per type id: 1, 2 or 4. */
  typeIdBytes: number;
  types: string[];
  targets: string[];
  subjects: string[];
  idCapacity: number;
  idSize: number;
  targetEntries: number;
  subjectEntries: number;
}

/**
 * Layout: `LVNIDX04` | u32 LE header length | header JSON (counts, covered prefix, string
 * tables, offset wraps, type id width) | zero padding to 8 | times f64[count] | offsets
 * u32[count] | id keys u32[idCapacity] | id seqs u32[idCapacity] | target starts u32[targets + 1]
 * | target seqs | subject starts u32[subjects + 1] | subject seqs | typeIds u8/u16/u32[count] |
 * u32 LE CRC-32 of everything before it. Every section starts aligned to its element size.
 *
 * Returned as parts that view the given arrays rather than copy them (tens of MB at a million
 * events); the caller must not change the viewed ranges until the parts are written.
 */
export function encodeSnapshot(s: IndexSnapshot): Uint8Array[] {
  const header: Header = {
    version: 4,
    count: s.count,
    logLength: s.logLength,
    logCrc: s.logCrc,
    headHash: s.headHash,
    lastTimeMs: s.lastTimeMs,
    offsetWraps: s.offsetWraps,
    typeIdBytes: s.typeIds.BYTES_PER_ELEMENT,
    types: s.types,
    targets: s.targets.names,
    subjects: s.subjects.names,
    idCapacity: s.ids.keys.length,
    idSize: s.ids.size,
    targetEntries: s.targets.base.length,
    subjectEntries: s.subjects.base.length,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(align8(MAGIC.length + 4 + headerBytes.length));
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(headerBytes.length, MAGIC.length);
  headerBytes.copy(head, MAGIC.length + 4);
  const parts: Uint8Array[] = [head];
  const n = s.count;
  const view = (arr: Float64Array | UintArray, len: number) =>
    new Uint8Array(arr.buffer, arr.byteOffset, len * arr.BYTES_PER_ELEMENT);
  parts.push(
    view(s.times, n),
    view(s.offsets, n),
    view(s.ids.keys, s.ids.keys.length),
    view(s.ids.seqs, s.ids.seqs.length),
    view(s.targets.starts, s.targets.names.length + 1),
    view(s.targets.base, s.targets.base.length),
    view(s.subjects.starts, s.subjects.names.length + 1),
    view(s.subjects.base, s.subjects.base.length),
    view(s.typeIds, n),
  );
  let crc = 0;
  for (const p of parts) crc = crc32(p, crc);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(crc, 0);
  parts.push(trailer);
  return parts;
}

/**
 * Reads a snapshot straight into its final arrays (the per-seq ones with room for `spare(count)`
 * more entries, so the store grows them without a copy). Null when there is none; a string
 * saying why when it cannot be used.
 */
export async function readSnapshot(
  sfs: StoreFs,
  path: string,
  spare: (count: number) => number,
): Promise<IndexSnapshot | string | null> {
  let fd: number;
  try {
    fd = await sfs.open(path, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `unreadable: ${String(err)}`;
  }
  try {
    const size = (await sfs.fstat(fd)).size;
    let pos = 0;
    let crc = 0;
    const readInto = async (bytes: Uint8Array): Promise<boolean> => {
      const n = await readFully(sfs, fd, bytes, bytes.length, pos);
      crc = crc32(bytes, crc);
      pos += n;
      return n === bytes.length;
    };
    const head = Buffer.alloc(MAGIC.length + 4);
    if (!(await readInto(head))) return 'not an index snapshot';
    const magic = head.toString('latin1', 0, MAGIC.length);
    // An older format is rebuilt from the log like a damaged file, but says so.
    if (magic !== MAGIC) return magic.startsWith('LVNIDX') ? `format ${magic}, not ${MAGIC}` : 'not an index snapshot';
    const headerLen = head.readUInt32LE(MAGIC.length);
    const start = align8(MAGIC.length + 4 + headerLen);
    if (start + 4 > size) return 'truncated';
    const headerBuf = Buffer.alloc(start - head.length);
    if (!(await readInto(headerBuf))) return 'truncated';
    let h: Header;
    try {
      h = JSON.parse(headerBuf.toString('utf8', 0, headerLen)) as Header;
    } catch {
      return 'unreadable header';
    }
    if (h.version !== 4) return `unknown version ${String(h.version)}`;
    const n = h.count;
    if (!validWraps(h.offsetWraps, n) || ![1, 2, 4].includes(h.typeIdBytes)) return 'inconsistent header';
    const expected =
      start +
      8 * n +
      4 * (n + 2 * h.idCapacity + h.targets.length + 1 + h.targetEntries + h.subjects.length + 1 + h.subjectEntries) +
      h.typeIdBytes * n +
      4;
    if (expected !== size) return 'truncated';
    const room = n + spare(n);
    const times = new Float64Array(room);
    const offsets = new Uint32Array(room);
    const typeIds = uintArray(h.typeIdBytes, room);
    const idKeys = new Uint32Array(h.idCapacity);
    const idSeqs = new Uint32Array(h.idCapacity);
    const targetStarts = new Uint32Array(h.targets.length + 1);
    const targetBase = new Uint32Array(h.targetEntries);
    const subjectStarts = new Uint32Array(h.subjects.length + 1);
    const subjectBase = new Uint32Array(h.subjectEntries);
    const sections: [Float64Array | UintArray, number][] = [
      [times, n],
      [offsets, n],
      [idKeys, h.idCapacity],
      [idSeqs, h.idCapacity],
      [targetStarts, targetStarts.length],
      [targetBase, targetBase.length],
      [subjectStarts, subjectStarts.length],
      [subjectBase, subjectBase.length],
      [typeIds, n],
    ];
    for (const [arr, len] of sections) {
      if (!(await readInto(new Uint8Array(arr.buffer, 0, len * arr.BYTES_PER_ELEMENT)))) return 'truncated';
    }
    const trailer = Buffer.alloc(4);
    await readFully(sfs, fd, trailer, 4, pos);
    if (trailer.readUInt32LE(0) !== crc) return 'checksum mismatch';
    return {
      count: n,
      logLength: h.logLength,
      logCrc: h.logCrc,
      headHash: h.headHash,
      lastTimeMs: h.lastTimeMs,
      offsets,
      times,
      typeIds,
      offsetWraps: h.offsetWraps,
      types: h.types,
      ids: { keys: idKeys, seqs: idSeqs, size: h.idSize },
      targets: { names: h.targets, starts: targetStarts, base: targetBase },
      subjects: { names: h.subjects, starts: subjectStarts, base: subjectBase },
    };
  } finally {
    await sfs.close(fd);
  }
}

/**
 * Writes `parts` back to back to `path` so that a crash leaves either the old file or the new
 * one: write a temporary file, fsync it, rename over, fsync the directory so the rename itself
 * is durable.
 */
export async function writeFileAtomic(sfs: StoreFs, dir: string, path: string, parts: Uint8Array[]): Promise<void> {
  const tmp = `${path}.tmp`;
  const fd = await sfs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
  try {
    let pos = 0;
    for (const part of parts) {
      await writeFully(sfs, fd, part, pos);
      pos += part.length;
    }
    await sfs.fsync(fd);
  } finally {
    await sfs.close(fd);
  }
  await sfs.rename(tmp, path);
  const dirFd = await sfs.open(dir, constants.O_RDONLY);
  try {
    await sfs.fsync(dirFd);
  } finally {
    await sfs.close(dirFd);
  }
}

/** Wraps must be ascending indexes below `count`; the CRC only shows the file is as it was written. */
function validWraps(wraps: unknown, count: number): wraps is number[] {
  return (
    Array.isArray(wraps) &&
    wraps.every((w, k) => Number.isInteger(w) && w >= (k === 0 ? 0 : (wraps[k - 1] as number)) && w < count)
  );
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
