/**
 * A worker's event sink in its own process, for the "control plane unreachable" fault: posts
 * `count` events to `url`, flushes until `deadlineMs` from now, prints `pending <n>` and exits
 * (undelivered events stay in the spool for the next run, as a real worker's would).
 *
 * Usage: node --import tsx test/reliability/helpers/sink-child.ts <url> <spoolDir> <attemptId> <count> <deadlineMs>
 */
import { pino } from 'pino';
import { workerEventId } from '../../../src/api/worker-token.ts';
import { HttpEventSink } from '../../../src/worker/control-plane-client.ts';
import { Redactor } from '../../../src/worker/redact.ts';
import { WRITE_TOKEN } from '../../helpers/control-plane.ts';

const [url, spoolDir, attemptId, count, deadline] = process.argv.slice(2);
const sink = new HttpEventSink({
  url: url!,
  token: WRITE_TOKEN,
  spoolDir: spoolDir!,
  attemptId: attemptId!,
  logger: pino({ level: 'silent' }),
  redactor: new Redactor([WRITE_TOKEN]),
  baseDelayMs: 50,
  maxDelayMs: 300,
  requestTimeoutMs: 2000,
});
// Step reports: the one worker event of which an attempt has many, each under its own id (as a
// spool hands back only events under their attempt's own ids).
for (let i = 0; i < Number(count); i++) {
  const step = `step ${i}`;
  await sink.post({ id: workerEventId(attemptId!, 'attempt.step', step), type: 'attempt.step', actor: `worker:${attemptId}`, target: 'acme/app', subject: `attempt:${attemptId}`, data: { attempt_id: attemptId, step } });
}
const { pending } = await sink.flush(Date.now() + Number(deadline));
process.stdout.write(`pending ${pending}\n`);
