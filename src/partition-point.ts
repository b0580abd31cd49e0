/**
 * The first index in [from, to) for which `before(i)` is false, given that `before` is true for a
 * prefix of the range and false after it: the one binary search behind every "first seq after",
 * "first time at or after" and "first offset past" lookup.
 */
export function partitionPoint(from: number, to: number, before: (i: number) => boolean): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
