import type { PostingTable } from './index-snapshot.ts';

/** A Float64Array that grows by doubling; holds byte offsets and times per seq. */
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

/** A Uint32Array that grows by doubling; holds the type id per seq. */
export class GrowableU32 {
  data: Uint32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Uint32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** Adopts `data` (no copy) whose first `length` entries are in use. */
  static wrap(data: Uint32Array, length: number): GrowableU32 {
    const g = new GrowableU32(0);
    g.data = data.length > 0 ? data : new Uint32Array(16);
    g.length = length;
    return g;
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
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid) < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose seq is > `v`. */
  upperBound(v: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid) <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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
export function upperBound(list: ArrayLike<number>, v: number, from = 0, to = list.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
