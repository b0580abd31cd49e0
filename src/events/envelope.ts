import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical-json.ts';

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

/** `owner/repo`, as GitHub spells repository names. */
export const targetIdSchema = z
  .string()
  .max(LIMITS.targetLength)
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/repo"');

/** `noun.verb_past` (lowercase, dot-separated); unknown types are accepted and stored. */
export const eventTypeSchema = z
  .string()
  .max(LIMITS.typeLength)
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+$/, 'must look like "noun.verb_past", e.g. "attempt.failed"');

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
  return newEvent({ ...input, actor: input.actor ?? defaultActor });
}

/** Hash of an event: SHA-256 over the canonical JSON of every field but `hash`. */
export function hashEvent(e: Omit<StoredEvent, 'hash'>): string {
  return sha256Hex(
    canonicalJson({
      seq: e.seq,
      id: e.id,
      type: e.type,
      time: e.time,
      actor: e.actor,
      target: e.target,
      subject: e.subject,
      data: e.data,
      prev_hash: e.prev_hash,
    }),
  );
}

/** Seals a new event at position `seq` after `prevHash`. */
export function sealEvent(e: NewEvent, seq: number, time: string, prevHash: string): StoredEvent {
  const unsealed = {
    seq,
    id: e.id,
    type: e.type,
    time,
    actor: e.actor,
    target: e.target,
    subject: e.subject,
    data: e.data,
    prev_hash: prevHash,
  };
  return { ...unsealed, hash: hashEvent(unsealed) };
}

export type ChainProblem = { seq: number; reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap' };

/** Checks one link: the event's own hash and its link to the previous one. */
export function checkLink(e: StoredEvent, prev: { seq: number; hash: string }): ChainProblem | null {
  if (e.seq !== prev.seq + 1) return { seq: e.seq, reason: 'seq_gap' };
  if (e.prev_hash !== prev.hash) return { seq: e.seq, reason: 'prev_hash_mismatch' };
  if (hashEvent(e) !== e.hash) return { seq: e.seq, reason: 'hash_mismatch' };
  return null;
}
