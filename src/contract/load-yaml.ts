import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  parseDocument,
  visit,
  type Alias,
  type Document,
  type Node,
} from 'yaml';

/** Limits applied to every `.leviathan/*.yaml` file and to the autonomy config. */
export const YAML_LIMITS = {
  /** Bytes (UTF-8). Real backlogs are a few KiB; anything near this is a mistake or an attack. */
  maxBytes: 1024 * 1024,
  /** Collection nesting. Real files nest 4–5 levels. */
  maxDepth: 64,
  /** Alias expansions allowed while building the value (the `yaml` package's `maxAliasCount`). */
  maxAliasCount: 100,
} as const;

/** A parsed YAML file: its plain value plus the node tree, for reporting lines. */
export interface LoadedYaml {
  doc: Document.Parsed;
  /** Plain JS value (aliases and `<<` merge keys resolved); `null` for an empty file. */
  value: unknown;
  /** 1-based line where a node starts, or null when the node has no position. */
  lineOf(node: unknown): number | null;
}

/** Result of {@link loadYaml}: never throws, a failure carries a line (when known) and a reason. */
export type LoadYamlResult =
  | { ok: true; yaml: LoadedYaml }
  | { ok: false; line: number | null; reason: string };

/**
 * Parses one YAML document from an untrusted repository file, defensively: size cap, nesting cap
 * checked on the CST before anything recursive runs, alias-bomb cap, and no exceptions escape.
 *
 * The nesting check must come first: the `yaml` composer recurses per level, and a stack
 * overflow inside it can leave V8's regexp state broken so that a *later*, innocent parse
 * crashes the whole process (observed with yaml 2.9 on Node 20).
 */
export function loadYaml(text: string): LoadYamlResult {
  try {
    if (typeof text !== 'string') return { ok: false, line: null, reason: 'the file is not text' };
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > YAML_LIMITS.maxBytes) {
      return {
        ok: false,
        line: null,
        reason: `file too large (${bytes} bytes; the limit is ${YAML_LIMITS.maxBytes} bytes)`,
      };
    }
    const lineCounter = new LineCounter();
    const tooDeepLine = findTooDeep(text);
    if (tooDeepLine !== null) {
      return {
        ok: false,
        line: tooDeepLine,
        reason: `nested more than ${YAML_LIMITS.maxDepth} levels deep; a Leviathan file needs only a few levels`,
      };
    }
    const doc = parseDocument(text, { lineCounter, prettyErrors: true, merge: true, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
      const base = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return { ok: false, line: pos.line, reason: `YAML syntax error: ${base} (line ${pos.line}, column ${pos.col})` };
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount });
    } catch (e) {
      if (e instanceof ReferenceError && e.message.startsWith('Unresolved alias')) {
        const alias = findUnresolvedAlias(doc);
        const line = alias ? lineCounter.linePos(alias.range?.[0] ?? 0).line : null;
        const name = alias ? alias.source : '?';
        return { ok: false, line, reason: `alias *${name} refers to no anchor &${name} defined before it` };
      }
      if (e instanceof ReferenceError && e.message.startsWith('Excessive alias count')) {
        return {
          ok: false,
          line: null,
          reason: `too many alias expansions (limit ${YAML_LIMITS.maxAliasCount}); anchors and aliases (&x / *x) are expanded into a structure far too large`,
        };
      }
      throw e;
    }
    const lineOf = (node: unknown): number | null => {
      const range = (node as { range?: unknown } | null | undefined)?.range;
      if (!Array.isArray(range) || typeof range[0] !== 'number') return null;
      return lineCounter.linePos(range[0]).line;
    };
    return { ok: true, yaml: { doc, value: value ?? null, lineOf } };
  } catch (e) {
    return { ok: false, line: null, reason: `could not read the file: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function findUnresolvedAlias(doc: Document): Alias | null {
  let found: Alias | null = null;
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) === undefined) {
        found = node;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** Line of the first collection nested deeper than the limit, walking the CST without recursion. */
function findTooDeep(text: string): number | null {
  const counter = new LineCounter();
  const stack: Array<[unknown, number]> = [];
  for (const token of new Parser(counter.addNewLine).parse(text)) stack.push([token, 0]);
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    let d = depth;
    const type = (node as { type?: unknown }).type;
    if (type === 'block-map' || type === 'block-seq' || type === 'flow-collection') {
      d = depth + 1;
      if (d > YAML_LIMITS.maxDepth) return counter.linePos((node as { offset: number }).offset).line;
    }
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, d]);
    }
  }
  return null;
}

/** The node behind an alias (aliases are resolved by the caller's document), else the node itself. */
export function resolveNode(doc: Document, node: unknown): Node | null {
  if (isAlias(node)) return (node.resolve(doc) as Node | undefined) ?? null;
  return (node as Node | null | undefined) ?? null;
}

/** The key and value nodes of `key` in a map node, if present (merge-key values are not found). */
export function pairNodes(doc: Document, mapNode: unknown, key: string): { key: Node | null; value: Node | null } | null {
  const map = resolveNode(doc, mapNode);
  if (!isMap(map)) return null;
  for (const pair of map.items) {
    const k = pair.key;
    const name = isScalar(k) ? k.value : k;
    if (name === key) return { key: (k as Node | null) ?? null, value: resolveNode(doc, pair.value) };
  }
  return null;
}

/** Item `index` of a sequence node, alias resolved. */
export function seqItem(doc: Document, seqNode: unknown, index: number): Node | null {
  const seq = resolveNode(doc, seqNode);
  if (!isSeq(seq)) return null;
  return resolveNode(doc, seq.items[index]);
}

/** Short description of a YAML value's type for error messages ("the string \"yes\"", "a list"). */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  return typeof v;
}

/** Own-property check that ignores prototype keys (`__proto__`, `constructor`) in parsed input. */
export function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** True for a plain mapping value produced by `toJS`. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
