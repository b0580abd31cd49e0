import { describe, expect, it } from 'vitest';
import { describeEvent } from '../../../web/app/components/describe-event.ts';

const event = (type: string, data: Record<string, unknown>) => ({ type, data, actor: 'worker:att-1', target: 'acme/web', subject: 'attempt:att-1' });

describe("the console's one line per event", () => {
  it.each([
    ['a step the worker began', event('attempt.step', { attempt_id: 'att-1', task_id: 'docs', step: 'run agent' }), 'Worker: run agent (docs)'],
    ['a failure with its step', event('attempt.failed', { attempt_id: 'att-1', task_id: 'docs', failure_type: 'push_rejected', step: 'push branch' }), 'Attempt failed: docs (push_rejected) at push branch'],
    ['a failure without one (older workers, the scheduler)', event('attempt.failed', { attempt_id: 'att-1', task_id: 'docs', failure_type: 'timeout' }), 'Attempt failed: docs (timeout)'],
    ['a slash command answered', event('command.completed', { command: 'pause', repository: 'acme/web', allowed: true, ok: true, answer: 'comment' }), '/pause done, answered'],
    ["a stranger's refused command", event('command.completed', { command: 'pause', repository: 'acme/web', allowed: false, ok: false, answer: 'reaction' }), '/pause not done, answered with a reaction'],
  ])('%s', (_name, e, text) => {
    expect(describeEvent(e).text).toBe(text);
  });
});
