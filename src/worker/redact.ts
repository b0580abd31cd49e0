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
 * The set of secrets known to one worker run. Secrets are learnt as they appear (the
 * installation token is only known once minted), and every derived form that git or HTTP would
 * carry (the Basic auth header value) is registered with them.
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) if (s) this.add(s);
  }

  /** Registers a secret together with its `x-access-token` Basic-auth form. */
  add(secret: string): void {
    if (!secret) return;
    this.#secrets.add(secret);
    this.#secrets.add(Buffer.from(`x-access-token:${secret}`).toString('base64'));
  }

  /** The secrets themselves, e.g. to strip them from a child process environment. */
  get secrets(): readonly string[] {
    return [...this.#secrets];
  }

  /** Redacts one string. */
  text(value: string): string {
    return redact(value, this.#secrets);
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
