import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_FORBIDDEN_PATHS } from './forbidden-paths.ts';
import {
  describeValue,
  hasOwn,
  isRecord,
  loadYaml,
  pairNodes,
  resolveNode,
  seqItem,
  YAML_LIMITS,
  type LoadedYaml,
} from './load-yaml.ts';
import { normalizeRepoPath } from './paths.ts';
import type { EffectivePolicy, Guardrails } from './types.ts';

export { DEFAULT_FORBIDDEN_PATHS } from './forbidden-paths.ts';

/** Guardrails as one layer sets them: any subset, including part of `circuit_breaker`. */
export type GuardrailOverrides = Partial<Omit<Guardrails, 'circuit_breaker'>> & {
  circuit_breaker?: Partial<Guardrails['circuit_breaker']>;
};

/** What `.leviathan/policy.yaml` sets, flattened to the names of {@link EffectivePolicy}. */
export interface PolicyFile extends GuardrailOverrides {
  allowed_paths?: Record<string, string[]>;
  forbidden_paths?: string[];
  max_files_per_task?: Record<string, number>;
}

/** Why a policy.yaml was refused; `line` is 1-based, null when the whole file is at fault. */
export interface PolicyError {
  code: 'policy_invalid';
  line: number | null;
  reason: string;
}

/** Result of {@link parsePolicy}; it never throws. */
export type PolicyParseResult = { ok: true; policy: PolicyFile } | { ok: false; error: PolicyError };

/** Values used when no layer sets a key (target-contract.md). */
export const DEFAULT_POLICY: Readonly<Omit<EffectivePolicy, 'sources'>> = Object.freeze({
  max_open_prs: 2,
  circuit_breaker: Object.freeze({ consecutive_failures: 2, cooldown_minutes: 60 }),
  attempt_timeout_minutes: 15,
  max_attempts_per_task: 2,
  max_concurrent_attempts: 1,
  max_tasks_per_day: null,
  allowed_paths: Object.freeze({}),
  forbidden_paths: DEFAULT_FORBIDDEN_PATHS as string[],
  max_files_per_task: Object.freeze({}),
});

type GuardrailKey =
  | 'max_open_prs'
  | 'circuit_breaker.consecutive_failures'
  | 'circuit_breaker.cooldown_minutes'
  | 'attempt_timeout_minutes'
  | 'max_attempts_per_task'
  | 'max_concurrent_attempts'
  | 'max_tasks_per_day';

interface GuardrailSpec {
  key: GuardrailKey;
  /** Where the value may be written, first = canonical (policy.yaml keeps safety_rules nested). */
  paths: string[][];
  min: number;
  max: number;
  nullable?: boolean;
}

/** Every guardrail, its accepted locations in a YAML mapping and its sane range. */
const GUARDRAIL_SPECS: readonly GuardrailSpec[] = [
  { key: 'max_open_prs', paths: [['max_open_prs']], min: 0, max: 100 },
  { key: 'circuit_breaker.consecutive_failures', paths: [['circuit_breaker', 'consecutive_failures']], min: 1, max: 100 },
  { key: 'circuit_breaker.cooldown_minutes', paths: [['circuit_breaker', 'cooldown_minutes']], min: 0, max: 7 * 24 * 60 },
  { key: 'attempt_timeout_minutes', paths: [['attempt_timeout_minutes']], min: 1, max: 24 * 60 },
  {
    key: 'max_attempts_per_task',
    paths: [['safety_rules', 'max_attempts_per_task'], ['max_attempts_per_task']],
    min: 1,
    max: 100,
  },
  {
    key: 'max_concurrent_attempts',
    paths: [['safety_rules', 'max_concurrent_attempts'], ['max_concurrent_attempts']],
    min: 1,
    max: 100,
  },
  {
    key: 'max_tasks_per_day',
    paths: [['safety_rules', 'max_tasks_per_day'], ['max_tasks_per_day']],
    min: 0,
    max: 100_000,
    nullable: true,
  },
];

/** A problem found while reading guardrails; `line` when the YAML node is known. */
interface Problem {
  line: number | null;
  reason: string;
}

/** Walks a plain value by keys; `undefined` when absent. */
function getIn(value: unknown, path: readonly string[]): unknown {
  let cur = value;
  for (const k of path) {
    if (!isRecord(cur) || !hasOwn(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** Line of the key at `path` in the document, else of the nearest ancestor found. */
function lineAt(yaml: LoadedYaml | null, path: ReadonlyArray<string | number>): number | null {
  if (yaml === null) return null;
  let node: unknown = resolveNode(yaml.doc, yaml.doc.contents);
  let line = yaml.lineOf(node);
  for (const k of path) {
    if (typeof k === 'number') {
      const item = seqItem(yaml.doc, node, k);
      if (item === null) break;
      line = yaml.lineOf(item) ?? line;
      node = item;
      continue;
    }
    const pair = pairNodes(yaml.doc, node, k);
    if (pair === null) break;
    line = yaml.lineOf(pair.key) ?? line;
    node = pair.value;
  }
  return line;
}

function setGuardrail(out: GuardrailOverrides, key: GuardrailKey, value: number | null): void {
  if (key === 'circuit_breaker.consecutive_failures') out.circuit_breaker = { ...out.circuit_breaker, consecutive_failures: value as number };
  else if (key === 'circuit_breaker.cooldown_minutes') out.circuit_breaker = { ...out.circuit_breaker, cooldown_minutes: value as number };
  else if (key === 'max_tasks_per_day') out.max_tasks_per_day = value;
  else out[key] = value as number;
}

function getGuardrail(layer: GuardrailOverrides | undefined, key: GuardrailKey): number | null | undefined {
  if (layer === undefined) return undefined;
  if (key === 'circuit_breaker.consecutive_failures') return layer.circuit_breaker?.consecutive_failures;
  if (key === 'circuit_breaker.cooldown_minutes') return layer.circuit_breaker?.cooldown_minutes;
  return layer[key];
}

/**
 * A whole number written as text (`"3"`) as that number; anything else unchanged, for the caller's
 * range check to refuse. ConfigMap values are always strings, and the target's files are read
 * leniently (target-contract.md), so every file that sets a guardrail reads it the same way.
 */
export function wholeNumberFromText(value: unknown): unknown {
  return typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
}

/** Reads the guardrail keys from a plain mapping; numbers may be written as text. */
function readGuardrails(root: Record<string, unknown>, yaml: LoadedYaml | null, problems: Problem[]): GuardrailOverrides {
  const out: GuardrailOverrides = {};
  for (const spec of GUARDRAIL_SPECS) {
    const found = spec.paths
      .map((path) => ({ path, value: getIn(root, path) }))
      .filter((f) => f.value !== undefined && (f.value !== null || spec.nullable === true));
    if (found.length === 0) continue;
    const first = found[0]!;
    if (found.some((f) => f.value !== first.value)) {
      problems.push({
        line: lineAt(yaml, found[1]!.path),
        reason: `${spec.key} is set both as ${first.path.join('.')} and as ${found[1]!.path.join('.')} with different values; keep one`,
      });
      continue;
    }
    const raw = wholeNumberFromText(first.value);
    if (raw === null) {
      setGuardrail(out, spec.key, null);
      continue;
    }
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < spec.min || raw > spec.max) {
      problems.push({
        line: lineAt(yaml, first.path),
        reason: `${first.path.join('.')} must be a whole number from ${spec.min} to ${spec.max}${spec.nullable === true ? ' (or null for no limit)' : ''}, not ${describeValue(first.value)}`,
      });
      continue;
    }
    setGuardrail(out, spec.key, raw);
  }
  for (const section of ['circuit_breaker', 'safety_rules']) {
    const v = root[section];
    if (hasOwn(root, section) && v !== null && !isRecord(v)) {
      problems.push({ line: lineAt(yaml, [section]), reason: `${section} must be a mapping, not ${describeValue(v)}` });
    }
  }
  return out;
}

/** A list of path globs; invalid entries are problems. */
function readGlobList(value: unknown, path: string[], yaml: LoadedYaml, problems: Problem[]): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) {
    problems.push({ line: lineAt(yaml, path), reason: `${path.join('.')} must be a list of paths or globs, not ${describeValue(value)}` });
    return [];
  }
  const out: string[] = [];
  for (const [index, entry] of list.entries()) {
    const n = typeof entry === 'string' ? normalizeRepoPath(entry) : null;
    if (n === null || !n.ok) {
      const why = n === null ? `is ${describeValue(entry)}, not text` : `is ${n.reason === 'dotdot' ? 'outside the repository (..)' : n.reason}`;
      const at = typeof value === 'string' ? path : [...path, index];
      problems.push({ line: lineAt(yaml, at), reason: `${path.join('.')}: entry ${JSON.stringify(entry)} ${why}` });
      continue;
    }
    out.push(n.path);
  }
  return out;
}

/**
 * Reads `.leviathan/policy.yaml` (optional in a target). Returns only what the file sets; combine
 * it with the other layers through {@link effectivePolicy}. Unknown keys (code_style, …) are
 * ignored; a wrong value is refused with its line, never replaced by a default.
 */
export function parsePolicy(text: string): PolicyParseResult {
  const fail = (line: number | null, reason: string): PolicyParseResult => ({
    ok: false,
    error: { code: 'policy_invalid', line, reason },
  });
  try {
    const loaded = loadYaml(text);
    if (!loaded.ok) return fail(loaded.line, loaded.reason);
    const { yaml } = loaded;
    const root = yaml.value;
    if (root === null) return { ok: true, policy: {} };
    if (!isRecord(root)) return fail(yaml.lineOf(yaml.doc.contents) ?? 1, `policy.yaml must be a mapping, not ${describeValue(root)}`);

    const problems: Problem[] = [];
    const policy: PolicyFile = readGuardrails(root, yaml, problems);

    if (hasOwn(root, 'allowed_paths') && root.allowed_paths !== null) {
      if (!isRecord(root.allowed_paths)) {
        problems.push({
          line: lineAt(yaml, ['allowed_paths']),
          reason: `allowed_paths must map each scope to a list of globs (e.g. docs: ["docs/**"]), not ${describeValue(root.allowed_paths)}`,
        });
      } else {
        const byScope: Record<string, string[]> = {};
        for (const [scope, globs] of Object.entries(root.allowed_paths)) {
          byScope[scope] = readGlobList(globs, ['allowed_paths', scope], yaml, problems);
        }
        policy.allowed_paths = byScope;
      }
    }
    if (hasOwn(root, 'forbidden_paths') && root.forbidden_paths !== null) {
      policy.forbidden_paths = readGlobList(root.forbidden_paths, ['forbidden_paths'], yaml, problems);
    }
    if (hasOwn(root, 'scope_constraints') && root.scope_constraints !== null) {
      if (!isRecord(root.scope_constraints)) {
        problems.push({ line: lineAt(yaml, ['scope_constraints']), reason: `scope_constraints must be a mapping of scopes, not ${describeValue(root.scope_constraints)}` });
      } else {
        const maxFiles: Record<string, number> = {};
        for (const [scope, constraints] of Object.entries(root.scope_constraints)) {
          if (constraints === null) continue;
          if (!isRecord(constraints)) {
            // Otherwise `docs: 5` would read as "no limit" for docs, the opposite of what was meant.
            problems.push({
              line: lineAt(yaml, ['scope_constraints', scope]),
              reason: `scope_constraints.${scope} must be a mapping (e.g. max_files_per_task: 10), not ${describeValue(constraints)}`,
            });
            continue;
          }
          const raw = getIn(constraints, ['max_files_per_task']);
          if (raw === undefined || raw === null) continue;
          // Numbers may be written as text here too, as for every other limit.
          const v = wholeNumberFromText(raw);
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100_000) {
            problems.push({
              line: lineAt(yaml, ['scope_constraints', scope, 'max_files_per_task']),
              reason: `scope_constraints.${scope}.max_files_per_task must be a whole number of at least 1, not ${describeValue(raw)}`,
            });
            continue;
          }
          maxFiles[scope] = v;
        }
        if (Object.keys(maxFiles).length > 0) policy.max_files_per_task = maxFiles;
      }
    }
    const first = problems[0];
    if (first) return fail(first.line, first.reason);
    return { ok: true, policy };
  } catch (e) {
    return fail(null, `could not read policy.yaml: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The layers {@link effectivePolicy} combines; each may be absent. */
export interface PolicyLayers {
  /** Global defaults from the autonomy ConfigMap. */
  global?: GuardrailOverrides;
  /** The target's `.leviathan/policy.yaml`. */
  policyFile?: PolicyFile;
  /** The target's backlog.yaml top-level `max_open_prs`. */
  backlogMaxOpenPrs?: number;
}

/**
 * Combines the layers into the policy for one target. Precedence, highest first: policy.yaml,
 * then backlog.yaml's `max_open_prs` (that key only), then the global config, then
 * {@link DEFAULT_POLICY}. `forbidden_paths` is the union of the defaults and policy.yaml's list,
 * so a target can add forbidden paths but never remove one. `sources` says, per dotted key,
 * which layer won — the console shows it next to each value.
 */
export function effectivePolicy(layers: PolicyLayers): EffectivePolicy {
  const sources: EffectivePolicy['sources'] = {};
  const pick = (key: GuardrailKey): number | null => {
    const fromPolicy = getGuardrail(layers.policyFile, key);
    if (fromPolicy !== undefined) {
      sources[key] = 'policy.yaml';
      return fromPolicy;
    }
    if (key === 'max_open_prs' && layers.backlogMaxOpenPrs !== undefined) {
      sources[key] = 'backlog.yaml';
      return layers.backlogMaxOpenPrs;
    }
    const fromGlobal = getGuardrail(layers.global, key);
    if (fromGlobal !== undefined) {
      sources[key] = 'global';
      return fromGlobal;
    }
    sources[key] = 'default';
    const d = DEFAULT_POLICY;
    if (key === 'circuit_breaker.consecutive_failures') return d.circuit_breaker.consecutive_failures;
    if (key === 'circuit_breaker.cooldown_minutes') return d.circuit_breaker.cooldown_minutes;
    return d[key];
  };

  const file = layers.policyFile;
  const configuredForbidden = file?.forbidden_paths ?? [];
  const forbidden = [...new Set([...DEFAULT_FORBIDDEN_PATHS, ...configuredForbidden])];
  const result: EffectivePolicy = {
    max_open_prs: pick('max_open_prs') as number,
    circuit_breaker: {
      consecutive_failures: pick('circuit_breaker.consecutive_failures') as number,
      cooldown_minutes: pick('circuit_breaker.cooldown_minutes') as number,
    },
    attempt_timeout_minutes: pick('attempt_timeout_minutes') as number,
    max_attempts_per_task: pick('max_attempts_per_task') as number,
    max_concurrent_attempts: pick('max_concurrent_attempts') as number,
    max_tasks_per_day: pick('max_tasks_per_day'),
    allowed_paths: cloneLists(file?.allowed_paths ?? {}),
    forbidden_paths: forbidden,
    max_files_per_task: { ...(file?.max_files_per_task ?? {}) },
    sources,
  };
  sources.allowed_paths = file?.allowed_paths !== undefined ? 'policy.yaml' : 'default';
  sources.forbidden_paths = forbidden.length > DEFAULT_FORBIDDEN_PATHS.length ? 'policy.yaml' : 'default';
  sources.max_files_per_task = file?.max_files_per_task !== undefined ? 'policy.yaml' : 'default';
  return result;
}

function cloneLists(record: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, [...v]]));
}

/** Result of {@link parseAutonomyConfig}. */
export interface ParsedAutonomyConfig {
  autonomy_enabled: boolean;
  defaults: GuardrailOverrides;
  /** Everything that made the config unusable; non-empty ⇒ autonomy_enabled is false. */
  problems: string[];
}

/** Result of {@link readAutonomyConfig}. */
export interface AutonomyConfig {
  enabled: boolean;
  defaults: GuardrailOverrides;
  problems: string[];
}

/** Reads `autonomy_enabled` and the guardrail defaults from a plain mapping; fails closed. */
function autonomyFromObject(root: unknown, yaml: LoadedYaml | null): ParsedAutonomyConfig {
  const off = (problems: string[]): ParsedAutonomyConfig => ({ autonomy_enabled: false, defaults: {}, problems });
  if (root === null || root === undefined) return off(['autonomy_enabled is not set; autonomy is off']);
  if (!isRecord(root)) return off([`the autonomy config must be a mapping of keys, not ${describeValue(root)}; autonomy is off`]);
  const problems: Problem[] = [];
  const defaults = readGuardrails(root, yaml, problems);
  const messages = problems.map((p) => (p.line !== null ? `line ${p.line}: ${p.reason}` : p.reason));
  let enabled = false;
  const raw = root.autonomy_enabled;
  if (!hasOwn(root, 'autonomy_enabled') || raw === null) {
    messages.push('autonomy_enabled is not set; autonomy is off');
  } else if (typeof raw === 'boolean') {
    enabled = raw;
  } else if (typeof raw === 'string' && /^\s*(true|false)\s*$/i.test(raw)) {
    // ConfigMap values are strings; a quoted "true" means what it says.
    enabled = raw.trim().toLowerCase() === 'true';
  } else {
    messages.push(`autonomy_enabled must be true or false, not ${describeValue(raw)}; autonomy is off`);
  }
  // A guardrail the operator set but we could not read may have been stricter than the default.
  if (messages.length > 0) return { autonomy_enabled: false, defaults, problems: messages };
  return { autonomy_enabled: enabled, defaults, problems: [] };
}

/**
 * Reads the global autonomy config (ConfigMap `leviathan-autonomy-config`) from YAML text:
 * `autonomy_enabled: true|false` plus optional guardrail defaults with the same keys as
 * policy.yaml. Fails closed: anything missing, unreadable or invalid — including a guardrail
 * value — means autonomy is off, with the reasons in `problems`.
 */
export function parseAutonomyConfig(text: string): ParsedAutonomyConfig {
  try {
    const loaded = loadYaml(text);
    if (!loaded.ok) {
      const at = loaded.line !== null ? ` (line ${loaded.line})` : '';
      return { autonomy_enabled: false, defaults: {}, problems: [`${loaded.reason}${at}; autonomy is off`] };
    }
    return autonomyFromObject(loaded.yaml.value, loaded.yaml);
  } catch (e) {
    return { autonomy_enabled: false, defaults: {}, problems: [`could not read the autonomy config: ${String(e)}; autonomy is off`] };
  }
}

/** ConfigMap keys read as a whole YAML document when the config is mounted as a directory. */
const DOCUMENT_KEYS = ['config.yaml', 'config.yml', 'autonomy.yaml', 'autonomy.yml'];

/**
 * Reads the autonomy config from a mounted ConfigMap: either one file of YAML, or a directory
 * with one file per key (`autonomy_enabled` containing `true`; dotted keys such as
 * `circuit_breaker.cooldown_minutes` nest) and/or a `config.yaml` key holding the whole document
 * (per-key files win over it). Kubernetes' own `..data` entries are skipped. Missing path,
 * empty directory or unreadable content ⇒ `enabled: false` with the reason.
 */
export async function readAutonomyConfig(path: string | undefined): Promise<AutonomyConfig> {
  const off = (problem: string): AutonomyConfig => ({ enabled: false, defaults: {}, problems: [problem] });
  const fromParsed = (p: ParsedAutonomyConfig): AutonomyConfig => ({ enabled: p.autonomy_enabled, defaults: p.defaults, problems: p.problems });
  if (path === undefined || path.trim() === '') return off('no autonomy config path is configured; autonomy is off');
  try {
    let info;
    try {
      info = await stat(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return off(
        code === 'ENOENT'
          ? `autonomy config not found at ${path}; autonomy is off`
          : `cannot read the autonomy config at ${path} (${code ?? String(e)}); autonomy is off`,
      );
    }
    if (info.isFile()) {
      if (info.size > YAML_LIMITS.maxBytes) return off(`the autonomy config at ${path} is too large (${info.size} bytes); autonomy is off`);
      return fromParsed(parseAutonomyConfig(await readFile(path, 'utf8')));
    }
    if (!info.isDirectory()) return off(`the autonomy config at ${path} is neither a file nor a directory; autonomy is off`);

    // Kubernetes' own `..data` entries and any dotfile are skipped.
    const keys: Record<string, string> = {};
    const problems: string[] = [];
    for (const name of (await readdir(path)).filter((n) => !n.startsWith('.'))) {
      const file = join(path, name);
      const s = await stat(file);
      if (!s.isFile()) continue;
      const max = DOCUMENT_KEYS.includes(name) ? YAML_LIMITS.maxBytes : 64 * 1024;
      if (s.size > max) problems.push(`${name} is too large (${s.size} bytes); autonomy is off`);
      else keys[name] = await readFile(file, 'utf8');
    }
    if (Object.keys(keys).length === 0 && problems.length === 0) return off(`the autonomy config directory ${path} has no keys; autonomy is off`);
    const parsed = autonomyFromKeys(keys);
    return problems.length > 0 ? { enabled: false, defaults: parsed.defaults, problems: [...problems, ...parsed.problems] } : parsed;
  } catch (e) {
    return off(`cannot read the autonomy config at ${path} (${e instanceof Error ? e.message : String(e)}); autonomy is off`);
  }
}

/**
 * The autonomy config from the keys of the ConfigMap: what a mounted directory holds, or what the
 * API returns as `data`. One key per setting (`autonomy_enabled: "true"`; dotted keys such as
 * `circuit_breaker.cooldown_minutes` nest) and/or a `config.yaml` key holding the whole document
 * (per-key values win over it). No keys, or anything unreadable ⇒ `enabled: false` with the reason.
 */
export function autonomyFromKeys(data: Readonly<Record<string, string>>): AutonomyConfig {
  const names = Object.keys(data).filter((n) => !n.startsWith('.')).sort();
  if (names.length === 0) return { enabled: false, defaults: {}, problems: ['the autonomy config has no keys; autonomy is off'] };
  const root: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of DOCUMENT_KEYS.filter((n) => names.includes(n))) {
    const loaded = loadYaml(data[name]!);
    if (!loaded.ok) problems.push(`${name}: ${loaded.reason}${loaded.line !== null ? ` (line ${loaded.line})` : ''}`);
    else if (isRecord(loaded.yaml.value)) Object.assign(root, loaded.yaml.value);
    else if (loaded.yaml.value !== null) problems.push(`${name} must be a mapping, not ${describeValue(loaded.yaml.value)}`);
  }
  for (const name of names.filter((n) => !DOCUMENT_KEYS.includes(n))) {
    const loaded = loadYaml(data[name]!);
    if (!loaded.ok) {
      problems.push(`${name}: ${loaded.reason}`);
      continue;
    }
    setDotted(root, name.split('.'), loaded.yaml.value);
  }
  const parsed = autonomyFromObject(root, null);
  if (problems.length > 0) {
    return { enabled: false, defaults: parsed.defaults, problems: [...problems.map((p) => `${p}; autonomy is off`), ...parsed.problems] };
  }
  return { enabled: parsed.autonomy_enabled, defaults: parsed.defaults, problems: parsed.problems };
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Sets `a.b.c` in a plain object; file names are outside input, so prototype keys are dropped. */
function setDotted(root: Record<string, unknown>, keys: string[], value: unknown): void {
  if (keys.some((k) => UNSAFE_KEYS.has(k) || k === '')) return;
  let cur = root;
  for (const k of keys.slice(0, -1)) {
    const next = hasOwn(cur, k) ? cur[k] : undefined;
    if (!isRecord(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (last !== undefined) cur[last] = value;
}
