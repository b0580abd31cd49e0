import type { BacklogState } from './state.ts';

/**
 * `.leviathan/contract.yaml` as the target page shows it. The file is repository content shown
 * to operators, so only the documented fields are kept, each as plain text (or a list of plain
 * text) of bounded length: control and bidirectional-override characters are removed, and
 * `safety`/`scope`, which the format leaves free, are written out as indented `key: value` lines.
 */
export interface ContractView {
  name: string | null;
  purpose: string | null;
  definition_of_done: string[];
  scope: string | null;
  safety: string | null;
  quality_gates: string[];
}

/** Bounds, in UTF-16 code units, of what is shown; longer text ends in "…". */
export const CONTRACT_LIMITS = { name: 200, text: 2000, item: 500, items: 50, depth: 4 } as const;

export const CONTRACT_FILE = '.leviathan/contract.yaml';

/** The contract of a backlog as shown; null when there is none (absent, refused, or never read). */
export function contractView(raw: BacklogState['contract']): ContractView | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const name = plainText(raw.name);
  return {
    name: name === null ? null : bounded(name.replace(/\s+/g, ' '), CONTRACT_LIMITS.name),
    purpose: boundedOrNull(plainText(raw.purpose), CONTRACT_LIMITS.text),
    definition_of_done: textList(raw.definition_of_done),
    scope: boundedOrNull(structuredText(raw.scope), CONTRACT_LIMITS.text),
    safety: boundedOrNull(structuredText(raw.safety), CONTRACT_LIMITS.text),
    quality_gates: textList(raw.quality_gates),
  };
}

/** Why contract.yaml was refused, in one piece of text (`.leviathan/contract.yaml line 3: …`); null when it was not. */
export function contractErrorText(error: BacklogState['contract_error']): string | null {
  if (!error) return null;
  const reason = clean(typeof error.reason === 'string' ? error.reason : '').trim() || 'could not be read.';
  const line = typeof error.line === 'number' && Number.isInteger(error.line) && error.line >= 1 ? ` line ${error.line}` : '';
  return bounded(`${CONTRACT_FILE}${line}: ${reason}`, CONTRACT_LIMITS.text);
}

/** Removes what could hide or disguise text: C0/C1 controls but newline and tab, bidi overrides and isolates. */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '');
}

function bounded(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  // Never leave half of a surrogate pair.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}…`;
}

function boundedOrNull(s: string | null, max: number): string | null {
  return s === null ? null : bounded(s, max);
}

/** A scalar as text; null for anything else or for text that is empty once cleaned. */
function plainText(v: unknown): string | null {
  let s: string;
  if (typeof v === 'string') s = v;
  else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') s = String(v);
  else return null;
  const t = clean(s).trim();
  return t.length > 0 ? t : null;
}

/** A list of text: a single scalar stands for a one-item list; items that are not scalars are dropped. */
function textList(v: unknown): string[] {
  const list = Array.isArray(v) ? v : v === null || v === undefined ? [] : [v];
  const items: string[] = [];
  for (const item of list) {
    const t = plainText(item);
    if (t !== null) items.push(bounded(t, CONTRACT_LIMITS.item));
  }
  if (items.length <= CONTRACT_LIMITS.items) return items;
  const more = items.length - (CONTRACT_LIMITS.items - 1);
  return [...items.slice(0, CONTRACT_LIMITS.items - 1), `… and ${more} more`];
}

/**
 * `safety` and `scope` may be text, a list or a mapping: scalars as they are, lists as `- item`
 * lines, mappings as `key: value` lines, nested ones indented (as YAML reads), deeper than
 * {@link CONTRACT_LIMITS.depth} levels as "…".
 */
function structuredText(v: unknown): string | null {
  const scalar = plainText(v);
  if (scalar !== null) return scalar;
  if (v === null || typeof v !== 'object') return null;
  const out = { lines: [] as string[], chars: 0 };
  writeLines(v, '', 1, out);
  const text = out.lines.join('\n').trim();
  return text.length > 0 ? text : null;
}

function writeLines(v: unknown, indent: string, depth: number, out: { lines: string[]; chars: number }): void {
  const push = (...lines: string[]) => {
    for (const l of lines) {
      out.lines.push(l);
      out.chars += l.length + 1;
    }
  };
  const entries: Array<[string | null, unknown]> = Array.isArray(v)
    ? v.map((x): [string | null, unknown] => [null, x])
    : Object.entries(v as Record<string, unknown>).map(([k, x]): [string | null, unknown] => [clean(k).replace(/\s+/g, ' ').trim(), x]);
  for (const [key, x] of entries) {
    // Stop early on huge values: only the first CONTRACT_LIMITS.text characters are shown anyway.
    if (out.chars > CONTRACT_LIMITS.text) return;
    const lead = key === null ? `${indent}- ` : `${indent}${key}:`;
    const scalar = plainText(x);
    if (scalar !== null) {
      const [first, ...rest] = scalar.split('\n');
      push(`${lead}${key === null ? '' : ' '}${first}`, ...rest.map((l) => `${indent}  ${l}`));
    } else if (x !== null && typeof x === 'object') {
      if (depth >= CONTRACT_LIMITS.depth) push(`${lead}${key === null ? '' : ' '}…`);
      else {
        push(lead.trimEnd());
        writeLines(x, `${indent}  `, depth + 1, out);
      }
    }
  }
}
