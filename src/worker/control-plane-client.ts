import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { claimedWorkerScope, outsideScope, type WorkerScope } from '../api/worker-token.ts';
import type { NewEvent } from '../events/envelope.ts';
import { CredentialsError, type TokenRefresh, type TokenRefresher } from './credentials.ts';
import type { Redactor } from './redact.ts';

/** Where the worker reports its events. */
export interface EventSink {
  /**
   * Queues an event (in memory and in the spool file) and starts delivering it in the
   * background; resolves once it is queued. Never throws: an event that cannot be delivered now
   * stays buffered for `flush`.
   */
  post(event: NewEvent): Promise<void>;
  /**
   * Delivers everything buffered, retrying until the deadline. `pending`: still undelivered (kept
   * in the spool); `refused`: refused by the control plane with a 4xx over the sink's life (lost).
   */
  flush(deadlineMs: number): Promise<{ pending: number; refused?: number }>;
}

/** Configuration of {@link HttpEventSink}; the timing hooks exist for tests. */
export interface HttpEventSinkOptions {
  /** Base URL of the control plane, e.g. http://leviathan-control-plane:8000. */
  url: string;
  /** API bearer token: the attempt's own (see api/worker-token.ts). */
  token?: string;
  /**
   * Directory of spool files. This worker's undelivered events live in `<attempt>.ndjson`;
   * files left there by earlier runs are adopted and delivered first.
   */
  spoolDir: string;
  /** Names this worker's spool file. */
  attemptId: string;
  logger: Logger;
  redactor: Redactor;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** First retry delay; doubled each time up to `maxDelayMs`, with full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-request timeout. */
  requestTimeoutMs?: number;
  /** Events per POST. */
  batchSize?: number;
  fetch?: typeof fetch;
}

const responseSchema = z.object({
  stored: z.array(z.object({ id: z.string() }).passthrough()).default([]),
  duplicates: z.array(z.string()).default([]),
});

type Delivery = 'delivered' | 'retry' | 'dropped';

/**
 * A queued event with the token it goes out with. A worker's token reports only its own attempt,
 * so events adopted from an earlier run's spool keep that run's token (kept beside them in the
 * spool file, mode 0600, until its attempt's deadline has passed and it is worthless).
 */
interface Queued {
  event: NewEvent;
  token: string | undefined;
}

/**
 * Posts events to `POST {url}/v1/events` as a JSON array. Ids are deterministic, so resending a
 * batch whose response was lost is harmless: the control plane answers with `duplicates`.
 *
 * Unreachable or 5xx (and 409/429): the events stay queued, in order, in memory and in the spool
 * file, and are retried with exponential backoff and jitter until the flush deadline. Other 4xx
 * mean the control plane will never take the batch; it is logged and dropped.
 *
 * Events still undelivered when the worker exits remain in `<spoolDir>/<attempt>.ndjson`. The next
 * worker started with the same work directory adopts every spool file it finds there (atomic
 * rename, so two workers never adopt the same file) and delivers it before its own events, with
 * the token each was queued with.
 */
export class HttpEventSink implements EventSink {
  readonly #queue: Queued[] = [];
  readonly #o: Required<Omit<HttpEventSinkOptions, 'token'>> & { token?: string };
  #chain: Promise<unknown> = Promise.resolve();
  #adopted = false;
  #drainScheduled = false;
  #refused = 0;

  constructor(options: HttpEventSinkOptions) {
    this.#o = {
      now: Date.now,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      random: Math.random,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      requestTimeoutMs: 10_000,
      batchSize: 100,
      fetch: globalThis.fetch,
      ...options,
    };
  }

  get #spoolFile(): string {
    return path.join(this.#o.spoolDir, `${safeName(this.#o.attemptId)}.ndjson`);
  }

  /** Number of events not yet acknowledged. */
  get pending(): number {
    return this.#queue.length;
  }

  post(event: NewEvent): Promise<void> {
    const queued = this.#serial(async () => {
      await this.#adoptSpools();
      this.#queue.push({ event: this.#o.redactor.value(event), token: this.#o.token });
      await this.#writeSpool();
    }).catch((e: unknown) => {
      this.#o.logger.warn({ error: this.#o.redactor.text(describe(e)) }, 'Worker: Could not queue an event');
    });
    // Delivery runs behind the caller: a slow or unreachable control plane must not hold up the
    // attempt. One pending drain covers every event queued before it runs.
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      void this.#serial(async () => {
        this.#drainScheduled = false;
        await this.#drain();
      }).catch((e: unknown) => {
        this.#o.logger.warn({ error: this.#o.redactor.text(describe(e)) }, 'Worker: Event delivery failed, will retry');
      });
    }
    return queued;
  }

  flush(deadlineMs: number): Promise<{ pending: number; refused: number }> {
    return this.#serial(async () => {
      await this.#adoptSpools();
      for (let attempt = 0; ; attempt++) {
        if ((await this.#drain()) || this.#queue.length === 0) return { pending: 0, refused: this.#refused };
        const delay = Math.min(this.#o.maxDelayMs, this.#o.baseDelayMs * 2 ** attempt) * this.#o.random();
        const left = deadlineMs - this.#o.now();
        if (left <= 0) break;
        await this.#o.sleep(Math.max(1, Math.min(delay, left)));
        if (this.#o.now() >= deadlineMs) {
          // One last try at the deadline itself.
          if (await this.#drain()) return { pending: 0, refused: this.#refused };
          break;
        }
      }
      this.#o.logger.error(
        { pending: this.#queue.length, spool: this.#spoolFile },
        'Worker: Control plane unreachable; events kept in the spool for the next run',
      );
      return { pending: this.#queue.length, refused: this.#refused };
    });
  }

  // Posts and flushes run one at a time so the queue is delivered in order.
  #serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(f, f);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Sends queued batches in order (one token per batch); true when the queue is empty. */
  async #drain(): Promise<boolean> {
    while (this.#queue.length > 0) {
      const token = this.#queue[0]!.token;
      let n = 1;
      while (n < this.#queue.length && n < this.#o.batchSize && this.#queue[n]!.token === token) n++;
      const batch = this.#queue.slice(0, n).map((q) => q.event);
      const result = await this.#send(batch, token);
      if (result === 'retry') return false;
      this.#queue.splice(0, batch.length);
      await this.#writeSpool();
    }
    return true;
  }

  async #send(batch: NewEvent[], token: string | undefined): Promise<Delivery> {
    const url = `${this.#o.url.replace(/\/+$/, '')}/v1/events`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await this.#o.fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(this.#o.requestTimeoutMs),
      });
    } catch (e) {
      this.#o.logger.warn(
        { error: this.#o.redactor.text(describe(e)), pending: this.#queue.length },
        'Worker: Control plane unreachable, events buffered',
      );
      return 'retry';
    }
    const text = await res.text().catch(() => '');
    if (res.ok) {
      const parsed = responseSchema.safeParse(safeJson(text));
      if (!parsed.success) {
        // Acknowledged but not understood: resend; the ids make it idempotent.
        this.#o.logger.warn({ status: res.status }, 'Worker: Unexpected control plane response, will retry');
        return 'retry';
      }
      return 'delivered';
    }
    const detail = this.#o.redactor.text(text.slice(0, 500));
    if (res.status >= 500 || res.status === 409 || res.status === 429 || res.status === 408) {
      this.#o.logger.warn({ status: res.status, detail }, 'Worker: Control plane unavailable, events buffered');
      return 'retry';
    }
    this.#o.logger.error(
      { status: res.status, detail, ids: batch.map((e) => e.id) },
      'Worker: Control plane refused events; not retried',
    );
    this.#refused += batch.length;
    return 'dropped';
  }

  async #writeSpool(): Promise<void> {
    try {
      if (this.#queue.length === 0) {
        await rm(this.#spoolFile, { force: true });
        return;
      }
      await mkdir(this.#o.spoolDir, { recursive: true });
      const tmp = `${this.#spoolFile}.tmp`;
      await writeFile(tmp, this.#queue.map((q) => JSON.stringify(q)).join('\n') + '\n', { mode: 0o600 });
      await rename(tmp, this.#spoolFile);
    } catch (e) {
      // The in-memory queue still holds the events; a disk problem must not stop the attempt.
      this.#o.logger.warn({ error: this.#o.redactor.text(describe(e)) }, 'Worker: Could not write the event spool');
    }
  }

  async #adoptSpools(): Promise<void> {
    if (this.#adopted) return;
    this.#adopted = true;
    let names: string[];
    try {
      names = await readdir(this.#o.spoolDir);
    } catch {
      return;
    }
    const own = path.basename(this.#spoolFile);
    const adopted: Queued[] = [];
    const claimedFiles: string[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith('.ndjson')) continue;
      const file = path.join(this.#o.spoolDir, name);
      const claimed = `${file}.adopting-${process.pid}`;
      try {
        // Only one worker wins the rename; the others see ENOENT and move on.
        await rename(file, claimed);
      } catch {
        continue;
      }
      const text = await readFile(claimed, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        const q = queuedFrom(safeJson(line), this.#o.token);
        // Only what a worker itself reports, under the id it gives it: a spool file planted by an
        // agent must not carry operator actions in, and a line the control plane would refuse
        // (another attempt's id) would take this worker's own events in its batch down with it.
        const e = q?.event;
        if (q && e && isOwnWorkerEvent(e, q.token)) adopted.push(q);
      }
      claimedFiles.push(claimed);
      if (name !== own) this.#o.logger.info({ file: name }, 'Worker: Delivering events spooled by an earlier run');
    }
    if (claimedFiles.length === 0) return;
    this.#queue.unshift(...adopted);
    // Written to our own spool before the adopted files go, so a crash in between loses nothing.
    await this.#writeSpool();
    for (const f of claimedFiles) await rm(f, { force: true });
  }
}

/** Configuration of {@link ControlPlaneTokenRefresher}; the timing hooks exist for tests. */
export interface ControlPlaneTokenRefresherOptions {
  /** Base URL of the control plane. */
  url: string;
  /** The attempt's own API token (`lvw_…`): the only one the route accepts. */
  token: string;
  attemptId: string;
  /** Tries in all when the control plane is unreachable or answers 5xx/429 (default 3). */
  tries?: number;
  /** Delay before the second try, doubled for each further one. */
  baseDelayMs?: number;
  requestTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

const tokenAnswerSchema = z.object({ token: z.string().min(1), expires_at: z.string().min(1) });
const errorAnswerSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/**
 * The control plane's answers that mean "no tokens minted here for this attempt", not a failure:
 * no GitHub App (`not_configured`, as every route that needs it answers), so the worker was
 * started with a development token. With the App every worker starts with an installation token
 * (the executor refuses a target of no known installation), so `github_installation_unknown`
 * mid-attempt is a failure like any other.
 */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['not_configured']);

/**
 * Asks the control plane for a fresh GitHub token for this attempt
 * (`POST {url}/v1/attempts/{attempt_id}/github-token`, with the attempt token). Unreachable, 5xx
 * and 429 are tried again; every failure is a {@link CredentialsError} naming the endpoint and
 * the status, never a token.
 */
export class ControlPlaneTokenRefresher implements TokenRefresher {
  readonly #o: Required<ControlPlaneTokenRefresherOptions>;

  constructor(options: ControlPlaneTokenRefresherOptions) {
    this.#o = {
      tries: 3,
      baseDelayMs: 1_000,
      requestTimeoutMs: 30_000,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      fetch: globalThis.fetch,
      ...options,
    };
  }

  /** Where it asks; also what its errors name. */
  get endpoint(): string {
    return `${this.#o.url.replace(/\/+$/, '')}/v1/attempts/${encodeURIComponent(this.#o.attemptId)}/github-token`;
  }

  async refresh(): Promise<TokenRefresh> {
    let failure = '';
    for (let i = 0; i < this.#o.tries; i++) {
      if (i > 0) await this.#o.sleep(this.#o.baseDelayMs * 2 ** (i - 1));
      let res: Response;
      try {
        res = await this.#o.fetch(this.endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.#o.token}` },
          signal: AbortSignal.timeout(this.#o.requestTimeoutMs),
        });
      } catch (e) {
        failure = `failed: ${describe(e)}`;
        continue;
      }
      const body = safeJson(await res.text().catch(() => ''));
      if (res.ok) {
        const answer = tokenAnswerSchema.safeParse(body);
        if (answer.success) return { kind: 'refreshed', ...answer.data };
        throw new CredentialsError(`Could not refresh the GitHub token: POST ${this.endpoint} answered HTTP ${res.status} without a token`);
      }
      const error = errorAnswerSchema.safeParse(body);
      const code = error.success ? error.data.error.code : null;
      const message = error.success ? error.data.error.message.slice(0, 500) : '';
      if (code && UNAVAILABLE_CODES.has(code)) return { kind: 'unavailable', code, message };
      failure = `answered HTTP ${res.status}${code ? ` (${code}: ${message})` : ''}`;
      if (res.status < 500 && res.status !== 429) break;
    }
    throw new CredentialsError(`Could not refresh the GitHub token: POST ${this.endpoint} ${failure}`);
  }
}

/** A spool line: `{ token, event }`, or a bare event (spools of earlier versions: our own token). */
function queuedFrom(v: unknown, ownToken: string | undefined): Queued | null {
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if ('event' in o) {
    if (o.event === null || typeof o.event !== 'object') return null;
    return { event: o.event as NewEvent, token: typeof o.token === 'string' ? o.token : ownToken };
  }
  return { event: o as unknown as NewEvent, token: ownToken };
}


function safeJson(text: string): unknown {
  try {
    return text.trim() ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\./, '_');
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
  }
  return String(e);
}

/**
 * A worker's report as a worker writes it, by the control plane's own rule ({@link outsideScope}):
 * one of its types, as `worker:<attempt>`, for its target and subject, under that type's one id.
 * The scope is the one the event's token claims (the control plane checks that token's signature);
 * without a worker token, the one the event itself names.
 */
function isOwnWorkerEvent(e: NewEvent, token: string | undefined): boolean {
  const data: unknown = e.data;
  if (typeof e.id !== 'string' || typeof e.type !== 'string' || typeof e.actor !== 'string' || data === null || typeof data !== 'object') return false;
  const d = data as Record<string, unknown>;
  const named: WorkerScope | null =
    typeof e.target === 'string' && typeof d.attempt_id === 'string'
      ? { target: e.target, attempt_id: d.attempt_id, task_id: typeof d.task_id === 'string' ? d.task_id : '', exp: 0 }
      : null;
  const scope = (token ? claimedWorkerScope(token) : null) ?? named;
  return scope !== null && outsideScope(scope, { ...e, target: e.target ?? null, data: d }) === null;
}
