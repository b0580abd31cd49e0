import * as fs from 'node:fs';
import { promisify } from 'node:util';

/**
 * The file-system calls the file store makes, behind a port so tests can count syncs or fail a
 * write the way a full or read-only disk would (tests run as root, where chmod stops nothing).
 * Positional reads and writes only: the store owns the file length and never relies on O_APPEND.
 */
export interface StoreFs {
  open(path: string, flags: number, mode?: number): Promise<number>;
  close(fd: number): Promise<void>;
  /** Writes up to `length` bytes of `buf` from `offset` at file `position`; returns bytes written. */
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Reads up to `length` bytes into `buf` at `offset` from file `position`; returns bytes read. */
  read(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * Optional synchronous positional read, used for query pages: their lines are nearly always in
   * the page cache, where a thread-pool round trip per read costs several times the copy.
   */
  readSync?(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  fdatasync(fd: number): Promise<void>;
  fsync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  fstat(fd: number): Promise<{ size: number }>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  access(path: string, mode: number): Promise<void>;
}

function pWrite(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

function pRead(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

// Promisified once: per call, promisify builds a new function (a few % of an ingest's CPU).
const pOpen = promisify(fs.open);
const pClose = promisify(fs.close);
const pFdatasync = promisify(fs.fdatasync);
const pFsync = promisify(fs.fsync);
const pFtruncate = promisify(fs.ftruncate);
const pFstat = promisify(fs.fstat);

/**
 * The real file system. The callback API with raw fds is used rather than FileHandle: it costs
 * one thread-pool hop per call and no per-handle object, which matters for the query path.
 */
export const nodeStoreFs: StoreFs = {
  open: (path, flags, mode) => pOpen(path, flags, mode ?? 0o644),
  close: (fd) => pClose(fd),
  write: (fd, buf, offset, length, position) => pWrite(fd, buf, offset, length, position),
  read: (fd, buf, offset, length, position) => pRead(fd, buf, offset, length, position),
  readSync: (fd, buf, offset, length, position) => fs.readSync(fd, buf, offset, length, position),
  fdatasync: (fd) => pFdatasync(fd),
  fsync: (fd) => pFsync(fd),
  ftruncate: (fd, length) => pFtruncate(fd, length),
  fstat: async (fd) => ({ size: (await pFstat(fd)).size }),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  mkdir: async (path) => {
    await fs.promises.mkdir(path, { recursive: true });
  },
  access: (path, mode) => fs.promises.access(path, mode),
};

/** Reads exactly `length` bytes at `position` (short reads are retried); fewer only at end of file. */
export async function readFully(
  sfs: StoreFs,
  fd: number,
  buf: Uint8Array,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await sfs.read(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Writes all of `buf` at `position`, retrying short writes. */
export async function writeFully(sfs: StoreFs, fd: number, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const n = await sfs.write(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw Object.assign(new Error('write returned no progress'), { code: 'EIO' });
    done += n;
  }
}
