import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { dayOfEvents, rateLimitResetOf } from './events.ts';
import { parseExposition, seriesKey, valueOf } from './exposition.ts';

const WEB = 'acme/web';
const API = 'acme/api';

/** Every leviathan_* series of a scrape, by series key (process_* and nodejs_* describe the process, not Leviathan). */
async function leviathanSeries(cp: TestControlPlane): Promise<Map<string, number>> {
  const res = await fetch(`${cp.url}/metrics`);
  expect(res.status).toBe(200);
  const exp = parseExposition(await res.text());
  return new Map(exp.samples.filter((s) => s.name.startsWith('leviathan_')).map((s) => [seriesKey(s), s.value]));
}

const open: TestControlPlane[] = [];
let dataDir = '';
afterAll(async () => {
  for (const cp of open) await cp.close().catch(() => undefined);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('metrics after a restart', () => {
  it('equal the metrics before it, from the snapshot and from a full replay of the log', async () => {
    const first = await startTestControlPlane();
    open.push(first);
    dataDir = first.dataDir;
    const now = new Date();
    const events = dayOfEvents(WEB, API, now);
    // In a few batches, as workers and webhooks would post them.
    for (let i = 0; i < events.length; i += 7) {
      const res = await first.api('/v1/events', { method: 'POST', json: events.slice(i, i + 7) });
      expect(res.status).toBe(200);
    }
    const before = await leviathanSeries(first);

    // Not vacuous: the counters being compared have moved.
    const exp = parseExposition(await (await fetch(`${first.url}/metrics`)).text());
    expect(valueOf(exp, 'leviathan_attempts_total', { target: WEB, status: 'failure' })).toBe(2);
    expect(valueOf(exp, 'leviathan_attempt_failures_total', { target: WEB, failure_type: 'timeout' })).toBe(1);
    expect(valueOf(exp, 'leviathan_circuit_breaker_trips_total', { target: WEB })).toBe(1);
    expect(valueOf(exp, 'leviathan_circuit_breaker_open', { target: WEB })).toBe(1);
    expect(valueOf(exp, 'leviathan_target_open_prs', { target: API })).toBe(1);
    expect(valueOf(exp, 'leviathan_scheduler_cycles_total')).toBe(3);
    expect(valueOf(exp, 'leviathan_events_received_total', { type: 'other' })).toBe(1);
    expect(valueOf(exp, 'leviathan_attempt_duration_seconds_count', { target: WEB })).toBe(2);
    // The tick's reading, from the log (this process made no GitHub call of its own).
    expect(valueOf(exp, 'leviathan_github_rate_limit_remaining')).toBe(3100);
    expect(valueOf(exp, 'leviathan_github_rate_limit_reset_timestamp_seconds')).toBe(rateLimitResetOf(now));

    await first.close();
    open.pop();

    // Restart: the projection snapshot written at shutdown, then the (empty) tail.
    const second = await startTestControlPlane({ dataDir });
    open.push(second);
    expect(await leviathanSeries(second)).toEqual(before);
    await second.close();
    open.pop();

    // Restart without a snapshot: everything rebuilt from the event log alone.
    await rm(join(dataDir, 'projection.ndjson'), { force: true });
    const third = await startTestControlPlane({ dataDir });
    open.push(third);
    expect(await leviathanSeries(third)).toEqual(before);

    // And the counters keep counting from there rather than from zero.
    await third.api('/v1/events', {
      method: 'POST',
      json: [{ type: 'attempt.failed', target: WEB, data: { attempt_id: 'w-3', task_id: 'a', failure_type: 'timeout', duration_seconds: 900 } }],
    });
    const after = await leviathanSeries(third);
    expect(after.get('leviathan_attempt_failures_total{failure_type="timeout",target="acme/web"}')).toBe(2);
    expect(after.get('leviathan_attempts_total{status="failure",target="acme/web"}')).toBe(3);
  });
});
