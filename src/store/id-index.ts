/**
 * 52-bit hash of an event id: two independent 32-bit FNV-1a style mixes over UTF-16 code units.
 * 52 bits because that is what a Float64Array holds exactly; a hit is only a hint and is
 * confirmed against the log, so collisions cost a disk read, never a dropped event.
 */
export function idHash(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  // Final avalanche so short ids that differ in one character spread over the whole table.
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 16;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  return (a & 0xfffff) * 0x100000000 + (b >>> 0);
}

/**
 * Open-addressing table from id hash to seq, two typed arrays instead of a Map of strings:
 * at a million events this is ~24 MB against the ~100 MB a `Map<string, number>` would take.
 * Several entries may share a hash (distinct ids that collide); lookups return all of them.
 */
export class IdIndex {
  /** hash + 1 per slot; 0 marks an empty slot. */
  private keys: Float64Array;
  private seqs: Uint32Array;
  private mask: number;
  private used = 0;

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap * 0.7 < expected) cap *= 2;
    this.keys = new Float64Array(cap);
    this.seqs = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  /**
   * Adopts a table written by {@link IdIndex.table} (no copy). Null when its shape is not one
   * this class produces, so a damaged snapshot is rebuilt rather than trusted.
   */
  static fromTable(t: { keys: Float64Array; seqs: Uint32Array; size: number }): IdIndex | null {
    const cap = t.keys.length;
    if (cap < 16 || (cap & (cap - 1)) !== 0 || t.seqs.length !== cap || t.size > cap * 0.7) return null;
    const index = new IdIndex(0);
    index.keys = t.keys;
    index.seqs = t.seqs;
    index.mask = cap - 1;
    index.used = t.size;
    return index;
  }

  /** A copy of the table for the index snapshot (the live one keeps changing in place). */
  table(): { keys: Float64Array; seqs: Uint32Array; size: number } {
    return { keys: this.keys.slice(), seqs: this.seqs.slice(), size: this.used };
  }

  get size(): number {
    return this.used;
  }

  /** Seqs whose id hashes to `h` (usually none, sometimes one; more only on a collision). */
  lookup(h: number): number[] {
    const key = h + 1;
    const out: number[] = [];
    let i = h & this.mask;
    for (;;) {
      const k = this.keys[i]!;
      if (k === 0) return out;
      if (k === key) out.push(this.seqs[i]!);
      i = (i + 1) & this.mask;
    }
  }

  insert(h: number, seq: number): void {
    if ((this.used + 1) > this.keys.length * 0.7) this.grow();
    this.place(h + 1, seq);
    this.used++;
  }

  private place(key: number, seq: number): void {
    // key - 1 is the hash; its low bits pick the slot (the low word is the better-mixed half).
    let i = (key - 1) & this.mask;
    while (this.keys[i] !== 0) i = (i + 1) & this.mask;
    this.keys[i] = key;
    this.seqs[i] = seq;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSeqs = this.seqs;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.seqs = new Uint32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== 0) this.place(k, oldSeqs[i]!);
    }
  }
}
