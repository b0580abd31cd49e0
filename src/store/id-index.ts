/**
 * 32-bit hash of an event id: a multiply-xorshift mix over UTF-16 code units with a final
 * avalanche. A hit is only a hint and is confirmed against the log, so a collision costs a
 * disk read, never a dropped event.
 */
export function idHash(id: string): number {
  let h = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    h = Math.imul(h ^ id.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  // Final avalanche so short ids that differ in one character spread over the whole table.
  h ^= h >>> 16;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Open-addressing table from id hash to seq, two Uint32Arrays instead of a Map of strings: at a
 * million events this is ~16 MB against the ~100 MB a `Map<string, number>` would take. A slot
 * keeps the hash as its key and the key's low bits choose the slot, so the table can grow
 * without the ids. Ids whose hashes collide (at a million ids, about one new id in a few
 * thousand meets one in its probe run) are all returned; the caller confirms against the log.
 */
export class IdIndex {
  /** Key per slot (never 0); 0 marks an empty slot. */
  private keys: Uint32Array;
  private seqs: Uint32Array;
  private mask: number;
  private used = 0;

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap * 0.7 < expected) cap *= 2;
    this.keys = new Uint32Array(cap);
    this.seqs = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  /**
   * Adopts a table written by {@link IdIndex.table} (no copy). Null when its shape is not one
   * this class produces, so a damaged snapshot is rebuilt rather than trusted.
   */
  static fromTable(t: { keys: Uint32Array; seqs: Uint32Array; size: number }): IdIndex | null {
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
  table(): { keys: Uint32Array; seqs: Uint32Array; size: number } {
    return { keys: this.keys.slice(), seqs: this.seqs.slice(), size: this.used };
  }

  get size(): number {
    return this.used;
  }

  /** Seqs whose id hashes to `h` (usually none, sometimes one; more only on a collision). */
  lookup(h: number): number[] {
    const key = keyOf(h);
    const out: number[] = [];
    let i = key & this.mask;
    for (;;) {
      const k = this.keys[i]!;
      if (k === 0) return out;
      if (k === key) out.push(this.seqs[i]!);
      i = (i + 1) & this.mask;
    }
  }

  insert(h: number, seq: number): void {
    if ((this.used + 1) > this.keys.length * 0.7) this.grow();
    this.place(keyOf(h), seq);
    this.used++;
  }

  private place(key: number, seq: number): void {
    let i = key & this.mask;
    while (this.keys[i] !== 0) i = (i + 1) & this.mask;
    this.keys[i] = key;
    this.seqs[i] = seq;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSeqs = this.seqs;
    this.keys = new Uint32Array(oldKeys.length * 2);
    this.seqs = new Uint32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== 0) this.place(k, oldSeqs[i]!);
    }
  }
}

/** The hash as a slot key, never 0: 0 marks an empty slot. */
function keyOf(h: number): number {
  return h || 1;
}
