import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { newEvent } from '../../src/events/envelope.ts';
import { AppendLog } from '../../src/store/append-log.ts';
import { openFileEventStore } from '../../src/store/file-event-store.ts';

describe('AppendLog', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = async (level: string) => {
    dir = await mkdtemp(join(tmpdir(), 'lv-append-log-'));
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    return { store: new AppendLog(await openFileEventStore({ dir }), logger), lines };
  };

  it("logs the operator document's `Control Plane: Event received: <type>` once per stored event, not for duplicates", async () => {
    const { store, lines } = await open('info');
    const created = newEvent({ id: 'a1:created', type: 'attempt.created', actor: 'scheduler', target: 'acme/web', data: { attempt_id: 'a1', task_id: 't' } });
    await store.append([created, newEvent({ type: 'pr.created', actor: 'worker:a1', target: 'acme/web', data: { number: 7 } })]);
    await store.append([created]);
    expect(lines.map((l) => l.msg)).toEqual(['Control Plane: Event received: attempt.created', 'Control Plane: Event received: pr.created']);
    expect(lines[0]).toMatchObject({ level: 30, seq: 1, id: 'a1:created', target: 'acme/web', actor: 'scheduler' });
    // Everything else passes through.
    expect((await store.read({ order: 'asc', limit: 10 })).events.map((e) => e.type)).toEqual(['attempt.created', 'pr.created']);
    expect(store.health().head.seq).toBe(2);
    await store.close();
  });

  it('logs nothing when info is off', async () => {
    const { store, lines } = await open('warn');
    await store.append([newEvent({ type: 'pr.created', actor: 'worker:a1', target: 'acme/web', data: { number: 7 } })]);
    expect(lines).toEqual([]);
    await store.close();
  });
});
