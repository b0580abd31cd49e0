import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { fromInput, newEventSchema, parseNewEventFast, type NewEvent } from '../../events/envelope.ts';
import { eventDataSchemas, isKnownType, OPERATOR_ACTION_TYPES } from '../../events/types.ts';
import { matchesFilter, type EventFilter, type EventQuery } from '../../store/event-store.ts';
import { appendChecked } from '../../control/selection-guard.ts';
import { requireScope, type Principal } from '../auth.ts';
import { outsideScope } from '../worker-token.ts';
import { ApiError } from '../errors.ts';
import { mediaType, parseIsoTime, readBody, sendJson, type Router } from '../http.ts';
import type { ApiDeps } from '../api-deps.ts';

/** Bytes a stream may have waiting for a slow client before it is closed (it resumes by Last-Event-ID). */
export const SSE_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** Largest body of POST /v1/events and most events in one batch. */
export const INGEST_LIMITS = { bodyBytes: 10 * 1024 * 1024, events: 10_000 };

/**
 * Parses and validates a POST /v1/events body: one event, a JSON array, or NDJSON. All or nothing.
 * The events are as sent: `fromInput` settles their ids and actors.
 */
export async function parseIngestBody(req: IncomingMessage): Promise<Array<z.output<typeof newEventSchema>>> {
  const type = mediaType(req);
  if (type !== 'application/json' && type !== 'application/x-ndjson') {
    throw new ApiError('unsupported_media_type', `Content-Type must be application/json or application/x-ndjson (got ${type || 'none'}).`);
  }
  const text = (await readBody(req, INGEST_LIMITS.bodyBytes)).toString('utf8');
  let items: unknown[];
  if (type === 'application/x-ndjson') {
    items = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      try {
        items.push(JSON.parse(line));
      } catch (err) {
        throw new ApiError('invalid_json', `Line ${i + 1} is not valid JSON: ${(err as Error).message}`);
      }
    }
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ApiError('invalid_json', `Body is not valid JSON: ${(err as Error).message}`);
    }
    items = Array.isArray(parsed) ? parsed : [parsed];
  }
  if (items.length === 0) throw new ApiError('invalid_event', 'No events in the body.');
  if (items.length > INGEST_LIMITS.events) {
    throw new ApiError('payload_too_large', `A batch holds at most ${INGEST_LIMITS.events} events (got ${items.length}).`);
  }
  return items.map((item, i) => {
    // The items are this body's own parse: nobody else holds them, as parseNewEventFast requires.
    const where = () => eventLabel(items.length, i);
    let input = parseNewEventFast(item);
    if (input === null) {
      const parsed = newEventSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const path = issue.path.length ? `.${issue.path.join('.')}` : '';
        throw new ApiError('invalid_event', `${where()}${path}: ${issue.message}`, { index: i });
      }
      input = parsed.data;
    }
    if (isKnownType(input.type)) {
      const data = eventDataSchemas[input.type].safeParse(input.data);
      if (!data.success) {
        const issue = data.error.issues[0]!;
        throw new ApiError('invalid_event', `${where()}.data.${issue.path.join('.')}: ${issue.message} (for type ${input.type})`, { index: i });
      }
    }
    return input;
  });
}

/** How an error names the event at `index` of a body of `count`: "event" alone, else "events[i]". */
function eventLabel(count: number, index: number): string {
  return count === 1 ? 'event' : `events[${index}]`;
}

/** Reads the shared filter parameters of /v1/graph/events and the stream. */
export function parseFilter(url: URL): EventFilter {
  const q = url.searchParams;
  const f: EventFilter = {};
  const target = q.get('target');
  if (target) f.target = target;
  const type = q.get('type');
  if (type) {
    if (type.endsWith('.*') || type.endsWith('.')) f.typePrefix = type.replace(/\*$/, '');
    else if (type.includes(',')) f.types = type.split(',').filter(Boolean);
    else f.type = type;
  }
  const subject = q.get('subject');
  if (subject) f.subject = subject;
  for (const key of ['since', 'until'] as const) {
    const v = q.get(key);
    if (v) f[key] = parseIsoTime(key, v);
  }
  return f;
}

export function parseLimit(url: URL, fallback: number, max: number): number {
  const raw = url.searchParams.get('limit');
  if (raw === null) return fallback;
  // Digits only: Number() would also take "1e2" and "0x10".
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ApiError('invalid_request', `limit must be an integer from 1 to ${max}.`);
  return n;
}

function parseCursor(url: URL): number | undefined {
  const raw = url.searchParams.get('cursor');
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError('invalid_cursor', 'cursor must be the next_cursor of a previous page.');
  return Number(raw);
}

export function eventRoutes(router: Router, deps: ApiDeps): void {
  router.on('POST', '/v1/events', async ({ req, res }) => {
    const principal = ingestPrincipal(deps.authenticate(req));
    const inputs = await parseIngestBody(req);
    const scope = principal.worker;
    // All or nothing, like every other refusal of a batch.
    const events = inputs.map((input, index) => {
      const e = fromInput(input, principal.actor);
      // The id as sent: one the control plane gives is a fresh UUID, and can take no other
      // event's place. fromInput keeps a sent id, so only an event sent without one is copied.
      const why = scope ? outsideScope(scope, input.id === undefined ? { ...e, id: undefined } : e) : null;
      if (why) throw new ApiError('forbidden', `${eventLabel(inputs.length, index)}: ${why}.`, { index });
      // fromInput keeps a sent actor and gives the caller's otherwise, so an actor other than the
      // caller's is one that was sent.
      const { type } = e;
      if (e.actor !== principal.actor && isOperatorAction(type)) {
        throw new ApiError('forbidden', `${eventLabel(inputs.length, index)}: ${forgedOperatorAction(type, e, principal.actor)}`, { index });
      }
      return e;
    });
    // Each stored event is logged by the store itself (store/append-log.ts), as every other append is.
    const result = await appendChecked(deps, events);
    const last = result.stored.at(-1);
    if (last) await deps.projector.waitFor(last.seq);
    sendJson(res, 200, {
      stored: result.stored.map((e) => ({ id: e.id, seq: e.seq })),
      duplicates: result.duplicates,
    });
  });

  router.on('GET', '/v1/graph/events', async ({ req, res, url }) => {
    requireScope(deps.authenticate(req), 'read');
    const order = url.searchParams.get('order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new ApiError('invalid_request', 'order must be asc or desc.');
    const cursor = parseCursor(url);
    const query: EventQuery = { ...parseFilter(url), order, limit: parseLimit(url, 100, 1000) };
    if (cursor !== undefined) {
      if (order === 'asc') query.after = cursor;
      else query.before = cursor;
    }
    const page = await deps.store.read(query);
    sendJson(res, 200, { events: page.events, next_cursor: page.next === undefined ? null : String(page.next) });
  });

  router.on('GET', '/v1/events/stream', async ({ req, res, url }) => {
    requireScope(deps.authenticate(req), 'read');
    const filter = parseFilter(url);
    const lastId = (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('last_event_id') ?? undefined;
    const head = deps.store.health().head.seq;
    let from: number;
    if (lastId !== undefined && lastId !== '') {
      if (!/^\d{1,15}$/.test(lastId)) throw new ApiError('invalid_request', 'Last-Event-ID must be the id (seq) of an event of this stream.');
      // Past the head (a client that followed another store, or this one before a restore from
      // backup): it has seen nothing of what comes next here, so it starts at the head rather
      // than silently skipping every event up to the seq it names.
      from = Math.min(Number(lastId), head);
    } else {
      from = head;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Reconnect quickly; the client resumes from the last id it saw. That id is where this stream
    // starts, even before any event: a client that saw none resumes here after a restart of the
    // server, rather than at the head it then finds (missing what came in meanwhile).
    res.write(`retry: 2000\nid: ${from}\n\n`);
    const unsubscribe = deps.store.subscribe(from, (e) => {
      if (res.destroyed || !matchesFilter(e, filter)) return;
      // A client that does not read must not make us hold the log in memory: drop it; it
      // reconnects with Last-Event-ID and resumes exactly where it stopped reading.
      if (res.writableLength > SSE_MAX_BUFFERED_BYTES) {
        deps.logger.warn({ buffered: res.writableLength }, 'SSE client too slow; closing its stream');
        res.destroy();
        return;
      }
      res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(`: heartbeat ${new Date().toISOString()}\n\n`), deps.sseHeartbeatMs);
    const close = () => {
      clearInterval(heartbeat);
      unsubscribe();
    };
    req.on('close', close);
    res.on('error', close);
  });
}

/** The operator action types (OPERATOR_ACTION_TYPES; a test checks the two agree). */
type OperatorActionType =
  | 'target.paused'
  | 'target.resumed'
  | 'task.triggered'
  | 'circuit_breaker.reset'
  | 'autonomy.enabled'
  | 'autonomy.disabled'
  | 'scheduler.emergency_stopped'
  | 'scheduler.emergency_resumed'
  | 'command.received'
  | 'policy.change_proposed';

/** Where each operator action is taken, with its checks (a pause of a paused target is a 409 there). */
export const OPERATOR_ROUTES: Readonly<Record<OperatorActionType, (target: string) => string>> = {
  'target.paused': (t) => `POST /v1/targets/${t}/pause`,
  'target.resumed': (t) => `POST /v1/targets/${t}/resume`,
  'circuit_breaker.reset': (t) => `POST /v1/targets/${t}/breaker/reset`,
  'task.triggered': () => 'POST /v1/tasks/trigger',
  'autonomy.enabled': () => 'POST /v1/autonomy',
  'autonomy.disabled': () => 'POST /v1/autonomy',
  'scheduler.emergency_stopped': () => 'POST /v1/autonomy/emergency-stop',
  'scheduler.emergency_resumed': () => 'POST /v1/autonomy/resume',
  'policy.change_proposed': (t) => `POST /v1/targets/${t}/policy/proposals`,
  'command.received': () => 'a slash command on GitHub',
};

function isOperatorAction(type: string): type is OperatorActionType {
  return OPERATOR_ACTION_TYPES.includes(type);
}

/**
 * Why an operator action may not be stored as sent: it names someone other than the caller. The
 * audit view is built on these events and names their actor as the one who acted, so a token may
 * record them only as itself (as a worker token posts only as its worker). Raw ones without an
 * actor stay accepted: imports and test fixtures seed state so, and they then name the token.
 */
function forgedOperatorAction(type: OperatorActionType, e: NewEvent, actor: string): string {
  const route = OPERATOR_ROUTES[type](e.target ?? ':owner/:repo');
  return `${type} is an operator action and is recorded as its caller, ${actor}, not as ${e.actor}; to act, use ${route}.`;
}

/** Who may post events: write tokens, and workers' attempt tokens (their events checked after parsing). */
function ingestPrincipal(principal: Principal | null): Principal {
  return principal?.worker ? principal : requireScope(principal, 'write');
}
