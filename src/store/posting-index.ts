import { partitionPoint } from '../partition-point.ts';
import type { PostingTable } from './index-snapshot.ts';

/** A Float64Array that grows by doubling; holds the time per seq. */
export class GrowableF64 {
  data: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Float64Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** Adopts `data` (no copy) whose first `length` entries are in use. */
  static wrap(data: Float64Array, length: number): GrowableF64 {
    const g = new GrowableF64(0);
    g.data = data.length > 0 ? data : new Float64Array(16);
    g.length = length;
    return g;
  }
}

/** An unsigned integer array of 8, 16 or 32 bits per entry. */
export type UintArray = Uint8Array | Uint16Array | Uint32Array;

/** A zeroed UintArray of `bytes` (1, 2 or 4) per entry. */
export function uintArray(bytes: number, length: number): UintArray {
  return bytes === 1 ? new Uint8Array(length) : bytes === 2 ? new Uint16Array(length) : new Uint32Array(length);
}

/**
 * Unsigned integers per seq (the type id), at the narrowest width that holds every value so
 * far: a byte each until a value passes 255, then 16 bits, then 32. Type ids are an open set but
 * in practice tens, so a million events cost 1 MB here rather than 4. Readers index `data`
 * directly; it is replaced, never changed in place, when it grows or widens.
 */
export class GrowableUint {
  data: UintArray;
  length = 0;
  /** Largest value `data` can hold. */
  private max = 0xff;
  constructor(capacity = 1024) {
    this.data = new Uint8Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (v > this.max) this.resize(this.data.length, v > 0xffff ? 4 : 2);
    if (this.length === this.data.length) this.resize(this.data.length * 2, this.data.BYTES_PER_ELEMENT);
    this.data[this.length++] = v;
  }
  /** Adopts `data` (no copy) whose first `length` entries are in use, keeping its width. */
  static wrap(data: UintArray, length: number): GrowableUint {
    const g = new GrowableUint(0);
    if (data.length > 0) g.data = data;
    g.max = 2 ** (8 * g.data.BYTES_PER_ELEMENT) - 1;
    g.length = length;
    return g;
  }
  private resize(capacity: number, bytes: number): void {
    const next = uintArray(bytes, capacity);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
    this.max = 2 ** (8 * bytes) - 1;
  }
}

const WRAP = 2 ** 32;

/**
 * Line start offsets per seq, ascending. Each entry keeps the low 32 bits of its offset (4 bytes
 * rather than a Float64's 8: 4 MB less at a million events); a log past 4 GiB also notes, per
 * 4 GiB boundary crossed, the index of the first entry beyond it, so an offset is its low bits
 * plus 2**32 per boundary at or before its index. Below 4 GiB, the usual case, reading one is a
 * plain array access.
 */
export class OffsetArray {
  low: Uint32Array;
  length = 0;
  /** Ascending: wraps[k] is the first index whose offset is at least (k + 1) * 2**32. */
  wraps: number[] = [];
  /** Offset from which the next push crosses a boundary. */
  private nextWrap = WRAP;
  constructor(capacity = 1024) {
    this.low = new Uint32Array(Math.max(16, capacity));
  }
  push(offset: number): void {
    while (offset >= this.nextWrap) {
      this.wraps.push(this.length);
      this.nextWrap += WRAP;
    }
    if (this.length === this.low.length) {
      const next = new Uint32Array(this.low.length * 2);
      next.set(this.low);
      this.low = next;
    }
    // `>>> 0` keeps the low 32 bits of any integer below 2**53.
    this.low[this.length++] = offset >>> 0;
  }
  /** The full offset of entry `i`; a binary search over the (tiny) wraps only past 4 GiB. */
  at(i: number): number {
    const low = this.low[i]!;
    return this.wraps.length === 0 ? low : low + WRAP * upperBound(this.wraps, i);
  }
  /** First index in [from, to) whose offset is > `v`. */
  upperBound(v: number, from: number, to: number): number {
    return partitionPoint(from, to, (i) => this.at(i) <= v);
  }
  /** Adopts `low` (no copy) whose first `length` entries are in use, with their `wraps`. */
  static wrap(low: Uint32Array, length: number, wraps: number[]): OffsetArray {
    const o = new OffsetArray(0);
    if (low.length > 0) o.low = low;
    o.length = length;
    o.wraps = wraps;
    o.nextWrap = WRAP * (wraps.length + 1);
    return o;
  }
}

/**
 * Interned strings (targets, subjects, types) with a numeric id each, so per-seq arrays can
 * hold a small integer instead of the string. Ids start at 1; 0 means "none" (a null target).
 */
export class StringTable {
  private ids = new Map<string, number>();
  readonly names: string[] = [];

  id(name: string): number | undefined {
    return this.ids.get(name);
  }

  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      this.names.push(name);
      id = this.names.length;
      this.ids.set(name, id);
    }
    return id;
  }

  name(id: number): string {
    return this.names[id - 1]!;
  }

  get size(): number {
    return this.names.length;
  }
}

/** One key's ascending seqs: a compacted segment followed by the seqs added since. */
export class PostingList {
  readonly length: number;
  constructor(
    private readonly base: Uint32Array,
    private readonly from: number,
    private readonly baseLen: number,
    private readonly tail: readonly number[] | undefined,
  ) {
    this.length = baseLen + (tail?.length ?? 0);
  }

  at(i: number): number {
    return i < this.baseLen ? this.base[this.from + i]! : this.tail![i - this.baseLen]!;
  }

  /** First index whose seq is >= `v`. */
  lowerBound(v: number): number {
    return partitionPoint(0, this.length, (i) => this.at(i) < v);
  }

  /** First index whose seq is > `v`. */
  upperBound(v: number): number {
    return partitionPoint(0, this.length, (i) => this.at(i) <= v);
  }

  has(v: number): boolean {
    const i = this.lowerBound(v);
    return i < this.length && this.at(i) === v;
  }
}

const EMPTY = new Uint32Array(0);

/**
 * Key → ascending list of seqs carrying that key (events of one target, of one subject), stored
 * compressed-sparse-row style: every key's seqs back to back in one Uint32Array, with a start
 * index per key. New seqs go to small per-key arrays and are folded in once they add up to a
 * quarter of the base. A million events over 200,000 subjects cost ~5 MB here, where an array
 * per subject would cost ~40 MB of object headers and growth slack.
 */
export class PostingIndex {
  readonly keys = new StringTable();
  private base: Uint32Array = EMPTY;
  /** starts[k] .. starts[k + 1] is key id k + 1's segment of `base`; keys past its end have none. */
  private starts: Uint32Array = new Uint32Array(1);
  private tails: (number[] | undefined)[] = [];
  private tailTotal = 0;

  /** Adopts a table written by {@link PostingIndex.table} (no copy); null if its shape is inconsistent. */
  static fromTable(t: PostingTable): PostingIndex | null {
    if (t.starts.length !== t.names.length + 1 || t.starts[t.names.length] !== t.base.length) return null;
    const index = new PostingIndex();
    for (const name of t.names) index.keys.intern(name);
    if (index.keys.size !== t.names.length) return null;
    index.starts = t.starts;
    index.base = t.base;
    return index;
  }

  /**
   * The index in compressed form for the snapshot. Compacting first means the returned arrays
   * are never written again (later compactions allocate new ones), so they can be written out
   * while appends go on.
   */
  table(): PostingTable {
    if (this.tailTotal > 0 || this.starts.length !== this.keys.size + 1) this.compact();
    return { names: this.keys.names.slice(), starts: this.starts, base: this.base };
  }

  add(key: string, seq: number): void {
    const id = this.keys.intern(key);
    let tail = this.tails[id - 1];
    if (tail === undefined) {
      tail = [];
      this.tails[id - 1] = tail;
    }
    tail.push(seq);
    this.tailTotal++;
    if (this.tailTotal > Math.max(4096, this.base.length >>> 2)) this.compact();
  }

  get(key: string): PostingList | undefined {
    const id = this.keys.id(key);
    if (id === undefined) return undefined;
    const [from, to] = this.segment(id);
    return new PostingList(this.base, from, to - from, this.tails[id - 1]);
  }

  private segment(id: number): [number, number] {
    if (id >= this.starts.length) return [0, 0];
    return [this.starts[id - 1]!, this.starts[id]!];
  }

  /** Folds the per-key arrays into the base; linear in the number of seqs, amortised by the 25% rule. */
  private compact(): void {
    const n = this.keys.size;
    const starts = new Uint32Array(n + 1);
    for (let id = 1; id <= n; id++) {
      const [from, to] = this.segment(id);
      starts[id] = starts[id - 1]! + (to - from) + (this.tails[id - 1]?.length ?? 0);
    }
    const base = new Uint32Array(starts[n]!);
    for (let id = 1; id <= n; id++) {
      const [from, to] = this.segment(id);
      let at = starts[id - 1]!;
      base.set(this.base.subarray(from, to), at);
      at += to - from;
      for (const seq of this.tails[id - 1] ?? []) base[at++] = seq;
    }
    this.base = base;
    this.starts = starts;
    this.tails = [];
    this.tailTotal = 0;
  }
}

/** First index in ascending `list` whose value is > `v`. */
function upperBound(list: ArrayLike<number>, v: number): number {
  return partitionPoint(0, list.length, (i) => list[i]! <= v);
}
