/**
 * Secret redaction for everything the worker writes: log lines, event data, error text. The
 * earlier implementation leaked tokens into error messages and the git remote; here every string
 * leaving the worker passes through `redact`.
 */

/** What a redacted secret is replaced with. */
export const REDACTED = '***';

// GitHub token formats (ghp_, gho_, ghu_, ghs_, ghr_) and credentials embedded in URLs or
// `x-access-token:<token>` pairs, so that a token the worker was never told about (one printed
// by an agent, say) is still caught.
const PATTERNS: readonly RegExp[] = [
  /gh[pousr]_[A-Za-z0-9]{20,}/g,
  /github_pat_[A-Za-z0-9_]{20,}/g,
  // The LLM and cloud keys agents are most often given, by their own prefixes. Not a bare `sk-`:
  // branch names like `leviathan/task-add-some-feature` contain one.
  /(?<![A-Za-z0-9_-])sk-(?:ant|proj)-[A-Za-z0-9_-]{20,}/g,
  /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g,
  /(x-access-token:)[^\s@'"]+/g,
  /(Authorization:\s*(?:Basic|Bearer|token)\s+)[^\s'"]+/gi,
];

/**
 * Replaces every known secret and every token-shaped string in `text` with `***`.
 * Secrets shorter than 6 characters are ignored: replacing them would shred ordinary text
 * without protecting anything.
 */
export function redact(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  // Longest first, so that a secret containing another is removed whole.
  const known = [...secrets].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
  for (const secret of known) out = out.split(secret).join(REDACTED);
  for (const pattern of PATTERNS) {
    out = out.replace(pattern, (match, prefix: unknown) =>
      typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}${REDACTED}` : REDACTED,
    );
  }
  return out;
}

/**
 * Names of variables whose values are credentials, as globs (`*` for any run of characters,
 * case-insensitive): what LEVIATHAN_REDACTED_VARS replaces. Like Buildkite's `redacted-vars`,
 * by suffix, so an agent's `ANTHROPIC_API_KEY` or `AWS_SECRET_ACCESS_KEY` is covered unnamed.
 */
export const DEFAULT_REDACTED_VARS: readonly string[] = ['*_KEY', '*_TOKEN', '*_SECRET', '*_PASSWORD', '*_PASSPHRASE', '*_CREDENTIALS', '*_CONNECTION_STRING'];

/** Parses LEVIATHAN_REDACTED_VARS (comma-separated globs); unset or empty: the defaults. */
export function redactedVarGlobs(spec: string | undefined): readonly string[] {
  const globs = (spec ?? '').split(',').map((g) => g.trim()).filter(Boolean);
  return globs.length > 0 ? globs : DEFAULT_REDACTED_VARS;
}

/** Whether a variable name matches one of `globs`. */
export function isRedactedVar(name: string, globs: readonly string[]): boolean {
  return globs.some((glob) => new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`, 'i').test(name));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A secret as the worker knows it, with what to call it when it turns up somewhere. */
export interface KnownSecret {
  value: string;
  /** E.g. `a Leviathan credential` or `the value of ANTHROPIC_API_KEY`: never the value itself. */
  label: string;
  /** Leviathan's own (`add`), or the agent's (`mask`: known only by its variable's name). */
  kind: 'leviathan' | 'agent';
}

/**
 * The set of secrets known to one worker run. Secrets are learnt as they appear (the
 * installation token is only known once minted), and every derived form that git or HTTP would
 * carry (the Basic auth header value) is registered with them. Two kinds: Leviathan's own
 * credentials (`add`), which no child process may hold, and the agent's (`mask`), which the agent
 * needs in its environment but which nothing the worker writes may show.
 */
export class Redactor {
  readonly #secrets = new Map<string, string>();
  readonly #masked = new Map<string, string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) if (s) this.add(s);
  }

  /** Registers a secret together with its `x-access-token` Basic-auth form. */
  add(secret: string, label = 'a Leviathan credential'): void {
    if (!secret) return;
    this.#secrets.set(secret, label);
    this.#secrets.set(Buffer.from(`x-access-token:${secret}`).toString('base64'), label);
  }

  /** Registers the value of an agent's own credential (variable `name`): redacted, but left in the agent's environment. */
  mask(name: string, value: string): void {
    if (value && !this.#secrets.has(value)) this.#masked.set(value, `the value of ${name}`);
  }

  /** Leviathan's own secrets, e.g. to strip them from a child process environment. */
  get secrets(): readonly string[] {
    return [...this.#secrets.keys()];
  }

  /** Every secret redaction removes, long enough to be one (see `redact`), with its label. */
  get known(): readonly KnownSecret[] {
    const all = [
      ...[...this.#secrets].map(([value, label]) => ({ value, label, kind: 'leviathan' as const })),
      ...[...this.#masked].map(([value, label]) => ({ value, label, kind: 'agent' as const })),
    ];
    return all.filter((k) => k.value.length >= 6);
  }

  /** Redacts one string. */
  text(value: string): string {
    return redact(value, [...this.#secrets.keys(), ...this.#masked.keys()]);
  }

  /** Redacts every string inside a JSON-like value (event data, log metadata). */
  value<T>(value: T): T {
    return deepRedact(value, (s) => this.text(s)) as T;
  }
}

function deepRedact(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => deepRedact(v, f));
  if (value instanceof Error) return f(value.message);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepRedact(v, f)]));
  }
  return value;
}
