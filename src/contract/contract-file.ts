import { describeValue, hasOwn, isRecord, loadYaml, pairNodes, resolveNode } from './load-yaml.ts';
import type { TargetContract } from './types.ts';

/** Why a contract.yaml was refused; `line` is 1-based, null when the whole file is at fault. */
export interface ContractError {
  code: 'contract_invalid';
  line: number | null;
  reason: string;
}

/** Result of {@link parseContract}; it never throws. */
export type ContractParseResult = { ok: true; contract: TargetContract } | { ok: false; error: ContractError };

/**
 * Reads `.leviathan/contract.yaml`. The file is informational (shown on the target page, given
 * to the agent), so it is read leniently: every key is optional, numbers pass as text, a single
 * string stands for a one-item list, unknown keys are ignored. Only a shape that cannot be shown
 * faithfully (a list where text belongs, a root that is not a mapping) is refused.
 */
export function parseContract(text: string): ContractParseResult {
  const fail = (line: number | null, reason: string): ContractParseResult => ({
    ok: false,
    error: { code: 'contract_invalid', line, reason },
  });
  try {
    const loaded = loadYaml(text);
    if (!loaded.ok) return fail(loaded.line, loaded.reason);
    const { doc, value: root, lineOf } = loaded.yaml;
    if (root === null) return { ok: true, contract: {} };
    const rootNode = resolveNode(doc, doc.contents);
    if (!isRecord(root)) return fail(lineOf(rootNode) ?? 1, `contract.yaml must be a mapping, not ${describeValue(root)}`);
    const keyLine = (key: string): number => lineOf(pairNodes(doc, rootNode, key)?.key) ?? lineOf(rootNode) ?? 1;
    const contract: TargetContract = {};

    for (const key of ['name', 'purpose'] as const) {
      const v = hasOwn(root, key) ? root[key] : null;
      if (v === null || v === undefined) continue;
      if (typeof v === 'string') contract[key] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') contract[key] = String(v);
      else return fail(keyLine(key), `${key} must be text, not ${describeValue(v)}`);
    }
    for (const key of ['definition_of_done', 'quality_gates'] as const) {
      const v = hasOwn(root, key) ? root[key] : null;
      if (v === null || v === undefined) continue;
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list)) return fail(keyLine(key), `${key} must be a list of text, not ${describeValue(v)}`);
      const items: string[] = [];
      for (const item of list) {
        const t = itemText(item);
        if (t === null) return fail(keyLine(key), `each item of ${key} must be text, not ${describeValue(item)}`);
        items.push(t);
      }
      contract[key] = items;
    }
    if (hasOwn(root, 'safety') && root.safety !== null) contract.safety = root.safety;
    if (hasOwn(root, 'scope') && root.scope !== null) contract.scope = root.scope;
    return { ok: true, contract };
  } catch (e) {
    return fail(null, `could not read contract.yaml: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A list item as text; `- Tests pass: always` (a one-key mapping to YAML) reads back as written. */
function itemText(item: unknown): string | null {
  if (typeof item === 'string') return item;
  if (typeof item === 'number' || typeof item === 'boolean') return String(item);
  if (isRecord(item)) {
    const entries = Object.entries(item);
    const only = entries[0];
    if (entries.length === 1 && only && (typeof only[1] === 'string' || typeof only[1] === 'number')) return `${only[0]}: ${only[1]}`;
  }
  return null;
}
