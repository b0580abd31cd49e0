/**
 * Child process for the crash-safety test: ingests into the file store under load until it is
 * killed, printing `ack <id>` for every id only after the append that carried it resolved, so
 * the parent knows exactly which ids the store promised to keep.
 *
 * Usage: node --import tsx test/helpers/ingest-child.ts <dir> [snapshotEvery]
 */
import { newEvent } from '../../src/events/envelope.ts';
import { openFileEventStore } from '../../src/store/file-event-store.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: ingest-child.ts <dir> [snapshotEvery]');
const store = await openFileEventStore({ dir, snapshotEvery: Number(process.argv[3] ?? 500) });

let n = 0;
const acked: string[] = [];

async function worker(w: number): Promise<never> {
  for (;;) {
    const size = Math.random() < 0.5 ? 1 : 2 + Math.floor(Math.random() * 20);
    const events = Array.from({ length: size }, () =>
      newEvent({
        id: `${process.pid}-${w}-${n++}`,
        type: 'attempt.started',
        actor: 'crash-test',
        target: `acme/repo${w % 3}`,
        subject: `attempt:${n % 50}`,
        data: { pad: 'x'.repeat(Math.floor(Math.random() * 300)) },
      }),
    );
    // Now and then re-send an acknowledged id, as a retrying client would.
    if (acked.length > 0 && Math.random() < 0.1) {
      events.push(newEvent({ id: acked[Math.floor(Math.random() * acked.length)]!, type: 'attempt.started', actor: 'crash-test' }));
    }
    const result = await store.append(events);
    const ids = [...result.stored.map((e) => e.id), ...result.duplicates];
    // stdout to a pipe is synchronous on Linux: once written, the parent will read it.
    process.stdout.write(ids.map((id) => `ack ${id}\n`).join(''));
    for (const id of ids) if (acked.length < 10_000) acked.push(id);
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
