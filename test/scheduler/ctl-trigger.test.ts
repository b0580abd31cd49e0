import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ctl } from '../../src/cli/ctl.ts';
import { envSchema } from '../../src/env.ts';
import { startTestControlPlane, WRITE_TOKEN, type TestControlPlane } from '../helpers/control-plane.ts';
import { FakeExecutor } from './fake-executor.ts';
import { eventsOf, post, seedEvents, TARGET, taskSummary } from './seed.ts';

describe('leviathan ctl trigger / reset-breaker', () => {
  let cp: TestControlPlane;
  let executor: FakeExecutor;
  beforeEach(async () => {
    executor = new FakeExecutor();
    cp = await startTestControlPlane({ overrides: { executor } });
  });
  afterEach(async () => {
    await cp.destroy();
  });

  async function run(...argv: string[]) {
    const out = new PassThrough();
    const err = new PassThrough();
    const chunks: string[] = [];
    const errs: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    err.on('data', (c: Buffer) => errs.push(c.toString()));
    const code = await ctl(envSchema.parse({ LEVIATHAN_CONTROL_PLANE_URL: cp.url, LEVIATHAN_API_TOKEN: WRITE_TOKEN, LEVIATHAN_DATA_DIR: cp.dataDir }), argv, { out, err });
    return { code, out: chunks.join(''), err: errs.join('') };
  }

  it('triggers a task and prints the attempt', async () => {
    await post(cp, seedEvents([taskSummary('urgent')]));
    const r = await run('trigger', TARGET, 'urgent', '--reason', 'hotfix');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^${TARGET}: task urgent started as attempt \\S+\\n$`));
    expect((await eventsOf(cp, 'task.triggered'))[0]?.data).toMatchObject({ via: 'ctl', reason: 'hotfix' });
  });

  it('says why a trigger is blocked and exits 1', async () => {
    await post(cp, [...seedEvents([taskSummary('urgent')]), { type: 'target.paused', target: TARGET, data: { reason: 'freeze' } }]);
    const r = await run('trigger', TARGET, 'urgent');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^blocked: Paused by token:\w+ at .*: freeze/);
  });

  it('resets the circuit breaker', async () => {
    await post(cp, [...seedEvents([taskSummary('urgent')]), { type: 'circuit_breaker.tripped', target: TARGET, data: { consecutive_failures: 2, cooldown_until: new Date(Date.now() + 3_600_000).toISOString() } }]);
    const r = await run('reset-breaker', TARGET, '--reason', 'fixed the token');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^acme\/widgets: circuit breaker closed — active:/);
    expect((await eventsOf(cp, 'circuit_breaker.reset'))[0]?.data).toMatchObject({ via: 'ctl', reason: 'fixed the token' });
  });

  it('prints usage for a missing task id', async () => {
    const r = await run('trigger', TARGET);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage: leviathan ctl trigger <owner/repo> <task-id>');
  });
});
