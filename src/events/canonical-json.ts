import { hash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted, no whitespace. Two processes hashing the same event must
 * produce the same bytes whatever order the fields arrived in.
 *
 * What every log on disk was hashed with was first written as a recursive map/sort/join (kept in
 * test/events/canonical-json-reference.ts; the tests hold this to the same output for any value).
 * This is a faster equivalent: a value whose objects are all plain and already sorted, with nothing
 * JSON.stringify would render differently, is JSON.stringify's own output; anything else is
 * written by one pass that sorts only the objects that need it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return primitive(value);
  return stringifyReady(value, 0) ? JSON.stringify(value) : write(value);
}

/**
 * Whether JSON.stringify(value) is already the canonical JSON of `value` (then one serialisation
 * can serve both as the stored form and as what is hashed).
 */
export function stringifyIsCanonical(value: unknown): boolean {
  return leafReady(value, 0);
}

function primitive(value: unknown): string {
  const s = JSON.stringify(value);
  // undefined and functions have no JSON form; they are dropped like JSON.stringify does in objects.
  return s === undefined ? 'null' : s;
}

/** Deeper than this, the check gives up and the writer (recursive like the definition) takes over. */
const READY_DEPTH = 64;

/**
 * Whether JSON.stringify(value) is already canonical: plain objects (no toJSON to call) with
 * sorted keys, dense plain arrays, and no function, symbol or bigint anywhere (those JSON.stringify
 * drops or throws on where the definition writes null or throws itself).
 */
function stringifyReady(value: object, depth: number): boolean {
  if (depth > READY_DEPTH) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype || (value as { toJSON?: unknown }).toJSON !== undefined) return false;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return false;
      const v: unknown = value[i];
      if (!leafReady(v, depth)) return false;
    }
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const obj = value as Record<string, unknown>;
  let prev: string | null = null;
  for (const k of Object.keys(obj)) {
    if (prev !== null && !(prev < k)) return false;
    prev = k;
    const v = obj[k];
    if (v === undefined) continue;
    if (!leafReady(v, depth)) return false;
  }
  return true;
}

function leafReady(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return true;
    case 'object':
      return v === null || stringifyReady(v, depth + 1);
    default:
      // undefined in an array, function, symbol, bigint.
      return false;
  }
}

/** One pass of the definition, without its intermediate arrays; sorts only unsorted objects. */
function write(value: unknown): string {
  if (value === null || typeof value !== 'object') return primitive(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // A hole stays empty, as Array.prototype.map + join leave it.
      if (i in value) out += write(value[i]);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 1; i < keys.length; i++) {
    if (!(keys[i - 1]! < keys[i]!)) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  let first = true;
  for (const k of keys) {
    if (obj[k] === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(k)}:${write(obj[k])}`;
  }
  return `${out}}`;
}

/** One call, no Hash object (crypto.hash: Node 20.12+, within `engines`). */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}
