import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, sha256Hex, stringifyIsCanonical } from './canonical-json.ts';

/** prev_hash of the first event in a log. */
export const GENESIS_HASH = '0'.repeat(64);

/** Limits on what a client may send; the edge rejects anything larger with 413/422. */
export const LIMITS = {
  idLength: 200,
  typeLength: 100,
  actorLength: 200,
  targetLength: 200,
  subjectLength: 300,
  /** Serialised size of `data` of one event. */
  dataBytes: 64 * 1024,
  /** Nesting of `data` (objects and arrays). */
  dataDepth: 32,
} as const;

/** Whether a JSON value nests at most `max` levels, checked without recursion. */
export function depthWithin(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return false;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

const printable = /^[\x21-\x7e]+$/;
const targetPattern = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const typePattern = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+$/;

/** `owner/repo`, as GitHub spells repository names. */
export const targetIdSchema = z.string().max(LIMITS.targetLength).regex(targetPattern, 'must be "owner/repo"');

/** `noun.verb_past` (lowercase, dot-separated); unknown types are accepted and stored. */
export const eventTypeSchema = z
  .string()
  .max(LIMITS.typeLength)
  .regex(typePattern, 'must look like "noun.verb_past", e.g. "attempt.failed"');

/** What a client (worker, webhook handler, operator) submits. The store adds seq, time and the hash chain. */
export const newEventSchema = z
  .object({
    id: z.string().max(LIMITS.idLength).regex(printable, 'must be printable ASCII without spaces').optional(),
    type: eventTypeSchema,
    actor: z.string().min(1).max(LIMITS.actorLength).optional(),
    target: targetIdSchema.nullish(),
    subject: z.string().min(1).max(LIMITS.subjectLength).nullish(),
    data: z
      .record(z.unknown())
      .default({})
      .superRefine((d, ctx) => {
        // Depth first, and stop there: serialising a hostile, very deep value overflows the stack.
        if (!depthWithin(d, LIMITS.dataDepth)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must nest at most ${LIMITS.dataDepth} levels deep`, fatal: true });
          return z.NEVER;
        }
        if (Buffer.byteLength(JSON.stringify(d)) > LIMITS.dataBytes) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must serialise to at most ${LIMITS.dataBytes} bytes` });
        }
      }),
  })
  .strict();

const envelopeKeys = new Set(['id', 'type', 'actor', 'target', 'subject', 'data']);

/**
 * The ingest hot path: `newEventSchema.safeParse(input).data` for an input that schema certainly
 * accepts, checked without zod; null for anything else, which the caller then hands to
 * newEventSchema (so every refusal, and its message, is zod's). Inputs are JSON.parse output:
 * other shapes (class instances, getters) are left to zod.
 *
 * Unlike zod, the answer's `data` is the input's own object, not a copy with the same keys: only
 * for inputs nobody else holds, such as a freshly parsed request body.
 */
export function parseNewEventFast(input: unknown): z.output<typeof newEventSchema> | null {
  if (input === null || typeof input !== 'object' || Object.getPrototypeOf(input) !== Object.prototype) return null;
  const o = input as Record<string, unknown>;
  // .strict(): zod lists unknown keys with for...in, as here.
  for (const k in o) if (!envelopeKeys.has(k)) return null;
  const { id, type, actor, target, subject } = o;
  let data = o.data;
  if (id !== undefined && !(typeof id === 'string' && id.length <= LIMITS.idLength && printable.test(id))) return null;
  if (!(typeof type === 'string' && type.length <= LIMITS.typeLength && typePattern.test(type))) return null;
  if (actor !== undefined && !(typeof actor === 'string' && actor.length >= 1 && actor.length <= LIMITS.actorLength)) return null;
  if (target != null && !(typeof target === 'string' && target.length <= LIMITS.targetLength && targetPattern.test(target))) return null;
  if (subject != null && !(typeof subject === 'string' && subject.length >= 1 && subject.length <= LIMITS.subjectLength)) return null;
  if (data === undefined) {
    data = {};
  } else if (
    // z.record accepts more (null-prototype objects, class instances): those go through zod. It
    // drops an own "__proto__" key from its copy: inputs with one go through zod too.
    data === null ||
    typeof data !== 'object' ||
    Object.getPrototypeOf(data) !== Object.prototype ||
    Object.prototype.hasOwnProperty.call(data, '__proto__')
  ) {
    return null;
  }
  if (!depthWithin(data, LIMITS.dataDepth) || Buffer.byteLength(JSON.stringify(data)) > LIMITS.dataBytes) return null;
  // Keys as zod's object output has them: absent ones absent, present ones in shape order.
  const out = {} as z.output<typeof newEventSchema>;
  if ('id' in o) out.id = id as string | undefined;
  out.type = type;
  if ('actor' in o) out.actor = actor as string | undefined;
  if ('target' in o) out.target = target as string | null | undefined;
  if ('subject' in o) out.subject = subject as string | null | undefined;
  out.data = data as Record<string, unknown>;
  return out;
}

/** A validated new event with its id and actor settled, ready to be sequenced. */
export interface NewEvent {
  id: string;
  type: string;
  actor: string;
  target: string | null;
  subject: string | null;
  data: Record<string, unknown>;
}

/** An event as stored: one line of the log. Field order is the order written. */
export interface StoredEvent extends NewEvent {
  seq: number;
  time: string;
  prev_hash: string;
  hash: string;
}

/** Builds a NewEvent from trusted code (handlers, scheduler); ids default to a random UUID. */
export function newEvent(e: {
  type: string;
  actor: string;
  id?: string;
  target?: string | null;
  subject?: string | null;
  data?: Record<string, unknown>;
}): NewEvent {
  return {
    id: e.id ?? randomUUID(),
    type: e.type,
    actor: e.actor,
    target: e.target ?? null,
    subject: e.subject ?? null,
    data: e.data ?? {},
  };
}

/** Settles a validated client input into a NewEvent, the actor coming from authentication when absent. */
export function fromInput(input: z.output<typeof newEventSchema>, defaultActor: string): NewEvent {
  // newEvent({ ...input, actor: input.actor ?? defaultActor }), without the spread's copy.
  return {
    id: input.id ?? randomUUID(),
    type: input.type,
    actor: input.actor ?? defaultActor,
    target: input.target ?? null,
    subject: input.subject ?? null,
    data: input.data ?? {},
  };
}

/** Hash of an event: SHA-256 over the canonical JSON of every field but `hash`. */
export function hashEvent(e: Omit<StoredEvent, 'hash'>): string {
  return sha256Hex(hashedText(e, canonicalJson(e.data)));
}

/**
 * The canonical JSON of every field but `hash` (keys in sorted order: actor, data, id, prev_hash,
 * seq, subject, target, time, type), given the canonical JSON of `data`. A field left undefined is
 * omitted, as canonicalJson omits it; that rare shape goes through canonicalJson itself.
 */
function hashedText(e: Omit<StoredEvent, 'hash'>, data: string): string {
  const { actor, id, prev_hash, seq, subject, target, time, type } = e;
  if ([actor, e.data, id, prev_hash, seq, subject, target, time, type].some((v) => v === undefined)) {
    return canonicalJson({ seq, id, type, time, actor, target, subject, data: e.data, prev_hash });
  }
  const c = canonicalJson;
  return sortedEnvelope(c(actor), data, c(id), c(prev_hash), c(seq), c(subject), c(target), c(time), c(type));
}

/** The hashed text from each field's canonical JSON, in the canonical (sorted) key order. */
function sortedEnvelope(actor: string, data: string, id: string, prevHash: string, seq: string, subject: string, target: string, time: string, type: string): string {
  return `{"actor":${actor},"data":${data},"id":${id},"prev_hash":${prevHash},"seq":${seq},"subject":${subject},"target":${target},"time":${time},"type":${type}}`;
}

/** Seals a new event at position `seq` after `prevHash`. */
export function sealEvent(e: NewEvent, seq: number, time: string, prevHash: string): StoredEvent {
  return sealEventJson(e, seq, time, prevHash).event;
}

/**
 * {@link sealEvent}, also answering the event's JSON as stored (exactly `JSON.stringify(event)`).
 * When `data` serialises canonically as it is (plain objects, keys already sorted), one
 * serialisation of `data` serves both the hash and the stored line.
 */
export function sealEventJson(e: NewEvent, seq: number, time: string, prevHash: string): { event: StoredEvent; json: string } {
  const data = e.data;
  const event: StoredEvent = {
    seq,
    id: e.id,
    type: e.type,
    time,
    actor: e.actor,
    target: e.target,
    subject: e.subject,
    data,
    prev_hash: prevHash,
    hash: '',
  };
  const { id, type, actor, target, subject } = e;
  if (
    data !== null &&
    typeof data === 'object' &&
    scalar(seq) &&
    scalar(id) &&
    scalar(type) &&
    scalar(time) &&
    scalar(actor) &&
    scalar(target) &&
    scalar(subject) &&
    scalar(prevHash) &&
    stringifyIsCanonical(data)
  ) {
    // Every field serialised once, for both texts: for these values canonicalJson is JSON.stringify.
    const seqJ = JSON.stringify(seq);
    const idJ = JSON.stringify(id);
    const typeJ = JSON.stringify(type);
    const timeJ = JSON.stringify(time);
    const actorJ = JSON.stringify(actor);
    const targetJ = JSON.stringify(target);
    const subjectJ = JSON.stringify(subject);
    const dataJ = JSON.stringify(data);
    const prevJ = JSON.stringify(prevHash);
    event.hash = sha256Hex(sortedEnvelope(actorJ, dataJ, idJ, prevJ, seqJ, subjectJ, targetJ, timeJ, typeJ));
    // Stored order, as JSON.stringify(event) writes it (the hash is lowercase hex: nothing to escape).
    const json = `{"seq":${seqJ},"id":${idJ},"type":${typeJ},"time":${timeJ},"actor":${actorJ},"target":${targetJ},"subject":${subjectJ},"data":${dataJ},"prev_hash":${prevJ},"hash":"${event.hash}"}`;
    return { event, json };
  }
  event.hash = sha256Hex(hashedText(event, canonicalJson(data)));
  return { event, json: JSON.stringify(event) };
}

/** A field JSON.stringify writes as JSON.stringify of the value alone (never omitted, no toJSON). */
function scalar(v: unknown): boolean {
  return typeof v === 'string' || v === null || (typeof v === 'number' && Number.isFinite(v));
}

export type ChainProblem = { seq: number; reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap' };

/** Checks one link: the event's own hash and its link to the previous one. */
export function checkLink(e: StoredEvent, prev: { seq: number; hash: string }): ChainProblem | null {
  if (e.seq !== prev.seq + 1) return { seq: e.seq, reason: 'seq_gap' };
  if (e.prev_hash !== prev.hash) return { seq: e.seq, reason: 'prev_hash_mismatch' };
  if (hashEvent(e) !== e.hash) return { seq: e.seq, reason: 'hash_mismatch' };
  return null;
}
