import { describe, expect, it } from 'vitest';
import { claimedWorkerScope, mintWorkerToken, outsideScope, verifyWorkerToken, workerEventId, WORKER_TOKEN_PREFIX } from '../../src/api/worker-token.ts';

const NOW = Date.parse('2026-11-28T10:00:00Z');
const assignment = { target: 'acme/widgets', attempt_id: 'att-1', task: { id: 't1' }, timeout_seconds: 900 };

describe('worker tokens', () => {
  const token = mintWorkerToken('operator-token', assignment, NOW);

  it('carry their scope, signed by the write token, and never the write token itself', () => {
    expect(token.startsWith(WORKER_TOKEN_PREFIX)).toBe(true);
    expect(token).not.toContain('operator-token');
    expect(verifyWorkerToken(['operator-token'], token, NOW)).toEqual({ target: 'acme/widgets', attempt_id: 'att-1', task_id: 't1', exp: NOW / 1000 + 900 + 1800 });
  });

  it('verify with any of the write tokens (rotation) and with none other', () => {
    expect(verifyWorkerToken(['new-token', 'operator-token'], token, NOW)).not.toBeNull();
    expect(verifyWorkerToken(['new-token'], token, NOW)).toBeNull();
    expect(verifyWorkerToken([], token, NOW)).toBeNull();
  });

  it('expire after the attempt deadline and its grace', () => {
    expect(verifyWorkerToken(['operator-token'], token, NOW + (900 + 1800 - 1) * 1000)).not.toBeNull();
    expect(verifyWorkerToken(['operator-token'], token, NOW + (900 + 1800) * 1000)).toBeNull();
  });

  it('refuse any change: another scope under the old signature, a cut signature, garbage', () => {
    const [payload, sig] = token.slice(WORKER_TOKEN_PREFIX.length).split('.') as [string, string];
    const other = Buffer.from(JSON.stringify({ target: 'acme/other', attempt_id: 'att-1', task_id: 't1', exp: 9e9 })).toString('base64url');
    for (const bad of [`${WORKER_TOKEN_PREFIX}${other}.${sig}`, `${WORKER_TOKEN_PREFIX}${payload}.${sig.slice(1)}`, `${WORKER_TOKEN_PREFIX}${payload}`, `${WORKER_TOKEN_PREFIX}.`, 'operator-token', `${WORKER_TOKEN_PREFIX}x.y`]) {
      expect(verifyWorkerToken(['operator-token'], bad, NOW), bad).toBeNull();
    }
  });

  it('show the scope they claim without the write token (for a worker sorting its spool), signed or not, expired or not', () => {
    const scope = { target: 'acme/widgets', attempt_id: 'att-1', task_id: 't1', exp: NOW / 1000 + 900 + 1800 };
    expect(claimedWorkerScope(token)).toEqual(scope);
    expect(claimedWorkerScope(mintWorkerToken('operator-token', { ...assignment, timeout_seconds: 0 }, 0))).toMatchObject({ attempt_id: 'att-1' });
    for (const bad of ['operator-token', `${WORKER_TOKEN_PREFIX}.`, `${WORKER_TOKEN_PREFIX}x.y`]) expect(claimedWorkerScope(bad), bad).toBeNull();
  });

  it("allow only the attempt's own reports", () => {
    const scope = verifyWorkerToken(['operator-token'], token, NOW)!;
    const own = { type: 'attempt.failed', actor: 'worker:att-1', target: 'acme/widgets', data: { attempt_id: 'att-1', task_id: 't1' } };
    expect(outsideScope(scope, own)).toBeNull();
    expect(outsideScope(scope, { ...own, type: 'pr.created', data: { attempt_id: 'att-1', number: 3 } })).toBeNull();
    expect(outsideScope(scope, { ...own, type: 'autonomy.enabled' })).toMatch(/may not post autonomy.enabled/);
    expect(outsideScope(scope, { ...own, actor: 'github:octocat' })).toMatch(/posts as worker:att-1, not as github:octocat/);
    expect(outsideScope(scope, { ...own, target: 'acme/other' })).toMatch(/may not post for acme\/other/);
    expect(outsideScope(scope, { ...own, target: null })).toMatch(/no target/);
    expect(outsideScope(scope, { ...own, data: { attempt_id: 'att-2', task_id: 't1' } })).toMatch(/another attempt/);
    expect(outsideScope(scope, { ...own, data: { attempt_id: 'att-1', task_id: 't2' } })).toMatch(/another task/);
  });

  it('allow only the ids a worker gives its own reports, or none (the control plane then names the event)', () => {
    const scope = verifyWorkerToken(['operator-token'], token, NOW)!;
    const own = { type: 'attempt.failed', actor: 'worker:att-1', target: 'acme/widgets', data: { attempt_id: 'att-1', task_id: 't1' } };
    const pr = { ...own, type: 'pr.created', data: { attempt_id: 'att-1', number: 3 } };
    expect(workerEventId('att-1', 'attempt.failed')).toBe('att-1:failed');
    expect(outsideScope(scope, { ...own, id: 'att-1:failed' })).toBeNull();
    expect(outsideScope(scope, { ...own, id: undefined })).toBeNull();
    expect(outsideScope(scope, { ...own, type: 'attempt.started', id: 'att-1:started' })).toBeNull();
    expect(outsideScope(scope, { ...own, type: 'attempt.succeeded', id: 'att-1:succeeded' })).toBeNull();
    expect(outsideScope(scope, { ...pr, id: 'att-1:pr.created' })).toBeNull();
    for (const id of [
      // A sibling attempt's ids, which would have its real reports dropped as duplicates.
      'att-2:failed',
      'att-2:succeeded',
      // Its own, but ones the scheduler writes, or another type's.
      'att-1:created',
      'att-1:selected',
      'att-1:succeeded',
      'att-1:failed:x',
      'att-1:',
      'att-1',
      'some-uuid',
    ]) {
      expect(outsideScope(scope, { ...own, id }), id).toMatch(/posts attempt.failed as att-1:failed, not as /);
    }
    expect(outsideScope(scope, { ...own, type: 'attempt.started', id: 'att-1:failed' })).toMatch(/posts attempt.started as att-1:started, not as att-1:failed/);
  });

  it("allow only its attempt's subject, and the subject of the PR it reports on its own target", () => {
    const scope = verifyWorkerToken(['operator-token'], token, NOW)!;
    const own = { type: 'attempt.failed', actor: 'worker:att-1', target: 'acme/widgets', data: { attempt_id: 'att-1', task_id: 't1' } };
    const pr = { ...own, type: 'pr.created', data: { attempt_id: 'att-1', number: 3 } };
    for (const subject of [undefined, null, 'attempt:att-1']) expect(outsideScope(scope, { ...own, subject })).toBeNull();
    for (const subject of [undefined, null, 'pr:acme/widgets#3']) expect(outsideScope(scope, { ...pr, subject })).toBeNull();
    expect(outsideScope(scope, { ...own, subject: 'attempt:att-2' })).toMatch(/about attempt:att-1, not about attempt:att-2/);
    expect(outsideScope(scope, { ...own, subject: 'target:acme/widgets' })).toMatch(/not about target:acme\/widgets/);
    expect(outsideScope(scope, { ...own, subject: 'pr:acme/widgets#3' })).toMatch(/not about pr:acme\/widgets#3/);
    expect(outsideScope(scope, { ...pr, subject: 'pr:acme/other#3' })).toMatch(/about pr:acme\/widgets#3, not about pr:acme\/other#3/);
    expect(outsideScope(scope, { ...pr, subject: 'pr:acme/widgets#4' })).toMatch(/not about pr:acme\/widgets#4/);
    expect(outsideScope(scope, { ...pr, subject: 'attempt:att-1' })).toMatch(/not about attempt:att-1/);
  });
});
