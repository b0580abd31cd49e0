/**
 * Canonical JSON exactly as first defined (src/events/canonical-json.ts before it was made
 * faster): what every log on disk was hashed with. The tests hold the current implementation to it.
 */
export function canonicalJsonReference(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    // undefined and functions have no JSON form; they are dropped like JSON.stringify does in objects.
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJsonReference).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJsonReference(obj[k])}`).join(',')}}`;
}
