import { isScalar, type Document } from 'yaml';
import { describeValue, hasOwn, isRecord, loadYaml, pairNodes, resolveNode, seqItem } from './load-yaml.ts';
import { normalizeRepoPath } from './paths.ts';
import { wholeNumberFromText } from './policy.ts';
import type { BacklogTask, Priority, TaskStatus } from './types.ts';

/** Limits for `.leviathan/backlog.yaml` beyond the general YAML limits. */
export const BACKLOG_LIMITS = {
  maxTasks: 5000,
  /** Task ids become branch names (`leviathan/<id>`). */
  maxIdLength: 100,
  /** Top-level `max_open_prs` accepted range is 0..this. */
  maxOpenPrs: 100,
} as const;

/** Why a backlog was refused; `line` is 1-based, null when the whole file is at fault. */
export interface BacklogError {
  code: 'backlog_invalid';
  line: number | null;
  reason: string;
}

/** Result of {@link parseBacklog}; it never throws. */
export type BacklogParseResult =
  | { ok: true; tasks: BacklogTask[]; max_open_prs?: number; meta: Record<string, unknown> }
  | { ok: false; error: BacklogError };

const PRIORITIES: readonly Priority[] = ['high', 'medium', 'low'];
const STATUSES: readonly TaskStatus[] = ['pending', 'in_progress', 'completed', 'blocked', 'failed'];

/** Letters, digits, `.`, `_`, `-`: safe in a git ref, a URL and a Kubernetes label value. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Thrown inside the parser only, turned into a result at the top. */
class BacklogInvalid extends Error {
  constructor(
    readonly line: number | null,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Reads `.leviathan/backlog.yaml` as the target contract describes it: a mapping with a `tasks:`
 * list (other top-level keys go to `meta`; `max_open_prs` is returned on its own) or a bare list
 * of tasks. Defaults are applied; unknown keys are ignored. A file that is wrong is refused with
 * the line of the offending node and a reason an operator can act on — nothing is guessed.
 * Hostile input (huge, deeply nested, alias bombs) is refused, never thrown.
 */
export function parseBacklog(text: string): BacklogParseResult {
  try {
    return parseOrThrow(text);
  } catch (e) {
    if (e instanceof BacklogInvalid) return { ok: false, error: { code: 'backlog_invalid', line: e.line, reason: e.reason } };
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, error: { code: 'backlog_invalid', line: null, reason: `could not read the backlog: ${message}` } };
  }
}

function parseOrThrow(text: string): BacklogParseResult {
  const loaded = loadYaml(text);
  if (!loaded.ok) throw new BacklogInvalid(loaded.line, loaded.reason);
  const { doc, value: root, lineOf } = loaded.yaml;
  const rootNode = resolveNode(doc, doc.contents);
  const rootLine = lineOf(rootNode) ?? 1;

  if (root === null) return { ok: true, tasks: [], meta: {} };
  let tasksValue: unknown;
  let tasksNode: unknown;
  let tasksLine = rootLine;
  let maxOpenPrs: number | undefined;
  const meta: Record<string, unknown> = {};

  if (Array.isArray(root)) {
    tasksValue = root;
    tasksNode = rootNode;
  } else if (isRecord(root)) {
    if (!hasOwn(root, 'tasks')) {
      const keys = Object.keys(root).slice(0, 10).join(', ');
      throw new BacklogInvalid(
        rootLine,
        `the file is a mapping without a \`tasks:\` key (found: ${keys}); put the tasks in a list under \`tasks:\``,
      );
    }
    const pair = pairNodes(doc, rootNode, 'tasks');
    tasksNode = pair?.value;
    tasksLine = lineOf(pair?.key) ?? rootLine;
    tasksValue = root.tasks;
    for (const [k, v] of Object.entries(root)) if (k !== 'tasks' && k !== 'max_open_prs') meta[k] = v;
    if (hasOwn(root, 'max_open_prs') && root.max_open_prs !== null) {
      // Read as policy.yaml reads it: a quoted "3" is accepted in both files, not refused here alone.
      const v = wholeNumberFromText(root.max_open_prs);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > BACKLOG_LIMITS.maxOpenPrs) {
        throw new BacklogInvalid(
          lineOf(pairNodes(doc, rootNode, 'max_open_prs')?.key) ?? rootLine,
          `max_open_prs must be a whole number from 0 to ${BACKLOG_LIMITS.maxOpenPrs}, not ${describeValue(root.max_open_prs)}`,
        );
      }
      maxOpenPrs = v;
    }
  } else {
    throw new BacklogInvalid(
      rootLine,
      `the file must be a mapping with a \`tasks:\` list or a list of tasks, not ${describeValue(root)}`,
    );
  }

  // `tasks:` with nothing after it is an emptied backlog, not a malformed one.
  if (tasksValue === null || tasksValue === undefined) return withMaxOpenPrs({ ok: true, tasks: [], meta }, maxOpenPrs);
  if (!Array.isArray(tasksValue)) {
    throw new BacklogInvalid(
      tasksLine,
      `\`tasks\` must be a list (each task starting with "- "), not ${describeValue(tasksValue)}`,
    );
  }
  if (tasksValue.length > BACKLOG_LIMITS.maxTasks) {
    throw new BacklogInvalid(
      lineOf(seqItem(doc, tasksNode, BACKLOG_LIMITS.maxTasks)) ?? tasksLine,
      `too many tasks (${tasksValue.length}); the limit is ${BACKLOG_LIMITS.maxTasks} — remove completed tasks that no remaining task lists in \`dependencies\``,
    );
  }

  const tasks: BacklogTask[] = [];
  const seen = new Map<string, number>();
  tasksValue.forEach((raw, index) => {
    const node = seqItem(doc, tasksNode, index);
    const line = lineOf(node) ?? tasksLine;
    const task = readTask(raw, index, line, new TaskNodes(doc, node, line, lineOf));
    const first = seen.get(task.id);
    if (first !== undefined) {
      throw new BacklogInvalid(line, `duplicate id "${task.id}": the task at line ${first} already uses it; ids must be unique`);
    }
    seen.set(task.id, line);
    tasks.push(task);
  });
  return withMaxOpenPrs({ ok: true, tasks, meta }, maxOpenPrs);
}

function withMaxOpenPrs(
  result: { ok: true; tasks: BacklogTask[]; meta: Record<string, unknown> },
  maxOpenPrs: number | undefined,
): BacklogParseResult {
  return maxOpenPrs === undefined ? result : { ...result, max_open_prs: maxOpenPrs };
}

/** Finds the lines of a task's fields; falls back to the task's own line (e.g. for merged keys). */
class TaskNodes {
  constructor(
    private readonly doc: Document,
    private readonly node: unknown,
    private readonly taskLine: number,
    private readonly lineOf: (n: unknown) => number | null,
  ) {}

  keyLine(key: string): number {
    return this.lineOf(pairNodes(this.doc, this.node, key)?.key) ?? this.taskLine;
  }

  value(key: string): unknown {
    return pairNodes(this.doc, this.node, key)?.value ?? null;
  }

  itemLine(key: string, index: number): number {
    return this.lineOf(seqItem(this.doc, this.value(key), index)) ?? this.keyLine(key);
  }
}

function readTask(raw: unknown, index: number, line: number, nodes: TaskNodes): BacklogTask {
  const label = `task #${index + 1}`;
  if (!isRecord(raw)) {
    throw new BacklogInvalid(
      line,
      `${label} is ${describeValue(raw)}, not a mapping; each task needs at least \`id:\` and \`allowed_paths:\``,
    );
  }
  const id = readId(raw, label, line, nodes);
  const where = `task "${id}"`;
  const field = (key: string): unknown => (hasOwn(raw, key) ? raw[key] : null);

  const task: BacklogTask = {
    id,
    title: optionalText(field('title'), 'title', where, nodes) || id,
    scope: optionalText(field('scope'), 'scope', where, nodes) || 'unknown',
    priority: readEnum(field('priority'), 'priority', PRIORITIES, 'medium', where, nodes),
    ready: readReady(field('ready'), where, nodes),
    status: readEnum(field('status'), 'status', STATUSES, 'pending', where, nodes),
    dependencies: readIdList(field('dependencies'), where, nodes),
    allowed_paths: readAllowedPaths(field('allowed_paths'), where, nodes),
    acceptance_criteria: readTextList(field('acceptance_criteria'), 'acceptance_criteria', where, nodes) ?? [],
    estimated_size: optionalText(field('estimated_size'), 'estimated_size', where, nodes) || 'unknown',
    line,
  };
  const description = optionalText(field('description'), 'description', where, nodes);
  if (description !== '') task.description = description;
  const labels = readTextList(field('labels'), 'labels', where, nodes);
  if (labels !== undefined) task.labels = labels;
  return task;
}

function readId(raw: Record<string, unknown>, label: string, line: number, nodes: TaskNodes): string {
  const id = hasOwn(raw, 'id') ? raw.id : null;
  const alias = hasOwn(raw, 'task_id') ? raw.task_id : null;
  if (id !== null && alias !== null && String(id) !== String(alias)) {
    throw new BacklogInvalid(nodes.keyLine('task_id'), `${label} has both \`id\` and \`task_id\` and they differ; keep one`);
  }
  const key = id !== null ? 'id' : 'task_id';
  const value = id ?? alias;
  if (value === null || value === '') {
    throw new BacklogInvalid(line, `${label} has no \`id\` (or \`task_id\`); add a unique \`id:\``);
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) text = String(value);
  else throw new BacklogInvalid(nodes.keyLine(key), `${label}: \`${key}\` must be text, not ${describeValue(value)}`);
  if (
    text.length > BACKLOG_LIMITS.maxIdLength ||
    !ID_PATTERN.test(text) ||
    text.includes('..') ||
    text.endsWith('.') ||
    text.endsWith('.lock')
  ) {
    throw new BacklogInvalid(
      nodes.keyLine(key),
      `${label}: id ${JSON.stringify(text.slice(0, 120))} cannot be used as a branch name (leviathan/<id>); use up to ${BACKLOG_LIMITS.maxIdLength} letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return text;
}

/** A scalar field read as text; numbers are accepted (`estimated_size: 3`). Empty/missing → ''. */
function optionalText(value: unknown, key: string, where: string, nodes: TaskNodes): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new BacklogInvalid(nodes.keyLine(key), `${where}: \`${key}\` must be text, not ${describeValue(value)}`);
}

function readEnum<T extends string>(
  value: unknown,
  key: string,
  allowed: readonly T[],
  fallback: T,
  where: string,
  nodes: TaskNodes,
): T {
  if (value === null || value === undefined) return fallback;
  const normalized = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (allowed.includes(normalized as T)) return normalized as T;
  throw new BacklogInvalid(
    nodes.keyLine(key),
    `${where}: \`${key}\` must be one of ${allowed.join(', ')}, not ${describeValue(value)}`,
  );
}

function readReady(value: unknown, where: string, nodes: TaskNodes): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  // The earlier implementation read backlogs with PyYAML (YAML 1.1), where unquoted yes/no/on/off
  // are booleans; keep such files working, but only when unquoted, exactly as YAML 1.1 did.
  const node = nodes.value('ready');
  if (typeof value === 'string' && isScalar(node) && node.type === 'PLAIN') {
    if (/^(yes|Yes|YES|on|On|ON)$/.test(value)) return true;
    if (/^(no|No|NO|off|Off|OFF)$/.test(value)) return false;
  }
  throw new BacklogInvalid(nodes.keyLine('ready'), `${where}: \`ready\` must be true or false, not ${describeValue(value)}`);
}

function readIdList(value: unknown, where: string, nodes: TaskNodes): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new BacklogInvalid(
      nodes.keyLine('dependencies'),
      `${where}: \`dependencies\` must be a list of task ids (e.g. [task-a]), not ${describeValue(value)}`,
    );
  }
  return value.map((dep, i) => {
    if (typeof dep === 'string' && dep !== '') return dep;
    if (typeof dep === 'number' && Number.isSafeInteger(dep)) return String(dep);
    throw new BacklogInvalid(
      nodes.itemLine('dependencies', i),
      `${where}: each dependency must be a task id, not ${describeValue(dep)}`,
    );
  });
}

const PATH_PROBLEMS = {
  absolute: 'is absolute; paths are relative to the repository root',
  dotdot: 'contains a ".." segment; paths must stay inside the repository',
  empty: 'is empty',
  invalid: 'contains a backslash, NUL or control character, or is too long; use "/" as the separator',
} as const;

function readAllowedPaths(value: unknown, where: string, nodes: TaskNodes): string[] {
  const line = nodes.keyLine('allowed_paths');
  if (value === null || value === undefined) {
    throw new BacklogInvalid(
      line,
      `${where} has no \`allowed_paths\`; list the files (or directories, ending in "/") it may change`,
    );
  }
  if (!Array.isArray(value)) {
    throw new BacklogInvalid(line, `${where}: \`allowed_paths\` must be a list, not ${describeValue(value)}`);
  }
  if (value.length === 0) {
    throw new BacklogInvalid(
      line,
      `${where}: \`allowed_paths\` is empty; list the files (or directories, ending in "/") it may change`,
    );
  }
  return value.map((entry, i) => {
    const entryLine = nodes.itemLine('allowed_paths', i);
    if (typeof entry !== 'string') {
      throw new BacklogInvalid(entryLine, `${where}: each allowed path must be text, not ${describeValue(entry)}`);
    }
    const n = normalizeRepoPath(entry);
    if (!n.ok) {
      throw new BacklogInvalid(entryLine, `${where}: allowed path ${JSON.stringify(entry.slice(0, 200))} ${PATH_PROBLEMS[n.reason]}`);
    }
    return n.path;
  });
}

/**
 * A list of short texts. A single string is taken as a one-item list, and an item written as
 * `- Returns 404: not found` (which YAML reads as a one-key mapping) is read back as its text.
 */
function readTextList(value: unknown, key: string, where: string, nodes: TaskNodes): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) {
    throw new BacklogInvalid(nodes.keyLine(key), `${where}: \`${key}\` must be a list of text, not ${describeValue(value)}`);
  }
  return value.map((item, i) => {
    if (typeof item === 'string') return item;
    if ((typeof item === 'number' && Number.isFinite(item)) || typeof item === 'boolean') return String(item);
    if (isRecord(item)) {
      const entries = Object.entries(item);
      const only = entries[0];
      if (entries.length === 1 && only && (typeof only[1] === 'string' || typeof only[1] === 'number')) {
        return `${only[0]}: ${only[1]}`;
      }
    }
    throw new BacklogInvalid(nodes.itemLine(key, i), `${where}: each item of \`${key}\` must be text, not ${describeValue(item)}`);
  });
}
