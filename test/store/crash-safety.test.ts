import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/events/envelope.ts';
import { openFileEventStore } from '../../src/store/file-event-store.ts';
import { verifyChain, verifyLogFile } from '../../src/store/verify.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = join(root, 'test/helpers/ingest-child.ts');

/** Runs the ingest child in `dir`, SIGKILLs it `killAfterMs` after it is ready; returns the acknowledged ids. */
function ingestUntilKilled(dir: string, killAfterMs: number, snapshotEvery: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dir, String(snapshotEvery)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (timer === undefined && out.startsWith('ready\n')) {
        timer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const startup = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.on('error', reject);
    proc.on('exit', (_code, signal) => {
      clearTimeout(startup);
      if (timer === undefined || signal !== 'SIGKILL') {
        reject(new Error(`ingest child ended before it was killed (signal ${signal}): ${err}`));
        return;
      }
      // The last line may be cut mid-way by the kill; only whole lines count as acknowledged.
      const lines = out.split('\n').slice(1, -1);
      resolve(lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4)));
    });
  });
}

describe('file event store: crash safety', () => {
  it('keeps every acknowledged id exactly once, gap-free and chained, across SIGKILLs', { timeout: 90_000 }, async () => {
    for (let trial = 0; trial < 5; trial++) {
      const dir = await mkdtemp(join(tmpdir(), 'leviathan-crash-'));
      try {
        // Two kills per directory: the second run starts from the first one's repaired log.
        const acked = new Set<string>();
        for (let run = 0; run < 2; run++) {
          const ids = await ingestUntilKilled(dir, 200 + Math.random() * 600, trial % 2 === 0 ? 300 : 1e9);
          for (const id of ids) acked.add(id);
        }
        expect(acked.size).toBeGreaterThan(0);
        expect((await verifyLogFile(join(dir, 'events.ndjson'))).ok).toBe(true);

        const store = await openFileEventStore({ dir });
        const events: StoredEvent[] = [];
        for await (const e of store.scan()) events.push(e);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        const counts = new Map<string, number>();
        for (const e of events) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
        expect([...counts.values()].every((c) => c === 1)).toBe(true);
        const missing = [...acked].filter((id) => !counts.has(id));
        expect(missing).toEqual([]);
        expect(await verifyChain(store.scan())).toMatchObject({ ok: true, count: events.length });
        await store.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
});
